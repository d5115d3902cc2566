//! Pooling kernels against the f64 reference, forward and backward (through the
//! tape); the reference backward against finite differences.

#[macro_use]
mod common;

use common::*;
use cprl::Tensor;
use cprl::autograd::{self, gradcheck::assert_grad};
use cprl::ops::pool::{self, GlobalPoolVersion, Pool2d, Pool2dVersion};
use cprl::reference::pool as r;

call_tests! {
    avg_pool2d_forward_v1_matches_ref: avg_forward_matches_ref(Pool2dVersion::V1);
    avg_pool2d_forward_v2_matches_ref: avg_forward_matches_ref(Pool2dVersion::V2);
    avg_pool2d_forward_v2narrow_matches_ref: avg_forward_matches_ref(Pool2dVersion::V2Narrow);
    avg_pool2d_backward_v1_matches_ref: avg_backward_matches_ref(Pool2dVersion::V1);
    avg_pool2d_backward_v2_matches_ref: avg_backward_matches_ref(Pool2dVersion::V2);
    avg_pool2d_backward_v2narrow_matches_ref: avg_backward_matches_ref(Pool2dVersion::V2Narrow);
    max_pool2d_forward_v1_matches_ref: max_forward_matches_ref(Pool2dVersion::V1);
    max_pool2d_forward_v2_matches_ref: max_forward_matches_ref(Pool2dVersion::V2);
    max_pool2d_forward_v2narrow_matches_ref: max_forward_matches_ref(Pool2dVersion::V2Narrow);
    max_pool2d_forward_v1_matches_ref_ties: max_forward_matches_ref_ties(Pool2dVersion::V1);
    max_pool2d_forward_v2_matches_ref_ties: max_forward_matches_ref_ties(Pool2dVersion::V2);
    max_pool2d_forward_v2narrow_matches_ref_ties: max_forward_matches_ref_ties(Pool2dVersion::V2Narrow);
    max_pool2d_backward_v1_matches_ref: max_backward_matches_ref(Pool2dVersion::V1);
    max_pool2d_backward_v2_matches_ref: max_backward_matches_ref(Pool2dVersion::V2);
    max_pool2d_backward_v2narrow_matches_ref: max_backward_matches_ref(Pool2dVersion::V2Narrow);
}

fn geo(kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2], count_include_pad: bool) -> Pool2d {
    Pool2d {
        kernel,
        stride,
        padding,
        count_include_pad,
    }
}

/// (input, window): 1x1, odd sizes, stride != kernel both ways (stride 3 > kernel 2
/// leaves inputs in no window), unequal rows/columns, padding counted or not, windows
/// mostly in the padding, the largest window (128x128 = 16,384 iterations per
/// invocation), and a CNN-sized input.
fn cases() -> Vec<(Vec<usize>, Pool2d)> {
    vec![
        (vec![1, 1, 1, 1], Pool2d::square(1, 1, 0)),
        (vec![2, 3, 7, 7], Pool2d::square(3, 2, 1)),
        (vec![2, 3, 7, 9], Pool2d::square(2, 2, 0)),
        (vec![1, 2, 8, 5], Pool2d::square(3, 1, 1)),
        (vec![2, 2, 9, 11], geo([3, 2], [2, 3], [1, 0], true)),
        (vec![3, 2, 10, 10], geo([3, 3], [2, 2], [1, 1], false)),
        (vec![1, 1, 5, 5], geo([5, 5], [1, 1], [2, 2], false)),
        (vec![2, 4, 13, 13], Pool2d::square(2, 3, 1)),
        (vec![1, 2, 130, 131], Pool2d::square(128, 1, 0)),
        (vec![8, 32, 112, 112], Pool2d::square(3, 2, 1)),
    ]
}

/// V2 declines the 128x128 window: one row of its work would pass llvmpipe's loop cap
/// (`pool2d_v2_declines_windows_past_the_loop_cap`).
fn runs(version: Pool2dVersion, p: &Pool2d) -> bool {
    version == Pool2dVersion::V1 || p.kernel != [128, 128]
}

