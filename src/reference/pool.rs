//! f64 reference of `ops::pool`.
//!
//! Shapes: x, dx [N, C, H, W]; y, g [N, C, OH, OW] with OH = `p.out_h(H)`,
//! OW = `p.out_w(W)` (floor mode); argmax indices [N, C, OH, OW], each the flat
//! position `iy * W + ix` in its input plane. Global pooling: y, g [N, C].

use crate::ops::pool::Pool2d;

fn dims(shape: &[usize]) -> (usize, usize, usize) {
    assert_eq!(shape.len(), 4, "pool reference takes [N, C, H, W], got {shape:?}");
    (shape[0] * shape[1], shape[2], shape[3])
}

/// The in-bounds input rows (or columns) of output row `o`: `o*s - pad .. o*s - pad + k`,
/// clipped to `0..size`.
pub fn window(o: usize, k: usize, s: usize, pad: usize, size: usize) -> std::ops::Range<usize> {
    let start = (o * s) as isize - pad as isize;
    let lo = start.max(0) as usize;
    let hi = ((start + k as isize).max(0) as usize).min(size);
    lo..hi.max(lo)
}

/// The divisor of output (oy, ox): the full window, or only its in-bounds part.
fn divisor(p: &Pool2d, h: usize, w: usize, oy: usize, ox: usize) -> f64 {
    if p.count_include_pad {
        (p.kernel[0] * p.kernel[1]) as f64
    } else {
        let ry = window(oy, p.kernel[0], p.stride[0], p.padding[0], h);
        let rx = window(ox, p.kernel[1], p.stride[1], p.padding[1], w);
        (ry.len() * rx.len()) as f64
    }
}

/// Average pooling.
pub fn avg_pool2d_forward_ref(x: &[f64], shape: &[usize], p: &Pool2d) -> Vec<f64> {
    let (planes, h, w) = dims(shape);
    let (oh, ow) = (p.out_h(h), p.out_w(w));
    let mut y = vec![0.0; planes * oh * ow];
    for pl in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut s = 0.0;
                for iy in window(oy, p.kernel[0], p.stride[0], p.padding[0], h) {
                    for ix in window(ox, p.kernel[1], p.stride[1], p.padding[1], w) {
                        s += x[(pl * h + iy) * w + ix];
                    }
                }
                y[(pl * oh + oy) * ow + ox] = s / divisor(p, h, w, oy, ox);
            }
        }
    }
    y
}

/// Backward of average pooling: `dx +=` each output's gradient spread over its window.
pub fn avg_pool2d_backward_ref(shape: &[usize], p: &Pool2d, g: &[f64], dx: &mut [f64]) {
    let (planes, h, w) = dims(shape);
    let (oh, ow) = (p.out_h(h), p.out_w(w));
    for pl in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                // y = sum(window) / divisor
                let gv = g[(pl * oh + oy) * ow + ox] / divisor(p, h, w, oy, ox);
                for iy in window(oy, p.kernel[0], p.stride[0], p.padding[0], h) {
                    for ix in window(ox, p.kernel[1], p.stride[1], p.padding[1], w) {
                        dx[(pl * h + iy) * w + ix] += gv;
                    }
                }
            }
        }
    }
}

/// Max pooling over the in-bounds part of each window (padding never wins). Returns
/// the values and, per output, the plane index `iy * W + ix` of the first maximum in
/// row-major window order.
pub fn max_pool2d_forward_ref(x: &[f64], shape: &[usize], p: &Pool2d) -> (Vec<f64>, Vec<usize>) {
    let (planes, h, w) = dims(shape);
    let (oh, ow) = (p.out_h(h), p.out_w(w));
    let mut y = vec![0.0; planes * oh * ow];
    let mut idx = vec![0; planes * oh * ow];
    for pl in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best = (f64::NEG_INFINITY, usize::MAX);
                for iy in window(oy, p.kernel[0], p.stride[0], p.padding[0], h) {
                    for ix in window(ox, p.kernel[1], p.stride[1], p.padding[1], w) {
                        let v = x[(pl * h + iy) * w + ix];
                        if best.1 == usize::MAX || v > best.0 {
                            best = (v, iy * w + ix);
                        }
                    }
                }
                let o = (pl * oh + oy) * ow + ox;
                y[o] = best.0;
                idx[o] = best.1;
            }
        }
    }
    (y, idx)
}

