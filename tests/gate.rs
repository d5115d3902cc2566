//! The CPR channel gate against the f64 reference: outputs (c, n, m), gradients with
//! respect to z and the key weights through the tape, the reference backward against
//! finite differences, and hand cases.

mod common;

use common::*;
use cprl::Tensor;
use cprl::autograd::{self, gradcheck::assert_grad};
use cprl::ops::elementwise as ew;
use cprl::ops::gate::{GateConfig, GateKey, cpr_gate};
use cprl::ops::reduce;
use cprl::ops::softrank::{Method, NetworkKind, Relaxation};
use cprl::reference::gate::{
    GateRefConfig, cpr_gate_backward_ref, cpr_gate_backward_to_key_ref, cpr_gate_from_key_ref, cpr_gate_ref,
    tolerance,
};

/// [B, C]: one channel, two, odd, many samples, the benchmark shape, a wide row.
const SHAPES: &[(usize, usize)] = &[(1, 1), (3, 2), (5, 37), (2048, 5), (256, 512), (2, 2048)];

const BITONIC: Method = Method::Network {
    kind: NetworkKind::Bitonic,
    relaxation: Relaxation::Logistic,
};

/// The default method (torchsort's operator).
const PAV: Method = Method::Pav(cprl::ops::softrank::Regularization::L2);

fn config(method: Method, strength: f32, key: GateKey) -> GateConfig {
    GateConfig {
        rho: 0.25,
        temperature: 0.05,
        method,
        strength,
        key,
    }
}

fn ref_config<'a>(cfg: &GateConfig, weights: Option<&'a [f64]>) -> GateRefConfig<'a> {
    GateRefConfig {
        rho: cfg.rho as f64,
        temperature: cfg.temperature as f64,
        method: cfg.method,
        strength: cfg.strength as f64,
        weights,
    }
}

/// GAP features are >= 0: z in [0, 2).
fn features(salt: u64, n: usize) -> Vec<f32> {
    rand_range(salt, n, 0.0, 2.0)
}

fn run_case(method: Method, strength: f32, weighted: bool, check_grads: bool) {
    let gpu = gpu();
    for (k, &(b, ch)) in SHAPES.iter().enumerate() {
        let zv = features(10 + k as u64, b * ch);
        let wv = rand_range(20 + k as u64, ch, 0.2, 1.5);
        let z = Tensor::from_slice(&gpu, &zv, &[b, ch]).unwrap().requires_grad_();
        let w = Tensor::from_slice(&gpu, &wv, &[ch]).unwrap().requires_grad_();
        let key = if weighted {
            GateKey::WeightedAbs(w.clone())
        } else {
            GateKey::Z
        };
        let cfg = config(method, strength, key);
        let w64 = f64s(&wv);
        let rcfg = ref_config(&cfg, weighted.then_some(&w64[..]));
        let z64 = f64s(&zv);
        let want = cpr_gate_ref(&z64, ch, &rcfg);
        let (c, n, m) = cpr_gate(&z, &cfg).unwrap();
        let what = format!("{method:?} weighted={weighted} [{b}, {ch}]");
        assert_tensor_within(&format!("c {what}"), &c, &want.c, tolerance::FEATURES);
        assert_tensor_within(&format!("n {what}"), &n, &want.n, tolerance::FEATURES);
        assert_tensor_within(&format!("m {what}"), &m, &want.m, tolerance::MASK);
        if !check_grads {
            continue;
        }
        // loss = <gc, c> + <gn, n> + <gm, m>: all three outputs' backward nodes at once.
        let (gc, gn, gm) = (
            rand_vec(30 + k as u64, b * ch),
            rand_vec(31 + k as u64, b * ch),
            rand_vec(32 + k as u64, b * ch),
        );
        let t = |v: &[f32]| Tensor::from_slice(&gpu, v, &[b, ch]).unwrap();
        let loss = ew::add(
            &ew::add(
                &reduce::sum(&ew::mul(&c, &t(&gc)).unwrap()).unwrap(),
                &reduce::sum(&ew::mul(&n, &t(&gn)).unwrap()).unwrap(),
            )
            .unwrap(),
            &reduce::sum(&ew::mul(&m, &t(&gm)).unwrap()).unwrap(),
        )
        .unwrap();
        let grads = autograd::backward(&loss).unwrap();
        let mut dz = vec![0.0; b * ch];
        let mut dw = vec![0.0; ch];
        cpr_gate_backward_ref(
            &z64,
            ch,
            &rcfg,
            &want,
            &f64s(&gc),
            &f64s(&gn),
            &f64s(&gm),
            &mut dz,
            Some(&mut dw),
        );
        assert_tensor_within(
            &format!("dz {what}"),
            grads.of(&z).unwrap(),
            &dz,
            tolerance::dz(&dz),
        );
        if weighted {
            let tol = tolerance::dw(&dw, b);
            assert_tensor_within(&format!("dw {what}"), grads.of(&w).unwrap(), &dw, tol);
        }
    }
}