#[test]
fn pool2d_v2_declines_windows_past_the_loop_cap() {
    let gpu = gpu();
    let (x, xv) = rand_tensor(&gpu, 1300, &[1, 1, 130, 131]);
    let p = Pool2d::square(128, 1, 0);
    let e = pool::max_pool2d_with(&x, &p, Pool2dVersion::V2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[1, 1, 130, 131]"), "{e}");
    // Auto falls back to V1.
    let y = pool::max_pool2d(&x, &p).unwrap();
    assert_tensor_within(
        "auto max 128x128",
        &y,
        &r::max_pool2d_forward_ref(&xv, &[1, 1, 130, 131], &p).0,
        r::MAX_TOLERANCE,
    );
}

fn avg_forward_matches_ref(version: Pool2dVersion) {
    let gpu = gpu();
    for (k, (shape, p)) in cases().into_iter().enumerate() {
        if !runs(version, &p) {
            continue;
        }
        let (x, xv) = rand_tensor(&gpu, k as u64, &shape);
        let y = pool::avg_pool2d_with(&x, &p, version).unwrap();
        assert_eq!(y.shape(), &p.output_shape("t", &shape).unwrap()[..]);
        assert_tensor_within(
            &format!("avg_pool2d {version:?} {shape:?} {p:?}"),
            &y,
            &r::avg_pool2d_forward_ref(&xv, &shape, &p),
            r::AVG_TOLERANCE,
        );
    }
}

fn avg_backward_matches_ref(version: Pool2dVersion) {
    let gpu = gpu();
    for (k, (shape, p)) in cases().into_iter().enumerate() {
        if !runs(version, &p) {
            continue;
        }
        let (x, _) = rand_tensor(&gpu, 100 + k as u64, &shape);
        let x = x.requires_grad_();
        let y = pool::avg_pool2d_with(&x, &p, version).unwrap();
        let (g, gv) = rand_tensor(&gpu, 200 + k as u64, y.shape());
        let grads = autograd::backward_with(&y, &g).unwrap();
        let mut dx = vec![0.0; x.numel()];
        r::avg_pool2d_backward_ref(&shape, &p, &gv, &mut dx);
        assert_tensor_within(
            &format!("avg_pool2d backward {version:?} {shape:?} {p:?}"),
            grads.of(&x).unwrap(),
            &dx,
            r::AVG_BACKWARD_TOLERANCE,
        );
    }
}

fn max_forward_matches_ref(version: Pool2dVersion) {
    let gpu = gpu();
    for (k, (shape, p)) in cases().into_iter().enumerate() {
        if !runs(version, &p) {
            continue;
        }
        let (x, xv) = rand_tensor(&gpu, 300 + k as u64, &shape);
        let (y, idx) = pool::max_pool2d_with(&x, &p, version).unwrap();
        let (want, want_idx) = r::max_pool2d_forward_ref(&xv, &shape, &p);
        let what = format!("max_pool2d {version:?} {shape:?} {p:?}");
        assert_tensor_within(&what, &y, &want, r::MAX_TOLERANCE);
        let want_idx: Vec<f64> = want_idx.iter().map(|&i| i as f64).collect();
        assert_tensor_within(&format!("{what}: argmax"), &idx, &want_idx, r::MAX_TOLERANCE);
    }
}

fn max_forward_matches_ref_ties(version: Pool2dVersion) {
    // Inputs from {0, 1}: nearly every window has ties, which go to the first index.
    let gpu = gpu();
    for (k, (shape, p)) in cases().into_iter().take(9).enumerate() {
        if !runs(version, &p) {
            continue;
        }
        let v: Vec<f32> = rand_vec(400 + k as u64, shape.iter().product())
            .into_iter()
            .map(|v| if v > 0.0 { 1.0 } else { 0.0 })
            .collect();
        let x = Tensor::from_slice(&gpu, &v, &shape).unwrap();
        let (y, idx) = pool::max_pool2d_with(&x, &p, version).unwrap();
        let (want, want_idx) = r::max_pool2d_forward_ref(&f64s(&v), &shape, &p);
        assert_tensor_within(
            &format!("max ties {version:?} {shape:?}"),
            &y,
            &want,
            r::MAX_TOLERANCE,
        );
        let want_idx: Vec<f64> = want_idx.iter().map(|&i| i as f64).collect();
        assert_tensor_within(
            &format!("max ties argmax {shape:?}"),
            &idx,
            &want_idx,
            r::MAX_TOLERANCE,
        );
    }
}

fn max_backward_matches_ref(version: Pool2dVersion) {
    let gpu = gpu();
    for (k, (shape, p)) in cases().into_iter().enumerate() {
        if !runs(version, &p) {
            continue;
        }
        let (x, xv) = rand_tensor(&gpu, 500 + k as u64, &shape);
        let x = x.requires_grad_();
        let y = pool::max_pool2d_with(&x, &p, version).unwrap().0;
        let (g, gv) = rand_tensor(&gpu, 600 + k as u64, y.shape());
        let grads = autograd::backward_with(&y, &g).unwrap();
        let (_, idx) = r::max_pool2d_forward_ref(&xv, &shape, &p);
        let mut dx = vec![0.0; x.numel()];
        r::max_pool2d_backward_ref(&shape, &p, &idx, &gv, &mut dx);
        assert_tensor_within(
            &format!("max_pool2d backward {version:?} {shape:?} {p:?}"),
            grads.of(&x).unwrap(),
            &dx,
            r::MAX_BACKWARD_TOLERANCE,
        );
    }
}

#[test]
fn max_pool2d_hand_case() {
    // x = [[1, 3], [3, 2]], one 2x2 window: y = 3 at index 1 (the first of the two 3s),
    // so dx = [[0, g], [0, 0]].
    let gpu = gpu();
    let x = Tensor::from_slice(&gpu, &[1.0, 3.0, 3.0, 2.0], &[1, 1, 2, 2])
        .unwrap()
        .requires_grad_();
    let (y, idx) = pool::max_pool2d_with_indices(&x, &Pool2d::square(2, 2, 0)).unwrap();
    assert_tensor("hand max", &y, &[3.0], 0.0, 0.0);
    assert_tensor("hand argmax", &idx, &[1.0], 0.0, 0.0);
    let g = Tensor::from_slice(&gpu, &[5.0], &[1, 1, 1, 1]).unwrap();
    let dx = autograd::backward_with(&y, &g).unwrap();
    assert_tensor("hand max dx", dx.of(&x).unwrap(), &[0.0, 5.0, 0.0, 0.0], 0.0, 0.0);
}

#[test]
fn avg_pool2d_hand_case() {
    // x = [[1, 2], [3, 4]], 2x2 window, stride 2, padding 1: four windows each holding
    // one input and three padding cells: y = x / 4 (padding counted) or x (not counted).
    let gpu = gpu();
    let x = Tensor::from_slice(&gpu, &[1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap();
    let mut p = Pool2d::square(2, 2, 1);
    let y = pool::avg_pool2d(&x, &p).unwrap();
    assert_tensor("hand avg", &y, &[0.25, 0.5, 0.75, 1.0], 0.0, 0.0);
    p.count_include_pad = false;
    let y = pool::avg_pool2d(&x, &p).unwrap();
    assert_tensor("hand avg no pad", &y, &[1.0, 2.0, 3.0, 4.0], 0.0, 0.0);
}

#[test]
fn pool2d_backward_refs_match_finite_differences() {
    for (k, (shape, p)) in cases().into_iter().take(8).enumerate() {
        let n: usize = shape.iter().product();
        let xv = f64s(&rand_vec(700 + k as u64, n));
        let m: usize = p.output_shape("t", &shape).unwrap().iter().product();
        let g = f64s(&rand_vec(800 + k as u64, m));
        let mut dx = vec![0.0; n];
        r::avg_pool2d_backward_ref(&shape, &p, &g, &mut dx);
        // Linear in x: central differences are exact up to rounding.
        assert_grad(
            &format!("avg_pool2d {shape:?}"),
            &|x| r::avg_pool2d_forward_ref(x, &shape, &p),
            &xv,
            &g,
            &dx,
            1e-6,
            1e-7,
            1e-6,
        );
        // Max is only locally linear away from ties: a shuffled grid keeps every two
        // inputs 2/n apart, far beyond the finite-difference step (raw random floats
        // can land within it and fail by chance).
        let xs = distinct_shuffled(&xv);
        let (_, idx) = r::max_pool2d_forward_ref(&xs, &shape, &p);
        let mut dx = vec![0.0; n];
        r::max_pool2d_backward_ref(&shape, &p, &idx, &g, &mut dx);
        assert_grad(
            &format!("max_pool2d {shape:?}"),
            &|x| r::max_pool2d_forward_ref(x, &shape, &p).0,
            &xs,
            &g,
            &dx,
            1e-6,
            1e-7,
            1e-6,
        );
    }
}

/// The values -1 + 2j/n, j = 0..n, in the order of `v`'s ranks: random-looking inputs
/// without near-ties.
fn distinct_shuffled(v: &[f64]) -> Vec<f64> {
    let n = v.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; n];
    for (j, &i) in order.iter().enumerate() {
        out[i] = -1.0 + 2.0 * j as f64 / n as f64;
    }
    out
}

/// Global-pool shapes: 1x1, odd planes, planes of several chunks (112x112), CNN
/// layer 3, and 2.25M-element planes (thousands of chunks, two passes).
const GLOBAL_SHAPES: &[&[usize]] = &[
    &[1, 1, 1, 1],
    &[2, 3, 5, 7],
    &[2, 3, 4, 4],
    &[3, 2, 112, 112],
    &[32, 128, 28, 28],
    &[1, 2, 1500, 1500],
];

fn global_fits(version: GlobalPoolVersion, shape: &[usize]) -> bool {
    version == GlobalPoolVersion::V1 || (shape[2] * shape[3]).is_multiple_of(4)
}

fn global_forward_matches_ref(version: GlobalPoolVersion) {
    let gpu = gpu();
    for (k, &shape) in GLOBAL_SHAPES.iter().enumerate() {
        if !global_fits(version, shape) {
            continue;
        }
        let (x, xv) = rand_tensor(&gpu, 900 + k as u64, shape);
        let y = pool::global_avg_pool_with(&x, version).unwrap();
        assert_eq!(y.shape(), &shape[..2]);
        assert_tensor_within(
            &format!("global_avg_pool {version:?} {shape:?}"),
            &y,
            &r::global_avg_pool_forward_ref(&xv, shape),
            r::global_avg_tolerance(shape[2] * shape[3]),
        );
    }
}

fn global_backward_matches_ref(version: GlobalPoolVersion) {
    let gpu = gpu();
    for (k, &shape) in GLOBAL_SHAPES.iter().enumerate() {
        if !global_fits(version, shape) {
            continue;
        }
        let (x, _) = rand_tensor(&gpu, 1000 + k as u64, shape);
        let x = x.requires_grad_();
        let y = pool::global_avg_pool_with(&x, version).unwrap();
        let (g, gv) = rand_tensor(&gpu, 1100 + k as u64, y.shape());
        let grads = autograd::backward_with(&y, &g).unwrap();
        let mut dx = vec![0.0; x.numel()];
        r::global_avg_pool_backward_ref(shape, &gv, &mut dx);
        assert_tensor_within(
            &format!("global_avg_pool backward {version:?} {shape:?}"),
            grads.of(&x).unwrap(),
            &dx,
            r::GLOBAL_AVG_BACKWARD_TOLERANCE,
        );
    }
}

call_tests! {
    global_avg_pool_forward_v1_matches_ref: global_forward_matches_ref(GlobalPoolVersion::V1);
    global_avg_pool_forward_v2_matches_ref: global_forward_matches_ref(GlobalPoolVersion::V2);
    global_avg_pool_forward_v2narrow_matches_ref: global_forward_matches_ref(GlobalPoolVersion::V2Narrow);
    global_avg_pool_backward_v1_matches_ref: global_backward_matches_ref(GlobalPoolVersion::V1);
    global_avg_pool_backward_v2_matches_ref: global_backward_matches_ref(GlobalPoolVersion::V2);
    global_avg_pool_backward_v2narrow_matches_ref: global_backward_matches_ref(GlobalPoolVersion::V2Narrow);
}

#[test]
fn global_avg_pool_backward_ref_matches_finite_differences() {
    let shape = [2, 3, 3, 5];
    let xv = f64s(&rand_vec(1200, 90));
    let g = f64s(&rand_vec(1201, 6));
    let mut dx = vec![0.0; 90];
    r::global_avg_pool_backward_ref(&shape, &g, &mut dx);
    assert_grad(
        "global_avg_pool",
        &|x| r::global_avg_pool_forward_ref(x, &shape),
        &xv,
        &g,
        &dx,
        1e-6,
        1e-7,
        1e-6,
    );
}

#[test]
fn pool2d_rejects_bad_geometry() {
    let gpu = gpu();
    let x = Tensor::zeros(&gpu, &[1, 1, 4, 4]).unwrap();
    let e = pool::max_pool2d(&x, &Pool2d::square(2, 2, 2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("padding") && e.contains("[1, 1, 4, 4]"), "{e}");
    let e = pool::avg_pool2d(&x, &Pool2d::square(7, 1, 1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("smaller than the kernel"), "{e}");
    let flat = Tensor::zeros(&gpu, &[4, 4]).unwrap();
    assert!(pool::global_avg_pool(&flat).is_err());
}
