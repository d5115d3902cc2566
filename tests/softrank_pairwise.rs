//! Pairwise soft ranks against the f64 reference (every kernel version, both orders,
//! ties), the reference backward against finite differences, and the limits.

mod common;

use common::*;
use cprl::Tensor;
use cprl::autograd::{self, gradcheck::assert_grad};
use cprl::ops::softrank::pairwise::{self as pw, PairwiseVersion};
use cprl::ops::softrank::{Method, Order, soft_rank, soft_rank_ordered};
use cprl::reference::softrank::pairwise as r;
use cprl::reference::softrank::sort::hard_rank_ref;

/// (rows, n): size 1, 2, odd, not multiples of 8 or 256, many rows, the SortMask row
/// (56 x 56) and the largest benchmarked row.
const SHAPES: &[(usize, usize)] = &[(1, 1), (3, 2), (7, 37), (2048, 5), (4, 255), (2, 3136), (1, 4096)];
const STRENGTH: f32 = 0.1;

/// Values in [-1, 1]; odd rows quantised to quarters, so they hold ties.
fn input(salt: u64, rows: usize, n: usize) -> Vec<f32> {
    let mut v = rand_vec(salt, rows * n);
    for (k, x) in v.iter_mut().enumerate() {
        if (k / n.max(1)) % 2 == 1 {
            *x = (*x * 4.0).round() / 4.0;
        }
    }
    v
}

fn forward_matches_ref(version: PairwiseVersion) {
    let gpu = gpu();
    for (k, &(rows, n)) in SHAPES.iter().enumerate() {
        for order in [Order::Ascending, Order::Descending] {
            let xv = input(10 + k as u64, rows, n);
            let x = Tensor::from_slice(&gpu, &xv, &[rows, n]).unwrap();
            let got = pw::pairwise_forward(&x, STRENGTH, order, version).unwrap();
            let want = r::soft_rank_pairwise_ref(&f64s(&xv), n, STRENGTH as f64, order);
            assert_tensor_within(
                &format!("pairwise {version:?} [{rows}, {n}] {order:?}"),
                &got,
                &want,
                r::tolerance::ranks(n),
            );
        }
    }
}

fn backward_matches_ref(version: PairwiseVersion) {
    let gpu = gpu();
    for (k, &(rows, n)) in SHAPES.iter().enumerate() {
        for order in [Order::Ascending, Order::Descending] {
            let xv = input(20 + k as u64, rows, n);
            let gv = rand_vec(30 + k as u64, rows * n);
            let x = Tensor::from_slice(&gpu, &xv, &[rows, n])
                .unwrap()
                .requires_grad_();
            let g = Tensor::from_slice(&gpu, &gv, &[rows, n]).unwrap();
            let out = pw::soft_rank_pairwise_with(&x, STRENGTH, order, version).unwrap();
            let grads = autograd::backward_with(&out, &g).unwrap();
            let mut want = vec![0.0; rows * n];
            r::soft_rank_pairwise_backward_ref(&f64s(&xv), n, STRENGTH as f64, order, &f64s(&gv), &mut want);
            assert_tensor_within(
                &format!("pairwise backward {version:?} [{rows}, {n}] {order:?}"),
                grads.of(&x).unwrap(),
                &want,
                r::tolerance::backward(&want),
            );
        }
    }
}

macro_rules! version_tests {
    ($($fwd:ident, $bwd:ident: $v:expr;)*) => {$(
        #[test]
        fn $fwd() {
            forward_matches_ref($v);
        }
        #[test]
        fn $bwd() {
            backward_matches_ref($v);
        }
    )*};
}

version_tests! {
    softrank_pairwise_forward_v1_matches_ref, softrank_pairwise_backward_v1_matches_ref: PairwiseVersion::V1;
    softrank_pairwise_forward_v2_matches_ref, softrank_pairwise_backward_v2_matches_ref: PairwiseVersion::V2;
    softrank_pairwise_forward_v3_matches_ref, softrank_pairwise_backward_v3_matches_ref: PairwiseVersion::V3;
    softrank_pairwise_forward_auto_matches_ref, softrank_pairwise_backward_auto_matches_ref: PairwiseVersion::Auto;
}

#[test]
fn softrank_pairwise_backward_ref_matches_finite_differences() {
    for order in [Order::Ascending, Order::Descending] {
        for &(rows, n, strength) in &[(1, 1, 0.5), (2, 2, 0.3), (2, 7, 0.5), (1, 9, 2.0)] {
            let x = f64s(&input(40 + n as u64, rows, n));
            let g = f64s(&rand_vec(41 + n as u64, rows * n));
            let mut dx = vec![0.0; rows * n];
            r::soft_rank_pairwise_backward_ref(&x, n, strength, order, &g, &mut dx);
            assert_grad(
                &format!("pairwise [{rows}, {n}] {order:?} strength {strength}"),
                &|x: &[f64]| r::soft_rank_pairwise_ref(x, n, strength, order),
                &x,
                &g,
                &dx,
                1e-6,
                1e-7,
                1e-6,
            );
        }
    }
}

