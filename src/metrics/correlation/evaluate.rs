//! All the correlation metrics of one (pred, mos) set in one call.

use serde::Serialize;

use super::bootstrap::{DEFAULT_RESAMPLES, srocc_ci};
use super::domain::{Metric, why_undefined};
use super::linear::{pearson_unchecked, rmse_unchecked};
use super::logistic::{fit_logistic, plcc_after, rmse_after};
use super::rank::{kendall_tau_b_unchecked, srocc_unchecked};

/// What [`evaluate`] computes beyond the plain metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalOptions {
    /// Fit the 4-parameter logistic for `plcc_logistic` and `rmse_logistic`.
    pub logistic: bool,
    /// Bootstrap resamples for the SROCC interval; 0 skips the interval.
    pub resamples: usize,
    /// Seed of the bootstrap, so that a report can be reproduced.
    pub seed: u64,
}

impl Default for EvalOptions {
    /// The logistic fit and a 1000-resample interval with seed 0.
    fn default() -> Self {
        EvalOptions {
            logistic: true,
            resamples: DEFAULT_RESAMPLES,
            seed: 0,
        }
    }
}

/// Every correlation metric of one evaluation; undefined values are NaN (`null` in
/// JSON) and `notes` says why, one sentence per reason.
#[derive(Clone, Debug, Serialize)]
pub struct Correlations {
    /// Number of pairs (the shorter length where the lengths differ).
    pub n: usize,
    /// Spearman ([`srocc`](super::srocc)).
    pub srocc: f64,
    /// Kendall's tau-b ([`krocc`](super::krocc)).
    pub krocc: f64,
    /// Pearson on the raw predictions ([`plcc`](super::plcc)).
    pub plcc: f64,
    /// RMSE on the raw values ([`rmse`](super::rmse)).
    pub rmse: f64,
    /// Pearson after the fitted logistic ([`plcc_logistic`](super::plcc_logistic)).
    pub plcc_logistic: f64,
    /// RMSE after the fitted logistic ([`rmse_logistic`](super::rmse_logistic)).
    pub rmse_logistic: f64,
    /// The fitted `[b1, b2, b3, b4]` of [`logistic4`](super::logistic4); `None` where
    /// not fitted, undefined, or replaced by the linear fallback.
    pub logistic: Option<[f64; 4]>,
    /// The 95% bootstrap interval of SROCC ([`srocc_ci`]).
    pub srocc_ci: Option<(f64, f64)>,
    /// Why a value is NaN or how it was obtained when not the plain way (a logistic
    /// fit that fell back, resamples left out); empty when all went as expected.
    pub notes: Vec<String>,
}

/// Computes every metric of [`Correlations`] for `(pred, mos)`. Never panics: where a
/// metric is undefined it is NaN and `notes` gives the reason (from
/// [`why_undefined`]), as do a logistic fit that did not converge or fell back to a
/// line, and bootstrap resamples that were left out.
pub fn evaluate(pred: &[f64], mos: &[f64], opts: &EvalOptions) -> Correlations {
    let mut out = Correlations {
        n: pred.len().min(mos.len()),
        srocc: f64::NAN,
        krocc: f64::NAN,
        plcc: f64::NAN,
        rmse: f64::NAN,
        plcc_logistic: f64::NAN,
        rmse_logistic: f64::NAN,
        logistic: None,
        srocc_ci: None,
        notes: Vec::new(),
    };
    // RMSE has the widest domain: where it is undefined, everything is.
    if let Some(why) = why_undefined(Metric::Rmse, pred, mos) {
        out.notes.push(format!("all metrics undefined: {why}"));
        return out;
    }
    out.rmse = rmse_unchecked(pred, mos);
    // SROCC, KROCC and PLCC share one domain; one note covers the three.
    match why_undefined(Metric::Srocc, pred, mos) {
        Some(why) => out.notes.push(format!("SROCC, KROCC and PLCC undefined: {why}")),
        None => {
            out.srocc = srocc_unchecked(pred, mos);
            out.krocc = kendall_tau_b_unchecked(pred, mos);
            out.plcc = pearson_unchecked(pred, mos);
            add_interval(&mut out, pred, mos, opts);
        }
    }
    add_logistic(&mut out, pred, mos, opts);
    out
}

fn add_interval(out: &mut Correlations, pred: &[f64], mos: &[f64], opts: &EvalOptions) {
    if opts.resamples == 0 {
        return;
    }
    let ci = srocc_ci(pred, mos, opts.resamples, opts.seed);
    out.srocc_ci = ci.interval();
    if ci.undefined > 0 {
        out.notes.push(format!(
            "SROCC interval: {} of {} resamples had a constant side and were left out",
            ci.undefined, ci.resamples
        ));
    }
    if out.srocc_ci.is_none() {
        out.notes
            .push("SROCC interval undefined: over half of the resamples were undefined".into());
    }
}

fn add_logistic(out: &mut Correlations, pred: &[f64], mos: &[f64], opts: &EvalOptions) {
    if !opts.logistic {
        return;
    }
    let fit = fit_logistic(pred, mos);
    out.logistic = fit.beta;
    out.plcc_logistic = plcc_after(&fit, mos);
    out.rmse_logistic = rmse_after(&fit, mos);
    out.notes.extend(fit.note());
}
