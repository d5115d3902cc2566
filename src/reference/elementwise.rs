//! f64 reference of `ops::elementwise`.

use crate::ops::elementwise::{BinaryOp, Unary, UnaryOp};
use crate::shape::{broadcast_shape, broadcast_strides, strides};

/// Offsets into an input read with `in_strides` at every index of `shape`, in order.
fn broadcast_offsets(shape: &[usize], in_strides: &[usize]) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let out_strides = strides(shape);
    (0..n)
        .map(|i| {
            (0..shape.len())
                .map(|d| (i / out_strides[d]) % shape[d] * in_strides[d])
                .sum()
        })
        .collect()
}

/// `a op b` with broadcasting; returns the values and the output shape.
pub fn binary_ref(op: BinaryOp, a: &[f64], sa: &[usize], b: &[f64], sb: &[usize]) -> (Vec<f64>, Vec<usize>) {
    let shape = broadcast_shape("binary_ref", sa, sb).expect("broadcastable shapes");
    let oa = broadcast_offsets(&shape, &broadcast_strides(sa, &shape));
    let ob = broadcast_offsets(&shape, &broadcast_strides(sb, &shape));
    let out = oa
        .iter()
        .zip(&ob)
        .map(|(&i, &j)| {
            let (x, y) = (a[i], b[j]);
            match op {
                BinaryOp::Add => x + y,
                BinaryOp::Sub => x - y,
                BinaryOp::Mul => x * y,
                BinaryOp::Div => x / y,
            }
        })
        .collect();
    (out, shape)
}

/// Gradients of `sum(g * (a op b))` with respect to a and b.
pub fn binary_backward_ref(
    op: BinaryOp,
    a: &[f64],
    sa: &[usize],
    b: &[f64],
    sb: &[usize],
    g: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let shape = broadcast_shape("binary_backward_ref", sa, sb).expect("broadcastable shapes");
    let oa = broadcast_offsets(&shape, &broadcast_strides(sa, &shape));
    let ob = broadcast_offsets(&shape, &broadcast_strides(sb, &shape));
    let mut da = vec![0.0; a.len()];
    let mut db = vec![0.0; b.len()];
    for (k, (&i, &j)) in oa.iter().zip(&ob).enumerate() {
        let (x, y, gk) = (a[i], b[j], g[k]);
        // out = x op y
        let (dx, dy) = match op {
            BinaryOp::Add => (gk, gk),
            BinaryOp::Sub => (gk, -gk),
            BinaryOp::Mul => (gk * y, gk * x),
            BinaryOp::Div => (gk / y, -gk * x / (y * y)),
        };
        da[i] += dx;
        db[j] += dy;
    }
    (da, db)
}

/// `f(x)` elementwise.
pub fn unary_forward_ref(f: Unary, x: &[f64]) -> Vec<f64> {
    let (al, be) = (f.alpha as f64, f.beta as f64);
    x.iter()
        .map(|&v| match f.op {
            UnaryOp::Affine => al * v + be,
            UnaryOp::Relu => v.max(0.0),
            UnaryOp::LeakyRelu => {
                if v > 0.0 {
                    v
                } else {
                    al * v
                }
            }
            UnaryOp::Sigmoid => 1.0 / (1.0 + (-v).exp()),
            UnaryOp::Tanh => v.tanh(),
            UnaryOp::Abs => v.abs(),
            UnaryOp::Square => v * v,
            UnaryOp::Sqrt => v.sqrt(),
            UnaryOp::Exp => v.exp(),
            UnaryOp::Log => v.ln(),
            UnaryOp::Sign => {
                if v > 0.0 {
                    1.0
                } else if v < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            UnaryOp::Clamp => v.clamp(al, be),
        })
        .collect()
}

/// `dx += g * f'(x)`; kinks take torch's subgradients (see unary_backward_v1.wgsl).
pub fn unary_backward_ref(f: Unary, x: &[f64], g: &[f64], dx: &mut [f64]) {
    let (al, be) = (f.alpha as f64, f.beta as f64);
    let y = unary_forward_ref(f, x);
    for i in 0..x.len() {
        let (v, o, gv) = (x[i], y[i], g[i]);
        dx[i] += match f.op {
            UnaryOp::Affine => gv * al,
            UnaryOp::Relu => {
                if v > 0.0 {
                    gv
                } else {
                    0.0
                }
            }
            UnaryOp::LeakyRelu => {
                if v > 0.0 {
                    gv
                } else {
                    al * gv
                }
            }
            UnaryOp::Sigmoid => gv * o * (1.0 - o),
            UnaryOp::Tanh => gv * (1.0 - o * o),
            UnaryOp::Abs => {
                gv * if v > 0.0 {
                    1.0
                } else if v < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            UnaryOp::Square => 2.0 * v * gv,
            UnaryOp::Sqrt => gv * 0.5 / o,
            UnaryOp::Exp => gv * o,
            UnaryOp::Log => gv / v,
            UnaryOp::Sign => 0.0,
            UnaryOp::Clamp => {
                if v >= al && v <= be {
                    gv
                } else {
                    0.0
                }
            }
        };
    }
}

/// `x` broadcast to `shape`.
pub fn expand_ref(x: &[f64], sx: &[usize], shape: &[usize]) -> Vec<f64> {
    broadcast_offsets(shape, &broadcast_strides(sx, shape))
        .into_iter()
        .map(|i| x[i])
        .collect()
}

/// The tolerance of the f32 binary kernels (add, sub, mul, div) against [`binary_ref`]
/// on inputs in [-1, 1] (divisors kept to |b| >= 0.5), used by the tests and the
/// benchmark alike. The inputs are f32, so the reference is exact on them and the only
/// error is the kernel's own rounding of one operation: half an ulp (6e-8 relative) for
/// add, sub and mul, a few ulps for WGSL's division, hence rtol 1e-5; atol 1e-6 covers
/// results at 0.
pub const BINARY_TOLERANCE: super::Tolerance = super::Tolerance::new(1e-6, 1e-5);
