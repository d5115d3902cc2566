//! Reductions against the f64 reference; backward through the tape; determinism.

mod common;

use common::*;
use cprl::autograd;
use cprl::ops::reduce;
use cprl::reference::reduce as r;

/// (shape, axes): single element, odd sizes, middle axes, all axes, beyond one chunk
/// (1024) and beyond two passes (1024^2).
const CASES: &[(&[usize], &[usize])] = &[
    (&[1], &[0]),
    (&[7, 3], &[1]),
    (&[7, 3], &[0]),
    (&[2, 3, 5, 7], &[0, 2, 3]),
    (&[2, 3, 5, 7], &[1]),
    (&[4, 5, 6], &[0, 1, 2]),
    (&[3, 5000], &[1]),
    (&[32, 16, 56, 56], &[0, 2, 3]),
    (&[1100, 1100], &[0, 1]),
];

#[test]
fn sum_forward_v1_matches_ref() {
    let gpu = gpu();
    for (k, &(shape, axes)) in CASES.iter().enumerate() {
        let (x, xv) = rand_tensor(&gpu, k as u64, shape);
        let y = reduce::sum_axes(&x, axes, false).unwrap();
        let n_red: usize = axes.iter().map(|&d| shape[d]).product();
        assert_tensor_within(
            &format!("sum {shape:?} over {axes:?}"),
            &y,
            &r::sum_axes_ref(&xv, shape, axes),
            r::sum_tolerance(n_red),
        );
        let m = reduce::mean_axes(&x, axes, true).unwrap();
        assert_eq!(m.dims(), shape.len());
        assert_tensor(
            &format!("mean {shape:?} over {axes:?}"),
            &m,
            &r::mean_axes_ref(&xv, shape, axes),
            1e-6,
            1e-4,
        );
    }
}

#[test]
fn sum_backward_v1_matches_ref() {
    // d(sum over axes)/dx = the output gradient broadcast back; mean divides by the count.
    let gpu = gpu();
    for (k, &(shape, axes)) in CASES.iter().take(8).enumerate() {
        let (x, _) = rand_tensor(&gpu, 50 + k as u64, shape);
        let x = x.requires_grad_();
        let y = reduce::mean_axes(&x, axes, false).unwrap();
        let (g, gv) = rand_tensor(&gpu, 60 + k as u64, y.shape());
        let grads = autograd::backward_with(&y, &g).unwrap();
        let count: usize = axes.iter().map(|&d| shape[d]).product();
        let kept: Vec<usize> = shape
            .iter()
            .enumerate()
            .map(|(d, &s)| if axes.contains(&d) { 1 } else { s })
            .collect();
        let want: Vec<f64> = cprl::reference::elementwise::expand_ref(&gv, &kept, shape)
            .into_iter()
            .map(|v| v / count as f64)
            .collect();
        assert_tensor(
            &format!("mean backward {shape:?} {axes:?}"),
            grads.of(&x).unwrap(),
            &want,
            1e-7,
            1e-5,
        );
    }
}

#[test]
fn sums_are_bitwise_deterministic() {
    let gpu = gpu();
    let (x, _) = rand_tensor(&gpu, 77, &[3000, 700]);
    let a = reduce::sum(&x).unwrap().to_vec().unwrap();
    let b = reduce::sum(&x).unwrap().to_vec().unwrap();
    assert_eq!(a[0].to_bits(), b[0].to_bits());
}

#[test]
fn sum_to_undoes_broadcast_and_rejects_the_rest() {
    let gpu = gpu();
    let (x, xv) = rand_tensor(&gpu, 5, &[2, 3, 4]);
    let y = reduce::sum_to(&x, &[3, 1]).unwrap();
    assert_eq!(y.shape(), &[3, 1]);
    assert_tensor(
        "sum_to",
        &y,
        &r::sum_axes_ref(&xv, &[2, 3, 4], &[0, 2]),
        1e-6,
        1e-5,
    );
    let e = reduce::sum_to(&x, &[2, 1]).unwrap_err().to_string();
    assert!(e.contains("[2, 3, 4]") && e.contains("[2, 1]"), "{e}");
}
