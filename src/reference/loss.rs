//! f64 reference of `ops::loss`.
//!
//! Shapes: `p` (prediction) and `t` (target) are flat slices of n >= 1 values (the
//! caller checks the tensor shapes); every loss is the mean over the n values and `g`
//! is the gradient of that scalar loss.

use crate::ops::loss::Pointwise;

/// Per-element term of a pointwise loss at difference `d = p - t`.
fn term(loss: Pointwise, d: f64) -> f64 {
    match loss {
        Pointwise::Mse => d * d,
        Pointwise::L1 => d.abs(),
        Pointwise::Huber { delta } => {
            let delta = delta as f64;
            if d.abs() < delta {
                0.5 * d * d
            } else {
                delta * (d.abs() - 0.5 * delta)
            }
        }
    }
}

/// Derivative of `term` with respect to d (subgradient 0 at the L1 kink).
fn dterm(loss: Pointwise, d: f64) -> f64 {
    let sign = if d > 0.0 {
        1.0
    } else if d < 0.0 {
        -1.0
    } else {
        0.0
    };
    match loss {
        Pointwise::Mse => 2.0 * d,
        Pointwise::L1 => sign,
        Pointwise::Huber { delta } => {
            let delta = delta as f64;
            if d.abs() < delta { d } else { delta * sign }
        }
    }
}

/// `mean_i term(p[i] - t[i])`.
pub fn pointwise_forward_ref(loss: Pointwise, p: &[f64], t: &[f64]) -> f64 {
    assert_eq!(p.len(), t.len());
    let n = p.len() as f64;
    p.iter().zip(t).map(|(&a, &b)| term(loss, a - b)).sum::<f64>() / n
}

/// Undoes `loss = mean_i term(p[i] - t[i])`: `dp[i] += g * term'(d) / n`, `dt[i] -= ...`.
pub fn pointwise_backward_ref(loss: Pointwise, p: &[f64], t: &[f64], g: f64, dp: &mut [f64], dt: &mut [f64]) {
    let n = p.len() as f64;
    for i in 0..p.len() {
        let v = g * dterm(loss, p[i] - t[i]) / n;
        dp[i] += v;
        dt[i] -= v;
    }
}

/// What the PLCC forward saves for its backward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlccStats {
    pub mean_p: f64,
    pub mean_t: f64,
    /// Population variance of p plus eps.
    pub var_p: f64,
    /// Population variance of t plus eps.
    pub var_t: f64,
    /// Population covariance.
    pub cov: f64,
    /// cov / sqrt(var_p * var_t) (eps included).
    pub r: f64,
}

/// `loss = 1 - r`, `r = cov(p, t) / sqrt((var(p) + eps) * (var(t) + eps))` with
/// population (1/n) moments. With eps = 0 this is exactly 1 - Pearson's r; eps keeps
/// a constant input finite (r = 0 there, and for n = 1 where every centred value is 0).
pub fn plcc_forward_ref(p: &[f64], t: &[f64], eps: f64) -> (f64, PlccStats) {
    assert_eq!(p.len(), t.len());
    let n = p.len() as f64;
    let mean_p = p.iter().sum::<f64>() / n;
    let mean_t = t.iter().sum::<f64>() / n;
    let (mut spp, mut stt, mut spt) = (0.0, 0.0, 0.0);
    for (&a, &b) in p.iter().zip(t) {
        let (dp, dt) = (a - mean_p, b - mean_t);
        spp += dp * dp;
        stt += dt * dt;
        spt += dp * dt;
    }
    let var_p = spp / n + eps;
    let var_t = stt / n + eps;
    let cov = spt / n;
    let r = cov / (var_p * var_t).sqrt();
    let stats = PlccStats {
        mean_p,
        mean_t,
        var_p,
        var_t,
        cov,
        r,
    };
    (1.0 - r, stats)
}

/// Undoes `loss = 1 - cov / sqrt(var_p * var_t)`:
/// `dp[i] += -g / n * ((t[i] - mean_t) / sqrt(var_p var_t) - r (p[i] - mean_p) / var_p)`,
/// and the same with p and t swapped for `dt` (the mean terms vanish because centred
/// values sum to zero).
pub fn plcc_backward_ref(p: &[f64], t: &[f64], s: &PlccStats, g: f64, dp: &mut [f64], dt: &mut [f64]) {
    let n = p.len() as f64;
    let inv_d = 1.0 / (s.var_p * s.var_t).sqrt();
    for i in 0..p.len() {
        let (cp, ct) = (p[i] - s.mean_p, t[i] - s.mean_t);
        dp[i] += -g / n * (ct * inv_d - s.r * cp / s.var_p);
        dt[i] += -g / n * (cp * inv_d - s.r * ct / s.var_t);
    }
}
