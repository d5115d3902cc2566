//! The 4-parameter logistic of VQEG, fitted by Levenberg–Marquardt, and the PLCC and
//! RMSE after it.
//!
//! An NR-IQA model's scores are on its own scale and relate to MOS monotonically but
//! not linearly, so VQEG (and pyiqa, and most papers) first map the predictions onto
//! the MOS scale with a fitted logistic and only then compute PLCC and RMSE.

use super::domain::{Metric, Undefined, is_constant, why_undefined};
use super::linear::{mean, pearson_unchecked, rmse_unchecked, std_population};

/// Relative SSE tolerance: the fit stops once an accepted step lowers the SSE by at
/// most this fraction of it and the linear model predicted no more (MINPACK's `ftol`
/// test). scipy's default is 1.49e-8; 15 times tighter makes the fit end at least as
/// low as `curve_fit` (on the scipy test vectors its SSE is at most 7e-10 (relative)
/// above scipy's where both reach the same minimum, and up to 18% below where scipy
/// stops early).
///
/// This test, not the step test, is what ends the fits whose infimum lies at infinity
/// (data with no bend at one end: b1 -> inf or b2 -> -inf turns the logistic into an
/// exponential); along such a valley the SSE falls by ever smaller amounts and the fit
/// stops where the next step would gain less than this fraction.
const F_TOL: f64 = 1e-9;

/// Relative step tolerance: the fit stops once a step moves the scaled parameters by
/// at most this fraction of their size (MINPACK's `xtol` test, on `|D^½ δ|`).
const X_TOL: f64 = 1e-12;

/// Gradient tolerance: the fit stops once the residual is this close to orthogonal to
/// every Jacobian column (MINPACK's `gtol` test, on the cosines).
const G_TOL: f64 = 1e-12;

/// The most trial steps (one SSE evaluation each). The slowest scipy test vector (a
/// valley, n = 2000) takes about 3900; well-posed fits take 5 to 60.
const MAX_STEPS: usize = 20_000;

/// Beyond this damping no step can lower the SSE in floating point: the fit sits at
/// a minimum to machine precision.
const MAX_DAMPING: f64 = 1e16;

/// The 4-parameter logistic of VQEG (and pyiqa's `logistic_4params`):
///
/// `f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2`
///
/// rising from `b2` (x -> -inf) to `b1` (x -> +inf) around `b3` with scale `|b4|`
/// (`|b4|` because the sign of b4 is redundant with swapping b1 and b2; `b4 = 0` is a
/// step, NaN at `x = b3`). The sigmoid is evaluated without overflow for any
/// `z = (x - b3) / |b4|`.
pub fn logistic4(beta: &[f64; 4], x: f64) -> f64 {
    let [b1, b2, b3, b4] = *beta;
    (b1 - b2) * sigmoid((x - b3) / b4.abs()) + b2
}

/// pyiqa's start for the fit: `[max(mos), min(mos), mean(pred), std(pred) / 4]`, the
/// standard deviation being numpy's default, the population one (`ddof = 0`).
pub fn logistic_start(pred: &[f64], mos: &[f64]) -> [f64; 4] {
    let max = mos.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = mos.iter().copied().fold(f64::INFINITY, f64::min);
    [max, min, mean(pred), std_population(pred) / 4.0]
}

/// How a fit ended.
#[derive(Clone, Debug, PartialEq)]
pub enum FitStatus {
    /// One of the convergence tests held (or no step could lower the SSE any more).
    Converged,
    /// The step budget (20 000) ran out; the parameters are the best found (Levenberg–Marquardt
    /// only accepts steps that lower the SSE, so the last accepted point is the best).
    MaxSteps,
    /// The fitted curve came out unusable (constant over `pred`, or a non-finite
    /// Jacobian); the mapping is the least-squares line `a + b pred` instead. The
    /// logistic tends to any such line as `|b4| -> inf`, so this is the family's own
    /// limit, not a different model.
    LinearFallback,
    /// The inputs do not admit a fit ([`why_undefined`] with [`Metric::Logistic`]).
    Undefined(Undefined),
}

