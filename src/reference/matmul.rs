//! f64 reference of `ops::matmul`.
//!
//! Shapes (see [`GemmDims`]): A is `[batch_a, M, K]`, or `[batch_a, K, M]` when
//! `trans_a`; B is `[batch_b, K, N]`, or `[batch_b, N, K]` when `trans_b`; each of
//! `batch_a`, `batch_b` is `batch` or 1 (broadcast). C is `[batch, M, N]`.

use crate::ops::matmul::GemmDims;

/// `C[b] = op(A[b]) op(B[b])`.
pub fn matmul_ref(a: &[f64], b: &[f64], d: &GemmDims) -> Vec<f64> {
    let mut c = vec![0.0; d.batch * d.m * d.n];
    for bat in 0..d.batch {
        for i in 0..d.m {
            for j in 0..d.n {
                let mut s = 0.0;
                for k in 0..d.k {
                    s += a[d.a_index(bat, i, k)] * b[d.b_index(bat, k, j)];
                }
                c[(bat * d.m + i) * d.n + j] = s;
            }
        }
    }
    c
}

/// Gradients of `sum(g * matmul(a, b))`: `da += g op(B)^T`, `db += op(A)^T g`, laid
/// out like `a` and `b` (transposed storage stays transposed), summed over the batch
/// where an operand is broadcast.
pub fn matmul_backward_ref(a: &[f64], b: &[f64], g: &[f64], d: &GemmDims, da: &mut [f64], db: &mut [f64]) {
    for bat in 0..d.batch {
        for i in 0..d.m {
            for j in 0..d.n {
                // c[bat, i, j] += a[bat, i, k] * b[bat, k, j]
                let gv = g[(bat * d.m + i) * d.n + j];
                for k in 0..d.k {
                    da[d.a_index(bat, i, k)] += gv * b[d.b_index(bat, k, j)];
                    db[d.b_index(bat, k, j)] += gv * a[d.a_index(bat, i, k)];
                }
            }
        }
    }
}

/// `y[r, o] = sum_i x[r, i] w[o, i] + bias[o]`; x `[rows, inp]`, w `[out, inp]`,
/// bias `[out]`, y `[rows, out]`.
pub fn linear_ref(
    x: &[f64],
    w: &[f64],
    bias: Option<&[f64]>,
    rows: usize,
    inp: usize,
    out: usize,
) -> Vec<f64> {
    let mut y = vec![0.0; rows * out];
    for r in 0..rows {
        for o in 0..out {
            let mut s = bias.map_or(0.0, |bv| bv[o]);
            for i in 0..inp {
                s += x[r * inp + i] * w[o * inp + i];
            }
            y[r * out + o] = s;
        }
    }
    y
}

/// Gradients of `sum(g * linear(x, w, bias))`: `dx += g w`, `dw += g^T x`,
/// `dbias += sum over rows of g`.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward_ref(
    x: &[f64],
    w: &[f64],
    g: &[f64],
    rows: usize,
    inp: usize,
    out: usize,
    dx: &mut [f64],
    dw: &mut [f64],
    dbias: &mut [f64],
) {
    for r in 0..rows {
        for o in 0..out {
            // y[r, o] = sum_i x[r, i] w[o, i] + bias[o]
            let gv = g[r * out + o];
            dbias[o] += gv;
            for i in 0..inp {
                dx[r * inp + i] += gv * w[o * inp + i];
                dw[o * inp + i] += gv * x[r * inp + i];
            }
        }
    }
}

/// The tolerance of an f32 kernel against this reference for sums of `k` products of
/// values in [-1, 1]; the tests and the benchmark both use it. The rounding error grows
/// with k (partial sums reach ~sqrt(k)); 2e-7 per term sits well above the typical
/// error and far below a dropped or doubled term (|a b| ~ 0.25 on average).
pub fn tolerance(k: usize) -> super::Tolerance {
    super::Tolerance::new(1e-6 + 2e-7 * k as f64, 1e-5)
}
