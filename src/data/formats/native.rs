//! The label files datasets ship themselves.
//!
//! - `kadid10k`: KADID-10k's `dmos.csv`, header `dist_img,ref_img,dmos,var`
//!   (the header pyiqa's `scripts/process_kadid10k.py` reads and renames). `dmos`
//!   is, despite its name, a mean opinion score on the 1–5 ACR scale with higher =
//!   better (pyiqa: `mos_range: [1, 5]`, `lower_better: false`); `var` is its
//!   variance, kept as `std = sqrt(var)`. Names `I01_02_03.png` give reference
//!   `ref_img`, distortion `02`, level 3.
//! - `tid2013`: TID2013's `mos_with_names.txt`, one `mos name` pair per line
//!   separated by spaces, no header (pyiqa's `scripts/process_tid.py` reads it so);
//!   MOS in [0, 9], higher = better (pyiqa's range). If `mos_std.txt` lies beside it,
//!   its lines are the MOS standard deviations in the same order (as pyiqa pairs
//!   them). Names `i01_02_3.bmp` give reference `I01.BMP` (`i25.bmp` for image 25,
//!   pyiqa's spelling), distortion `02`, level 3. Some distorted images are stored
//!   with a capital `I` while the list spells `i`: when only the capitalised file
//!   exists under the root, that spelling is kept (pyiqa does the same).
//! - `koniq10k`: KonIQ-10k's `koniq10k_scores_and_distributions.csv`, header
//!   `image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,MOS_zscore`; `MOS` and `SD` are on
//!   the 1–5 ACR scale of the study, higher = better (pyiqa's `koniq10k++` config
//!   gives [1, 5] for this scale). `MOS_zscore` (a 1–100 rescaling) is ignored; use
//!   `koniq10k-sets` or `pyiqa-koniq10k` for the 1–100 scores and the split.
//! - `koniq10k-sets`: `koniq10k_distributions_sets.csv` from the KonIQ authors'
//!   repository (subpic/koniq, `metadata/`), header
//!   `image_name,c1,...,c5,c_total,MOS,SD,set`: `MOS` on [1, 100] (pyiqa builds its
//!   KonIQ meta file from this column and gives it `mos_range: [1, 100]`), `set` =
//!   `training`/`validation`/`test`, the official split. `SD` is of the 1–5
//!   ratings, so it is not kept as `std`.
//! - `spaq`: SPAQ's `Annotations/MOS and Image attribute scores.xlsx`, first sheet,
//!   header row `Image name,MOS,Brightness,...` (the header pyiqa's
//!   `scripts/process_spaq.py` copies into its meta file); MOS on [1, 100], higher =
//!   better (pyiqa's range; scores observed 2 – 96). Read with calamine.

use std::path::{Path, PathBuf};

use crate::data::error::DataResult;
use crate::data::{DataError, Sample};

use super::names;
use super::table::Table;
use super::{Columns, Ctx, samples};

pub(crate) fn read_kadid10k(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    let t = Table::read_csv(ctx.labels)?;
    let cols = Columns {
        name: t.column(&["dist_img"])?,
        score: t.column(&["dmos"])?,
        std: t.find(&["var"]),
        variance: true,
        reference: Some(t.column(&["ref_img"])?),
        ..Columns::default()
    };
    let mut s = samples(&t, &cols, &ctx.scale)?;
    names::annotate(&mut s, names::ref_type_level);
    Ok(s)
}

pub(crate) fn read_tid2013(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    let t = Table::read_whitespace(ctx.labels, &["mos", "name"])?;
    let cols = Columns {
        name: 1,
        score: 0,
        ..Columns::default()
    };
    let mut s = samples(&t, &cols, &ctx.scale)?;
    for sample in &mut s {
        tid_annotate(sample, ctx.root);
    }
    let std_file = ctx.labels.with_file_name("mos_std.txt");
    if std_file.is_file() {
        attach_std(&mut s, &std_file, ctx.labels)?;
    }
    Ok(s)
}

/// Reference, distortion and level from a TID2013 name, and the on-disk spelling.
fn tid_annotate(s: &mut Sample, root: &Path) {
    let name = s.path.to_string_lossy().into_owned();
    if let Some(p) = names::ref_type_level(&name) {
        s.reference = Some(names::tid_reference(&p));
        s.distortion = Some(p.distortion);
        s.level = p.level;
    }
    if let Some(rest) = name.strip_prefix('i') {
        let capital = PathBuf::from(format!("I{rest}"));
        if !root.join(&s.path).exists() && root.join(&capital).exists() {
            s.path = capital;
        }
    }
}

/// Standard deviations from `mos_std.txt`, one per line in the MOS file's order.
fn attach_std(s: &mut [Sample], std_file: &Path, mos_file: &Path) -> DataResult<()> {
    let t = Table::read_whitespace(std_file, &["std"])?;
    if t.rows.len() != s.len() {
        return Err(DataError::Malformed {
            file: std_file.into(),
            line: None,
            why: format!(
                "{} values, but {} has {} rows",
                t.rows.len(),
                mos_file.display(),
                s.len()
            ),
        });
    }
    for (sample, row) in s.iter_mut().zip(&t.rows) {
        sample.std = t.spread(row, Some(0), false)?;
    }
    Ok(())
}

pub(crate) fn read_koniq10k(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    let t = Table::read_csv(ctx.labels)?;
    let cols = Columns {
        name: t.column(&["image_name"])?,
        score: t.column(&["MOS"])?,
        std: t.find(&["SD"]),
        ..Columns::default()
    };
    samples(&t, &cols, &ctx.scale)
}

pub(crate) fn read_koniq10k_sets(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    let t = Table::read_csv(ctx.labels)?;
    let split = match ctx.split_column {
        Some(name) => Some(t.column(&[name])?),
        None => t.find(&["set"]),
    };
    let cols = Columns {
        name: t.column(&["image_name"])?,
        score: t.column(&["MOS"])?,
        split,
        ..Columns::default()
    };
    samples(&t, &cols, &ctx.scale)
}

pub(crate) fn read_spaq(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    let t = Table::read_spreadsheet(ctx.labels)?;
    let cols = Columns {
        name: t.column(&["Image name"])?,
        score: t.column(&["MOS"])?,
        ..Columns::default()
    };
    samples(&t, &cols, &ctx.scale)
}
