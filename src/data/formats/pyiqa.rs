//! pyiqa (IQA-PyTorch) meta-info CSVs.
//!
//! Sources, all in chaofengc/IQA-PyTorch: the columns are those the
//! `scripts/process_*.py` scripts write and the meta files hold
//! (`pyiqa/data/meta_info/meta_info_*Dataset.csv`, last kept in the repository at
//! commit f5bbd49^); ranges and directions are `mos_range` and `lower_better` of
//! `pyiqa/default_dataset_configs.yml` (commit 01ae427), with which pyiqa's
//! `mos_normalize` maps scores to [0, 1] higher = better exactly as
//! [`crate::data::Scale::normalise`] does. "Observed" is the range of the scores in
//! those meta files.
//!
//! | format | columns | pyiqa range | observed |
//! |---|---|---|---|
//! | `pyiqa-live` | `ref_name,dist_name,mos` (the `mos` is LIVE's realigned DMOS from `dmos.mat`, reference images left out) | [1, 100], lower = better | 17.9 – 84.5, 779 rows |
//! | `pyiqa-csiq` | `ref_name,dist_name,dmos` | [0, 1], lower = better | 0 – 1, 866 rows |
//! | `pyiqa-tid2013` | `ref_name,dist_name,mos,std` | [0, 9], higher = better | 0.24 – 7.21, 3000 rows |
//! | `pyiqa-kadid10k` | `ref_name,dist_name,dmos,std` (KADID's "dmos" is a MOS: higher = better) | [1, 5], higher = better | 1 – 4.93, 10125 rows |
//! | `pyiqa-koniq10k` | `img_name,mos,std,split,c1..c5,c_total` | [1, 100], higher = better | 3.91 – 88.4, 10073 rows |
//! | `pyiqa-livec` | `img_name,mos,std` | [1, 100], higher = better | 3.42 – 92.4, 1169 rows |
//! | `pyiqa-spaq` | `Image name,MOS,...` (SPAQ's xlsx header kept) | [1, 100], higher = better | 2 – 96, 11125 rows |
//!
//! Per-format details:
//! - FR sets (LIVE, CSIQ, TID2013, KADID-10k): `reference` = `ref_name`, the path
//!   is `dist_name`; distortion type and level come from the names where the
//!   naming is certain (see `names.rs`): LIVE's folder (no level), CSIQ
//!   `1600.AWGN.1.png`, TID2013 `i01_02_3.bmp`, KADID-10k `I01_02_03.png`.
//! - KADID-10k: the `std` column is KADID's `var` column renamed
//!   (`scripts/process_kadid10k.py` copies `dmos.csv`'s 4th column, headed `var`),
//!   so its square root is kept as `std`.
//! - KonIQ-10k: `split` holds pyiqa's codes 0 = train, 1 = val, 2 = test
//!   (`scripts/process_koniq10k.py`, from the official `koniq10k_distributions_sets.csv`);
//!   newer files name the column `official_split`. Its `std` is the SD of the
//!   1–5 ratings (the official file's `SD`), not of the 1–100 `mos`, so it is not
//!   kept: `std` is `None`.
//! - LIVE Challenge: the first rows t1.bmp – t7.bmp are the study's training images
//!   and are dropped, as pyiqa's `LIVEChallengeDataset` drops its first 7 rows;
//!   split-file indices then count from the row after them, as in pyiqa.
//!
//! LIVE Challenge and SPAQ are sometimes described as 0–100; pyiqa's [1, 100] is
//! used so that labels equal pyiqa's (every score in pyiqa's files lies inside it).
//! Pass `--scale 0,100` for the other reading.

use crate::data::Sample;
use crate::data::error::DataResult;

use super::names;
use super::table::Table;
use super::{Columns, Ctx, samples, split_column};

/// Reads a pyiqa FR file `ref_name,dist_name,<score>[,std]`.
fn read_fr(ctx: &Ctx, score: &str, variance: bool) -> DataResult<Vec<Sample>> {
    let t = Table::read_csv(ctx.labels)?;
    let cols = Columns {
        name: t.column(&["dist_name"])?,
        score: t.column(&[score])?,
        std: t.find(&["std"]),
        variance,
        reference: Some(t.column(&["ref_name"])?),
        split: split_column(&t, ctx)?,
        ..Columns::default()
    };
    samples(&t, &cols, &ctx.scale)
}

/// Reads a pyiqa NR file `<name>,<score>[,std]`.
fn read_nr(ctx: &Ctx, name: &str, score: &str, keep_std: bool) -> DataResult<Vec<Sample>> {
    let t = Table::read_csv(ctx.labels)?;
    let cols = Columns {
        name: t.column(&[name])?,
        score: t.column(&[score])?,
        std: if keep_std { t.find(&["std"]) } else { None },
        split: split_column(&t, ctx)?,
        ..Columns::default()
    };
    samples(&t, &cols, &ctx.scale)
}

pub(crate) fn read_live(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    let mut s = read_fr(ctx, "mos", false)?;
    for sample in &mut s {
        sample.distortion = names::live_folder(&sample.path.to_string_lossy());
    }
    Ok(s)
}

pub(crate) fn read_csiq(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    let mut s = read_fr(ctx, "dmos", false)?;
    names::annotate(&mut s, names::csiq);
    Ok(s)
}

pub(crate) fn read_tid2013(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    let mut s = read_fr(ctx, "mos", false)?;
    names::annotate(&mut s, names::ref_type_level);
    Ok(s)
}

pub(crate) fn read_kadid10k(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    let mut s = read_fr(ctx, "dmos", true)?;
    names::annotate(&mut s, names::ref_type_level);
    Ok(s)
}

pub(crate) fn read_koniq10k(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    read_nr(ctx, "img_name", "mos", false)
}

pub(crate) fn read_livec(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    let mut s = read_nr(ctx, "img_name", "mos", true)?;
    let training = s.iter().take(7).take_while(|x| is_livec_training(x)).count();
    s.drain(..training);
    Ok(s)
}

pub(crate) fn read_spaq(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    read_nr(ctx, "Image name", "MOS", false)
}

/// LIVE Challenge's seven training images are named t1.bmp ... t7.bmp.
fn is_livec_training(s: &Sample) -> bool {
    let name = s.path.to_string_lossy();
    let stem = name.split('.').next().unwrap_or_default();
    matches!(
        stem.strip_prefix('t').and_then(|n| n.parse::<u32>().ok()),
        Some(1..=7)
    )
}
