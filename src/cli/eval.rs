//! `cprl eval`: a checkpoint's correlation with the MOS of one split of a labelled
//! dataset (SROCC with a bootstrap interval, KROCC, PLCC and RMSE raw and after the
//! 4-parameter logistic), as a table, and optionally as JSON and per-image CSV.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cprl::Gpu;
use cprl::data::{Dataset, Split};
use cprl::infer::{PredictConfig, Predictions, predict};
use cprl::metrics::correlation::{Correlations, DEFAULT_RESAMPLES, EvalOptions, evaluate};
use cprl::train::checkpoint::{Checkpoint, DatasetInfo, load_model};
use serde::Serialize;

use super::dataset::DatasetArgs;
use super::progress::bar;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// The checkpoint (`.safetensors`, from `cprl train`).
    #[arg(long)]
    ckpt: PathBuf,
    #[command(flatten)]
    data: DatasetArgs,
    /// Seed of the ratio split used when the label file gives none (as `data check`).
    #[arg(long, default_value_t = 123)]
    split_seed: u64,
    /// The part of the dataset to score: test, val, train or all.
    #[arg(long, default_value = "test")]
    split: String,
    /// Most crops along each side of an image; each image scores the mean of its crops.
    #[arg(long, default_value_t = 3)]
    crops_per_side: u32,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Write the metrics, the setup and every prediction as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the per-image predictions as CSV to this file.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Seed of the bootstrap resampling of the SROCC interval.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// One image's prediction, as the JSON and CSV files list it.
#[derive(Serialize)]
struct Row {
    path: String,
    /// MOS on the unit scale (higher = better).
    mos: f64,
    /// MOS as the label file gives it.
    mos_raw: f64,
    /// Predicted quality in [0, 1] (NaN, `null` in JSON, where skipped).
    score: f64,
    /// The prediction on the dataset's raw scale and direction.
    score_raw: f64,
}

/// Everything `--json` writes.
#[derive(Serialize)]
struct Report<'a> {
    checkpoint: String,
    checkpoint_step: u64,
    model: &'a cprl::nn::CprlConfig,
    trained_on: &'a Option<DatasetInfo>,
    dataset: DatasetInfo,
    split: &'a str,
    adapter: String,
    crops_per_side: u32,
    images: usize,
    skipped: Vec<Skipped>,
    metrics: &'a Correlations,
    bootstrap_seed: u64,
    predictions: &'a [Row],
}

#[derive(Serialize)]
struct Skipped {
    path: String,
    reason: String,
}

