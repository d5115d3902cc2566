//! `cprl attack`: one or several checkpoints under FGSM, I-FGSM, PGD, MI-FGSM, the
//! score reflection attack, the MSU benchmark's attacks and those of Korhonen and You
//! and of Zhang et al., at each eps (L_inf or L_2), on a split of
//! a labelled dataset (or one shard of it); a table and a summary over eps, and
//! optionally JSON, CSV, per-image scores, robustness curves and the adversarial
//! crops themselves.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use cprl::Gpu;
use cprl::attack::adaptive::{Adaptive, attack_dataset_worst};
use cprl::attack::run::{
    AttackScores, AttackedCrops, CropSink, Robustness, attack_dataset_with, robustness, trapezoid_mean,
};
use cprl::attack::{ATTACKS, AttackConfig, Defense, Norm};
use cprl::data::Dataset;
use cprl::infer::PredictConfig;
use cprl::infer::inputs::Shard;
use cprl::metrics::correlation::EvalOptions;
use cprl::nn::Cprl;
use cprl::report::robustness::{curves_png, write_files};
use cprl::train::checkpoint::load_model;
use serde::Serialize;

mod save_adv;

use save_adv::{AdvSaver, adv_dir};

use super::dataset::DatasetArgs;
use super::eval::split_indices;
use super::outputs::{check_output_file, write_atomic};
use super::progress::bar;

#[derive(clap::Args)]
pub struct AttackArgs {
    /// Checkpoints to attack (repeat for a side-by-side table).
    #[arg(long, required = true)]
    ckpt: Vec<PathBuf>,
    #[command(flatten)]
    data: DatasetArgs,
    /// Seed of the ratio split used when the label file gives none (as `eval`).
    #[arg(long, default_value_t = 123)]
    split_seed: u64,
    /// The part of the dataset to attack: test, val, train or all.
    #[arg(long, default_value = "test")]
    split: String,
    /// Attacks, comma-separated, or `all`: fgsm, ifgsm, pgd, mifgsm, reflect,
    /// msu-fgsm, msu-ifgsm, msu-amifgsm (which takes K steps of eps / K whatever
    /// --alpha says, as the MSU benchmark does), korhonen, perceptual.
    #[arg(long, default_value = "reflect,pgd")]
    attack: String,
    /// Budgets in 1/255 units, comma-separated: under linf the largest change of a
    /// pixel, under l2 the root mean square change over a crop (either way the
    /// crop's PSNR is at least 20 log10(255 / eps)).
    #[arg(long, default_value = "1,2,4,8")]
    eps: String,
    /// The budget's norm: linf or l2.
    #[arg(long, default_value = "linf")]
    norm: String,
    /// Steps of the iterative attacks (korhonen's and perceptual's Adam steps too).
    #[arg(long, default_value_t = 10)]
    steps: u32,
    /// Step size in 1/255 units (default eps / 4; for korhonen and perceptual, Adam's
    /// learning rate, default 0.005 = 1.275/255).
    #[arg(long)]
    alpha: Option<f32>,
    /// Seed of the random starts.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Most crops along each side of an image (each attacked on its own; see the
    /// README).
    #[arg(long, default_value_t = 2)]
    crops_per_side: u32,
    /// Crops per forward pass.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Attack only part i of n (0-based, i in 0..n, as `cprl score --shard`) of the
    /// split's images; the n parts are contiguous in split order. The table's figures
    /// are then over this part only (the MSU score also scales by this part's clean
    /// scores): the output to combine is --scores, whose parts concatenate in shard
    /// order, less their headers, to the whole run's file. pgd and reflect draw their
    /// random starts per batch, so a part's draws differ from a whole run's.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Write every row and the summary over eps as JSON ({"rows", "summary"}) to
    /// this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write every row as CSV to this file.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Write the summary over eps (mean attacked SROCC and mean |ds| in clean-score
    /// std from eps 0 to the largest, trapezoid rule) as CSV to this file.
    #[arg(long, value_name = "CSV")]
    summary_csv: Option<PathBuf>,
    /// Write every image's path, label, and clean and attacked score under each
    /// checkpoint, attack and eps to this CSV, image by image in split order (the
    /// file that shards concatenate to).
    #[arg(long, value_name = "CSV")]
    scores: Option<PathBuf>,
    /// Draw robustness curves over eps into this folder, one line per checkpoint:
    /// srocc_<attack>.png (attacked SROCC, the clean SROCC at eps 0) and
    /// change_<attack>.png (mean |ds| in clean-score std).
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,
    /// Save every adversarial crop as a lossless 8-bit PNG into
    /// DIR/<k>_<checkpoint>/<attack>/eps_<eps>/ with crops.csv (crops_<i>of<n>.csv
    /// with --shard): each file's PSNR and SSIM against its clean crop and its L_inf
    /// distance. Values are rounded to 1/255, towards the clean value where rounding
    /// would leave eps, so each saved crop stays within eps. With --adaptive or
    /// --jpeg the worst case's crops are saved (under `<attack> worst`), unpurified.
    /// Not with --norm l2.
    #[arg(long, value_name = "DIR")]
    save_adv: Option<PathBuf>,
    /// Also attack each model with a gate or SortMask adaptively: the gradient from
    /// surrogates that share its weights (straight-through gate and SortMask, sharper
    /// and softer temperatures and rank strengths), the scores from the model itself;
    /// adds a `<attack> worst` row, the worst case per crop over the surrogates (and
    /// restarts), naming the strongest. About 8 times the plain attack's time.
    #[arg(long)]
    adaptive: bool,
    /// Random starts per surrogate for pgd and reflect (with --adaptive or --jpeg).
    #[arg(long, default_value_t = 1)]
    restarts: u32,
    /// Put JPEG purification at this quality (1-100) in front of every model, and
    /// attack through it with BPDA (its backward taken as the identity).
    #[arg(long, value_name = "QUALITY")]
    jpeg: Option<u8>,
}

