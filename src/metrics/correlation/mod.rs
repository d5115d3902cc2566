//! Correlation metrics of IQA evaluation: how well predicted quality scores agree
//! with mean opinion scores (MOS). CPU, f64; conventions are scipy's (and so
//! pyiqa's), which the tests hold to scipy's own outputs.
//!
//! - [`srocc`]: Spearman's rank correlation, tied values get average ranks
//!   ([`average_ranks`]).
//! - [`krocc`]: Kendall's tau-b, O(n log n).
//! - [`plcc`]: Pearson's linear correlation; [`rmse`]: RMSE on the raw values.
//! - [`logistic4`], [`logistic_start`], [`fit_logistic`]: the 4-parameter logistic of
//!   VQEG fitted by Levenberg–Marquardt; [`plcc_logistic`], [`rmse_logistic`]: PLCC
//!   and RMSE after mapping the predictions through it.
//! - [`srocc_ci`]: a seeded percentile-bootstrap 95% interval for SROCC.
//! - [`evaluate`]: all of the above in one [`Correlations`], with notes.
//!
//! Undefined values: every metric returns `f64`, NaN where it is undefined (n too
//! small, lengths that differ, a NaN or infinity, a constant input); it never panics.
//! [`why_undefined`] gives the reason for the same inputs, and [`evaluate`] writes the
//! reasons into [`Correlations::notes`].

mod bootstrap;
mod domain;
mod evaluate;
mod linear;
mod logistic;
mod rank;

pub use bootstrap::{DEFAULT_RESAMPLES, SroccInterval, srocc_ci};
pub use domain::{Metric, Side, Undefined, why_undefined};
pub use evaluate::{Correlations, EvalOptions, evaluate};
pub use linear::{plcc, rmse, std_population, variance_population};
pub use logistic::{
    FitStatus, LogisticFit, fit_logistic, fit_logistic_from, logistic_start, logistic4, plcc_logistic,
    rmse_logistic,
};
pub use rank::{average_ranks, krocc, srocc};