/// The result of [`fit_logistic`].
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticFit {
    /// The fitted `[b1, b2, b3, b4]`; `None` after [`FitStatus::LinearFallback`] or
    /// [`FitStatus::Undefined`].
    pub beta: Option<[f64; 4]>,
    /// The mapped predictions `f(pred)` (the fallback line's values after a
    /// fallback; empty where undefined).
    pub fitted: Vec<f64>,
    /// `sum((f(pred) - mos)^2)`; NaN where undefined.
    pub sse: f64,
    /// Trial steps taken.
    pub steps: usize,
    pub status: FitStatus,
}

impl LogisticFit {
    /// A sentence for a report where the fit did not simply converge.
    pub fn note(&self) -> Option<String> {
        match &self.status {
            FitStatus::Converged => None,
            FitStatus::MaxSteps => Some(format!(
                "logistic fit did not converge in {} steps; the best parameters found are used",
                self.steps
            )),
            FitStatus::LinearFallback => Some(
                "logistic fit degenerate (constant or non-finite curve); PLCC/RMSE after a \
                 least-squares linear map instead"
                    .to_string(),
            ),
            FitStatus::Undefined(why) => Some(format!("logistic fit undefined: {why}")),
        }
    }
}

/// Fits the 4-parameter logistic ([`logistic4`]) to `(pred, mos)` by least squares,
/// from [`logistic_start`], as `scipy.optimize.curve_fit` (method "lm") does in pyiqa.
///
/// Levenberg–Marquardt with the analytic Jacobian: each step solves
/// `(JᵀJ + λ D) δ = -Jᵀr` with `D` the running maximum of `diag(JᵀJ)` (MINPACK's
/// scaling, which makes the steps independent of the parameters' units: b1 may be
/// 1e5 while b4 is 1e-3). A step is kept only if it lowers the SSE; the damping λ
/// follows Nielsen's schedule (shrink by up to 3 after a good step, by the gain ratio;
/// double-and-double-again after a rejected one).
///
/// It stops when an accepted step lowers the SSE by at most 1e-9 of it (and the model
/// predicted no more; scipy's `ftol` is 1.49e-8), when the scaled step is at most
/// 1e-12 of the scaled parameters, when the residual is orthogonal to the Jacobian to
/// 1e-12, or when no step lowers the SSE in floating point: all [`FitStatus::Converged`].
///
/// Fallbacks, each named by [`FitStatus`] and [`LogisticFit::note`]: after 20 000
/// steps the best parameters found so far are kept ([`FitStatus::MaxSteps`]); a
/// curve that comes out constant over `pred` or non-finite is replaced by the
/// least-squares line ([`FitStatus::LinearFallback`]); inputs outside the domain
/// give NaN ([`FitStatus::Undefined`]).
pub fn fit_logistic(pred: &[f64], mos: &[f64]) -> LogisticFit {
    fit_logistic_from(pred, mos, logistic_start(pred, mos))
}

/// [`fit_logistic`] from another start (a different convention's, or a previous fit).
pub fn fit_logistic_from(pred: &[f64], mos: &[f64], start: [f64; 4]) -> LogisticFit {
    if let Some(why) = why_undefined(Metric::Logistic, pred, mos) {
        return LogisticFit {
            beta: None,
            fitted: Vec::new(),
            sse: f64::NAN,
            steps: 0,
            status: FitStatus::Undefined(why),
        };
    }
    let (beta, steps, status) = levenberg_marquardt(pred, mos, start);
    let fitted: Vec<f64> = pred.iter().map(|&x| logistic4(&beta, x)).collect();
    if status == FitStatus::LinearFallback || is_constant(&fitted) || fitted.iter().any(|v| !v.is_finite()) {
        return linear_fallback(pred, mos, steps);
    }
    let sse = sum_squares(&fitted, mos);
    LogisticFit {
        beta: Some(beta),
        fitted,
        sse,
        steps,
        status,
    }
}

