//! Batch prediction: one quality score per image, shared by the trainer's
//! validation, `cprl eval` and `cprl score`.
//!
//! Each image is cut into the loader's deterministic evaluation grid (at most
//! `max_per_side` crops along each axis, [`crate::data::crop::grid_positions`]), every
//! crop is scored by the model in eval mode under `no_grad`, and the image's score is
//! the mean of its crops' scores (in crop order, summed in f64, so it does not
//! depend on how the images were batched).
//!
//! Why eval mode makes an image's score independent of its batch: in eval, batch
//! norm uses its running statistics (a fixed per-channel affine map) instead of the
//! batch's; SortMask ranks the positions of one sample's maps; the CPR gate
//! standardises and ranks each sample's own key. No operation mixes samples, so a
//! crop's score is a function of that crop alone, up to the rounding of kernels
//! whose work split depends on the batch size (well under 1e-5 in
//! `tests/infer.rs`). In training mode batch norm's statistics would make every
//! score depend on the rest of the batch.
//!
//! A missing, corrupt or oversized image is skipped by the loader: its score is NaN
//! and [`Predictions::skipped`] names it with the reason.

pub mod inputs;

use std::path::PathBuf;

use indicatif::ProgressBar;

use crate::autograd;
use crate::data::crop::SmallImages;
use crate::data::{Dataset, DecodeLimits, Loader, LoaderConfig, Mode, Sample, Scale};
use crate::error::{Error, Result};
use crate::nn::{Cprl, CprlConfig};

/// How images are cut and batched for prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictConfig {
    /// Side of the square crops (the model's training crop).
    pub crop: u32,
    /// Images per forward pass (each brings all its crops).
    pub batch: usize,
    /// Most crops along each axis of an image (0 = as many as cover it).
    pub max_per_side: u32,
    /// Background decoding threads.
    pub workers: usize,
    /// What to do with images smaller than the crop.
    pub small: SmallImages,
    pub limits: DecodeLimits,
}

impl PredictConfig {
    /// The model's crop, 16 images per batch, up to 3 x 3 crops per image, one
    /// decoding thread, the default small-image policy and decode limits.
    pub fn for_model(cfg: &CprlConfig) -> PredictConfig {
        PredictConfig {
            crop: cfg.crop as u32,
            batch: 16,
            max_per_side: 3,
            workers: 1,
            small: SmallImages::default(),
            limits: DecodeLimits::default(),
        }
    }

    /// The loader settings these crops and batches need.
    pub fn loader_config(&self) -> LoaderConfig {
        LoaderConfig {
            crop: self.crop,
            batch: self.batch,
            small: self.small,
            limits: self.limits,
            workers: self.workers,
            ..LoaderConfig::default()
        }
    }
}

/// What [`predict`] gives.
#[derive(Clone, Debug, Default)]
pub struct Predictions {
    /// One score in [0, 1] (higher = better) per given index, in the given order;
    /// NaN where the image was skipped.
    pub scores: Vec<f64>,
    /// Every skipped file (as the dataset root joins it) with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Scores the samples `indices` of `ds` with `model` (see the module header).
/// `progress`, when given, has its length set to the number of images and advances
/// as they are scored.
pub fn predict(
    model: &Cprl,
    ds: &Dataset,
    indices: &[usize],
    cfg: &PredictConfig,
    progress: Option<&ProgressBar>,
) -> Result<Predictions> {
    if cfg.crop == 0 || cfg.batch == 0 {
        return Err(Error::Invalid(format!(
            "predict: crop ({}) and batch ({}) must be positive",
            cfg.crop, cfg.batch
        )));
    }
    if let Some(&i) = indices.iter().find(|&&i| i >= ds.samples.len()) {
        return Err(Error::Invalid(format!(
            "predict: index {i} is out of range for dataset {} of {} images",
            ds.name,
            ds.samples.len()
        )));
    }
    let gpu = model.head.fc1.weight.gpu().clone();
    let loader = Loader::new(
        ds,
        indices,
        cfg.loader_config(),
        Mode::Eval {
            max_per_side: cfg.max_per_side,
        },
    );
    if let Some(p) = progress {
        p.set_length(indices.len() as u64);
    }
    let mut sums = vec![0.0f64; indices.len()];
    let mut counts = vec![0usize; indices.len()];
    let _g = autograd::no_grad();
    for batch in loader.epoch(0) {
        let scores = model
            .forward(&batch.to_device(&gpu)?.images, false)?
            .score
            .to_vec()?;
        for (&i, &s) in batch.samples.iter().zip(&scores) {
            sums[i] += f64::from(s);
            counts[i] += 1;
        }
        // Images come in order, so every one up to the batch's last is now scored
        // or skipped.
        if let (Some(p), Some(&last)) = (progress, batch.samples.last()) {
            p.set_position(last as u64 + 1);
        }
    }
    if let Some(p) = progress {
        p.set_position(indices.len() as u64);
    }
    let scores = sums
        .iter()
        .zip(&counts)
        .map(|(&s, &n)| if n == 0 { f64::NAN } else { s / n as f64 })
        .collect();
    Ok(Predictions {
        scores,
        skipped: loader.skipped(),
    })
}

/// [`predict`] on image files given by path (no labels): one score per path, in
/// order. Relative paths are taken from the current folder.
pub fn predict_files(
    model: &Cprl,
    paths: &[PathBuf],
    cfg: &PredictConfig,
    progress: Option<&ProgressBar>,
) -> Result<Predictions> {
    let ds = Dataset {
        name: "files".into(),
        root: PathBuf::new(),
        scale: Scale::UNIT,
        samples: paths.iter().map(|p| Sample::new(p.clone(), 0.0)).collect(),
    };
    let indices: Vec<usize> = (0..paths.len()).collect();
    predict(model, &ds, &indices, cfg, progress)
}
