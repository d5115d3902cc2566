//! f64 reference of `ops::reduce`.

use crate::shape::strides;

/// Sum over `axes`, result in the kept dims' row-major order.
pub fn sum_axes_ref(x: &[f64], shape: &[usize], axes: &[usize]) -> Vec<f64> {
    let st = strides(shape);
    let kept: Vec<usize> = (0..shape.len()).filter(|d| !axes.contains(d)).collect();
    let n_out: usize = kept.iter().map(|&d| shape[d]).product();
    let mut out = vec![0.0; n_out];
    for (i, &v) in x.iter().enumerate() {
        // Index of element i among the kept dims.
        let mut o = 0;
        for &d in &kept {
            o = o * shape[d] + (i / st[d]) % shape[d];
        }
        out[o] += v;
    }
    out
}

/// Mean over `axes`.
pub fn mean_axes_ref(x: &[f64], shape: &[usize], axes: &[usize]) -> Vec<f64> {
    let count: usize = axes.iter().map(|&d| shape[d]).product();
    sum_axes_ref(x, shape, axes)
        .into_iter()
        .map(|v| v / count.max(1) as f64)
        .collect()
}

/// The tolerance of the f32 sum kernels against [`sum_axes_ref`] for sums of `n`
/// values in [-1, 1] each, used by the tests and the benchmark alike. The error of an
/// f32 sum grows about like sqrt(n) ulps of partial sums that grow like sqrt(n);
/// 4 n ulps of 1 (2^-24 ~ 6e-8 each) bound it with room, with a floor of 1e-6 for
/// short sums, and stay far below a dropped or doubled term.
pub fn sum_tolerance(n: usize) -> super::Tolerance {
    super::Tolerance::new((4.0 * n as f64 * 6e-8).max(1e-6), 1e-5)
}
