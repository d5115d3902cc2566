//! Dataset label readers, chosen by name from one registry.
//!
//! [`read_dataset`] reads a label file in a named format into a [`Dataset`] whose
//! samples carry `label` in [0, 1], higher = better (the raw score through the
//! format's [`Scale`]), `raw` as written, and `std`, `reference`, `distortion`,
//! `level` and `split` where the format has them; then it assigns the splits
//! ([`crate::data::split::apply`]).
//!
//! | format | file | columns | raw scale |
//! |---|---|---|---|
//! | `meta` | any CSV | `name`, `mos` [, `std`, `split`, `ref_name`, `distortion`, `level`] | `--scale`, default [0, 1] higher = better |
//! | `pyiqa-live` | `meta_info_LIVEIQADataset.csv` | `ref_name,dist_name,mos` | DMOS [1, 100], lower = better |
//! | `pyiqa-csiq` | `meta_info_CSIQDataset.csv` | `ref_name,dist_name,dmos` | DMOS [0, 1], lower = better |
//! | `pyiqa-tid2013` | `meta_info_TID2013Dataset.csv` | `ref_name,dist_name,mos,std` | MOS [0, 9], higher = better |
//! | `pyiqa-kadid10k` | `meta_info_KADID10kDataset.csv` | `ref_name,dist_name,dmos,std` | [1, 5], higher = better |
//! | `pyiqa-koniq10k` | `meta_info_KonIQ10kDataset.csv` | `img_name,mos,std,split,...` | MOS [1, 100], higher = better |
//! | `pyiqa-livec` | `meta_info_LIVEChallengeDataset.csv` | `img_name,mos,std` | MOS [1, 100], higher = better |
//! | `pyiqa-spaq` | `meta_info_SPAQDataset.csv` | `Image name,MOS,...` | MOS [1, 100], higher = better |
//! | `kadid10k` | `dmos.csv` | `dist_img,ref_img,dmos,var` | [1, 5], higher = better |
//! | `tid2013` | `mos_with_names.txt` (+ `mos_std.txt`) | `mos name` per line | MOS [0, 9], higher = better |
//! | `koniq10k` | `koniq10k_scores_and_distributions.csv` | `image_name,...,MOS,SD,MOS_zscore` | MOS [1, 5], higher = better |
//! | `koniq10k-sets` | `koniq10k_distributions_sets.csv` | `image_name,...,MOS,SD,set` | MOS [1, 100], higher = better |
//! | `spaq` | `MOS and Image attribute scores.xlsx` | `Image name,MOS,...` | MOS [1, 100], higher = better |
//!
//! The pyiqa ranges and directions are pyiqa's own (`pyiqa/default_dataset_configs.yml`,
//! `mos_range` and `lower_better`, IQA-PyTorch commit 01ae427); each format's module
//! says where its columns come from. `labels` may also name the folder that holds
//! the format's usual file name (the second column). A range given in
//! [`ReadOptions::scale`] replaces the format's.
//!
//! LIVE Challenge's own `AllImages_release.mat` / `AllMOS_release.mat` are not
//! read (see [`MAT_ADVICE`]): convert them once to pyiqa's CSV and use `pyiqa-livec`.

use std::path::{Path, PathBuf};

use crate::data::error::DataResult;
use crate::data::split::{self, SplitOptions};
use crate::data::{DataError, Dataset, Sample, Scale};

pub mod meta;
mod names;
pub mod native;
pub mod pyiqa;
mod table;

/// Why `.mat` label files are refused, and what to do instead.
pub const MAT_ADVICE: &str = "MATLAB .mat files are not read: the matfile crate (0.5) reads numeric \
    arrays only, and LIVE Challenge's AllImages_release.mat is a cell array of strings. Convert the \
    three files once to pyiqa's meta_info_LIVEChallengeDataset.csv (img_name,mos,std; pyiqa's \
    scripts/process_livechallenge.py does it with scipy.io.loadmat) and use format `pyiqa-livec`";

/// How to read a label file.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Replaces the format's raw scale (`--scale lo,hi`, with `--lower-better` for
    /// DMOS-style scores; see [`parse_scale`]). Needed by `meta` unless its scores
    /// already lie in [0, 1], higher = better.
    pub scale: Option<Scale>,
    /// Column that holds each row's split (`--split-column`, e.g. pyiqa's
    /// `ratio802_seed123_split_01`); by default `official_split`, else `split`.
    pub split_column: Option<String>,
    /// How splits are assigned after reading.
    pub split: SplitOptions,
}

/// What a reader gets: where the labels are and how to scale them.
pub(crate) struct Ctx<'a> {
    pub labels: &'a Path,
    pub root: &'a Path,
    pub scale: Scale,
    pub split_column: Option<&'a str>,
}

type Reader = fn(&Ctx) -> DataResult<Vec<Sample>>;

