//! f64 reference of `ops::sortmask`: SortMask (docs/METHOD.md section 1, journal version).
//!
//! Shapes: f, out: [rows, n] with rows = B * C and n = H * W (one row per sample and
//! channel); mu: [rows].
//!
//! Per row: mu = mean(f); d = |f - mu|; r = soft_rank(d) ascending; u = (r - 1)/(n - 1)
//! (u = 1 when n = 1); g = sigmoid((u - q) / T); out = mu + (f - mu) * g.

use super::gate::{sign0, soft_rank_any_backward_ref, soft_rank_any_ref, unit_rank};
use super::softrank::pairwise::{sigmoid, sigmoid_grad};
use crate::ops::softrank::{Method, Order};

#[derive(Clone, Copy)]
pub struct SortMaskRefConfig {
    pub quantile: f64,
    pub temperature: f64,
    pub method: Method,
    pub strength: f64,
}

/// Forward values and what the backward needs.
pub struct SortMaskRefOut {
    pub out: Vec<f64>,
    pub mu: Vec<f64>,
    pub d: Vec<f64>,
    pub r: Vec<f64>,
    pub g: Vec<f64>,
}

pub fn sortmask_ref(f: &[f64], n: usize, cfg: &SortMaskRefConfig) -> SortMaskRefOut {
    let rows = f.len() / n;
    let mu: Vec<f64> = f
        .chunks(n)
        .map(|row| row.iter().sum::<f64>() / n as f64)
        .collect();
    let d: Vec<f64> = f.iter().enumerate().map(|(i, v)| (v - mu[i / n]).abs()).collect();
    let r = soft_rank_any_ref(&d, n, cfg.method, cfg.strength, Order::Ascending);
    let g: Vec<f64> = r
        .iter()
        .map(|&ri| sigmoid((unit_rank(ri, n) - cfg.quantile) / cfg.temperature))
        .collect();
    let out = (0..rows * n)
        .map(|i| mu[i / n] + (f[i] - mu[i / n]) * g[i])
        .collect();
    SortMaskRefOut { out, mu, d, r, g }
}

/// `df += J^T gout`.
pub fn sortmask_backward_ref(
    f: &[f64],
    n: usize,
    cfg: &SortMaskRefConfig,
    fwd: &SortMaskRefOut,
    gout: &[f64],
    df: &mut [f64],
) {
    let rows = f.len() / n;
    let slope = if n <= 1 {
        0.0
    } else {
        1.0 / ((n - 1) as f64 * cfg.temperature)
    };
    let mut dmu = vec![0.0; rows];
    let mut dr = vec![0.0; f.len()];
    for i in 0..f.len() {
        let row = i / n;
        let dev = f[i] - fwd.mu[row];
        // out = mu + (f - mu) g
        df[i] += gout[i] * fwd.g[i];
        dmu[row] += gout[i] * (1.0 - fwd.g[i]);
        // g = sigmoid((u - q) / T), u = (r - 1) / (n - 1)
        let t = (unit_rank(fwd.r[i], n) - cfg.quantile) / cfg.temperature;
        dr[i] = gout[i] * dev * sigmoid_grad(t) * slope;
    }
    // r = soft_rank(d)
    let mut dd = vec![0.0; f.len()];
    soft_rank_any_backward_ref(
        &fwd.d,
        n,
        cfg.method,
        cfg.strength,
        Order::Ascending,
        &dr,
        &mut dd,
    );
    for i in 0..f.len() {
        // d = |f - mu|
        let s = sign0(f[i] - fwd.mu[i / n]);
        df[i] += dd[i] * s;
        dmu[i / n] -= dd[i] * s;
    }
    // mu = mean(f)
    for i in 0..f.len() {
        df[i] += dmu[i / n] / n as f64;
    }
}

/// How closely the f32 SortMask must match this reference: one set of rules, used by
/// the tests (`tests/sortmask.rs`) and the benchmark's validation alike.
pub mod tolerance {
    use crate::reference::Tolerance;
    use crate::reference::tolerance::max_abs;

    /// out = mu + (f - mu) g with |f - mu| < 2: a rank error (about 1e-5 n) moves g by
    /// its slope.
    pub const OUT: Tolerance = Tolerance::abs(2e-4);

    /// df: the direct and mean paths are f32-exact to ~1e-6; the rank path carries the
    /// soft rank's backward error (up to 2e-5 of its largest entry) times
    /// (f - mu) g' / ((n-1) T).
    pub fn backward(want: &[f64]) -> Tolerance {
        Tolerance::abs(1e-4 * max_abs(want) + 1e-5)
    }

    /// SortMask's own kernels with the rank replaced by the identity (the benchmark's
    /// "glue" rows): a few f32 operations per element.
    pub const GLUE: Tolerance = Tolerance::new(1e-5, 1e-5);

    /// Their backward: sums over a row of terms of either sign, bounded by the largest.
    pub fn glue_backward(want: &[f64]) -> Tolerance {
        Tolerance::abs(1e-4 * max_abs(want))
    }
}
