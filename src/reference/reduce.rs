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
