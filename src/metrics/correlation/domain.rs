//! When a metric is undefined, and why.
//!
//! Every metric function of this module returns a plain `f64` that is NaN where the
//! metric is undefined; [`why_undefined`] gives the reason for the same inputs. The
//! rules are checked in a fixed order (length, non-finite values, too few pairs,
//! constant input), so the reason named is the first that applies.

use std::fmt;

/// The metrics whose domain [`why_undefined`] knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Spearman's rank correlation ([`srocc`](super::srocc)).
    Srocc,
    /// Kendall's tau-b ([`krocc`](super::krocc)).
    Krocc,
    /// Pearson's correlation ([`plcc`](super::plcc)).
    Plcc,
    /// Root mean squared difference on the raw values ([`rmse`](super::rmse)).
    Rmse,
    /// The 4-parameter logistic fit and the metrics after it
    /// ([`fit_logistic`](super::fit_logistic), [`plcc_logistic`](super::plcc_logistic),
    /// [`rmse_logistic`](super::rmse_logistic)).
    Logistic,
}

impl Metric {
    /// The fewest pairs the metric is defined for.
    ///
    /// A correlation needs two points to have a variance. RMSE is defined for one
    /// pair. The logistic has 4 parameters: with 4 points it interpolates any data
    /// (its PLCC would be 1 whatever the data), so it needs 5, as the scipy test
    /// vectors do.
    pub fn min_pairs(self) -> usize {
        match self {
            Metric::Srocc | Metric::Krocc | Metric::Plcc => 2,
            Metric::Rmse => 1,
            Metric::Logistic => 5,
        }
    }

    /// Whether a constant input (zero variance) makes the metric undefined. Every
    /// correlation divides by the standard deviations; the logistic's start uses
    /// `std(pred)` as its scale and `max(mos) - min(mos)` as its height.
    fn needs_variance(self) -> bool {
        self != Metric::Rmse
    }
}

/// Which of the two inputs a reason is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Pred,
    Mos,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Pred => "pred",
            Side::Mos => "mos",
        })
    }
}

/// Why a metric is undefined (its value is NaN).
#[derive(Clone, Debug, PartialEq)]
pub enum Undefined {
    /// `pred` and `mos` do not pair up.
    LengthMismatch { pred: usize, mos: usize },
    /// A NaN or infinite value, the first one found.
    NonFinite { side: Side, index: usize, value: f64 },
    /// Fewer pairs than the metric needs ([`Metric::min_pairs`]).
    TooFew { n: usize, need: usize },
    /// All values of one side are equal (zero variance).
    Constant { side: Side },
}

impl fmt::Display for Undefined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Undefined::LengthMismatch { pred, mos } => {
                write!(f, "length mismatch: {pred} predictions, {mos} MOS values")
            }
            Undefined::NonFinite { side, index, value } => {
                write!(f, "{side}[{index}] = {value} is not finite")
            }
            Undefined::TooFew { n, need } => write!(f, "{n} pairs, at least {need} needed"),
            Undefined::Constant { side } => write!(f, "{side} is constant (zero variance)"),
        }
    }
}

/// The reason `metric` is undefined for these inputs, or `None` where it is defined.
///
/// Undefined: lengths that differ; any NaN or infinity (as numpy would propagate NaN,
/// but here said out loud); fewer than [`Metric::min_pairs`] pairs; and, for every
/// metric but RMSE, a constant `pred` or `mos` (scipy returns NaN there too, with a
/// warning).
pub fn why_undefined(metric: Metric, pred: &[f64], mos: &[f64]) -> Option<Undefined> {
    if pred.len() != mos.len() {
        return Some(Undefined::LengthMismatch {
            pred: pred.len(),
            mos: mos.len(),
        });
    }
    for (side, values) in [(Side::Pred, pred), (Side::Mos, mos)] {
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Some(Undefined::NonFinite {
                side,
                index,
                value: values[index],
            });
        }
    }
    let need = metric.min_pairs();
    if pred.len() < need {
        return Some(Undefined::TooFew { n: pred.len(), need });
    }
    if metric.needs_variance() {
        for (side, values) in [(Side::Pred, pred), (Side::Mos, mos)] {
            if is_constant(values) {
                return Some(Undefined::Constant { side });
            }
        }
    }
    None
}

/// Whether all values are exactly equal. Exact, not "variance below a threshold":
/// the centred values of a constant input are not always exactly zero (the mean of
/// `[0.1; 3]` is not `0.1` in f64), so a test on the variance would let rounding
/// noise through as a correlation.
pub(crate) fn is_constant(values: &[f64]) -> bool {
    values.iter().all(|&v| v == values[0])
}
