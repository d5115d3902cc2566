//! `cprl attack`: one or several checkpoints under FGSM, I-FGSM, PGD, MI-FGSM, the
//! score reflection attack and the MSU benchmark's attacks, at each eps, on a split of
//! a labelled dataset; a table, and optionally JSON and CSV.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cprl::Gpu;
use cprl::attack::run::{Robustness, attack_dataset, robustness};
use cprl::attack::{ATTACKS, AttackConfig};
use cprl::infer::PredictConfig;
use cprl::metrics::correlation::EvalOptions;
use cprl::train::checkpoint::load_model;
use serde::Serialize;

use super::dataset::DatasetArgs;
use super::eval::split_indices;
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
    /// msu-fgsm, msu-ifgsm.
    #[arg(long, default_value = "reflect,pgd")]
    attack: String,
    /// L_inf budgets in 1/255 units, comma-separated.
    #[arg(long, default_value = "1,2,4,8")]
    eps: String,
    /// Steps of the iterative attacks.
    #[arg(long, default_value_t = 10)]
    steps: u32,
    /// Step size in 1/255 units (default eps / 4).
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
    /// Write every row as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write every row as CSV to this file.
    #[arg(long)]
    csv: Option<PathBuf>,
}

/// One model under one attack at one eps.
#[derive(Serialize)]
struct Row {
    checkpoint: String,
    attack: AttackConfig,
    eps_255: f32,
    max_linf_255: f64,
    crops_per_s: f64,
    #[serde(flatten)]
    r: Robustness,
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

pub fn run(a: &AttackArgs) -> Result<()> {
    let eps = parse_list("eps", &a.eps)?;
    let alpha = a.alpha.map(|v| v / 255.0);
    if alpha.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
        bail!("--alpha must be finite and >= 0");
    }
    // Every attack named and every budget checked before any work.
    let names = attack_names(&a.attack);
    for n in &names {
        for &e in &eps {
            AttackConfig::named(n, e / 255.0, a.steps, alpha, a.seed)?;
        }
    }
    let gpu = Gpu::new()?;
    let ds = a.data.open(a.split_seed)?;
    let indices = split_indices(&ds, &a.split, &a.data.labels)?;
    let labels: Vec<f64> = indices.iter().map(|&i| ds.samples[i].label).collect();
    let opts = EvalOptions {
        resamples: 0,
        ..EvalOptions::default()
    };
    println!("adapter: {gpu}");
    println!("{} {}: {} images", ds.name, a.split, indices.len());
    let mut rows = Vec::new();
    for ck in &a.ckpt {
        let (model, _) = load_model(&gpu, ck)?;
        let mut pcfg = PredictConfig::for_model(&model.config);
        pcfg.max_per_side = a.crops_per_side;
        pcfg.batch = a.batch.max(1);
        for n in &names {
            for &e in &eps {
                let cfg = AttackConfig::named(n, e / 255.0, a.steps, alpha, a.seed)?;
                let progress = bar(&format!("{n} eps {e}/255"));
                let s = attack_dataset(&model, &ds, &indices, &pcfg, &cfg, Some(&progress))?;
                progress.finish_and_clear();
                if s.max_linf > f64::from(cfg.eps) + 1e-6 {
                    bail!(
                        "internal error: {n} moved a pixel by {} > eps {}",
                        s.max_linf,
                        cfg.eps
                    );
                }
                let r = robustness(&s, &labels, &opts)?;
                let row = Row {
                    checkpoint: ck.display().to_string(),
                    attack: cfg,
                    eps_255: e,
                    max_linf_255: s.max_linf * 255.0,
                    crops_per_s: s.crops_per_s,
                    r,
                };
                println!("{}", line(&row));
                rows.push(row);
            }
        }
    }
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&rows)? + "\n")
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &a.csv {
        write_csv(p, &rows)?;
    }
    Ok(())
}

/// One table line: the model, the attack, and what it did.
fn line(r: &Row) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{:<28} {:<9} eps {:>4}/255  SROCC {:.4} -> {:.4}  PLCC {:.4} -> {:.4}  |ds| {:.4} ({:.2} std)  crossed {:>5.1}%  to reflection {:.3} -> {:.3}  {:.0} crops/s",
        short(&r.checkpoint),
        r.attack.name,
        r.eps_255,
        r.r.clean.srocc,
        r.r.attacked.srocc,
        r.r.clean.plcc,
        r.r.attacked.plcc,
        r.r.mean_abs_change,
        r.r.change_in_std,
        100.0 * r.r.crossed_midpoint,
        r.r.reflection_distance_clean,
        r.r.reflection_distance,
        r.crops_per_s
    );
    s
}

/// The last two components of a path (`runs/cprl/best.safetensors` -> `cprl/best.safetensors`).
fn short(p: &str) -> String {
    let parts: Vec<&str> = p.rsplitn(3, '/').collect();
    match parts.as_slice() {
        [f, d, _] => format!("{d}/{f}"),
        _ => p.to_string(),
    }
}

fn write_csv(p: &std::path::Path, rows: &[Row]) -> Result<()> {
    let mut w = csv::Writer::from_path(p).with_context(|| format!("writing {}", p.display()))?;
    w.write_record([
        "checkpoint",
        "attack",
        "eps_255",
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
        "max_linf_255",
    ])?;
    for r in rows {
        w.write_record([
            r.checkpoint.clone(),
            r.attack.name.clone(),
            r.eps_255.to_string(),
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
            r.max_linf_255.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
