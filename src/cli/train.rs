//! `cprl train`: trains a CPRL model (or the baseline) on a labelled dataset, with a
//! progress bar, a metrics log (`metrics.jsonl`) and checkpoints in a run folder;
//! `--resume` continues a stopped run exactly.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cprl::Gpu;
use cprl::data::Dataset;
use cprl::nn::CprlConfig;
use cprl::train::{DefenseKind, Event, RunOptions, TrainConfig, TrainData, Trainer};
use indicatif::{ProgressBar, ProgressStyle};

use super::dataset::DatasetArgs;

#[derive(clap::Args)]
pub struct TrainArgs {
    #[command(flatten)]
    data: DatasetArgs,
    /// Seed of the ratio split used when the label file gives none (as `data check`
    /// and `eval`, so that `eval` scores the images training held out).
    #[arg(long, default_value_t = 123)]
    split_seed: u64,
    /// Run folder for checkpoints and the metrics log (created; default runs/<preset>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Model preset: demo, full, tiny, baseline-demo, baseline-full.
    #[arg(long, default_value = "demo")]
    preset: String,
    /// Model configuration as JSON (fields left out come from the demo preset).
    #[arg(long, conflicts_with = "preset")]
    model_config: Option<PathBuf>,
    /// Training preset: default or demo.
    #[arg(long, default_value = "default")]
    train_preset: String,
    /// Training configuration as JSON (fields left out come from the defaults).
    #[arg(long)]
    train_config: Option<PathBuf>,
    #[arg(long)]
    epochs: Option<u32>,
    #[arg(long)]
    batch: Option<usize>,
    #[arg(long)]
    lr: Option<f64>,
    /// Stop after this many steps.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Seed of the initialisation, the batches and the interventions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The defence to train, on the preset's backbone: `cprl` (the gate, SortMask and
    /// the minimax of the preset), `none` (the plain baseline), `at` (adversarial
    /// training: FGSM images at eps 4/255, step 5/255) or `nt` (norm-regularisation
    /// training). Default: what the preset is (demo and full are CPRL).
    #[arg(long, value_parser = ["none", "at", "nt", "cprl"])]
    defense: Option<String>,
    /// Continue from a checkpoint (or a run folder's last.safetensors).
    #[arg(long)]
    resume: Option<PathBuf>,
}

/// `runs/<preset>` or, with a defence, `runs/<preset>-<defense>`.
fn default_run_name(a: &TrainArgs) -> String {
    match &a.defense {
        Some(d) => format!("{}-{d}", a.preset),
        None => a.preset.clone(),
    }
}

/// The model and training configurations the arguments ask for.
fn configs(a: &TrainArgs) -> Result<(CprlConfig, TrainConfig)> {
    let model = match &a.model_config {
        Some(p) => CprlConfig::from_json(&read(p)?)?,
        None => CprlConfig::preset(&a.preset)?,
    };
    let mut train = match &a.train_config {
        Some(p) => TrainConfig::from_json(&read(p)?)?,
        None => TrainConfig::preset(&a.train_preset)?,
    };
    let model = match a.defense.as_deref() {
        None => model,
        Some("cprl") if model.gate.is_none() => {
            bail!("--defense cprl needs a model with the gate (preset demo or full, not a baseline)")
        }
        Some("cprl") => model,
        Some(d) => {
            train = train.with_defense(match d {
                "at" => DefenseKind::At,
                "nt" => DefenseKind::Nt,
                _ => DefenseKind::None,
            });
            model.baseline()
        }
    };
    if model.gate.is_none() {
        train = train.for_baseline();
    }
    if let Some(e) = a.epochs {
        train.epochs = e;
    }
    if let Some(b) = a.batch {
        train.batch = b;
    }
    if let Some(lr) = a.lr {
        train.lr = lr;
    }
    if let Some(m) = a.max_steps {
        train.max_steps = m;
    }
    train.validate()?;
    Ok((model, train))
}

fn read(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
}

/// Keeps the kernel choices of a run in its folder, so that a resumed run makes the
/// same ones (and so the same bits) as the first. Must run before the first kernel.
pub fn keep_tune_cache(out: &Path) {
    if std::env::var_os("CPRL_TUNE_CACHE").is_none() {
        // SAFETY: called at start-up, before any other thread exists.
        unsafe { std::env::set_var("CPRL_TUNE_CACHE", out.join("tune.json")) };
    }
}