/// One model under one attack at one eps.
#[derive(Serialize)]
struct Row {
    checkpoint: String,
    attack: AttackConfig,
    eps_255: f32,
    max_linf_255: f64,
    /// The largest root mean square change of a crop (the l2 budget's measure).
    max_rms_255: f64,
    crops_per_s: f64,
    #[serde(flatten)]
    r: Robustness,
}

/// Every image's scores from one model under one attack at one eps, for --scores.
struct Run {
    checkpoint: String,
    attack: String,
    eps_255: f32,
    scores: AttackScores,
}

/// One model under one attack over the whole eps sweep.
#[derive(Serialize)]
struct EpsSummary {
    checkpoint: String,
    attack: String,
    /// The largest budget swept, in 1/255 units; the means run from 0 to it.
    max_eps_255: f64,
    /// Budgets swept, the clean point at eps 0 not counted.
    budgets: usize,
    clean_srocc: f64,
    /// Attacked SROCC averaged over eps in [0, max] (trapezoid rule, the clean SROCC
    /// at eps 0): the area under the robustness curve over its width.
    mean_srocc: f64,
    /// Mean |ds| in clean-score std, averaged alike (0 at eps 0).
    mean_change_in_std: f64,
}

/// `1,2,4` -> [1, 2, 4]; every value finite and >= 0.
fn parse_list(what: &str, text: &str) -> Result<Vec<f32>> {
    text.split(',')
        .map(|t| {
            let v: f32 = t
                .trim()
                .parse()
                .with_context(|| format!("--{what}: `{t}` is not a number"))?;
            if !(v.is_finite() && v >= 0.0) {
                bail!("--{what}: {v} must be finite and >= 0");
            }
            Ok(v)
        })
        .collect()
}

fn attack_names(text: &str) -> Vec<String> {
    if text.trim() == "all" {
        ATTACKS.iter().map(|(n, _)| n.to_string()).collect()
    } else {
        text.split(',').map(|t| t.trim().to_string()).collect()
    }
}

/// What to run, every part checked before any work.
struct Plan {
    names: Vec<String>,
    eps: Vec<f32>,
    norm: Norm,
    alpha: Option<f32>,
}

impl Plan {
    /// The attack `name` at `e`/255 as the arguments configure it.
    fn config(&self, a: &AttackArgs, name: &str, e: f32) -> Result<AttackConfig> {
        Ok(AttackConfig::named(name, e / 255.0, a.steps, self.alpha, a.seed)?.with_norm(self.norm))
    }
}