/// One named label format.
pub struct Format {
    /// Name given to `--format`.
    pub name: &'static str,
    /// The file it reads, in a few words.
    pub about: &'static str,
    /// File name looked for when `labels` is a folder.
    pub default_file: &'static str,
    /// Raw range and direction of its scores.
    pub scale: Scale,
    read: Reader,
}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Format")
            .field("name", &self.name)
            .field("scale", &self.scale)
            .finish_non_exhaustive()
    }
}

const fn scale(lo: f64, hi: f64, higher_is_better: bool) -> Scale {
    Scale {
        lo,
        hi,
        higher_is_better,
    }
}

static FORMATS: &[Format] = &[
    Format {
        name: "synthetic",
        about: "labels.csv of cprl's built-in set (`cprl data synth`): pseudo-MOS in [0,1], splits by photo",
        default_file: "labels.csv",
        scale: Scale::UNIT,
        read: read_synthetic,
    },
    Format {
        name: "meta",
        about: "generic CSV: name,mos[,std][,split] (pyiqa's generic columns accepted)",
        default_file: "meta.csv",
        scale: Scale::UNIT,
        read: meta::read,
    },
    Format {
        name: "pyiqa-live",
        about: "pyiqa meta_info_LIVEIQADataset.csv (LIVE release 2 DMOS)",
        default_file: "meta_info_LIVEIQADataset.csv",
        scale: scale(1.0, 100.0, false),
        read: pyiqa::read_live,
    },
    Format {
        name: "pyiqa-csiq",
        about: "pyiqa meta_info_CSIQDataset.csv (CSIQ DMOS)",
        default_file: "meta_info_CSIQDataset.csv",
        scale: scale(0.0, 1.0, false),
        read: pyiqa::read_csiq,
    },
    Format {
        name: "pyiqa-tid2013",
        about: "pyiqa meta_info_TID2013Dataset.csv",
        default_file: "meta_info_TID2013Dataset.csv",
        scale: scale(0.0, 9.0, true),
        read: pyiqa::read_tid2013,
    },
    Format {
        name: "pyiqa-kadid10k",
        about: "pyiqa meta_info_KADID10kDataset.csv",
        default_file: "meta_info_KADID10kDataset.csv",
        scale: scale(1.0, 5.0, true),
        read: pyiqa::read_kadid10k,
    },
    Format {
        name: "pyiqa-koniq10k",
        about: "pyiqa meta_info_KonIQ10kDataset.csv (with the official split)",
        default_file: "meta_info_KonIQ10kDataset.csv",
        scale: scale(1.0, 100.0, true),
        read: pyiqa::read_koniq10k,
    },
    Format {
        name: "pyiqa-livec",
        about: "pyiqa meta_info_LIVEChallengeDataset.csv (t1-t7 dropped, as pyiqa does)",
        default_file: "meta_info_LIVEChallengeDataset.csv",
        scale: scale(1.0, 100.0, true),
        read: pyiqa::read_livec,
    },
    Format {
        name: "pyiqa-spaq",
        about: "pyiqa meta_info_SPAQDataset.csv",
        default_file: "meta_info_SPAQDataset.csv",
        scale: scale(1.0, 100.0, true),
        read: pyiqa::read_spaq,
    },
    Format {
        name: "kadid10k",
        about: "KADID-10k's own dmos.csv",
        default_file: "dmos.csv",
        scale: scale(1.0, 5.0, true),
        read: native::read_kadid10k,
    },
    Format {
        name: "tid2013",
        about: "TID2013's own mos_with_names.txt (+ mos_std.txt beside it)",
        default_file: "mos_with_names.txt",
        scale: scale(0.0, 9.0, true),
        read: native::read_tid2013,
    },
    Format {
        name: "koniq10k",
        about: "KonIQ-10k's own koniq10k_scores_and_distributions.csv (MOS 1-5)",
        default_file: "koniq10k_scores_and_distributions.csv",
        scale: scale(1.0, 5.0, true),
        read: native::read_koniq10k,
    },
    Format {
        name: "koniq10k-sets",
        about: "KonIQ-10k koniq10k_distributions_sets.csv (MOS 1-100, official split)",
        default_file: "koniq10k_distributions_sets.csv",
        scale: scale(1.0, 100.0, true),
        read: native::read_koniq10k_sets,
    },
    Format {
        name: "spaq",
        about: "SPAQ's own `MOS and Image attribute scores.xlsx`",
        default_file: "MOS and Image attribute scores.xlsx",
        scale: scale(1.0, 100.0, true),
        read: native::read_spaq,
    },
];

/// The built-in set's own reader (its labels are already on the unit scale).
fn read_synthetic(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    Ok(crate::data::synth::read(ctx.labels)?.samples)
}

/// Every known format, in the order `--help` lists them.
pub fn formats() -> &'static [Format] {
    FORMATS
}

