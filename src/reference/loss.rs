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

/// Tolerances of the f32 loss kernels against this reference, used by the tests and
/// the benchmark alike (inputs in [-1, 1], upstream gradients of size ~1).
pub mod tolerance {
    use super::PlccStats;
    use crate::reference::Tolerance;

    /// Pointwise losses (MSE, L1, Huber): the mean of n f32 terms added in a tree of
    /// depth log2(n), each level rounding once: a few 1e-7 relative.
    pub const POINTWISE: Tolerance = Tolerance::new(1e-7, 2e-6);

    /// The pointwise losses' dp and dt over `n` values: one f32 expression per element
    /// (g term'(d) / n), a few ulps relative; the values scale like 1/n, so the
    /// absolute floor does too.
    pub fn pointwise_backward(n: usize) -> Tolerance {
        Tolerance::new(1e-7 / n as f64, 1e-5)
    }

    /// PLCC (1 - r): f32 moments of centred values carry a few 1e-6 of relative error
    /// into r.
    pub const PLCC: Tolerance = Tolerance::new(2e-6, 1e-5);

    /// PLCC's dp and dt at upstream gradient `g`, for the inputs `p`, `t` and the
    /// reference forward's statistics `s`. Each gradient is a difference of two terms
    /// of size ~|g| / (n std), which cancel where r is near +-1 (always for n = 2), so
    /// atol is a relative error of the larger term (over all elements), not of the
    /// result, and rtol 1e-4. That relative error is a few 1e-6 from the f32 moments,
    /// plus the rounding of the centred values `x - mean`: a few ulps of max |x|
    /// against a spread `std`, which grows like max |x| / std where the values lie
    /// close together (two scores 2.5e-3 apart around 0.5 give 2.4e-5).
    pub fn plcc_backward(p: &[f64], t: &[f64], s: &PlccStats, g: f64) -> Tolerance {
        let n = p.len() as f64;
        let inv_d = 1.0 / (s.var_p * s.var_t).sqrt();
        let term = p
            .iter()
            .zip(t)
            .map(|(&a, &b)| {
                let (cp, ct) = (a - s.mean_p, b - s.mean_t);
                (ct.abs() * inv_d)
                    .max(cp.abs() * inv_d)
                    .max((s.r * cp / s.var_p).abs())
                    .max((s.r * ct / s.var_t).abs())
            })
            .fold(0.0f64, f64::max)
            * g.abs()
            / n;
        let max_abs = |x: &[f64]| x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let spread = max_abs(p) / s.var_p.sqrt() + max_abs(t) / s.var_t.sqrt();
        let rel = 1e-5 + 4.0 * f32::EPSILON as f64 * spread;
        Tolerance::new(rel * term, 1e-4)
    }
}