impl Plan {
    /// The attacks and budgets of the arguments: every attack named and every
    /// budget checked, and every output path usable, so a bad argument fails in a
    /// second rather than after an hour of attacks.
    fn from_args(a: &AttackArgs) -> Result<Plan> {
        let eps = parse_list("eps", &a.eps)?;
        let alpha = a.alpha.map(|v| v / 255.0);
        if alpha.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
            bail!("--alpha must be finite and >= 0");
        }
        let names = attack_names(&a.attack);
        let plan = Plan {
            names,
            eps,
            norm: Norm::parse(&a.norm)?,
            alpha,
        };
        for n in &plan.names {
            for &e in &plan.eps {
                plan.config(a, n, e)?;
            }
        }
        check_outputs(a)?;
        if plan.norm == Norm::L2 && a.save_adv.is_some() {
            bail!(
                "--save-adv keeps every saved crop within an L_inf budget; with --norm l2 rounding to 1/255 could leave the L_2 one, so crops are not saved: run with --norm linf to save them"
            );
        }
        if a.jpeg.is_some_and(|q| !(1..=100).contains(&q)) {
            bail!("--jpeg: the quality must be in 1..=100");
        }
        Ok(plan)
    }
}

/// Refuses output paths that cannot be written: a folder given for a file, a file
/// in a folder that does not exist, or an existing file given for a folder.
fn check_outputs(a: &AttackArgs) -> Result<()> {
    let files = [
        ("--json", &a.json),
        ("--csv", &a.csv),
        ("--summary-csv", &a.summary_csv),
        ("--scores", &a.scores),
    ];
    for (flag, p) in files {
        if let Some(p) = p {
            check_output_file(flag, p)?;
        }
    }
    for (flag, p) in [("--plots", &a.plots), ("--save-adv", &a.save_adv)] {
        if let Some(p) = p
            && p.exists()
            && !p.is_dir()
        {
            bail!("{flag} {}: exists and is not a folder", p.display());
        }
    }
    Ok(())
}

/// The images a run attacks: this shard of the split, with their labels.
struct Images {
    ds: Dataset,
    /// Dataset indices, in split order.
    indices: Vec<usize>,
    labels: Vec<f64>,
    shard: Shard,
}

impl Images {
    /// Opens the dataset and takes the split's shard; says how many images it holds.
    fn open(a: &AttackArgs) -> Result<Images> {
        let ds = a.data.open(a.split_seed)?;
        let shard = a.shard.unwrap_or(Shard::ALL);
        let all = split_indices(&ds, &a.split, &a.data.labels)?;
        let indices = shard.take(&all).to_vec();
        let part = if shard.count > 1 {
            format!(" (shard {}/{} of {})", shard.index, shard.count, all.len())
        } else {
            String::new()
        };
        println!("{} {}: {} images{part}", ds.name, a.split, indices.len());
        let labels = indices.iter().map(|&i| ds.samples[i].label).collect();
        Ok(Images {
            ds,
            indices,
            labels,
            shard,
        })
    }
}

/// One checkpoint: its number on the command line, path, model and crop settings,
/// and the adaptive attack it meets (with --adaptive or --jpeg).
struct Model<'a> {
    k: usize,
    path: &'a Path,
    model: Cprl,
    pcfg: PredictConfig,
    adaptive: Option<Adaptive>,
}

