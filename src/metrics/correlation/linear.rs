//! Pearson's linear correlation (PLCC) and the RMSE on raw values.

use super::domain::{Metric, why_undefined};

/// Pearson's linear correlation coefficient (PLCC) of `pred` and `mos`:
///
/// `r = sum((p - mean(p)) (m - mean(m))) / sqrt(sum((p - mean(p))^2) sum((m - mean(m))^2))`
///
/// as `scipy.stats.pearsonr` computes it: each input is first divided by its largest
/// magnitude (so squares cannot overflow), the centred vectors are normalised
/// separately, and the result is clipped to [-1, 1] (rounding can push it just past).
/// NaN where [`why_undefined`]`(Metric::Plcc, ..)` gives a reason: n < 2, lengths that
/// differ, a non-finite value or a constant input.
pub fn plcc(pred: &[f64], mos: &[f64]) -> f64 {
    if why_undefined(Metric::Plcc, pred, mos).is_some() {
        return f64::NAN;
    }
    pearson_unchecked(pred, mos)
}

/// Root mean squared difference on the raw values, `sqrt(mean((pred - mos)^2))`.
///
/// No mapping is applied, so it is only meaningful where `pred` is on the MOS scale
/// (see [`rmse_logistic`](super::rmse_logistic) otherwise). Defined for n >= 1 and for
/// constant inputs; NaN for n = 0, lengths that differ or a non-finite value.
pub fn rmse(pred: &[f64], mos: &[f64]) -> f64 {
    if why_undefined(Metric::Rmse, pred, mos).is_some() {
        return f64::NAN;
    }
    rmse_unchecked(pred, mos)
}

/// Pearson's r without the domain checks: NaN (0 / 0) for a constant input.
pub(crate) fn pearson_unchecked(x: &[f64], y: &[f64]) -> f64 {
    let x = centred_unit(x);
    let y = centred_unit(y);
    let dot: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
    let r = dot / (norm(&x) * norm(&y));
    // `clamp` keeps NaN as NaN.
    r.clamp(-1.0, 1.0)
}

/// `sqrt(mean(d^2))` as `m sqrt(mean((d / m)^2))` with `m = max|d|`, so that
/// differences above 1e154 do not overflow in the squares.
pub(crate) fn rmse_unchecked(x: &[f64], y: &[f64]) -> f64 {
    let diff: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
    let m = diff.iter().fold(0.0_f64, |m, d| m.max(d.abs()));
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    m * (diff.iter().map(|d| (d / m) * (d / m)).sum::<f64>() / diff.len() as f64).sqrt()
}

pub(crate) fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Population standard deviation (numpy's default `ddof = 0`), the convention of the
/// logistic's start value `std(pred) / 4`.
pub fn std_population(x: &[f64]) -> f64 {
    variance_population(x).sqrt()
}

/// Population variance (`ddof = 0`).
pub fn variance_population(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / x.len() as f64
}

/// `x / max|x|`, centred. Dividing first keeps values near 1e200 from overflowing in
/// the squares; the correlation does not depend on the scale.
fn centred_unit(x: &[f64]) -> Vec<f64> {
    let scale = x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let scaled: Vec<f64> = x.iter().map(|v| v / scale).collect();
    let m = mean(&scaled);
    scaled.iter().map(|v| v - m).collect()
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}
