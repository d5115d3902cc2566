//! `cprl demo`: the first command to run. Builds the synthetic set, trains the
//! baseline, adversarial training (AT), norm regularisation (NT) and CPRL with the
//! `demo` presets, scores them on the reference-disjoint test split, attacks them
//! (score reflection and PGD, the robustness half) and writes a report folder (JSON,
//! CSV, PNG plots, report.html).
//!
//! `cprl ablate`: CPRL with each part switched off in turn, same data and seed, one
//! table.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cprl::Gpu;
use cprl::data::formats::{self, ReadOptions};
use cprl::data::synth::{self, SynthConfig};
use cprl::data::{Dataset, Split};
use cprl::infer::{PredictConfig, predict};
use cprl::metrics::correlation::{self, EvalOptions};
use cprl::nn::{Cprl, CprlConfig};
use cprl::report::{self, CurvePoint, ModelReport, Prediction, Report, RobustnessRow};
use cprl::train::{DefenseKind, TrainConfig, TrainData, Trainer};
use indicatif::{ProgressBar, ProgressStyle};

use super::robustness::{AttackPlan, robustness_pass};
use super::train::{keep_tune_cache, train_with_bar};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Folder for the synthetic set, the runs and the report.
    #[arg(long, default_value = "cprl-demo")]
    out: PathBuf,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Args)]
pub struct AblateArgs {
    /// Folder for the runs and the table.
    #[arg(long, default_value = "cprl-ablate")]
    out: PathBuf,
    /// Model preset the variants start from.
    #[arg(long, default_value = "demo")]
    preset: String,
    #[command(flatten)]
    run: RunArgs,
}

/// What `demo` and `ablate` share: the data, the length of training and the seed.
#[derive(clap::Args)]
struct RunArgs {
    /// Train on this synthetic set (a `cprl data synth` folder) instead of building one
    /// in OUT/synth.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Training epochs of each model (default: the demo preset's).
    #[arg(long)]
    epochs: Option<u32>,
    /// Stop each model after this many steps (a quick look).
    #[arg(long)]
    max_steps: Option<u64>,
    /// Seed of the initialisation, the batches and the interventions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Train and test only: leave out the robustness half (the attacks).
    #[arg(long)]
    skip_attacks: bool,
    /// Attack every Nth test image (more images: tighter figures, a longer run).
    #[arg(long, default_value_t = 4)]
    attack_every: usize,
}

impl RunArgs {
    /// The robustness rows of `trained` under `plan` (every `attack_every`th test
    /// image), and the plan's description; nothing with `--skip-attacks`.
    fn attacks(
        &self,
        ds: &Dataset,
        trained: &[(String, Cprl)],
        plan: AttackPlan,
    ) -> Result<(Vec<RobustnessRow>, Option<String>)> {
        if self.skip_attacks {
            return Ok((Vec::new(), None));
        }
        println!("\nunder attack:");
        let plan = AttackPlan {
            every: self.attack_every.max(1),
            ..plan
        };
        let images = plan.images(&test_indices(ds));
        let refs: Vec<(&str, &Cprl)> = trained.iter().map(|(n, m)| (n.as_str(), m)).collect();
        let rows = robustness_pass(ds, &images, &refs, &plan)?;
        Ok((rows, Some(plan.describe(images.len()))))
    }
}

/// The CPU's model name (from /proc/cpuinfo on Linux), for the report.
fn cpu_name() -> String {
    let name = cprl::host::cpu_model().unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{name} ({cores} threads)")
}

