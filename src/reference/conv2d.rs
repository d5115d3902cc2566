//! f64 reference of `ops::conv2d`. Shapes: x [N, C, H, W], w [O, C/groups, KH, KW],
//! bias [O], y [N, O, OH, OW] with OH = params.out_h(H, KH), OW = params.out_w(W, KW).
//! Output channel o belongs to group g = o / (O/groups) and reads input channels
//! g*C/groups .. (g+1)*C/groups.

use crate::ops::conv2d::Conv2dParams;

/// Sizes of one convolution, as the loops below use them.
#[derive(Debug, Clone, Copy)]
struct Dims {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    cg: usize,
    og: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
}

fn dims(xs: [usize; 4], ws: [usize; 4], p: &Conv2dParams) -> Dims {
    Dims {
        n: xs[0],
        c: xs[1],
        h: xs[2],
        w: xs[3],
        o: ws[0],
        cg: ws[1],
        og: ws[0] / p.groups,
        kh: ws[2],
        kw: ws[3],
        oh: p.out_h(xs[2], ws[2]),
        ow: p.out_w(xs[3], ws[3]),
    }
}

/// Input row and column read by output (oh, ow) through tap (kh, kw); None in the padding.
fn tap(d: &Dims, p: &Conv2dParams, oh: usize, ow: usize, kh: usize, kw: usize) -> Option<(usize, usize)> {
    let ih = (oh * p.stride.0 + kh * p.dilation.0) as isize - p.padding.0 as isize;
    let iw = (ow * p.stride.1 + kw * p.dilation.1) as isize - p.padding.1 as isize;
    (ih >= 0 && iw >= 0 && (ih as usize) < d.h && (iw as usize) < d.w).then_some((ih as usize, iw as usize))
}

/// Visits every (y index, x index, w index) triple that contributes `x * w` to `y`,
/// taps in the padding skipped.
fn for_each_term(d: &Dims, p: &Conv2dParams, mut f: impl FnMut(usize, usize, usize)) {
    for n in 0..d.n {
        for g in 0..d.o / d.og {
            for oh in 0..d.oh {
                for ow in 0..d.ow {
                    for kh in 0..d.kh {
                        for kw in 0..d.kw {
                            let Some((ih, iw)) = tap(d, p, oh, ow, kh, kw) else {
                                continue;
                            };
                            for o in g * d.og..(g + 1) * d.og {
                                let yi = ((n * d.o + o) * d.oh + oh) * d.ow + ow;
                                for ci in 0..d.cg {
                                    let xi = ((n * d.c + g * d.cg + ci) * d.h + ih) * d.w + iw;
                                    let wi = ((o * d.cg + ci) * d.kh + kh) * d.kw + kw;
                                    f(yi, xi, wi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// y[n, o, oh, ow] = bias[o] + sum over (ci, kh, kw) of
/// x[n, g*Cg + ci, oh*sh + kh*dh - ph, ow*sw + kw*dw - pw] * w[o, ci, kh, kw]
/// (taps in the padding read 0). The backward needs only x and w, so only y is returned.
pub fn conv2d_forward_ref(
    x: &[f64],
    xs: [usize; 4],
    w: &[f64],
    ws: [usize; 4],
    bias: Option<&[f64]>,
    p: &Conv2dParams,
) -> Vec<f64> {
    let d = dims(xs, ws, p);
    let mut y = vec![0.0; d.n * d.o * d.oh * d.ow];
    for_each_term(&d, p, |yi, xi, wi| y[yi] += x[xi] * w[wi]);
    if let Some(b) = bias {
        let ohw = d.oh * d.ow;
        for (i, v) in y.iter_mut().enumerate() {
            *v += b[(i / ohw) % d.o];
        }
    }
    y
}

/// Undoes `y[yi] += x[xi] * w[wi]` for x: `dx[xi] += dy[yi] * w[wi]`.
pub fn conv2d_backward_data_ref(
    dy: &[f64],
    w: &[f64],
    xs: [usize; 4],
    ws: [usize; 4],
    p: &Conv2dParams,
    dx: &mut [f64],
) {
    let d = dims(xs, ws, p);
    for_each_term(&d, p, |yi, xi, wi| dx[xi] += dy[yi] * w[wi]);
}

/// Undoes `y[yi] += x[xi] * w[wi]` for w: `dw[wi] += dy[yi] * x[xi]`.
pub fn conv2d_backward_weight_ref(
    dy: &[f64],
    x: &[f64],
    xs: [usize; 4],
    ws: [usize; 4],
    p: &Conv2dParams,
    dw: &mut [f64],
) {
    let d = dims(xs, ws, p);
    for_each_term(&d, p, |yi, xi, wi| dw[wi] += dy[yi] * x[xi]);
}

/// Undoes `y[n, o, ..] += bias[o]`: `db[o] += sum over n, oh, ow of dy[n, o, oh, ow]`.
/// `ys` is the shape of y (and dy).
pub fn conv2d_backward_bias_ref(dy: &[f64], ys: [usize; 4], db: &mut [f64]) {
    let ohw = ys[2] * ys[3];
    for (i, v) in dy.iter().enumerate() {
        db[(i / ohw) % ys[1]] += v;
    }
}

/// The tolerance of an f32 kernel against this reference for outputs that sum `terms`
/// products of values in [-1, 1]; the tests and the benchmark both use it. The
/// rounding error grows about like sqrt(terms) ulps of the partial sums (which grow
/// like sqrt(terms) too); 1e-6 * terms bounds it with room, and stays far below a
/// dropped or doubled term.
pub fn tolerance(terms: usize) -> super::Tolerance {
    super::Tolerance::new(1e-6 * terms.max(16) as f64, 1e-5)
}