pub fn run(a: &EvalArgs) -> Result<()> {
    let gpu = Gpu::new()?;
    let (model, ck) = load_model(&gpu, &a.ckpt)?;
    let ds = a.data.open(a.split_seed)?;
    let indices = split_indices(&ds, &a.split, &a.data.labels)?;
    let mut cfg = PredictConfig::for_model(&model.config);
    cfg.max_per_side = a.crops_per_side;
    cfg.batch = a.batch.max(1);
    let progress = bar(&format!("eval {}", a.split));
    let preds = predict(&model, &ds, &indices, &cfg, Some(&progress))?;
    progress.finish_and_clear();
    let rows = rows(&ds, &indices, &preds);
    let (pred, mos): (Vec<f64>, Vec<f64>) = rows
        .iter()
        .filter(|r| r.score.is_finite())
        .map(|r| (r.score, r.mos))
        .unzip();
    let opts = EvalOptions {
        seed: a.seed,
        ..EvalOptions::default()
    };
    let metrics = evaluate(&pred, &mos, &opts);
    let adapter = format!("{} ({:?})", gpu.info().name, gpu.info().backend);
    print!("{}", table(a, &ck, &ds, &adapter, &preds, &metrics));
    if let Some(path) = &a.csv {
        write_csv(path, &rows)?;
    }
    if let Some(path) = &a.json {
        let report = Report {
            checkpoint: a.ckpt.display().to_string(),
            checkpoint_step: ck.meta.step,
            model: &ck.meta.model,
            trained_on: &ck.meta.dataset,
            dataset: DatasetInfo::of(&ds),
            split: &a.split,
            adapter,
            crops_per_side: a.crops_per_side,
            images: indices.len(),
            skipped: skipped(&preds),
            metrics: &metrics,
            bootstrap_seed: a.seed,
            predictions: &rows,
        };
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The dataset positions of `split` (`all`: every image); an error when the dataset
/// has no such split, saying which splits it has.
pub fn split_indices(ds: &Dataset, split: &str, labels: &Path) -> Result<Vec<usize>> {
    if split == "all" {
        return Ok((0..ds.samples.len()).collect());
    }
    let Some(want) = Split::parse(split) else {
        bail!("--split `{split}`: expected test, val, train or all");
    };
    let indices: Vec<usize> = (0..ds.samples.len())
        .filter(|&i| ds.samples[i].split == Some(want))
        .collect();
    if indices.is_empty() {
        let count = |s: Option<Split>| ds.samples.iter().filter(|x| x.split == s).count();
        bail!(
            "{}: the dataset has no {want} split (train {}, val {}, test {}, unassigned {}); \
             choose another with --split, or --split all",
            labels.display(),
            count(Some(Split::Train)),
            count(Some(Split::Val)),
            count(Some(Split::Test)),
            count(None)
        );
    }
    Ok(indices)
}

fn rows(ds: &Dataset, indices: &[usize], preds: &Predictions) -> Vec<Row> {
    indices
        .iter()
        .zip(&preds.scores)
        .map(|(&i, &score)| {
            let s = &ds.samples[i];
            Row {
                path: s.path.display().to_string(),
                mos: s.label,
                mos_raw: s.raw,
                score,
                score_raw: ds.scale.denormalise(score),
            }
        })
        .collect()
}

fn skipped(preds: &Predictions) -> Vec<Skipped> {
    preds
        .skipped
        .iter()
        .map(|(p, r)| Skipped {
            path: p.display().to_string(),
            reason: r.clone(),
        })
        .collect()
}

/// The readable report: setup, then one metric per line.
fn table(
    a: &EvalArgs,
    ck: &Checkpoint,
    ds: &Dataset,
    adapter: &str,
    preds: &Predictions,
    m: &Correlations,
) -> String {
    let mut s = String::new();
    let f = |v: f64| {
        if v.is_finite() {
            format!("{v:.4}")
        } else {
            "n/a".into()
        }
    };
    s += &format!(
        "checkpoint  {} (step {}, epoch {})\n",
        a.ckpt.display(),
        ck.meta.step,
        ck.meta.epoch
    );
    s += &format!(
        "dataset     {} ({}), split {}: {} images, {} skipped\n",
        ds.name,
        a.data.labels.display(),
        a.split,
        preds.scores.len(),
        preds.skipped.len()
    );
    // The reason names the file already.
    for (_, why) in &preds.skipped {
        s += &format!("  skipped   {why}\n");
    }
    s += &format!("adapter     {adapter}\n\n");
    s += &format!("n           {}\n", m.n);
    let ci = match m.srocc_ci {
        Some((lo, hi)) => format!(
            "   95% CI [{}, {}] ({DEFAULT_RESAMPLES} bootstrap resamples, seed {})",
            f(lo),
            f(hi),
            a.seed
        ),
        None => String::new(),
    };
    s += &format!("SROCC       {}{ci}\n", f(m.srocc));
    s += &format!("KROCC       {}\n", f(m.krocc));
    s += &format!("{:<12}{:<10}{}\n", "", "raw", "logistic fit");
    s += &format!("PLCC        {:<10}{}\n", f(m.plcc), f(m.plcc_logistic));
    s += &format!(
        "RMSE        {:<10}{}   (unit scale)\n",
        f(m.rmse),
        f(m.rmse_logistic)
    );
    for n in &m.notes {
        s += &format!("note: {n}\n");
    }
    s
}

fn write_csv(path: &Path, rows: &[Row]) -> Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record(["path", "mos", "mos_raw", "score", "score_raw"])?;
    let num = |v: f64| {
        if v.is_finite() {
            v.to_string()
        } else {
            String::new()
        }
    };
    for r in rows {
        w.write_record([
            r.path.clone(),
            num(r.mos),
            num(r.mos_raw),
            num(r.score),
            num(r.score_raw),
        ])?;
    }
    w.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
