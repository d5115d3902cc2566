//! PAV soft rank (permutahedron projection): the f64 reference against torchsort's
//! outputs and finite differences, and every GPU version against the reference.

mod common;

use common::*;
use cprl::autograd::gradcheck::assert_grad;
use cprl::ops::softrank::{Order, Regularization};
use cprl::reference::Tolerance;
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

// ---------------------------------------------------------------------------
// GPU versions against the reference.

use cprl::Tensor;
use cprl::autograd;
use cprl::gpu::{LaunchOverride, with_launch_override};
use cprl::ops::softrank::pav::{self as pav, PavVersion};

/// (B, n): one element, two, odd, not a multiple of any workgroup size, the sizes of
/// the CPRL feature maps (56 x 56 = 3136), a power of two, many rows.
const SHAPES: &[(usize, usize)] = &[
    (1, 1),
    (3, 1),
    (2, 2),
    (3, 5),
    (5, 33),
    (4, 257),
    (3, 1000),
    (2, 3136),
    (2, 4096),
    (2048, 24),
    (2048, 100),
];

/// Rows longer than 4096: 112 x 112 feature maps, v2's longest row, and one that v1
/// walks in two sequential dispatches (its chunks are 16384 positions).
const LARGE: &[(usize, usize)] = &[(3, 12544), (1, 16384), (2, 20000)];

/// Rows of random values in [-1, 1]; every other row rounded to eighths, so that it
/// holds many ties.
fn rows_with_ties(salt: u64, b: usize, n: usize) -> Vec<f32> {
    let mut v = rand_vec(salt, b * n);
    for r in (1..b).step_by(2) {
        for x in &mut v[r * n..(r + 1) * n] {
            *x = (*x * 8.0).round() / 8.0;
        }
    }
    v
}

/// The inputs of a test: `Ties` as above; `Wide` spreads values over
/// [-n/2, n/2) x strength, so that x / strength has gaps of about one between
/// neighbours and the rows break into many short blocks (values in [-1, 1] at n in the
/// thousands pool each row into a few long blocks, and leave the sort order and the
/// joining of blocks little to do).
#[derive(Clone, Copy, PartialEq)]
enum Rows {
    Ties,
    Wide,
}

/// Shapes of the `Wide` tests.
const WIDE: &[(usize, usize)] = &[
    (1, 1),
    (3, 5),
    (4, 257),
    (3, 1000),
    (2, 3136),
    (2, 4096),
    (256, 64),
];

fn inputs(rows: Rows, salt: u64, b: usize, n: usize, strength: f32) -> Vec<f32> {
    match rows {
        Rows::Ties => rows_with_ties(salt, b, n),
        Rows::Wide => rand_vec(salt, b * n)
            .into_iter()
            .map(|v| v * strength * n as f32 / 2.0)
            .collect(),
    }
}

/// The rank tolerance for the inputs ([`r::tolerance::ranks`]): `Wide` keys reach
/// n / 2 in units of the strength.
fn rows_tol(rows: Rows, n: usize) -> Tolerance {
    match rows {
        Rows::Ties => r::tolerance::ranks(n, 0.0),
        Rows::Wide => r::tolerance::ranks(n, n as f64 / 2.0),
    }
}

/// Settings cycled over the shapes: (regularisation, strength, order).
fn setting(k: usize) -> (Regularization, f32, Order) {
    let reg = [Regularization::L2, Regularization::Kl][k % 2];
    let strength = [0.1f32, 1.0, 10.0, 0.01][(k / 2) % 4];
    let order = [Order::Ascending, Order::Descending][(k / 3) % 2];
    (reg, strength, order)
}

fn forward_matches_ref(version: PavVersion, shapes: &[(usize, usize)], rows: Rows) {
    let gpu = gpu();
    for (k, &(b, n)) in shapes.iter().enumerate() {
        let (reg, strength, order) = setting(k);
        if !version.supports(&gpu, n, reg) {
            println!("{version:?} does not run [{b}, {n}] {reg:?} on this adapter: skipped");
            continue;
        }
        let xv = inputs(rows, 300 + k as u64, b, n, strength);
        let x = Tensor::from_slice(&gpu, &xv, &[b, n]).unwrap();
        let ranks = pav::run_version(&x, None, reg, strength, order, version)
            .unwrap()
            .ranks;
        let want = r::soft_rank_pav_ref(&f64s(&xv), b, n, reg, strength as f64, order);
        assert_tensor(
            &format!("{version:?} {reg:?} strength {strength} {order:?} [{b}, {n}]"),
            &ranks,
            &want.ranks,
            rows_tol(rows, n).atol,
            rows_tol(rows, n).rtol,
        );
    }
}