pub fn run(a: &TrainArgs) -> Result<()> {
    let (ckpt, out) = match &a.resume {
        Some(r) => {
            let ck = if r.is_dir() {
                r.join("last.safetensors")
            } else {
                r.clone()
            };
            let dir = a
                .out
                .clone()
                .unwrap_or_else(|| ck.parent().map(Path::to_path_buf).unwrap_or_default());
            (Some(ck), dir)
        }
        None => (
            None,
            a.out
                .clone()
                .unwrap_or_else(|| PathBuf::from("runs").join(default_run_name(a))),
        ),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    keep_tune_cache(&out);
    let gpu = Gpu::new()?;
    let ds = a
        .data
        .open(a.split_seed)
        .with_context(|| format!("reading the dataset at {}", a.data.labels.display()))?;
    let data = TrainData::from_splits(&ds)?;
    let mut trainer = match &ckpt {
        Some(ck) => {
            let t = Trainer::resume(&gpu, ck)?;
            check_same_data(&t, &ds)?;
            println!("resuming {} at step {} (epoch {})", ck.display(), t.step, t.epoch);
            t
        }
        None => {
            let (model, train) = configs(a)?;
            let t = Trainer::new(&gpu, &model, &train, a.seed)?;
            let both = serde_json::json!({ "model": model, "train": train, "seed": a.seed });
            std::fs::write(out.join("config.json"), serde_json::to_string_pretty(&both)?)?;
            t
        }
    };
    println!("adapter: {gpu}");
    println!(
        "{}: {} training and {} validation images; model with {} parameters; run folder {}",
        ds.name,
        data.train.len(),
        data.val.len(),
        trainer.model.param_count(),
        out.display()
    );
    let t0 = Instant::now();
    train_with_bar(&mut trainer, &data, &out, "train")?;
    let secs = t0.elapsed().as_secs_f64();
    match trainer.best() {
        Some((s, step)) => println!(
            "done in {secs:.0} s: best validation SROCC {s:.4} at step {step} ({})",
            out.join("best.safetensors").display()
        ),
        None => println!("done in {secs:.0} s (no validation images: no best checkpoint)"),
    }
    println!("last checkpoint: {}", out.join("last.safetensors").display());
    println!("metrics log: {}", out.join("metrics.jsonl").display());
    Ok(())
}

/// A resumed run must see the data it started on.
fn check_same_data(t: &Trainer, ds: &Dataset) -> Result<()> {
    let now = cprl::train::checkpoint::DatasetInfo::of(ds);
    if let Some(was) = &t.dataset
        && was.fingerprint != now.fingerprint
    {
        bail!(
            "the checkpoint was trained on {} ({} images, fingerprint {}), not on this dataset ({} images, fingerprint {})",
            was.name,
            was.images,
            was.fingerprint,
            now.images,
            now.fingerprint
        );
    }
    Ok(())
}

/// Runs `trainer` to its end with a progress bar (loss, images/s, ETA), printing each
/// validation; checkpoints and the log go to `out`.
pub fn train_with_bar(trainer: &mut Trainer, data: &TrainData, out: &Path, label: &str) -> Result<()> {
    let total = trainer.total_steps(data);
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>9} [{bar:28}] {pos}/{len} steps {msg} ETA {eta}")
            .expect("a fixed template parses")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar.set_position(trainer.step);
    let opts = RunOptions {
        out: Some(out.to_path_buf()),
        stop_at: None,
    };
    let mut on_event = |e: Event| {
        if let Event::Log(l) = e {
            bar.set_position(l.step);
            match l.kind.as_str() {
                "val" => {
                    let line = format!(
                        "{label} epoch {:>3}  val SROCC {:.4}  PLCC {:.4}  score std {:.3} (labels {:.3})",
                        l.epoch,
                        l.srocc.unwrap_or(f64::NAN),
                        l.plcc.unwrap_or(f64::NAN),
                        l.score_std,
                        l.label_std
                    );
                    // A hidden bar (stderr not a terminal: a log file, CI) prints
                    // nothing, so the validation lines go to stdout there.
                    if bar.is_hidden() {
                        println!("{line}");
                    } else {
                        bar.println(line);
                    }
                }
                _ => {
                    let gate = l.gate.as_ref().map_or(String::new(), |g| {
                        format!(" gate {:.0}/{} on", g.channels_on, g.channels)
                    });
                    bar.set_message(format!(
                        "loss {:.4} {:.0} img/s std {:.3}{gate}",
                        l.loss.unwrap_or(f64::NAN),
                        l.images_per_s.unwrap_or(f64::NAN),
                        l.score_std
                    ));
                }
            }
        }
    };
    let r = trainer.run(data, &opts, &mut on_event);
    bar.finish_and_clear();
    r?;
    Ok(())
}
