//! Image quality data: labelled image lists, their readers, the built-in synthetic
//! set and the loader that turns images into device batches.
//!
//! Every reader produces a [`Dataset`]: a root folder, the dataset's raw [`Scale`]
//! and one [`Sample`] per image whose `label` is normalised to [0, 1], higher =
//! better, whatever the file's own range and direction.

use std::path::PathBuf;

pub mod check;
pub mod crop;
pub mod decode;
pub mod error;
pub mod formats;
pub mod loader;
pub mod rng;
pub mod split;
pub mod synth;

pub use decode::{DecodeLimits, decode_rgb};
pub use error::{DataError, DataResult};
pub use loader::{Batch, CpuBatch, Loader, LoaderConfig, Mode};
pub use rng::SplitMix64;

/// Which part of a dataset an image belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    /// The name used in label files and reports: `train`, `val`, `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }

    /// Parses `train`, `val`/`valid`/`validation`, `test` (any case).
    pub fn parse(s: &str) -> Option<Split> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" | "training" => Some(Split::Train),
            "val" | "valid" | "validation" => Some(Split::Val),
            "test" | "testing" => Some(Split::Test),
            _ => None,
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The range and direction of a dataset's raw scores (MOS or DMOS).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    /// Lowest raw score the dataset's protocol allows.
    pub lo: f64,
    /// Highest raw score the dataset's protocol allows.
    pub hi: f64,
    /// False for DMOS-style scores, where a higher number means a worse image.
    pub higher_is_better: bool,
}

impl Scale {
    /// The [0, 1] scale used everywhere inside cprl.
    pub const UNIT: Scale = Scale {
        lo: 0.0,
        hi: 1.0,
        higher_is_better: true,
    };

    /// A raw score mapped to [0, 1], higher = better (not clamped: a raw score
    /// outside `[lo, hi]` maps outside [0, 1], which readers report as an error).
    pub fn normalise(&self, raw: f64) -> f64 {
        let u = (raw - self.lo) / (self.hi - self.lo);
        if self.higher_is_better { u } else { 1.0 - u }
    }

    /// A [0, 1] score mapped back to the dataset's raw scale and direction.
    pub fn denormalise(&self, unit: f64) -> f64 {
        let u = if self.higher_is_better { unit } else { 1.0 - unit };
        self.lo + u * (self.hi - self.lo)
    }
}

/// One labelled image.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Path relative to the dataset root, as the label file names it.
    pub path: PathBuf,
    /// Quality in [0, 1], higher = better (the raw score through the dataset's scale).
    pub label: f64,
    /// The score as the label file gives it.
    pub raw: f64,
    /// Standard deviation of the raw score, when the file gives one.
    pub std: Option<f64>,
    /// Name of the pristine reference image, for sets built from references
    /// (splits keep every image of one reference in one part).
    pub reference: Option<String>,
    /// Distortion type, when known (synthetic set, KADID-10k, TID2013 ...).
    pub distortion: Option<String>,
    /// Distortion level, 1 = mildest, when known.
    pub level: Option<u32>,
    /// The part this image belongs to, when the file or a split file says so.
    pub split: Option<Split>,
}

impl Sample {
    /// A sample with only a path and its label on the unit scale.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>, label: f64) -> Sample {
        Sample {
            path: path.into(),
            label,
            raw: label,
            std: None,
            reference: None,
            distortion: None,
            level: None,
            split: None,
        }
    }
}

/// A labelled image collection.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Format or dataset name (`koniq10k`, `synthetic`, `meta` ...).
    pub name: String,
    /// Folder the sample paths are relative to.
    pub root: PathBuf,
    /// Range and direction of the raw scores.
    pub scale: Scale,
    pub samples: Vec<Sample>,
}

impl Dataset {
    /// The samples of one split.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(move |s| s.split == Some(split))
    }

    /// Absolute (root-joined) path of a sample.
    pub fn path_of(&self, s: &Sample) -> PathBuf {
        self.root.join(&s.path)
    }
}