#[test]
fn gate_forward_v1_matches_ref_pairwise() {
    run_case(Method::Pairwise, 0.1, false, false);
}

#[test]
fn gate_forward_v1_matches_ref_network_weighted_key() {
    run_case(BITONIC, 0.1, true, false);
}

#[test]
fn gate_backward_v1_matches_ref_pairwise() {
    run_case(Method::Pairwise, 0.1, false, true);
}

#[test]
fn gate_backward_v1_matches_ref_pairwise_weighted_key() {
    run_case(Method::Pairwise, 0.1, true, true);
}

#[test]
fn gate_backward_v1_matches_ref_pav() {
    run_case(PAV, 0.1, false, true);
}

#[test]
fn gate_backward_v1_matches_ref_pav_weighted_key() {
    run_case(PAV, 0.1, true, true);
}

/// `GateKey::Given`: the key is an input of its own (any real values, as a
/// standardised key is); z gets only the gradient through c and n, the key the one
/// through the ranks.
#[test]
fn gate_backward_v1_matches_ref_pav_given_key() {
    let gpu = gpu();
    for (k, &(b, ch)) in [(1, 1), (3, 2), (5, 37), (256, 512)].iter().enumerate() {
        let zv = features(60 + k as u64, b * ch);
        let kv = rand_vec(61 + k as u64, b * ch);
        let z = Tensor::from_slice(&gpu, &zv, &[b, ch]).unwrap().requires_grad_();
        let key = Tensor::from_slice(&gpu, &kv, &[b, ch]).unwrap().requires_grad_();
        let cfg = config(PAV, 0.1, GateKey::Given(key.clone()));
        let rcfg = ref_config(&cfg, None);
        let z64 = f64s(&zv);
        let want = cpr_gate_from_key_ref(&z64, f64s(&kv), ch, &rcfg);
        let (c, n, m) = cpr_gate(&z, &cfg).unwrap();
        let what = format!("given key [{b}, {ch}]");
        assert_tensor_within(&format!("c {what}"), &c, &want.c, tolerance::FEATURES);
        assert_tensor_within(&format!("n {what}"), &n, &want.n, tolerance::FEATURES);
        assert_tensor_within(&format!("m {what}"), &m, &want.m, tolerance::MASK);
        let (gc, gm) = (rand_vec(62 + k as u64, b * ch), rand_vec(63 + k as u64, b * ch));
        let t = |v: &[f32]| Tensor::from_slice(&gpu, v, &[b, ch]).unwrap();
        // loss = <gc, c> + <gm, m> (n's node is covered by the other cases).
        let loss = ew::add(
            &reduce::sum(&ew::mul(&c, &t(&gc)).unwrap()).unwrap(),
            &reduce::sum(&ew::mul(&m, &t(&gm)).unwrap()).unwrap(),
        )
        .unwrap();
        let grads = autograd::backward(&loss).unwrap();
        let (mut dz, mut dkey) = (vec![0.0; b * ch], vec![0.0; b * ch]);
        let zero = vec![0.0; b * ch];
        cpr_gate_backward_to_key_ref(
            &z64,
            ch,
            &rcfg,
            &want,
            &f64s(&gc),
            &zero,
            &f64s(&gm),
            &mut dz,
            &mut dkey,
        );
        // As in `run_case`: rank-gradient errors of 2e-5 of the largest, times the slope.
        assert_tensor(&format!("dz {what}"), grads.of(&z).unwrap(), &dz, 1e-5, 1e-5);
        let tol = tolerance::dz(&dkey);
        assert_tensor_within(&format!("dkey {what}"), grads.of(&key).unwrap(), &dkey, tol);
    }
}

