//! f64 reference of `ops::softrank::pairwise`.
//!
//! Shapes: `x`, `r`, `g`, `dx` are [rows, n], row-major; every row is ranked on its own.
//!
//! Ascending: `r_i = 1 + sum_{j != i} sigmoid((x_i - x_j) / tau)`, `tau = strength`.
//! Descending ranks `-x` instead (which gives `n + 1 - r_ascending`).

use crate::ops::softrank::Order;

/// `1 / (1 + exp(-t))`, accurate on both sides (no overflow for large |t|).
pub fn sigmoid(t: f64) -> f64 {
    let e = (-t.abs()).exp();
    if t >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) }
}

/// `sigmoid'(t) = e / (1 + e)^2` with `e = exp(-|t|)` (even in t).
pub fn sigmoid_grad(t: f64) -> f64 {
    let e = (-t.abs()).exp();
    e / ((1.0 + e) * (1.0 + e))
}

/// +1 for ascending, -1 for descending: every method ranks `sign * x` ascending.
pub fn order_sign(order: Order) -> f64 {
    match order {
        Order::Ascending => 1.0,
        Order::Descending => -1.0,
    }
}

/// Soft ranks of each row. Nothing needs saving for the backward beyond `x`.
pub fn soft_rank_pairwise_ref(x: &[f64], n: usize, strength: f64, order: Order) -> Vec<f64> {
    let s = order_sign(order);
    let mut r = vec![0.0; x.len()];
    for (xr, rr) in x.chunks(n.max(1)).zip(r.chunks_mut(n.max(1))) {
        for i in 0..n {
            // r_i = 1 + sum_{j != i} sigmoid(s (x_i - x_j) / tau)
            let mut acc = 1.0;
            for j in 0..n {
                if j != i {
                    acc += sigmoid(s * (xr[i] - xr[j]) / strength);
                }
            }
            rr[i] = acc;
        }
    }
    r
}

/// `dx += J^T g`. From the forward line `r_i = 1 + sum_{j != i} sigmoid(s (x_i - x_j) / tau)`:
/// `dr_i/dx_i = (s/tau) sum_j sigmoid'(.)`, `dr_i/dx_j = -(s/tau) sigmoid'(s (x_i - x_j)/tau)`,
/// and sigmoid' is even, so `dx_k = (s/tau) sum_j sigmoid'(s (x_k - x_j)/tau) (g_k - g_j)`.
pub fn soft_rank_pairwise_backward_ref(
    x: &[f64],
    n: usize,
    strength: f64,
    order: Order,
    g: &[f64],
    dx: &mut [f64],
) {
    let s = order_sign(order);
    let n1 = n.max(1);
    for ((xr, gr), dr) in x.chunks(n1).zip(g.chunks(n1)).zip(dx.chunks_mut(n1)) {
        for k in 0..n {
            let mut acc = 0.0;
            for j in 0..n {
                acc += sigmoid_grad(s * (xr[k] - xr[j]) / strength) * (gr[k] - gr[j]);
            }
            dr[k] += s / strength * acc;
        }
    }
}

/// How closely the f32 kernels must match this reference: one set of rules, used by
/// the tests (`tests/softrank_pairwise.rs`) and the benchmark's validation alike.
pub mod tolerance {
    use crate::reference::Tolerance;
    use crate::reference::tolerance::max_abs;

    /// Ranks of rows of `n`: f32 sums of n sigmoids growing to n, so the error grows
    /// with n (1.9e-2 seen at n = 4096).
    pub fn ranks(n: usize) -> Tolerance {
        Tolerance::abs(1e-5 * n as f64 + 1e-5)
    }

    /// dx: sums of n terms of either sign, bounded by the largest gradient (relative
    /// error 5e-6 seen at n = 4096).
    pub fn backward(want: &[f64]) -> Tolerance {
        Tolerance::abs(2e-5 * max_abs(want) + 1e-6)
    }
}
