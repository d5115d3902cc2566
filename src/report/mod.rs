//! The report `cprl demo` writes after training a baseline and CPRL and evaluating
//! both on a test split. Pure host code: it reads numbers, it never touches the GPU.
//!
//! [`write_report`] fills one folder with:
//! - `report.json`: the whole [`Report`] (NaN becomes `null`);
//! - `summary.csv`, `predictions.csv`, `curves.csv`: the same numbers as flat tables
//!   ([`tables`]);
//! - `curves.png`, `scatter_<model>.png`, `per_distortion.png`: plots drawn with
//!   plotters and an embedded DejaVu Sans, so no system font is needed ([`plots`]);
//! - `report.html`: one self-contained page with the plots as data URIs ([`html`]).
//!
//! [`summary_table`] prints the side-by-side table for the terminal, and
//! [`per_distortion_srocc`] the SROCC within each distortion type.

mod distortion;
mod files;
pub mod html;
pub mod plots;
pub mod robustness;
mod summary;
pub mod tables;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::metrics::correlation::Correlations;

pub use distortion::per_distortion_srocc;
pub use summary::{format_value, summary_rows, summary_table};

/// One point of a training curve. Training steps log a loss, validation passes log
/// the correlations; whatever a step did not measure is `None`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CurvePoint {
    pub step: u64,
    pub epoch: f64,
    pub train_loss: Option<f64>,
    pub val_srocc: Option<f64>,
    pub val_plcc: Option<f64>,
    /// Standard deviation of the validation scores: a falling value warns of collapse.
    pub score_std: Option<f64>,
}

/// The gate's health as training measured it (see `train::GateHealth`).
pub use crate::train::GateHealth;

/// One test image: its label and what a model predicted for it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Prediction {
    pub path: String,
    /// The pseudo-MOS label, in [0, 1].
    pub mos: f64,
    pub score: f64,
    /// Distortion type, `None` for a pristine image or an unlabelled set.
    pub distortion: Option<String>,
    pub level: Option<u32>,
}

/// Everything the report says about one trained model. Serialize only, because
/// [`Correlations`] is.
#[derive(Clone, Debug, Serialize)]
pub struct ModelReport {
    /// "baseline" or "cprl"; also names the scatter plot file, so keep it short.
    pub name: String,
    pub preset: String,
    pub test: Correlations,
    pub predictions: Vec<Prediction>,
    pub curve: Vec<CurvePoint>,
    pub train_seconds: f64,
    pub images_per_second: f64,
    pub params: usize,
    pub gate: Option<GateHealth>,
    /// Standard deviation of the test scores.
    pub score_std: f64,
}

/// One model under one attack at one budget, on the images the robustness pass
/// attacked (clean figures on the same images and crops, so the two compare).
#[derive(Clone, Debug, Serialize)]
pub struct RobustnessRow {
    pub model: String,
    /// The attack's name; `<name> worst` for the worst case per image over the
    /// adaptive attacks' surrogates (a defence cannot pass by masking gradients).
    pub attack: String,
    /// The L_inf budget in units of 1/255.
    pub eps_255: f64,
    pub images: usize,
    pub srocc_clean: f64,
    pub srocc_attacked: f64,
    pub plcc_attacked: f64,
    /// Mean |s' - s|, and the same in units of the clean scores' std.
    pub mean_abs_change: f64,
    pub change_in_std: f64,
    /// Share of images whose score crossed 0.5.
    pub crossed_midpoint: f64,
    /// Mean |s' - (1 - s)|: what a reflection attack left to go.
    pub reflection_distance: f64,
    /// For a worst case: the surrogate that gave it most often.
    pub strongest: Option<String>,
}

/// One run of `cprl demo`: the facts of the run and one [`ModelReport`] per model.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub title: String,
    /// When the run ended, as the caller formats it.
    pub created: String,
    pub adapter: String,
    pub cpu: String,
    pub dataset: String,
    /// The command line that produced the run.
    pub command: String,
    pub models: Vec<ModelReport>,
    /// The robustness pass (empty when none ran), and what it did.
    pub robustness: Vec<RobustnessRow>,
    pub robustness_setup: Option<String>,
    pub notes: Vec<String>,
    pub total_seconds: f64,
}

/// What [`write_report`] wrote: the folder and every file in it, in writing order.
#[derive(Clone, Debug)]
pub struct ReportFiles {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
}

/// Writes the report into `dir` (created if missing) and returns the files written.
///
/// The data files come first (JSON, then the CSVs), then the plots, then the HTML,
/// so that if drawing fails the numbers of a long run are already on disk. Each file
/// is written to a temporary name and renamed, so no reader sees half a file. Empty
/// or NaN data gives plots that say so rather than an error.
pub fn write_report(dir: &Path, r: &Report) -> Result<ReportFiles> {
    files::create_dir(dir)?;
    let mut out = ReportFiles {
        dir: dir.to_path_buf(),
        files: Vec::new(),
    };
    let json = serde_json::to_vec_pretty(r)
        .map_err(|e| crate::Error::Invalid(format!("report.json: cannot serialize the report: {e}")))?;
    out.files.push(files::write_atomic(dir, "report.json", &json)?);
    for (name, bytes) in tables::all_tables(r)? {
        out.files.push(files::write_atomic(dir, name, &bytes)?);
    }
    let pngs = plots::all_plots(r)?;
    for (name, bytes) in &pngs {
        out.files.push(files::write_atomic(dir, name, bytes)?);
    }
    let page = html::report_html(r, &pngs);
    out.files
        .push(files::write_atomic(dir, "report.html", page.as_bytes())?);
    Ok(out)
}