/// PLCC between the fitted logistic's `f(pred)` and `mos` ([`fit_logistic`]). NaN
/// where [`why_undefined`]`(Metric::Logistic, ..)` gives a reason (n < 5 among them).
pub fn plcc_logistic(pred: &[f64], mos: &[f64]) -> f64 {
    plcc_after(&fit_logistic(pred, mos), mos)
}

/// RMSE between the fitted logistic's `f(pred)` and `mos`, `sqrt(SSE / n)`.
pub fn rmse_logistic(pred: &[f64], mos: &[f64]) -> f64 {
    rmse_after(&fit_logistic(pred, mos), mos)
}

pub(crate) fn plcc_after(fit: &LogisticFit, mos: &[f64]) -> f64 {
    match fit.status {
        FitStatus::Undefined(_) => f64::NAN,
        _ => pearson_unchecked(&fit.fitted, mos),
    }
}

pub(crate) fn rmse_after(fit: &LogisticFit, mos: &[f64]) -> f64 {
    match fit.status {
        FitStatus::Undefined(_) => f64::NAN,
        _ => rmse_unchecked(&fit.fitted, mos),
    }
}

/// The least-squares line `a + b pred` in place of a degenerate logistic.
fn linear_fallback(pred: &[f64], mos: &[f64], steps: usize) -> LogisticFit {
    let (mp, mm) = (mean(pred), mean(mos));
    let sxy: f64 = pred.iter().zip(mos).map(|(p, m)| (p - mp) * (m - mm)).sum();
    let sxx: f64 = pred.iter().map(|p| (p - mp) * (p - mp)).sum();
    let slope = sxy / sxx;
    let fitted: Vec<f64> = pred.iter().map(|p| mm + slope * (p - mp)).collect();
    let sse = sum_squares(&fitted, mos);
    LogisticFit {
        beta: None,
        fitted,
        sse,
        steps,
        status: FitStatus::LinearFallback,
    }
}

fn sum_squares(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// `1 / (1 + exp(-z))` without overflow ([`sigmoid_and_slope`]).
fn sigmoid(z: f64) -> f64 {
    sigmoid_and_slope(z).0
}

/// `s = 1 / (1 + exp(-z))` and its derivative `s (1 - s)`, from one `e = exp(-|z|)`,
/// which is at most 1 and so never overflows: `s = 1 / (1 + e)` for z >= 0 and
/// `e / (1 + e)` for z < 0, and `s (1 - s) = e / (1 + e)^2` (the product itself would
/// cancel: `1 - s` rounds to 0 for z > 37). ±inf give exactly 0 or 1, and slope 0.
fn sigmoid_and_slope(z: f64) -> (f64, f64) {
    let e = (-z.abs()).exp();
    let s = if z >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
    (s, e / ((1.0 + e) * (1.0 + e)))
}

/// The normal equations: `JᵀJ`, `Jᵀr` and the SSE, accumulated over all points in
/// one pass (the n x 4 Jacobian is never stored).
struct Normal {
    jtj: [[f64; 4]; 4],
    jtr: [f64; 4],
    sse: f64,
}

/// Residuals `f(x) - y` and the analytic Jacobian of `f` at `beta`:
///
/// with `s = sigmoid(z)`, `z = (x - b3) / |b4|`, `h = b1 - b2`:
/// `df/db1 = s`, `df/db2 = 1 - s`, `df/db3 = -h s (1 - s) / |b4|`,
/// `df/db4 = -h s (1 - s) z sign(b4) / |b4|`.
fn normal_equations(beta: &[f64; 4], x: &[f64], y: &[f64]) -> Normal {
    let [b1, b2, b3, b4] = *beta;
    let (h, scale) = (b1 - b2, b4.abs());
    let mut n = Normal {
        jtj: [[0.0; 4]; 4],
        jtr: [0.0; 4],
        sse: 0.0,
    };
    for (&xi, &yi) in x.iter().zip(y) {
        let z = (xi - b3) / scale;
        let (s, slope) = sigmoid_and_slope(z);
        // At |z| = inf the slope is 0 and z * slope would be inf * 0 = NaN.
        let z_slope = if slope == 0.0 { 0.0 } else { z * slope };
        let row = [s, 1.0 - s, -h * slope / scale, -h * z_slope * b4.signum() / scale];
        let r = h * s + b2 - yi;
        n.sse += r * r;
        for i in 0..4 {
            n.jtr[i] += row[i] * r;
            for j in i..4 {
                n.jtj[i][j] += row[i] * row[j];
            }
        }
    }
    // Only the upper triangle was accumulated; JᵀJ is symmetric.
    for i in 0..4 {
        for j in 0..i {
            n.jtj[i][j] = n.jtj[j][i];
        }
    }
    n
}

fn sse_at(beta: &[f64; 4], x: &[f64], y: &[f64]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(&xi, &yi)| (logistic4(beta, xi) - yi).powi(2))
        .sum()
}