/// The synthetic set at `data`, or built (once) in `out/synth`.
fn synthetic_set(out: &Path, data: Option<&Path>) -> Result<Dataset> {
    let dir = match data {
        Some(d) => d.to_path_buf(),
        None => out.join("synth"),
    };
    if !dir.join("labels.csv").exists() {
        if data.is_some() {
            bail!(
                "{} has no labels.csv: build it with `cprl data synth --out {}`",
                dir.display(),
                dir.display()
            );
        }
        let t0 = Instant::now();
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>9} [{bar:28}] {pos}/{len} images ETA {eta}")
                .expect("a fixed template parses")
                .progress_chars("=> "),
        );
        bar.set_prefix("synth");
        let cfg = SynthConfig::new(&dir);
        let rows = synth::build(&cfg, &|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })?;
        bar.finish_and_clear();
        println!(
            "built the synthetic set: {} images in {:.0} s ({})",
            rows.len(),
            t0.elapsed().as_secs_f64(),
            dir.display()
        );
    } else {
        println!("using the synthetic set in {}", dir.display());
    }
    formats::read_dataset("synthetic", &dir, &dir, &ReadOptions::default())
        .with_context(|| format!("reading the synthetic set at {}", dir.display()))
}

/// One model to train and test.
struct Variant {
    name: String,
    preset: String,
    model: CprlConfig,
    train: TrainConfig,
}

/// Trains `v` and scores the test split with the model as training left it (the
/// schedule's last step, as `last.safetensors` holds it); returns the report and the
/// model. Not the best validation checkpoint: on the synthetic set's 3 validation
/// photos validation SROCC swings too much between epochs to rank them, and picking by
/// it took early, under-trained checkpoints (the README's demo section gives a run).
fn train_and_test(
    gpu: &std::sync::Arc<Gpu>,
    ds: &Dataset,
    v: &Variant,
    seed: u64,
    runs: &Path,
) -> Result<(ModelReport, Cprl)> {
    let data = TrainData::from_splits(ds)?;
    let test = test_indices(ds);
    if test.is_empty() {
        bail!("the dataset has no test split");
    }
    let dir = runs.join(&v.name);
    // A fresh run each time: an old metrics log must not mix into this one's curves.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let mut t = Trainer::new(gpu, &v.model, &v.train, seed)?;
    println!(
        "{}: {} parameters, {} steps of batch {}",
        v.name,
        t.model.param_count(),
        t.total_steps(&data),
        v.train.batch
    );
    let t0 = Instant::now();
    train_with_bar(&mut t, &data, &dir, &v.name)?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let p = predict(&t.model, ds, &test, &PredictConfig::for_model(&v.model), None)?;
    let mut preds = Vec::new();
    for (&s, &i) in p.scores.iter().zip(&test) {
        let smp = &ds.samples[i];
        if s.is_finite() {
            preds.push(Prediction {
                path: smp.path.display().to_string(),
                mos: smp.label,
                score: s,
                distortion: smp.distortion.clone(),
                level: smp.level,
            });
        }
    }
    let (pred, mos): (Vec<f64>, Vec<f64>) = preds.iter().map(|p| (p.score, p.mos)).unzip();
    let test_metrics = correlation::evaluate(&pred, &mos, &EvalOptions::default());
    let ips: Vec<f64> = t.history.iter().filter_map(|l| l.images_per_s).collect();
    let gate = t.history.iter().rev().find_map(|l| l.gate.clone());
    let report = ModelReport {
        name: v.name.clone(),
        preset: v.preset.clone(),
        score_std: correlation::std_population(&pred),
        test: test_metrics,
        predictions: preds,
        curve: t.history.iter().map(curve_point).collect(),
        train_seconds,
        images_per_second: median(ips),
        params: t.model.param_count(),
        gate,
    };
    Ok((report, t.model))
}

