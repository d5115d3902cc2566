//! f64 reference of `ops::layout`.
//!
//! Shapes: row-major, any rank. concat: inputs agree on every axis but `axis`, the
//! output's `axis` is their sum. slice: x [.., D, ..] -> [.., len, ..] at `axis`.
//! permute: out.shape[i] = x.shape[dims[i]].

use crate::shape::strides;

/// Splits a shape at `axis` into (outer, size, inner).
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

/// Concatenation along `axis`; returns the values and the output shape.
pub fn concat_ref(xs: &[(&[f64], &[usize])], axis: usize) -> (Vec<f64>, Vec<usize>) {
    let mut shape = xs[0].1.to_vec();
    shape[axis] = xs.iter().map(|(_, s)| s[axis]).sum();
    let (outer, total, inner) = split(&shape, axis);
    let mut out = vec![0.0; outer * total * inner];
    let mut off = 0;
    for (x, s) in xs {
        let d = s[axis];
        for o in 0..outer {
            for j in 0..d * inner {
                out[(o * total + off) * inner + j] = x[o * d * inner + j];
            }
        }
        off += d;
    }
    (out, shape)
}

/// Backward of concat: `dxs[i] +=` the slab of `g` that input i filled.
pub fn concat_backward_ref(shapes: &[&[usize]], axis: usize, g: &[f64], dxs: &mut [Vec<f64>]) {
    let total: usize = shapes.iter().map(|s| s[axis]).sum();
    let (outer, _, inner) = split(shapes[0], axis);
    let mut off = 0;
    for (s, dx) in shapes.iter().zip(dxs.iter_mut()) {
        let d = s[axis];
        for o in 0..outer {
            for j in 0..d * inner {
                // out[o, off + .., ..] = x_i[o, .., ..]
                dx[o * d * inner + j] += g[(o * total + off) * inner + j];
            }
        }
        off += d;
    }
}

/// `x` narrowed to `start .. start + len` along `axis`.
pub fn slice_ref(x: &[f64], shape: &[usize], axis: usize, start: usize, len: usize) -> Vec<f64> {
    let (outer, d, inner) = split(shape, axis);
    let mut out = Vec::with_capacity(outer * len * inner);
    for o in 0..outer {
        out.extend_from_slice(&x[(o * d + start) * inner..(o * d + start + len) * inner]);
    }
    out
}

/// Backward of slice: `dx +=` g placed at `start` along `axis` (zeros elsewhere).
pub fn slice_backward_ref(shape: &[usize], axis: usize, start: usize, len: usize, g: &[f64], dx: &mut [f64]) {
    let (outer, d, inner) = split(shape, axis);
    for o in 0..outer {
        for j in 0..len * inner {
            // out[o, j] = x[o, start * inner + j]
            dx[(o * d + start) * inner + j] += g[o * len * inner + j];
        }
    }
}

/// Axes reordered: `out[i_0, .., i_r] = x[index with i_k at axis dims[k]]`.
pub fn permute_ref(x: &[f64], shape: &[usize], dims: &[usize]) -> (Vec<f64>, Vec<usize>) {
    let out_shape: Vec<usize> = dims.iter().map(|&d| shape[d]).collect();
    let xs = strides(shape);
    let os = strides(&out_shape);
    let out = (0..x.len())
        .map(|i| {
            let off: usize = (0..dims.len())
                .map(|k| (i / os[k]) % out_shape[k] * xs[dims[k]])
                .sum();
            x[off]
        })
        .collect();
    (out, out_shape)
}

/// Backward of permute: `dx +=` g moved back to x's layout.
pub fn permute_backward_ref(shape: &[usize], dims: &[usize], g: &[f64], dx: &mut [f64]) {
    let out_shape: Vec<usize> = dims.iter().map(|&d| shape[d]).collect();
    let xs = strides(shape);
    let os = strides(&out_shape);
    for (i, &gv) in g.iter().enumerate() {
        // out[i] = x[off]
        let off: usize = (0..dims.len())
            .map(|k| (i / os[k]) % out_shape[k] * xs[dims[k]])
            .sum();
        dx[off] += gv;
    }
}