/// The Levenberg–Marquardt loop; returns the last accepted parameters, the steps
/// taken and how it ended.
fn levenberg_marquardt(x: &[f64], y: &[f64], start: [f64; 4]) -> ([f64; 4], usize, FitStatus) {
    let mut beta = start;
    let mut normal = normal_equations(&beta, x, y);
    let mut scale = [0.0; 4];
    let mut damping = Damping::new();
    for step in 1..=MAX_STEPS {
        if !all_finite(&normal) {
            return (beta, step - 1, FitStatus::LinearFallback);
        }
        update_scale(&mut scale, &normal.jtj);
        if gradient_vanishes(&normal, &scale) {
            return (beta, step - 1, FitStatus::Converged);
        }
        let Some(delta) = damped_step(&normal, &scale, damping.lambda) else {
            if damping.reject() {
                return (beta, step, FitStatus::Converged);
            }
            continue;
        };
        if step_is_small(&delta, &beta, &scale) {
            return (beta, step, FitStatus::Converged);
        }
        let trial = add(&beta, &delta);
        let sse = sse_at(&trial, x, y);
        let predicted = predicted_reduction(&normal, &scale, &delta, damping.lambda);
        let gain = (normal.sse - sse) / predicted;
        if !(sse.is_finite() && gain > 0.0) {
            if damping.reject() {
                return (beta, step, FitStatus::Converged);
            }
            continue;
        }
        let small = reduction_is_small(normal.sse, sse, predicted);
        beta = trial;
        normal = normal_equations(&beta, x, y);
        if small {
            return (beta, step, FitStatus::Converged);
        }
        damping.accept(gain);
    }
    (beta, MAX_STEPS, FitStatus::MaxSteps)
}

/// Nielsen's damping schedule (Madsen, Nielsen and Tingleff, "Methods for non-linear
/// least squares problems", 2004): smooth in the gain ratio, and doubling-and-doubling
/// after repeated rejections, which escapes a bad region quickly.
struct Damping {
    lambda: f64,
    growth: f64,
}

impl Damping {
    /// λ starts at 1e-3 relative to `D` (Marquardt's usual start).
    fn new() -> Self {
        Damping {
            lambda: 1e-3,
            growth: 2.0,
        }
    }

    /// After a kept step with gain ratio ρ: `λ *= max(1/3, 1 - (2ρ - 1)^3)`.
    fn accept(&mut self, gain: f64) {
        self.lambda *= (1.0 - (2.0 * gain - 1.0).powi(3)).max(1.0 / 3.0);
        self.growth = 2.0;
    }