#[test]
fn gate_reference_backward_to_a_given_key_matches_finite_differences() {
    let (b, ch) = (2, 6);
    let z = f64s(&features(70, b * ch));
    let key = f64s(&rand_vec(71, b * ch));
    let g: Vec<Vec<f64>> = (0..3).map(|i| f64s(&rand_vec(72 + i, b * ch))).collect();
    let cfg = GateRefConfig {
        rho: 0.25,
        temperature: 0.2,
        method: PAV,
        strength: 0.5,
        weights: None,
    };
    let fwd = cpr_gate_from_key_ref(&z, key.clone(), ch, &cfg);
    let (mut dz, mut dkey) = (vec![0.0; b * ch], vec![0.0; b * ch]);
    cpr_gate_backward_to_key_ref(&z, ch, &cfg, &fwd, &g[0], &g[1], &g[2], &mut dz, &mut dkey);
    let stack = |o: &cprl::reference::gate::GateRefOut| [o.c.clone(), o.n.clone(), o.m.clone()].concat();
    let gall = g.concat();
    assert_grad(
        "given-key gate dz",
        &|zz: &[f64]| stack(&cpr_gate_from_key_ref(zz, key.clone(), ch, &cfg)),
        &z,
        &gall,
        &dz,
        1e-6,
        1e-6,
        1e-5,
    );
    assert_grad(
        "given-key gate dkey",
        &|kk: &[f64]| stack(&cpr_gate_from_key_ref(&z, kk.to_vec(), ch, &cfg)),
        &key,
        &gall,
        &dkey,
        1e-6,
        1e-6,
        1e-5,
    );
}

#[test]
fn gate_default_config_uses_pav_and_runs() {
    let gpu = gpu();
    let z = Tensor::from_slice(&gpu, &features(90, 4 * 16), &[4, 16]).unwrap();
    let cfg = GateConfig::default();
    assert_eq!(cfg.method, PAV);
    let (c, n, _) = cpr_gate(&z, &cfg).unwrap();
    // c + n = z exactly up to rounding, whatever the gate.
    let (cv, nv, zv) = (c.to_vec().unwrap(), n.to_vec().unwrap(), z.to_vec().unwrap());
    for i in 0..zv.len() {
        assert!(
            (cv[i] + nv[i] - zv[i]).abs() <= 1e-6 * zv[i].abs().max(1.0),
            "{i}"
        );
    }
}

#[test]
fn gate_backward_v1_matches_ref_network() {
    run_case(BITONIC, 0.1, false, true);
}

#[test]
fn gate_reference_backward_matches_finite_differences() {
    for method in [Method::Pairwise, BITONIC, PAV] {
        for weighted in [false, true] {
            for &(b, ch) in &[(1, 1), (2, 2), (2, 6)] {
                let z = f64s(&features(40 + ch as u64, b * ch));
                let w = f64s(&rand_range(41 + ch as u64, ch, 0.2, 1.5));
                let g: Vec<Vec<f64>> = (0..3).map(|i| f64s(&rand_vec(42 + i, b * ch))).collect();
                let cfg = GateRefConfig {
                    rho: 0.25,
                    temperature: 0.2,
                    method,
                    strength: 0.5,
                    weights: weighted.then_some(&w[..]),
                };
                let fwd = cpr_gate_ref(&z, ch, &cfg);
                let mut dz = vec![0.0; b * ch];
                let mut dw = vec![0.0; ch];
                cpr_gate_backward_ref(&z, ch, &cfg, &fwd, &g[0], &g[1], &g[2], &mut dz, Some(&mut dw));
                // Outputs stacked [c; n; m], cotangent [gc; gn; gm].
                let stack =
                    |o: &cprl::reference::gate::GateRefOut| [o.c.clone(), o.n.clone(), o.m.clone()].concat();
                let gall = g.concat();
                assert_grad(
                    &format!("gate dz {method:?} weighted={weighted} [{b}, {ch}]"),
                    &|zz: &[f64]| stack(&cpr_gate_ref(zz, ch, &cfg)),
                    &z,
                    &gall,
                    &dz,
                    1e-6,
                    1e-6,
                    1e-5,
                );
                if weighted {
                    assert_grad(
                        &format!("gate dw {method:?} [{b}, {ch}]"),
                        &|ww: &[f64]| {
                            stack(&cpr_gate_ref(
                                &z,
                                ch,
                                &GateRefConfig {
                                    weights: Some(ww),
                                    ..cfg
                                },
                            ))
                        },
                        &w,
                        &gall,
                        &dw,
                        1e-6,
                        1e-6,
                        1e-5,
                    );
                }
            }
        }
    }
}