impl<'a> Model<'a> {
    fn load(gpu: &std::sync::Arc<Gpu>, a: &AttackArgs, k: usize, path: &'a Path) -> Result<Model<'a>> {
        let (model, _) = load_model(gpu, path)?;
        let mut pcfg = PredictConfig::for_model(&model.config);
        pcfg.max_per_side = a.crops_per_side;
        pcfg.batch = a.batch.max(1);
        let adaptive = if a.adaptive || a.jpeg.is_some() {
            let mut ad = Adaptive::standard(&model)?;
            if !a.adaptive {
                ad.surrogates.truncate(1);
            }
            ad.restarts = a.restarts.max(1);
            ad.defense = match a.jpeg {
                Some(quality) => Defense::Jpeg { quality },
                None => Defense::None,
            };
            Some(ad)
        } else {
            None
        };
        Ok(Model {
            k,
            path,
            model,
            pcfg,
            adaptive,
        })
    }
}

pub fn run(a: &AttackArgs) -> Result<()> {
    let plan = Plan::from_args(a)?;
    let gpu = Gpu::new()?;
    println!("adapter: {gpu}");
    let im = Images::open(a)?;
    let (mut rows, mut runs) = (Vec::new(), Vec::new());
    for (k, ck) in a.ckpt.iter().enumerate() {
        let m = Model::load(&gpu, a, k, ck)?;
        for n in &plan.names {
            for &e in &plan.eps {
                let cfg = plan.config(a, n, e)?;
                let found = match &m.adaptive {
                    Some(ad) => attack_adaptive(a, &im, &m, ad, cfg, e)?,
                    None => vec![attack_one(a, &im, &m, cfg, e)?],
                };
                for (row, run) in found {
                    rows.extend(row);
                    runs.push(run);
                }
            }
        }
    }
    let summary = summarise(&rows);
    print_summary(&summary);
    write_outputs(a, &rows, &summary, &runs, &im)
}

/// One model under one attack at one budget: the attack (its crops saved when asked),
/// the check of its budget, and its table row, printed (none where a shard holds too
/// few images for correlations: its per-image scores still count).
fn attack_one(
    a: &AttackArgs,
    im: &Images,
    m: &Model,
    cfg: AttackConfig,
    e: f32,
) -> Result<(Option<Row>, Run)> {
    let mut saver = match &a.save_adv {
        Some(dir) => Some(AdvSaver::new(
            &adv_dir(dir, m.k, m.path, &cfg.name, e),
            im,
            cfg.eps,
        )?),
        None => None,
    };
    let progress = bar(&format!("{} eps {e}/255", cfg.name));
    let s = attack_with_saver(m, im, &cfg, &progress, saver.as_mut())?;
    progress.finish_and_clear();
    if let Some(saver) = saver {
        saver.finish()?;
    }
    finish_row(im, m, cfg, e, s)
}

/// One model under one attack at one budget as an adaptive attack (and through its
/// purification, if any): the plain attack's row (the model as trained, through the
/// purification) and, with more than one surrogate, the worst case's. With
/// --save-adv the worst case's crops are saved (the plain attack's when it is the
/// only one).
fn attack_adaptive(
    a: &AttackArgs,
    im: &Images,
    m: &Model,
    ad: &Adaptive,
    cfg: AttackConfig,
    e: f32,
) -> Result<Vec<(Option<Row>, Run)>> {
    let suffix = match ad.defense {
        Defense::None => String::new(),
        d => format!(" {}", d.name()),
    };
    let has_worst = ad.surrogates.len() > 1 || ad.restarts > 1;
    let saved_as = format!("{}{suffix}{}", cfg.name, if has_worst { " worst" } else { "" });
    let mut saver = match &a.save_adv {
        Some(dir) => Some(AdvSaver::new(
            &adv_dir(dir, m.k, m.path, &saved_as, e),
            im,
            cfg.eps,
        )?),
        None => None,
    };
    let progress = bar(&format!("{} eps {e}/255 adaptive", cfg.name));
    let (ds, indices) = (&im.ds, &im.indices);
    let (worst, each) = match saver.as_mut() {
        Some(saver) => {
            let mut save = |c: AttackedCrops| saver.save(c);
            let sink: CropSink = &mut save;
            attack_dataset_worst(
                &m.model,
                ds,
                indices,
                &m.pcfg,
                &cfg,
                ad,
                Some(&progress),
                Some(sink),
            )?
        }
        None => attack_dataset_worst(&m.model, ds, indices, &m.pcfg, &cfg, ad, Some(&progress), None)?,
    };
    progress.finish_and_clear();
    if let Some(saver) = saver {
        saver.finish()?;
    }
    let named = |name: String| AttackConfig { name, ..cfg.clone() };
    let mut out = Vec::new();
    if let Some((_, plain)) = each.iter().find(|(n, _)| n == "as trained") {
        let c = named(format!("{}{suffix}", cfg.name));
        out.push(finish_row(im, m, c, e, plain.clone())?);
    }
    if has_worst {
        out.push(finish_row(im, m, named(saved_as), e, worst)?);
    }
    Ok(out)
}

/// The check of an attack's budget and its table row, printed (none where a shard
/// holds too few images for correlations: its per-image scores still count).
fn finish_row(
    im: &Images,
    m: &Model,
    cfg: AttackConfig,
    e: f32,
    s: AttackScores,
) -> Result<(Option<Row>, Run)> {
    s.check_budget(cfg.eps, cfg.norm)
        .with_context(|| format!("{} at eps {e}/255", cfg.name))?;
    let opts = EvalOptions {
        resamples: 0,
        ..EvalOptions::default()
    };
    let run = Run {
        checkpoint: m.path.display().to_string(),
        attack: cfg.name.clone(),
        eps_255: e,
        scores: s,
    };
    let row = match robustness(&run.scores, &im.labels, &opts) {
        Ok(r) => Row {
            checkpoint: run.checkpoint.clone(),
            attack: cfg,
            eps_255: e,
            max_linf_255: run.scores.max_linf * 255.0,
            max_rms_255: run.scores.max_rms * 255.0,
            crops_per_s: run.scores.crops_per_s,
            r,
        },
        Err(err) if im.shard.count > 1 => {
            eprintln!("{} eps {e}/255: no figures for this part: {err}", cfg.name);
            return Ok((None, run));
        }
        Err(err) => return Err(err.into()),
    };
    println!("{}", line(&row));
    Ok((Some(row), run))
}

/// Runs one attack over the images, handing the crops to `saver` when saving.
fn attack_with_saver(
    m: &Model,
    im: &Images,
    cfg: &AttackConfig,
    progress: &indicatif::ProgressBar,
    saver: Option<&mut AdvSaver>,
) -> Result<AttackScores> {
    let (model, ds, indices, pcfg) = (&m.model, &im.ds, &im.indices, &m.pcfg);
    let s = match saver {
        Some(saver) => {
            let mut save = |c: AttackedCrops| saver.save(c);
            let sink: CropSink = &mut save;
            attack_dataset_with(model, ds, indices, pcfg, cfg, Some(progress), Some(sink))?
        }
        None => attack_dataset_with(model, ds, indices, pcfg, cfg, Some(progress), None)?,
    };
    Ok(s)
}

/// Every file the arguments ask for, each written whole or not at all.
fn write_outputs(
    a: &AttackArgs,
    rows: &[Row],
    summary: &[EpsSummary],
    runs: &[Run],
    im: &Images,
) -> Result<()> {
    if let Some(p) = &a.json {
        #[derive(Serialize)]
        struct Out<'a> {
            rows: &'a [Row],
            summary: &'a [EpsSummary],
        }
        let text = serde_json::to_string_pretty(&Out { rows, summary })? + "\n";
        write_atomic(p, text.as_bytes())?;
    }
    if let Some(p) = &a.csv {
        write_atomic(p, &rows_csv(rows)?)?;
    }
    if let Some(p) = &a.summary_csv {
        write_atomic(p, &summary_csv(summary)?)?;
    }
    if let Some(p) = &a.scores {
        write_atomic(p, &scores_csv(runs, im)?)?;
    }
    if let Some(dir) = &a.plots {
        let written = write_files(dir, &plots(rows)?)?;
        println!("{} plots in {}", written.len(), dir.display());
    }
    Ok(())
}

