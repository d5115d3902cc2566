//! The report's CSV files. A missing value (`None`) is an empty cell; an undefined
//! one (NaN) is `NaN`, so the two stay apart for whoever reads the file. Numbers are
//! written in Rust's shortest round-trip form, so they read back bit for bit.

use super::{ModelReport, Report, RobustnessRow};
use crate::{Error, Result};

/// Header of `summary.csv`, one row per model.
pub const SUMMARY_HEADER: [&str; 16] = [
    "name",
    "preset",
    "n",
    "srocc",
    "srocc_ci_lo",
    "srocc_ci_hi",
    "krocc",
    "plcc",
    "plcc_logistic",
    "rmse",
    "rmse_logistic",
    "score_std",
    "train_seconds",
    "images_per_second",
    "params",
    "channels_on",
];

/// Header of `predictions.csv`, one row per (model, test image).
pub const PREDICTIONS_HEADER: [&str; 6] = ["model", "path", "distortion", "level", "mos", "score"];

/// Header of `curves.csv`, one row per (model, curve point).
pub const CURVES_HEADER: [&str; 7] = [
    "model",
    "step",
    "epoch",
    "train_loss",
    "val_srocc",
    "val_plcc",
    "score_std",
];

/// Header of `robustness.csv`, one row per (model, attack, eps).
pub const ROBUSTNESS_HEADER: [&str; 12] = [
    "model",
    "attack",
    "eps_255",
    "images",
    "srocc_clean",
    "srocc_attacked",
    "plcc_attacked",
    "mean_abs_change",
    "change_in_std",
    "crossed_midpoint",
    "reflection_distance",
    "strongest",
];

/// `(file name, contents)` of the CSV files: summary, predictions, curves, and
/// robustness when the run attacked its models.
pub(super) fn all_tables(r: &Report) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let mut t = base_tables(r)?;
    if !r.robustness.is_empty() {
        let rows = r.robustness.iter().map(robustness_record).collect();
        t.push((
            "robustness.csv",
            to_csv("robustness.csv", &ROBUSTNESS_HEADER, rows)?,
        ));
    }
    Ok(t)
}

fn robustness_record(x: &RobustnessRow) -> Vec<String> {
    vec![
        x.model.clone(),
        x.attack.clone(),
        num(x.eps_255),
        x.images.to_string(),
        num(x.srocc_clean),
        num(x.srocc_attacked),
        num(x.plcc_attacked),
        num(x.mean_abs_change),
        num(x.change_in_std),
        num(x.crossed_midpoint),
        num(x.reflection_distance),
        x.strongest.clone().unwrap_or_default(),
    ]
}

fn base_tables(r: &Report) -> Result<Vec<(&'static str, Vec<u8>)>> {
    Ok(vec![
        (
            "summary.csv",
            to_csv("summary.csv", &SUMMARY_HEADER, summary_records(r))?,
        ),
        (
            "predictions.csv",
            to_csv("predictions.csv", &PREDICTIONS_HEADER, prediction_records(r))?,
        ),
        (
            "curves.csv",
            to_csv("curves.csv", &CURVES_HEADER, curve_records(r))?,
        ),
    ])
}

fn summary_records(r: &Report) -> Vec<Vec<String>> {
    r.models.iter().map(summary_record).collect()
}

fn summary_record(m: &ModelReport) -> Vec<String> {
    let t = &m.test;
    let (lo, hi) = (t.srocc_ci.map(|c| c.0), t.srocc_ci.map(|c| c.1));
    vec![
        m.name.clone(),
        m.preset.clone(),
        t.n.to_string(),
        num(t.srocc),
        opt(lo),
        opt(hi),
        num(t.krocc),
        num(t.plcc),
        num(t.plcc_logistic),
        num(t.rmse),
        num(t.rmse_logistic),
        num(m.score_std),
        num(m.train_seconds),
        num(m.images_per_second),
        m.params.to_string(),
        opt(m.gate.as_ref().map(|g| g.channels_on)),
    ]
}

fn prediction_records(r: &Report) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for m in &r.models {
        for p in &m.predictions {
            rows.push(vec![
                m.name.clone(),
                p.path.clone(),
                p.distortion.clone().unwrap_or_default(),
                p.level.map(|l| l.to_string()).unwrap_or_default(),
                num(p.mos),
                num(p.score),
            ]);
        }
    }
    rows
}

fn curve_records(r: &Report) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for m in &r.models {
        for c in &m.curve {
            rows.push(vec![
                m.name.clone(),
                c.step.to_string(),
                num(c.epoch),
                opt(c.train_loss),
                opt(c.val_srocc),
                opt(c.val_plcc),
                opt(c.score_std),
            ]);
        }
    }
    rows
}

fn to_csv(file: &str, header: &[&str], records: Vec<Vec<String>>) -> Result<Vec<u8>> {
    let fail = |e: &dyn std::fmt::Display| Error::Invalid(format!("{file}: cannot write the CSV: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(|e| fail(&e))?;
    for rec in records {
        w.write_record(&rec).map_err(|e| fail(&e))?;
    }
    w.into_inner().map_err(|e| fail(&e))
}

/// A number cell: NaN as `NaN`, infinities as `inf`/`-inf`, the rest round-trip exact.
fn num(x: f64) -> String {
    format!("{x}")
}

/// An optional number cell: empty where nothing was measured.
fn opt(x: Option<f64>) -> String {
    x.map(num).unwrap_or_default()
}