#[test]
fn gate_forward_v1_matches_ref_hand_cases() {
    let gpu = gpu();
    let s = |t: f64| 1.0 / (1.0 + (-t).exp());
    // C = 1: u = 1, m = sigmoid((1 - 0.75) / 0.05) = sigmoid(5) for any z.
    let z = Tensor::from_slice(&gpu, &[2.0, 0.5], &[2, 1]).unwrap();
    let (c, n, m) = cpr_gate(&z, &config(Method::Pairwise, 0.1, GateKey::Z)).unwrap();
    assert_close("C=1 m", &m.to_vec().unwrap(), &[s(5.0), s(5.0)], 1e-6, 1e-6);
    assert_close(
        "C=1 c",
        &c.to_vec().unwrap(),
        &[2.0 * s(5.0), 0.5 * s(5.0)],
        1e-6,
        1e-6,
    );
    assert_close(
        "C=1 n",
        &n.to_vec().unwrap(),
        &[2.0 * s(-5.0), 0.5 * s(-5.0)],
        1e-6,
        1e-6,
    );
    // C = 2, hard ranks (strength 1e-4, values 1 apart): the smaller channel has u = 0,
    // m = sigmoid(-0.75 / 0.05) = sigmoid(-15); the larger u = 1, m = sigmoid(5).
    let z = Tensor::from_slice(&gpu, &[3.0, 1.0], &[1, 2]).unwrap();
    let (_, _, m) = cpr_gate(&z, &config(Method::Pairwise, 1e-4, GateKey::Z)).unwrap();
    assert_close("C=2 m", &m.to_vec().unwrap(), &[s(5.0), s(-15.0)], 1e-6, 1e-5);
    // The weighted key ranks |z w|: w flips which channel is larger.
    let w = Tensor::from_slice(&gpu, &[0.1, 1.0], &[2]).unwrap();
    let (_, _, m) = cpr_gate(&z, &config(Method::Pairwise, 1e-4, GateKey::WeightedAbs(w))).unwrap();
    assert_close(
        "C=2 weighted m",
        &m.to_vec().unwrap(),
        &[s(-15.0), s(5.0)],
        1e-6,
        1e-5,
    );
}

#[test]
fn gate_rejects_bad_arguments() {
    let gpu = gpu();
    let z = Tensor::zeros(&gpu, &[2, 3]).unwrap();
    let w = Tensor::zeros(&gpu, &[4]).unwrap();
    let e = cpr_gate(&z, &config(Method::Pairwise, 0.1, GateKey::WeightedAbs(w)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("[2, 3]") && e.contains("[4]"), "{e}");
    let e = cpr_gate(
        &z,
        &config(Method::Pairwise, 0.1, GateKey::Given(z.reshape(&[3, 2]).unwrap())),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("[2, 3]") && e.contains("[3, 2]"), "{e}");
    let z3 = Tensor::zeros(&gpu, &[2, 3, 1]).unwrap();
    assert!(cpr_gate(&z3, &config(Method::Pairwise, 0.1, GateKey::Z)).is_err());
    let bad = GateConfig {
        temperature: 0.0,
        ..config(Method::Pairwise, 0.1, GateKey::Z)
    };
    assert!(cpr_gate(&z, &bad).is_err());
}