/// One table line: the model, the attack, and what it did.
fn line(r: &Row) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{:<28} {:<9} eps {:>4}/255{}  SROCC {:.4} -> {:.4}  PLCC {:.4} -> {:.4}  |ds| {:.4} ({:.2} std)  crossed {:>5.1}%  to reflection {:.3} -> {:.3}  R {:.3}{}  MSU {:.3}  {:.0} crops/s",
        short(&r.checkpoint),
        r.attack.name,
        r.eps_255,
        match r.attack.norm {
            Norm::Linf => "",
            Norm::L2 => " rms",
        },
        r.r.clean.srocc,
        r.r.attacked.srocc,
        r.r.clean.plcc,
        r.r.attacked.plcc,
        r.r.mean_abs_change,
        r.r.change_in_std,
        100.0 * r.r.crossed_midpoint,
        r.r.reflection_distance_clean,
        r.r.reflection_distance,
        r.r.r_robustness,
        unmoved(r.r.r_unmoved),
        r.r.msu_robustness,
        r.crops_per_s
    );
    s
}

/// ` (k unmoved)` when the R robustness floored k images' change, else nothing.
fn unmoved(k: usize) -> String {
    if k == 0 {
        String::new()
    } else {
        format!(" ({k} unmoved)")
    }
}