/// Backward of max pooling: `dx +=` each output's gradient at its argmax.
pub fn max_pool2d_backward_ref(shape: &[usize], p: &Pool2d, idx: &[usize], g: &[f64], dx: &mut [f64]) {
    let (planes, h, w) = dims(shape);
    let per = p.out_h(h) * p.out_w(w);
    for (o, &gv) in g.iter().enumerate() {
        // y[o] = x[plane, idx[o]]
        dx[(o / per) * h * w + idx[o]] += gv;
    }
    debug_assert_eq!(g.len(), planes * per);
}

/// Global average pooling: [N, C, H, W] -> [N, C], the mean of each plane.
pub fn global_avg_pool_forward_ref(x: &[f64], shape: &[usize]) -> Vec<f64> {
    let (planes, h, w) = dims(shape);
    (0..planes)
        .map(|pl| x[pl * h * w..(pl + 1) * h * w].iter().sum::<f64>() / (h * w) as f64)
        .collect()
}

/// Backward of global average pooling: `dx += g / (H * W)` over each plane.
pub fn global_avg_pool_backward_ref(shape: &[usize], g: &[f64], dx: &mut [f64]) {
    let (_, h, w) = dims(shape);
    let hw = h * w;
    for (i, d) in dx.iter_mut().enumerate() {
        // y = sum(plane) / (H * W)
        *d += g[i / hw] / hw as f64;
    }
}

/// The tolerance of average pooling in f32 against [`avg_pool2d_forward_ref`] on
/// inputs in [-1, 1] (the tests'; the benchmark has no 2-D average-pooling row): the
/// error of an f32 sum of m window values (m <= 16,384, 128x128 windows) grows like
/// sqrt(m) ulps of partial sums of size ~sqrt(m), about m * 6e-8 at most; divided by
/// the count m it stays at a few 1e-7, so atol 1e-6 (means near 0) and rtol 1e-5.
pub const AVG_TOLERANCE: super::Tolerance = super::Tolerance::new(1e-6, 1e-5);

/// The tolerance of average pooling's backward in f32 against
/// [`avg_pool2d_backward_ref`]: each dx sums at most ceil(k/s)^2 terms g / count,
/// each rounded once: a few ulps.
pub const AVG_BACKWARD_TOLERANCE: super::Tolerance = super::Tolerance::new(1e-6, 1e-5);

/// The tolerance of max pooling's forward and its argmax indices against
/// [`max_pool2d_forward_ref`], used by the tests and the benchmark alike: a maximum is
/// one of the inputs and its index is a selection, so both are exact (ties go to the
/// first index in row-major window order on both sides).
pub const MAX_TOLERANCE: super::Tolerance = super::Tolerance::EXACT;

/// The tolerance of max pooling's backward in f32 against [`max_pool2d_backward_ref`],
/// used by the tests and the benchmark alike: each dx sums the g (in [-1, 1]) of the
/// few windows it wins (at most ceil(k/s)^2), one rounding per addition.
pub const MAX_BACKWARD_TOLERANCE: super::Tolerance = super::Tolerance::new(1e-6, 1e-6);

/// The tolerance of global average pooling's backward in f32 against
/// [`global_avg_pool_backward_ref`], used by the tests and the benchmark alike: one
/// product g * (1 / (H*W)), two roundings (the reciprocal and the product), relative.
pub const GLOBAL_AVG_BACKWARD_TOLERANCE: super::Tolerance = super::Tolerance::new(1e-9, 1e-6);

/// The tolerance of global average pooling in f32 against this reference for planes
/// of `hw` values in [-1, 1], used by the tests and the benchmark alike: the mean of
/// f32 chunk sums, summed again in order, is off by a few ulps of partial sums that
/// grow like sqrt(hw).
pub fn global_avg_tolerance(hw: usize) -> super::Tolerance {
    super::Tolerance::new((4.0 * 6e-8 * (hw as f64).sqrt()).max(1e-6), 1e-5)
}
