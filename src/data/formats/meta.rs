//! `meta`: a generic headered CSV, one image per row.
//!
//! Columns, found by header name (any case, any order, other columns ignored):
//!
//! | field | accepted header names | needed |
//! |---|---|---|
//! | image path, relative to the root | `name`, `img_name`, `image_name`, `image`, `filename`, `path`, `dist_name` | yes |
//! | score | `mos`, `dmos`, `score`, `label`, `pseudo_mos` | yes |
//! | its standard deviation | `std`, `sd` | no |
//! | split | `official_split`, `split` (or `--split-column`) | no |
//! | reference image | `ref_name`, `reference` | no |
//! | distortion type | `distortion` | no |
//! | distortion level (whole, >= 0; 0 = pristine) | `level` | no |
//!
//! This covers cprl's own `name,mos[,std][,split]` and pyiqa's generic meta-info
//! style (`docs/Dataset_Preparation.md` of IQA-PyTorch: NR files
//! `img_name,mos,std,split`, FR files `ref_name,dist_name,mos,std`). Split values are
//! `train`/`val`/`test` (also `training`, `validation`, `testing`, and pyiqa's KonIQ
//! codes 0/1/2); an empty split cell leaves the row in no split. cprl's own
//! synthetic set (`labels.csv`: `path,reference,distortion,level,...,pseudo_mos,split`)
//! reads as `meta` too.
//!
//! The scale comes from the options (`--scale lo,hi`, `--lower-better`). Without
//! them the scores must already lie in [0, 1] with higher = better, and a score
//! outside that range is an error that says so.

use crate::data::Sample;
use crate::data::error::DataResult;

use super::table::Table;
use super::{Columns, Ctx, samples, split_column};

const NAME: [&str; 7] = [
    "name",
    "img_name",
    "image_name",
    "image",
    "filename",
    "path",
    "dist_name",
];
const SCORE: [&str; 5] = ["mos", "dmos", "score", "label", "pseudo_mos"];

pub(crate) fn read(ctx: &Ctx) -> DataResult<Vec<Sample>> {
    let t = Table::read_csv(ctx.labels)?;
    let cols = Columns {
        name: t.column(&NAME)?,
        score: t.column(&SCORE)?,
        std: t.find(&["std", "sd"]),
        reference: t.find(&["ref_name", "reference"]),
        split: split_column(&t, ctx)?,
        distortion: t.find(&["distortion"]),
        level: t.find(&["level"]),
        ..Columns::default()
    };
    samples(&t, &cols, &ctx.scale)
}