/// The last two components of a path (`runs/cprl/best.safetensors` -> `cprl/best.safetensors`).
fn short(p: &str) -> String {
    let parts: Vec<&str> = p.rsplitn(3, '/').collect();
    match parts.as_slice() {
        [f, d, _] => format!("{d}/{f}"),
        _ => p.to_string(),
    }
}

/// The rows of each (checkpoint, attack), in the order they ran.
fn groups(rows: &[Row]) -> Vec<Vec<&Row>> {
    let mut out: Vec<Vec<&Row>> = Vec::new();
    for r in rows {
        let same = |g: &&mut Vec<&Row>| g[0].checkpoint == r.checkpoint && g[0].attack.name == r.attack.name;
        match out.iter_mut().find(same) {
            Some(g) => g.push(r),
            None => out.push(vec![r]),
        }
    }
    out
}

/// `(eps in 1/255, value)` of one group, from `at_zero` at eps 0, sorted by eps.
fn curve(g: &[&Row], at_zero: f64, value: impl Fn(&Row) -> f64) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = std::iter::once((0.0, at_zero))
        .chain(g.iter().map(|r| (f64::from(r.eps_255), value(r))))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

/// Attacked SROCC over eps, the clean SROCC at 0.
fn srocc_curve(g: &[&Row]) -> Vec<(f64, f64)> {
    curve(g, g[0].r.clean.srocc, |r| r.r.attacked.srocc)
}

/// Mean |ds| in clean-score std over eps, 0 at eps 0.
fn change_curve(g: &[&Row]) -> Vec<(f64, f64)> {
    curve(g, 0.0, |r| r.r.change_in_std)
}

/// One [`EpsSummary`] per (checkpoint, attack).
fn summarise(rows: &[Row]) -> Vec<EpsSummary> {
    groups(rows)
        .iter()
        .map(|g| EpsSummary {
            checkpoint: g[0].checkpoint.clone(),
            attack: g[0].attack.name.clone(),
            max_eps_255: g.iter().map(|r| f64::from(r.eps_255)).fold(0.0, f64::max),
            budgets: g.len(),
            clean_srocc: g[0].r.clean.srocc,
            mean_srocc: trapezoid_mean(&srocc_curve(g)),
            mean_change_in_std: trapezoid_mean(&change_curve(g)),
        })
        .collect()
}

fn print_summary(summary: &[EpsSummary]) {
    if summary.is_empty() {
        return;
    }
    println!("over eps (mean from eps 0 to the largest, trapezoid rule):");
    for s in summary {
        println!(
            "{:<28} {:<9} eps 0..{}/255  SROCC {:.4}, mean {:.4}  |ds| mean {:.2} std",
            short(&s.checkpoint),
            s.attack,
            s.max_eps_255,
            s.clean_srocc,
            s.mean_srocc,
            s.mean_change_in_std
        );
    }
}

