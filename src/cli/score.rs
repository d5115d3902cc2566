//! `cprl score`: quality scores of unlabelled images from a checkpoint, as text,
//! JSON or CSV on stdout, optionally one shard of a long list per job.
//!
//! Unreadable images are named on stderr (by the loader) and left out of the
//! output; a last line on stderr counts them. The exit status is non-zero only when
//! there were images and none could be scored.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use cprl::Gpu;
use cprl::data::Scale;
use cprl::infer::inputs::{Shard, expand_inputs, read_list};
use cprl::infer::{PredictConfig, predict_files};
use cprl::train::checkpoint::load_model;
use serde::Serialize;

use super::progress::bar;

/// Where a checkpoint shipped with cprl would be (none ships yet).
const SHIPPED_CHECKPOINT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/model/cprl.safetensors");

#[derive(clap::Args)]
pub struct ScoreArgs {
    /// The checkpoint (`.safetensors` from `cprl train`; default: the one shipped
    /// with cprl, at assets/model/cprl.safetensors).
    #[arg(long)]
    ckpt: Option<PathBuf>,
    /// Image files (PNG, JPEG) or folders (their .png/.jpg/.jpeg files, sorted).
    inputs: Vec<PathBuf>,
    /// Descend into the subfolders of folder inputs.
    #[arg(long)]
    recursive: bool,
    /// A text file of image paths, one per line (blank lines and `#` comments
    /// ignored); its paths follow the INPUTs.
    #[arg(long)]
    list: Option<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Score only part i of n (0-based, i in 0..n, like JOB_COMPLETION_INDEX or
    /// SLURM_ARRAY_TASK_ID) of the full ordered list; the n parts are contiguous, so
    /// their outputs concatenate in order to the whole.
    #[arg(long)]
    shard: Option<Shard>,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Most crops along each side of an image; each image scores the mean of its crops.
    #[arg(long, default_value_t = 3)]
    crops_per_side: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// `score<TAB>path` lines (`score<TAB>score_raw<TAB>path` when the checkpoint
    /// knows its training dataset's scale).
    Text,
    /// An array of {path, score, score_raw} objects.
    Json,
    /// path,score,score_raw rows under a header (score_raw empty when unknown).
    Csv,
}

/// One scored image.
#[derive(Serialize)]
struct Scored {
    path: String,
    /// Quality in [0, 1], higher = better.
    score: f64,
    /// The score on the training dataset's raw scale and direction, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    score_raw: Option<f64>,
}

pub fn run(a: &ScoreArgs) -> Result<()> {
    let ckpt = match &a.ckpt {
        Some(p) => p.clone(),
        None => shipped_checkpoint()?,
    };
    let mut all = expand_inputs(&a.inputs, a.recursive)?;
    if let Some(list) = &a.list {
        all.extend(read_list(list)?);
    }
    if all.is_empty() {
        bail!("no images given: pass image files or folders, or --list FILE");
    }
    let shard = a.shard.unwrap_or(Shard::ALL);
    let paths = shard.take(&all);
    let gpu = Gpu::new()?;
    let (model, ck) = load_model(&gpu, &ckpt)?;
    let mut cfg = PredictConfig::for_model(&model.config);
    cfg.max_per_side = a.crops_per_side;
    cfg.batch = a.batch.max(1);
    let progress = bar("score");
    let preds = predict_files(&model, paths, &cfg, Some(&progress))?;
    progress.finish_and_clear();
    let scale = ck.meta.dataset.as_ref().map(|d| d.scale());
    let scored = scored(paths, &preds.scores, scale);
    write_output(a.format, &scored)?;
    report_counts(&shard, all.len(), paths.len(), scored.len())
}

/// The shipped checkpoint, or an error saying none ships and what to do instead.
fn shipped_checkpoint() -> Result<PathBuf> {
    let p = PathBuf::from(SHIPPED_CHECKPOINT);
    if !p.exists() {
        bail!(
            "no checkpoint given, and none ships with cprl yet (looked for {}); \
             train one with `cprl train` and pass it with --ckpt",
            p.display()
        );
    }
    Ok(p)
}

/// The images that got a score, in input order.
fn scored(paths: &[PathBuf], scores: &[f64], scale: Option<Scale>) -> Vec<Scored> {
    paths
        .iter()
        .zip(scores)
        .filter(|(_, s)| s.is_finite())
        .map(|(p, &score)| Scored {
            path: p.display().to_string(),
            score,
            score_raw: scale.map(|s| s.denormalise(score)),
        })
        .collect()
}

fn write_output(format: Format, rows: &[Scored]) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        Format::Text => {
            for r in rows {
                match r.score_raw {
                    Some(raw) => writeln!(out, "{:.6}\t{raw:.4}\t{}", r.score, r.path)?,
                    None => writeln!(out, "{:.6}\t{}", r.score, r.path)?,
                }
            }
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, rows)?;
            writeln!(out)?;
        }
        Format::Csv => write_csv(&mut out, rows)?,
    }
    out.flush()?;
    Ok(())
}

/// Always three columns, so shards and checkpoints with and without a known scale
/// concatenate alike; `score_raw` is empty when unknown.
fn write_csv(out: &mut impl Write, rows: &[Scored]) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["path", "score", "score_raw"])?;
    for r in rows {
        let raw = r.score_raw.map(|v| v.to_string()).unwrap_or_default();
        w.write_record([r.path.clone(), r.score.to_string(), raw])?;
    }
    w.flush()?;
    Ok(())
}

/// The final count on stderr; an error when images were given and none scored.
fn report_counts(shard: &Shard, total: usize, taken: usize, scored: usize) -> Result<()> {
    let part = if shard.count > 1 {
        format!(" (shard {}/{} of {total})", shard.index, shard.count)
    } else {
        String::new()
    };
    let skipped = taken - scored;
    eprintln!("scored {scored} of {taken} images{part}; {skipped} skipped (unreadable)");
    if taken > 0 && scored == 0 {
        bail!("none of the {taken} images could be read (see the warnings above)");
    }
    Ok(())
}
