//! PAV soft rank (permutahedron projection): the f64 reference against torchsort's
//! outputs and finite differences, and every GPU version against the reference.

mod common;

use common::*;
use cprl::autograd::gradcheck::assert_grad;
use cprl::ops::softrank::{Order, Regularization};
use cprl::reference::softrank::pav as r;

/// One case of `tests/data/softrank_torchsort.json` (3 rows of n values).
struct TorchsortCase {
    reg: Regularization,
    strength: f64,
    kind: String,
    n: usize,
    x: Vec<f64>,
    ranks: Vec<f64>,
    cotangent: Vec<f64>,
    vjp: Vec<f64>,
}

fn torchsort_cases() -> Vec<TorchsortCase> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/softrank_torchsort.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = |c: &serde_json::Value, key: &str| -> (usize, Vec<f64>) {
        let rows = c[key].as_array().unwrap();
        let n = rows[0].as_array().unwrap().len();
        let flat = rows
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
            .collect();
        (n, flat)
    };
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let (n, x) = rows(c, "x");
            TorchsortCase {
                reg: match c["regularization"].as_str().unwrap() {
                    "l2" => Regularization::L2,
                    "kl" => Regularization::Kl,
                    other => panic!("unknown regularization {other}"),
                },
                strength: c["strength"].as_f64().unwrap(),
                kind: c["kind"].as_str().unwrap().to_string(),
                n,
                x,
                ranks: rows(c, "ranks").1,
                cotangent: rows(c, "cotangent").1,
                vjp: rows(c, "vjp").1,
            }
        })
        .collect()
}

/// Largest |v| of a slice, at least 1: the scale for absolute tolerances.
fn mag(v: &[f64]) -> f64 {
    v.iter().fold(1.0f64, |m, x| m.max(x.abs()))
}

#[test]
fn pav_reference_matches_torchsort() {
    let cases = torchsort_cases();
    assert_eq!(cases.len(), 168);
    for c in &cases {
        let what = format!("{:?} strength {} {} n={}", c.reg, c.strength, c.kind, c.n);
        let fwd = r::soft_rank_pav_ref(&c.x, 3, c.n, c.reg, c.strength, Order::Ascending);
        // Both are f64 computations of the same operator: only rounding differs.
        assert_close64(
            &format!("{what} ranks"),
            &fwd.ranks,
            &c.ranks,
            1e-9 * mag(&c.ranks),
            1e-9,
        );
        let mut dx = vec![0.0; c.x.len()];
        r::soft_rank_pav_backward_ref(
            &fwd,
            &c.cotangent,
            c.n,
            c.reg,
            c.strength,
            Order::Ascending,
            &mut dx,
        );
        // The VJP divides by the strength: scale the absolute tolerance by its size.
        assert_close64(&format!("{what} vjp"), &dx, &c.vjp, 1e-9 * mag(&c.vjp), 1e-9);
    }
}

/// f64 comparison with the same report as `assert_close`.
fn assert_close64(what: &str, got: &[f64], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    if let Some((_, i)) = cprl::autograd::gradcheck::worst_violation(got, want, atol, rtol) {
        panic!(
            "{what}: index {i}: got {} want {} (atol {atol:e}, rtol {rtol:e})",
            got[i], want[i]
        );
    }
}

#[test]
fn pav_reference_hand_derived_cases() {
    // x = [0, 0.5], l2, strength 1: sorted s = [0.5, 0], w = [2, 1], y = s - w =
    // [-1.5, -1] violates y0 > y1, so both pool: v = -1.25, ranks = s - v:
    // x = 0.5 -> 1.75, x = 0 -> 1.25.
    let f = r::soft_rank_pav_ref(&[0.0, 0.5], 1, 2, Regularization::L2, 1.0, Order::Ascending);
    assert_close64("l2 pair", &f.ranks, &[1.25, 1.75], 1e-12, 0.0);
    // One block: dtheta = g - mean(g) = [1 - 2, 3 - 2] for g = [1, 3].
    let mut dx = vec![0.0; 2];
    r::soft_rank_pav_backward_ref(
        &f,
        &[1.0, 3.0],
        2,
        Regularization::L2,
        1.0,
        Order::Ascending,
        &mut dx,
    );
    assert_close64("l2 pair vjp", &dx, &[-1.0, 1.0], 1e-12, 0.0);
    // Strength 0.1 scales x by 10: s = [5, 0], y = [3, -1] decreasing: hard ranks.
    let f = r::soft_rank_pav_ref(&[0.0, 0.5], 1, 2, Regularization::L2, 0.1, Order::Ascending);
    assert_close64("l2 pair hard", &f.ranks, &[1.0, 2.0], 1e-12, 0.0);
    // Descending: x = 0.5 gets rank 1.25.
    let f = r::soft_rank_pav_ref(&[0.0, 0.5], 1, 2, Regularization::L2, 1.0, Order::Descending);
    assert_close64("l2 pair descending", &f.ranks, &[1.75, 1.25], 1e-12, 0.0);
    // kl, same x: log w = [ln 2, 0], y = [0.5 - ln 2, 0] violates, pool:
    // ranks = (2 + 1) * softmax([0.5, 0]) -> x = 0.5: 3 e^0.5 / (e^0.5 + 1).
    let f = r::soft_rank_pav_ref(&[0.0, 0.5], 1, 2, Regularization::Kl, 1.0, Order::Ascending);
    let e = 0.5f64.exp();
    assert_close64(
        "kl pair",
        &f.ranks,
        &[3.0 / (e + 1.0), 3.0 * e / (e + 1.0)],
        1e-12,
        0.0,
    );
    // n = 1: the rank is 1 whatever x is, and its gradient 0.
    for reg in [Regularization::L2, Regularization::Kl] {
        let f = r::soft_rank_pav_ref(&[-3.0], 1, 1, reg, 0.5, Order::Ascending);
        assert_close64("n=1", &f.ranks, &[1.0], 1e-12, 0.0);
    }
}

#[test]
fn pav_backward_reference_matches_finite_differences() {
    for (k, &(b, n)) in [(1, 1), (2, 2), (3, 5), (2, 17), (1, 64)].iter().enumerate() {
        for reg in [Regularization::L2, Regularization::Kl] {
            for &strength in &[0.1, 1.0, 10.0] {
                for order in [Order::Ascending, Order::Descending] {
                    let x = f64s(&rand_vec(100 + k as u64, b * n));
                    let g = f64s(&rand_vec(200 + k as u64, b * n));
                    let fwd = r::soft_rank_pav_ref(&x, b, n, reg, strength, order);
                    let mut dx = vec![0.0; b * n];
                    r::soft_rank_pav_backward_ref(&fwd, &g, n, reg, strength, order, &mut dx);
                    let f = |xs: &[f64]| r::soft_rank_pav_ref(xs, b, n, reg, strength, order).ranks;
                    // Piecewise smooth: a step of 1e-7 rarely crosses a change of blocks
                    // (random inputs); central differences are then exact to ~1e-7.
                    assert_grad(
                        &format!("pav {reg:?} {strength} {order:?} [{b}, {n}] seed {}", base_seed()),
                        &f,
                        &x,
                        &g,
                        &dx,
                        1e-7,
                        1e-5 * mag(&dx),
                        1e-4,
                    );
                }
            }
        }
    }
}