/// `(file name, PNG)` of the robustness curves: per attack, attacked SROCC and mean
/// |ds| in std over eps, one line per checkpoint.
fn plots(rows: &[Row]) -> Result<Vec<(String, Vec<u8>)>> {
    let groups = groups(rows);
    let mut attacks: Vec<&str> = Vec::new();
    for g in &groups {
        if !attacks.contains(&g[0].attack.name.as_str()) {
            attacks.push(&g[0].attack.name);
        }
    }
    let mut out = Vec::new();
    for attack in attacks {
        let of: Vec<&Vec<&Row>> = groups.iter().filter(|g| g[0].attack.name == attack).collect();
        let series = |f: fn(&[&Row]) -> Vec<(f64, f64)>| -> Vec<(String, Vec<(f64, f64)>)> {
            of.iter().map(|g| (short(&g[0].checkpoint), f(g))).collect()
        };
        let x = "eps (1/255)";
        let srocc = curves_png(
            &format!("{attack}: SROCC under attack"),
            x,
            "SROCC",
            &series(srocc_curve),
            Some((-1.0, 1.0)),
        )?;
        let change = curves_png(
            &format!("{attack}: mean |score change|"),
            x,
            "|ds| / clean-score std",
            &series(change_curve),
            None,
        )?;
        out.push((format!("srocc_{attack}.png"), srocc));
        out.push((format!("change_{attack}.png"), change));
    }
    Ok(out)
}

/// A CSV's bytes from a writer filled in memory.
fn csv_bytes(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>> {
    w.into_inner().map_err(|e| anyhow!("building a CSV: {e}"))
}

fn rows_csv(rows: &[Row]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "checkpoint",
        "attack",
        "eps_255",
        "norm",
        "steps",
        "alpha_255",
        "images",
        "srocc_clean",
        "srocc_attacked",
        "plcc_clean",
        "plcc_attacked",
        "krocc_attacked",
        "rmse_attacked",
        "mean_abs_change",
        "change_in_std",
        "crossed_midpoint",
        "reflection_distance",
        "reflection_distance_clean",
        "r_robustness",
        "r_unmoved",
        "msu_robustness",
        "max_linf_255",
        "max_rms_255",
    ])?;
    for r in rows {
        w.write_record([
            r.checkpoint.clone(),
            r.attack.name.clone(),
            r.eps_255.to_string(),
            r.attack.norm.name().to_string(),
            r.attack.steps.to_string(),
            (r.attack.alpha * 255.0).to_string(),
            r.r.images.to_string(),
            r.r.clean.srocc.to_string(),
            r.r.attacked.srocc.to_string(),
            r.r.clean.plcc.to_string(),
            r.r.attacked.plcc.to_string(),
            r.r.attacked.krocc.to_string(),
            r.r.attacked.rmse.to_string(),
            r.r.mean_abs_change.to_string(),
            r.r.change_in_std.to_string(),
            r.r.crossed_midpoint.to_string(),
            r.r.reflection_distance.to_string(),
            r.r.reflection_distance_clean.to_string(),
            r.r.r_robustness.to_string(),
            r.r.r_unmoved.to_string(),
            r.r.msu_robustness.to_string(),
            r.max_linf_255.to_string(),
            r.max_rms_255.to_string(),
        ])?;
    }
    csv_bytes(w)
}

fn summary_csv(summary: &[EpsSummary]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "checkpoint",
        "attack",
        "max_eps_255",
        "budgets",
        "srocc_clean",
        "mean_srocc",
        "mean_change_in_std",
    ])?;
    for s in summary {
        w.write_record([
            s.checkpoint.clone(),
            s.attack.clone(),
            s.max_eps_255.to_string(),
            s.budgets.to_string(),
            s.clean_srocc.to_string(),
            s.mean_srocc.to_string(),
            s.mean_change_in_std.to_string(),
        ])?;
    }
    csv_bytes(w)
}

/// Image-major rows (every run of an image, then the next image), so that shards,
/// which are contiguous runs of images, concatenate to the whole run's rows.
/// Images the loader skipped are left out.
fn scores_csv(runs: &[Run], im: &Images) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "path",
        "label",
        "checkpoint",
        "attack",
        "eps_255",
        "clean",
        "attacked",
    ])?;
    for (pos, &i) in im.indices.iter().enumerate() {
        let sample = &im.ds.samples[i];
        for r in runs {
            let (clean, attacked) = (r.scores.clean[pos], r.scores.attacked[pos]);
            if !(clean.is_finite() && attacked.is_finite()) {
                continue;
            }
            w.write_record([
                sample.path.display().to_string(),
                sample.label.to_string(),
                r.checkpoint.clone(),
                r.attack.clone(),
                r.eps_255.to_string(),
                clean.to_string(),
                attacked.to_string(),
            ])?;
        }
    }
    csv_bytes(w)
}