/// The reference backward on the block structure a GPU forward saved. The backward is
/// discontinuous where two adjacent blocks have nearly equal values (pooled or not),
/// and f32 and f64 may decide such a near-tie differently (for kl at n = 4096 about
/// once per row), so the backward kernels are held to the reference on the structure
/// they were given; the forward tests hold the structure's values to the reference.
fn ref_backward_on_saved(
    perm: &[u32],
    ranks: &[f32],
    g: &[f64],
    (b, n): (usize, usize),
    reg: Regularization,
    strength: f64,
    order: Order,
) -> Vec<f64> {
    let rows = perm
        .chunks(n)
        .map(|row| {
            let starts: Vec<usize> = (0..n).filter(|&k| row[k] & pav::BLOCK_START != 0).collect();
            assert_eq!(starts.first(), Some(&0), "the first block must start at 0");
            let mut seen = vec![false; n];
            let perm: Vec<usize> = row.iter().map(|&e| (e & !pav::BLOCK_START) as usize).collect();
            for &i in &perm {
                assert!(i < n && !seen[i], "saved permutation is not one: {i}");
                seen[i] = true;
            }
            let values = vec![0.0; starts.len()];
            r::PavRow { perm, starts, values }
        })
        .collect();
    let fwd = r::PavForward {
        ranks: f64s(ranks),
        rows,
    };
    let mut dx = vec![0.0; b * n];
    r::soft_rank_pav_backward_ref(&fwd, g, n, reg, strength, order, &mut dx);
    dx
}

fn backward_matches_ref(version: PavVersion, shapes: &[(usize, usize)], rows: Rows) {
    let gpu = gpu();
    for (k, &(b, n)) in shapes.iter().enumerate() {
        let (reg, strength, order) = setting(k + 1);
        if !version.supports(&gpu, n, reg) {
            println!("{version:?} does not run [{b}, {n}] {reg:?} on this adapter: skipped");
            continue;
        }
        let what = format!("{version:?} backward {reg:?} strength {strength} {order:?} [{b}, {n}]");
        let xv = inputs(rows, 400 + k as u64, b, n, strength);
        let x = Tensor::from_slice(&gpu, &xv, &[b, n]).unwrap().requires_grad_();
        let y = pav::soft_rank_pav_with(&x, reg, strength, order, version).unwrap();
        let (g, gv) = rand_tensor(&gpu, 500 + k as u64, &[b, n]);
        let grads = autograd::backward_with(&y, &g).unwrap();
        // The same forward again (the kernels are deterministic) for its saved state.
        let run = pav::run_version(&x.detach(), None, reg, strength, order, version).unwrap();
        let ranks = run.ranks.to_vec().unwrap();
        assert_eq!(ranks, y.to_vec().unwrap(), "{what}: forward not deterministic");
        let want = ref_backward_on_saved(
            &run.saved_perm().unwrap(),
            &ranks,
            &gv,
            (b, n),
            reg,
            strength as f64,
            order,
        );
        let Tolerance { atol, rtol } = r::tolerance::backward(&want);
        assert_tensor(&what, grads.of(&x).unwrap(), &want, atol, rtol);
    }
}

fn matches_torchsort(version: PavVersion) {
    let gpu = gpu();
    for c in torchsort_cases() {
        let what = format!(
            "{version:?} {:?} strength {} {} n={}",
            c.reg, c.strength, c.kind, c.n
        );
        if !version.supports(&gpu, c.n, c.reg) {
            println!("{what}: {version:?} does not run this on this adapter: skipped");
            continue;
        }
        let xs: Vec<f32> = c.x.iter().map(|&v| v as f32).collect();
        let gs: Vec<f32> = c.cotangent.iter().map(|&v| v as f32).collect();
        let x = Tensor::from_slice(&gpu, &xs, &[3, c.n]).unwrap();
        let g = Tensor::from_slice(&gpu, &gs, &[3, c.n]).unwrap();
        let run =
            pav::run_version(&x, Some(&g), c.reg, c.strength as f32, Order::Ascending, version).unwrap();
        // The bar: 1e-4 relative in f32 (x and g are rounded to f32 first).
        assert_tensor(&format!("{what} ranks"), &run.ranks, &c.ranks, 1e-6, 1e-4);
        assert_tensor(
            &format!("{what} vjp"),
            &run.dx.unwrap(),
            &c.vjp,
            1e-4 * mag(&c.vjp),
            1e-4,
        );
    }
}