fn curve_point(l: &cprl::train::LogLine) -> CurvePoint {
    CurvePoint {
        step: l.step,
        epoch: l.epoch,
        train_loss: l.loss,
        val_srocc: l.srocc,
        val_plcc: l.plcc,
        score_std: Some(l.score_std),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn with_overrides(mut t: TrainConfig, epochs: Option<u32>, max_steps: Option<u64>) -> TrainConfig {
    if let Some(e) = epochs {
        t.epochs = e;
    }
    if let Some(m) = max_steps {
        t.max_steps = m;
    }
    t
}

/// The demo and the ablation run every op's documented default kernel version rather
/// than timing the candidates, unless `CPRL_TUNE` says otherwise. Versions round
/// differently, and over a training run different choices grow into different models:
/// two demo runs on one machine whose timing picked other versions of the head's tiny
/// matmuls parted by more than the figures' intervals, and an ablation would compare
/// kernel choices along with the terms it switches off. On lavapipe (a 2-core EPYC
/// Zen 4) timing picked the default for 45 of the 47 shapes of a demo training and cost
/// about 17 s per model.
/// Must run before the first kernel.
fn default_kernel_versions() {
    if std::env::var_os("CPRL_TUNE").is_none() {
        // SAFETY: called at start-up, before any other thread exists.
        unsafe { std::env::set_var("CPRL_TUNE", "off") };
    }
}

pub fn run_demo(a: &DemoArgs) -> Result<()> {
    let t0 = Instant::now();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    keep_tune_cache(&a.out);
    default_kernel_versions();
    let gpu = Gpu::new()?;
    println!("adapter: {gpu}");
    let ds = synthetic_set(&a.out, a.run.data.as_deref())?;
    let train = with_overrides(TrainConfig::demo(), a.run.epochs, a.run.max_steps);
    let variants = demo_variants(&train);
    let runs = a.out.join("runs");
    let mut models = Vec::new();
    let mut trained = Vec::new();
    for v in &variants {
        let (report, model) = train_and_test(&gpu, &ds, v, a.run.seed, &runs)?;
        models.push(report);
        trained.push((v.name.clone(), model));
    }
    let (robustness, robustness_setup) = a.run.attacks(&ds, &trained, AttackPlan::demo())?;
    let report = Report {
        title: "cprl demo: the baseline, AT, NT and CPRL on the synthetic set".into(),
        created: now_utc(),
        adapter: gpu.to_string(),
        cpu: cpu_name(),
        dataset: format!(
            "{} ({} images; test split: photos unseen in training)",
            ds.name,
            ds.samples.len()
        ),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        models,
        robustness,
        robustness_setup,
        notes: demo_notes(&ds),
        total_seconds: t0.elapsed().as_secs_f64(),
    };
    let dir = a.out.join("report");
    let files = report::write_report(&dir, &report)?;
    println!("\n{}", report::summary_table(&report));
    println!(
        "total {:.0} s on {}; report: {} ({} files)",
        report.total_seconds,
        report.cpu,
        dir.join("report.html").display(),
        files.files.len()
    );
    Ok(())
}

/// The demo's four models: the baseline, the two known defences on its backbone
/// (adversarial training and norm regularisation) and CPRL, all with the same data,
/// seed and schedule.
fn demo_variants(train: &TrainConfig) -> Vec<Variant> {
    let baseline = |name: &str, t: TrainConfig| Variant {
        name: name.into(),
        preset: "baseline-demo".into(),
        model: CprlConfig::demo().baseline(),
        train: t,
    };
    vec![
        baseline("baseline", train.clone().for_baseline()),
        baseline("at", train.clone().with_defense(DefenseKind::At)),
        baseline("nt", train.clone().with_defense(DefenseKind::Nt)),
        Variant {
            name: "cprl".into(),
            preset: "demo".into(),
            model: CprlConfig::demo(),
            train: train.clone(),
        },
    ]
}

/// The dataset's test split, in order.
fn test_indices(ds: &Dataset) -> Vec<usize> {
    (0..ds.samples.len())
        .filter(|&i| ds.samples[i].split == Some(Split::Test))
        .collect()
}

fn demo_notes(ds: &Dataset) -> Vec<String> {
    let photos = |split: Split| {
        let refs: std::collections::BTreeSet<_> = ds
            .samples
            .iter()
            .filter(|s| s.split == Some(split))
            .filter_map(|s| s.reference.as_ref())
            .collect();
        refs.len()
    };
    vec![
        "Labels are pseudo-MOS from full-reference metrics (VIFp, GMSD, FSIMc, CIELAB Delta E), not human ratings.".into(),
        "All four models share the backbone, head, data, seed and schedule. AT adds FGSM images (a uniform start in the 4/255 ball, one step of 5/255 up the L1 loss) for a quarter of each batch, with their clean labels; NT adds the finite-difference slope penalty of Liu et al. (2024) on the same share; CPRL adds the CPR gate, SortMask, interventions (PGD, one step, on the same share) and the adversary head.".into(),
        "Scores: test images scored on a fixed grid of crops in eval mode, averaged per image, by each model as training left it (`last.safetensors`), not by the checkpoint with the best validation SROCC, which swings too much between epochs on so few validation photos to pick by.".into(),
        format!(
            "Splits by photo: {} training, {} validation and {} test photos. The SROCC interval resamples images, not photos, so it understates how much the figures move with another choice of photos; a difference between the models inside the interval is not one. Every op runs its documented default kernel version (not the fastest by timing, which `cprl train` picks): versions round differently and training amplifies it, so runs that differ only in those choices can part by more than the interval; with the defaults, a rerun on the same adapter and driver repeats the same bits.",
            photos(Split::Train),
            photos(Split::Val),
            photos(Split::Test)
        ),
    ]
}

/// The current time as `YYYY-MM-DD HH:MM:SS UTC` (std only).
fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The ablation variants: the full model, then each part off in turn.
fn ablations(model: &CprlConfig, train: &TrainConfig) -> Vec<Variant> {
    let v = |name: &str, m: CprlConfig, t: TrainConfig| Variant {
        name: name.into(),
        preset: name.into(),
        model: m,
        train: t,
    };
    let mut no_gate = model.clone();
    no_gate.gate = None;
    let mut no_sortmask = model.clone();
    no_sortmask.sortmask_after.clear();
    let mut no_inv = train.clone();
    no_inv.objective.invariance = 0.0;
    let mut no_adv = train.clone();
    no_adv.objective.necessity = 0.0;
    let mut no_plcc = train.clone();
    no_plcc.objective.plcc = 0.0;
    vec![
        v("cprl", model.clone(), train.clone()),
        v("no-gate", no_gate, train.clone().for_baseline()),
        v("no-sortmask", no_sortmask, train.clone()),
        v("no-interventions", model.clone(), no_inv),
        v("no-adversary", model.clone(), no_adv),
        v("no-plcc", model.clone(), no_plcc),
    ]
}

pub fn run_ablate(a: &AblateArgs) -> Result<()> {
    let t0 = Instant::now();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    keep_tune_cache(&a.out);
    default_kernel_versions();
    let gpu = Gpu::new()?;
    println!("adapter: {gpu}");
    let ds = synthetic_set(&a.out, a.run.data.as_deref())?;
    let model = CprlConfig::preset(&a.preset)?;
    if model.gate.is_none() {
        bail!(
            "--preset {} has no gate: ablate starts from a CPRL preset",
            a.preset
        );
    }
    let train = with_overrides(TrainConfig::demo(), a.run.epochs, a.run.max_steps);
    let runs = a.out.join("runs");
    let (mut models, mut trained) = (Vec::new(), Vec::new());
    for v in ablations(&model, &train) {
        let (report, m) = train_and_test(&gpu, &ds, &v, a.run.seed, &runs)?;
        models.push(report);
        trained.push((v.name.clone(), m));
    }
    let (robustness, robustness_setup) = a.run.attacks(&ds, &trained, AttackPlan::ablate())?;
    let report = Report {
        title: format!("cprl ablate: {} preset, one part off at a time", a.preset),
        created: now_utc(),
        adapter: gpu.to_string(),
        cpu: cpu_name(),
        dataset: format!("{} ({} images)", ds.name, ds.samples.len()),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        models,
        robustness,
        robustness_setup,
        notes: vec![
            "Clean test metrics on every test image; the attacks on the subset the robustness setup names."
                .into(),
        ],
        total_seconds: t0.elapsed().as_secs_f64(),
    };
    let dir = a.out.join("report");
    report::write_report(&dir, &report)?;
    println!("\n{}", report::summary_table(&report));
    println!(
        "total {:.0} s; table: {}",
        report.total_seconds,
        dir.join("summary.csv").display()
    );
    Ok(())
}