/// The format called `name` (any case), or [`DataError::UnknownFormat`] listing
/// the known names.
pub fn format(name: &str) -> DataResult<&'static Format> {
    FORMATS
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| DataError::UnknownFormat {
            name: name.to_string(),
            known: FORMATS.iter().map(|f| f.name.to_string()).collect(),
        })
}

/// Reads `labels` in `format` (images under `root`) and assigns splits as
/// `opts.split` says: a split file first, else the file's own split column, else a
/// seeded ratio split (see [`crate::data::split::apply`]).
///
/// Image files are not opened: a missing one is no error here
/// ([`crate::data::check::check`] counts them).
pub fn read_dataset(format: &str, labels: &Path, root: &Path, opts: &ReadOptions) -> DataResult<Dataset> {
    let mut ds = read_labels(format, labels, root, opts)?;
    split::apply(&mut ds, &opts.split)?;
    Ok(ds)
}

/// Like [`read_dataset`] without the split step: samples keep only the split the
/// label file itself gives.
pub fn read_labels(format_name: &str, labels: &Path, root: &Path, opts: &ReadOptions) -> DataResult<Dataset> {
    let format = format(format_name)?;
    let labels = resolve(labels, format.default_file);
    let scale = opts.scale.unwrap_or(format.scale);
    check_scale(&scale)?;
    let ctx = Ctx {
        labels: &labels,
        root,
        scale,
        split_column: opts.split_column.as_deref(),
    };
    let samples = (format.read)(&ctx)?;
    if samples.is_empty() {
        return Err(DataError::Empty {
            file: labels,
            why: "no labelled image".into(),
        });
    }
    Ok(Dataset {
        name: format.name.to_string(),
        root: root.to_path_buf(),
        scale,
        samples,
    })
}

/// `labels`, or the format's usual file inside it when `labels` is a folder.
fn resolve(labels: &Path, default_file: &str) -> PathBuf {
    if labels.is_dir() {
        labels.join(default_file)
    } else {
        labels.to_path_buf()
    }
}

fn check_scale(s: &Scale) -> DataResult<()> {
    if s.lo.is_finite() && s.hi.is_finite() && s.lo < s.hi {
        Ok(())
    } else {
        Err(DataError::Invalid(format!(
            "scale [{}, {}]: need finite lo < hi",
            s.lo, s.hi
        )))
    }
}

/// A scale from `--scale lo,hi` and `--lower-better`.
///
/// ```
/// let s = cprl::data::formats::parse_scale("1,100", true).unwrap();
/// assert_eq!((s.lo, s.hi, s.higher_is_better), (1.0, 100.0, false));
/// ```
pub fn parse_scale(range: &str, lower_better: bool) -> DataResult<Scale> {
    let bad = || {
        DataError::Invalid(format!(
            "--scale `{range}`: expected two numbers lo,hi with lo < hi"
        ))
    };
    let (lo, hi) = range.split_once(',').ok_or_else(bad)?;
    let lo: f64 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f64 = hi.trim().parse().map_err(|_| bad())?;
    let s = scale(lo, hi, !lower_better);
    check_scale(&s).map_err(|_| bad())?;
    Ok(s)
}

/// Column names that hold a row's split, unless the options name one.
const SPLIT_COLUMNS: [&str; 2] = ["official_split", "split"];

/// The split column of `table`: the one the options name (which must exist), else
/// the first of [`SPLIT_COLUMNS`] present.
pub(crate) fn split_column(table: &table::Table, ctx: &Ctx) -> DataResult<Option<usize>> {
    match ctx.split_column {
        Some(name) => table.column(&[name]).map(Some),
        None => Ok(table.find(&SPLIT_COLUMNS)),
    }
}

/// Where each field of a sample comes from in a table.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Columns {
    pub name: usize,
    pub score: usize,
    pub std: Option<usize>,
    /// The `std` column holds a variance (its square root is kept).
    pub variance: bool,
    pub reference: Option<usize>,
    pub split: Option<usize>,
    pub distortion: Option<usize>,
    pub level: Option<usize>,
}

/// One sample per table row, scores checked against and normalised by `scale`.
pub(crate) fn samples(t: &table::Table, c: &Columns, scale: &Scale) -> DataResult<Vec<Sample>> {
    t.rows.iter().map(|row| sample(t, row, c, scale)).collect()
}

fn sample(t: &table::Table, row: &table::Row, c: &Columns, scale: &Scale) -> DataResult<Sample> {
    let raw = t.score(row, c.score, scale)?;
    let text = |col: Option<usize>| col.map(|i| row.fields[i].clone()).filter(|s| !s.is_empty());
    Ok(Sample {
        path: PathBuf::from(t.text(row, c.name)?),
        label: scale.normalise(raw),
        raw,
        std: t.spread(row, c.std, c.variance)?,
        reference: text(c.reference),
        distortion: text(c.distortion),
        level: t.level(row, c.level)?,
        split: t.split(row, c.split)?,
    })
}
