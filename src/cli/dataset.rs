//! The options that name a labelled dataset (`--format`, `--labels`, `--root`,
//! `--scale` ...), shared by `cprl data check` and `cprl eval`, and the code that
//! opens it, so every command reads a dataset the same way.

use std::path::PathBuf;

use anyhow::Result;
use cprl::data::Dataset;
use cprl::data::formats::{self, ReadOptions};

#[derive(clap::Args, Debug, Clone)]
pub struct DatasetArgs {
    /// Format of the label file (`cprl data check --format list` shows the known ones).
    #[arg(long)]
    pub format: String,
    /// The label file.
    #[arg(long)]
    pub labels: PathBuf,
    /// Folder the image paths are relative to (default: the label file's folder).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Raw score range `lo,hi` (replaces the format's; needed by `meta` unless its
    /// scores are already in [0, 1]).
    #[arg(long)]
    pub scale: Option<String>,
    /// With --scale: lower scores are better (DMOS).
    #[arg(long)]
    pub lower_better: bool,
    /// Column holding each row's split (default: official_split, else split).
    #[arg(long)]
    pub split_column: Option<String>,
    /// pyiqa split pickle ({index: {'train': [...], 'val': [...], 'test': [...]}}).
    #[arg(long)]
    pub split_file: Option<PathBuf>,
    /// Which split of the pickle.
    #[arg(long, default_value_t = 1)]
    pub split_index: i64,
}

impl DatasetArgs {
    /// Reads the dataset and assigns its splits; `split_seed` seeds the ratio split
    /// used when the file gives none.
    pub fn open(&self, split_seed: u64) -> Result<Dataset> {
        let root = match &self.root {
            Some(r) => r.clone(),
            None if self.labels.is_dir() => self.labels.clone(),
            None => self.labels.parent().map(|p| p.to_path_buf()).unwrap_or_default(),
        };
        let mut opts = ReadOptions::default();
        if let Some(r) = &self.scale {
            opts.scale = Some(formats::parse_scale(r, self.lower_better)?);
        }
        opts.split_column = self.split_column.clone();
        opts.split.file = self.split_file.clone();
        opts.split.index = self.split_index;
        opts.split.seed = split_seed;
        Ok(formats::read_dataset(&self.format, &self.labels, &root, &opts)?)
    }
}