/// One test per (pass, version), named `softrank_pav_<pass>::<version>_matches_ref`
/// (the pass is the module, so `cargo test v2_` runs one version everywhere).
macro_rules! version_tests {
    ($($name:ident => $version:expr;)*) => {
        mod softrank_pav_forward {
            use super::*;
            $(#[test]
            fn $name() {
                forward_matches_ref($version, SHAPES, Rows::Ties);
            })*
        }
        mod softrank_pav_backward {
            use super::*;
            $(#[test]
            fn $name() {
                backward_matches_ref($version, SHAPES, Rows::Ties);
            })*
        }
        mod softrank_pav_large {
            use super::*;
            $(#[test]
            fn $name() {
                forward_matches_ref($version, LARGE, Rows::Ties);
                backward_matches_ref($version, LARGE, Rows::Ties);
            })*
        }
        mod softrank_pav_wide {
            use super::*;
            $(#[test]
            fn $name() {
                forward_matches_ref($version, WIDE, Rows::Wide);
                backward_matches_ref($version, WIDE, Rows::Wide);
            })*
        }
        mod softrank_pav_torchsort {
            use super::*;
            $(#[test]
            fn $name() {
                matches_torchsort($version);
            })*
        }
    };
}

version_tests! {
    v1_matches_ref => PavVersion::V1;
    v2_matches_ref => PavVersion::V2;
    v3_matches_ref => PavVersion::V3;
    v4_matches_ref => PavVersion::V4;
}

/// Rows of 3 x n whose SH (n rounded up to a power of two, at least 64) is `sh`.
fn row_of_sh(sh: usize) -> (usize, usize) {
    (3, sh - sh / 4 + 1)
}

/// Every V3 launch shape an adapter could pick: workgroups of 64 to 1024 threads, each
/// owning C = SH / WG of 1 to 16 positions, on rows sized for each pair. An adapter
/// picks among these by its limits (a GPU's 48 KiB of workgroup memory takes rows of
/// 4096 with C = 4; lavapipe's 32 KiB stops earlier), so CI would otherwise run only
/// the few its own limits give. Pairs past this adapter's limits are skipped and
/// listed.
#[test]
fn v3_matches_ref_at_every_workgroup_an_adapter_could_pick() {
    let gpu = gpu();
    let (mut ran, mut skipped) = (Vec::new(), Vec::new());
    for wg in [64usize, 128, 256, 512, 1024] {
        let shapes: Vec<(usize, usize)> = [1, 2, 4, 8, 16]
            .into_iter()
            .map(|c| wg * c)
            .filter(|&sh| sh <= 4096)
            .map(row_of_sh)
            .collect();
        let o = LaunchOverride {
            pav_v3_wg: Some(wg),
            ..Default::default()
        };
        with_launch_override(o, || {
            for &(_, n) in &shapes {
                for reg in [Regularization::L2, Regularization::Kl] {
                    let c = n.next_power_of_two().max(64) / wg;
                    let list = if PavVersion::V3.supports(&gpu, n, reg) {
                        &mut ran
                    } else {
                        &mut skipped
                    };
                    list.push(format!("WG {wg} C {c} {reg:?}"));
                }
            }
            forward_matches_ref(PavVersion::V3, &shapes, Rows::Wide);
            backward_matches_ref(PavVersion::V3, &shapes, Rows::Ties);
        });
    }
    println!("ran: {ran:?}\nskipped (past this adapter's limits): {skipped:?}");
    // WebGPU's default 16 KiB of workgroup memory holds 13 of the l2 pairs (rows up to
    // 1024, WG up to 256 there): every adapter runs at least those.
    assert!(ran.len() >= 13, "only {} launch shapes ran: {ran:?}", ran.len());
}

/// The one-row-per-invocation kernels (V1, V2) in both workgroup sizes an adapter could
/// pick: 8 lanes on CPU drivers, 64 elsewhere.
#[test]
fn v1_and_v2_match_ref_in_both_row_workgroups() {
    for cpu in [true, false] {
        let o = LaunchOverride {
            cpu: Some(cpu),
            ..Default::default()
        };
        with_launch_override(o, || {
            for v in [PavVersion::V1, PavVersion::V2] {
                forward_matches_ref(v, SHAPES, Rows::Ties);
                backward_matches_ref(v, SHAPES, Rows::Ties);
            }
        });
    }
}