    /// After a rejected step: `λ *= ν, ν *= 2`. True once λ passes [`MAX_DAMPING`]:
    /// no step lowers the SSE any more, the fit is at a minimum to machine precision.
    fn reject(&mut self) -> bool {
        self.lambda *= self.growth;
        self.growth *= 2.0;
        self.lambda > MAX_DAMPING
    }
}

fn all_finite(n: &Normal) -> bool {
    n.sse.is_finite() && n.jtr.iter().chain(n.jtj.iter().flatten()).all(|v| v.is_finite())
}

/// MINPACK's scaling: the running maximum of each column's squared norm, floored so
/// that a column that is zero at the start (a saturated sigmoid) stays solvable.
fn update_scale(scale: &mut [f64; 4], jtj: &[[f64; 4]; 4]) {
    let largest = (0..4).map(|i| jtj[i][i]).fold(0.0, f64::max);
    for i in 0..4 {
        scale[i] = scale[i]
            .max(jtj[i][i])
            .max(largest * 1e-30)
            .max(f64::MIN_POSITIVE);
    }
}

/// The largest cosine between the residual vector and a scaled Jacobian column.
fn gradient_vanishes(n: &Normal, scale: &[f64; 4]) -> bool {
    if n.sse == 0.0 {
        return true;
    }
    let worst = (0..4)
        .map(|i| n.jtr[i].abs() / (scale[i].sqrt() * n.sse.sqrt()))
        .fold(0.0, f64::max);
    worst <= G_TOL
}

/// Solves `(JᵀJ + λ D) δ = -Jᵀr`; `None` where the matrix is not positive definite
/// in floating point (the caller then raises λ).
fn damped_step(n: &Normal, scale: &[f64; 4], damping: f64) -> Option<[f64; 4]> {
    let mut a = n.jtj;
    for i in 0..4 {
        a[i][i] += damping * scale[i];
    }
    cholesky_solve(a, n.jtr.map(|g| -g))
}

/// `Δ SSE` the linear model predicts: `-2 δᵀJᵀr - δᵀJᵀJδ`, which by the step's own
/// equation is `δᵀJᵀJδ + 2 λ δᵀDδ`, positive.
fn predicted_reduction(n: &Normal, scale: &[f64; 4], delta: &[f64; 4], damping: f64) -> f64 {
    let mut quad = 0.0;
    let mut damped = 0.0;
    for i in 0..4 {
        damped += scale[i] * delta[i] * delta[i];
        for j in 0..4 {
            quad += delta[i] * n.jtj[i][j] * delta[j];
        }
    }
    quad + 2.0 * damping * damped
}

/// Both the achieved and the predicted reduction are a negligible share of the SSE.
fn reduction_is_small(before: f64, after: f64, predicted: f64) -> bool {
    (before - after) <= F_TOL * before && predicted <= F_TOL * before
}

/// `|D^½ δ| <= tol |D^½ β|`, MINPACK's test on the scaled step.
fn step_is_small(delta: &[f64; 4], beta: &[f64; 4], scale: &[f64; 4]) -> bool {
    let norm = |v: &[f64; 4]| (0..4).map(|i| scale[i] * v[i] * v[i]).sum::<f64>().sqrt();
    norm(delta) <= X_TOL * norm(beta)
}

fn add(a: &[f64; 4], b: &[f64; 4]) -> [f64; 4] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
}

/// Solves `A v = b` for a symmetric positive definite 4 x 4 `A` by Cholesky.
fn cholesky_solve(a: [[f64; 4]; 4], b: [f64; 4]) -> Option<[f64; 4]> {
    let mut l = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - dot;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - dot) / l[j][j];
            }
        }
    }
    let mut v = b;
    for i in 0..4 {
        v[i] = (v[i] - (0..i).map(|k| l[i][k] * v[k]).sum::<f64>()) / l[i][i];
    }
    for i in (0..4).rev() {
        v[i] = (v[i] - (i + 1..4).map(|k| l[k][i] * v[k]).sum::<f64>()) / l[i][i];
    }
    Some(v)
}