#[test]
fn softrank_pairwise_forward_v2_matches_ref_hand_case() {
    // tau = 1 / ln 3, x = [0, 1]: sigmoid(ln 3) = 3/4, so ascending
    // r_0 = 1 + sigmoid(-ln 3) = 1.25 and r_1 = 1 + sigmoid(ln 3) = 1.75;
    // descending swaps them. Two equal values: r = 1 + 1/2 each.
    let gpu = gpu();
    let tau = 1.0 / 3f32.ln();
    let x = Tensor::from_slice(&gpu, &[0.0, 1.0, 0.5, 0.5], &[2, 2]).unwrap();
    let up = pw::pairwise_forward(&x, tau, Order::Ascending, PairwiseVersion::V2).unwrap();
    assert_tensor("hand ascending", &up, &[1.25, 1.75, 1.5, 1.5], 1e-6, 1e-6);
    let down = pw::pairwise_forward(&x, tau, Order::Descending, PairwiseVersion::V2).unwrap();
    assert_tensor("hand descending", &down, &[1.75, 1.25, 1.5, 1.5], 1e-6, 1e-6);
}

#[test]
fn softrank_pairwise_forward_auto_matches_ref_hard_limit() {
    // Distinct values on a grid of 1/n: with tau = 1e-4 every pair is at least 100/n
    // apart in units of tau, so the soft ranks are the hard ranks (n = 100: 1 - sigmoid(100) ~ 0).
    let gpu = gpu();
    let n = 100;
    let perm = cprl::reference::softrank::sort::argsort_ref(&f64s(&rand_vec(50, n)), n, Order::Ascending);
    let xv: Vec<f32> = perm.iter().map(|&i| i as f32 / n as f32).collect();
    let x = Tensor::from_slice(&gpu, &xv, &[1, n]).unwrap();
    for order in [Order::Ascending, Order::Descending] {
        let got = soft_rank_ordered(&x, Method::Pairwise, 1e-4, order).unwrap();
        assert_tensor(
            &format!("hard limit {order:?}"),
            &got,
            &hard_rank_ref(&f64s(&xv), n, order),
            1e-4,
            0.0,
        );
    }
}

#[test]
fn softrank_pairwise_backward_auto_matches_ref_through_soft_rank() {
    // The public entry on a 3-d tensor: ranks along the last axis, reshapes recorded.
    let gpu = gpu();
    let (shape, n) = ([2, 3, 17], 17);
    let xv = input(60, 6, n);
    let gv = rand_vec(61, 6 * n);
    let x = Tensor::from_slice(&gpu, &xv, &shape).unwrap().requires_grad_();
    let out = soft_rank(&x, Method::Pairwise, 0.2).unwrap();
    assert_eq!(out.shape(), &shape);
    let want = r::soft_rank_pairwise_ref(&f64s(&xv), n, 0.2, Order::Ascending);
    assert_tensor_within("soft_rank 3-d", &out, &want, r::tolerance::ranks(n));
    let g = Tensor::from_slice(&gpu, &gv, &shape).unwrap();
    let grads = autograd::backward_with(&out, &g).unwrap();
    let mut dx = vec![0.0; 6 * n];
    r::soft_rank_pairwise_backward_ref(&f64s(&xv), n, 0.2, Order::Ascending, &f64s(&gv), &mut dx);
    assert_tensor_within(
        "soft_rank 3-d backward",
        grads.of(&x).unwrap(),
        &dx,
        r::tolerance::backward(&dx),
    );
}

#[test]
fn softrank_pairwise_rejects_bad_arguments() {
    let gpu = gpu();
    let long = Tensor::zeros(&gpu, &[1, pw::MAX_N + 1]).unwrap();
    let e = pw::pairwise_forward(&long, 1.0, Order::Ascending, PairwiseVersion::Auto)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&pw::MAX_N.to_string()), "{e}");
    let x = Tensor::zeros(&gpu, &[2, 3]).unwrap();
    assert!(pw::pairwise_forward(&x, 0.0, Order::Ascending, PairwiseVersion::V1).is_err());
    let e = pw::pairwise_backward(
        &x,
        &Tensor::zeros(&gpu, &[3, 2]).unwrap(),
        1.0,
        Order::Ascending,
        PairwiseVersion::V1,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("[2, 3]") && e.contains("[3, 2]"), "{e}");
}
