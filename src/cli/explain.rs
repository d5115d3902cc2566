//! `cprl explain`: for each image, the CPR gate's channel ranking and the score, a
//! heatmap of where the causal channels fire, and how an attack moves the causal
//! set (the library side is `cprl::explain`, which says what is averaged where).
//!
//! Unreadable images are named on stderr, skipped and counted; the exit status is
//! non-zero only when none could be explained. Every file is written to a temporary
//! name and renamed, so an interrupted run leaves no half file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use cprl::Gpu;
use cprl::attack::AttackConfig;
use cprl::explain::{Explanation, Heatmaps, default_k, explain, load_crops, require_gate};
use cprl::infer::PredictConfig;
use cprl::infer::inputs::{Shard, expand_inputs, read_list};
use cprl::nn::Cprl;
use cprl::train::checkpoint::load_model;
use serde::Serialize;

use super::outputs::{check_output_file, write_atomic};

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The checkpoint (`.safetensors` from `cprl train`); it must have the CPR gate.
    #[arg(long)]
    ckpt: PathBuf,
    /// Image files (PNG, JPEG) or folders (their .png/.jpg/.jpeg files, sorted).
    /// Each image is cut into the crop grid `cprl score` uses: the score is the mean
    /// over its crops, m and the gate key are averaged over them, and the heatmaps
    /// are drawn on the centre crop.
    inputs: Vec<PathBuf>,
    /// Descend into the subfolders of folder inputs.
    #[arg(long)]
    recursive: bool,
    /// A text file of image paths, one per line (blank lines and `#` comments
    /// ignored); its paths follow the INPUTs.
    #[arg(long)]
    list: Option<PathBuf>,
    /// Explain only part i of n (0-based, as `cprl score --shard`) of the list.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Folder for the heatmaps: <stem>_cpr.png (the top-k causal channels' mean
    /// activation, weighted by m) and <stem>_ncpr.png (the other channels, weighted
    /// by 1 - m), blended in viridis over the centre crop, on one colour scale.
    #[arg(long, value_name = "DIR", default_value = "explain")]
    out: PathBuf,
    /// Size of the causal set (default round(rho * C), the gate's share).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    top_k: Option<u64>,
    /// The attack the causal set's stability is measured under (a `cprl attack`
    /// name), or `none` to skip it.
    #[arg(long, default_value = "reflect")]
    attack: String,
    /// The attack's L_inf budget in 1/255 units.
    #[arg(long, default_value_t = 4.0, allow_negative_numbers = true)]
    eps: f32,
    /// Steps of the attack.
    #[arg(long, default_value_t = 10)]
    steps: u32,
    /// Seed of the attack's random start.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Most crops along each side of an image (as `cprl score`).
    #[arg(long, default_value_t = 3)]
    crops_per_side: u32,
    /// Write every explained image's full record (every channel's m and key, the
    /// ranking, the attack's figures) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// One explained image in the JSON.
#[derive(Serialize)]
struct Entry {
    path: String,
    heatmap: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    heatmap_ncpr: Option<String>,
    #[serde(flatten)]
    e: Explanation,
}

/// The JSON file: the run's settings, then one entry per explained image.
#[derive(Serialize)]
struct Output<'a> {
    checkpoint: String,
    channels: usize,
    k: usize,
    attack: Option<&'a AttackConfig>,
    /// The attack's budget in 1/255 units, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    eps_255: Option<f32>,
    images: &'a [Entry],
}

/// The subcommand: every argument checked and the baseline refused before the first
/// image is read, then each image explained in turn and the JSON written at the end.
pub fn run(a: &ExplainArgs) -> Result<()> {
    let attack = attack_config(a)?;
    check_outputs(a)?;
    let paths = image_list(a)?;
    let gpu = Gpu::new()?;
    let (model, _) = load_model(&gpu, &a.ckpt)?;
    let k = causal_k(a, &model)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let entries = explain_all(a, &model, &paths, k, attack.as_ref())?;
    if let Some(p) = &a.json {
        let out = Output {
            checkpoint: a.ckpt.display().to_string(),
            channels: model.config.channels(),
            k,
            attack: attack.as_ref(),
            eps_255: attack.as_ref().map(|_| a.eps),
            images: &entries,
        };
        write_atomic(p, (serde_json::to_string_pretty(&out)? + "\n").as_bytes())?;
    }
    report_counts(paths.len(), entries.len())
}

/// The attack of the arguments (`None` for `--attack none`), checked before any
/// work: a bad name, a negative or infinite eps or zero steps fails at once.
fn attack_config(a: &ExplainArgs) -> Result<Option<AttackConfig>> {
    if !(a.eps.is_finite() && a.eps >= 0.0) {
        bail!("--eps {}: must be finite and >= 0", a.eps);
    }
    if a.attack.trim() == "none" {
        return Ok(None);
    }
    Ok(Some(AttackConfig::named(
        a.attack.trim(),
        a.eps / 255.0,
        a.steps,
        None,
        a.seed,
    )?))
}

/// Refuses an --out that is a file, and a --json that is a folder or sits in a
/// folder that does not exist, before the model loads.
fn check_outputs(a: &ExplainArgs) -> Result<()> {
    if a.out.exists() && !a.out.is_dir() {
        bail!("--out {}: exists and is not a folder", a.out.display());
    }
    match &a.json {
        Some(p) => check_output_file("--json", p),
        None => Ok(()),
    }
}

/// The inputs, the list file's paths and the shard, as `cprl score` forms them.
fn image_list(a: &ExplainArgs) -> Result<Vec<PathBuf>> {
    let mut all = expand_inputs(&a.inputs, a.recursive)?;
    if let Some(list) = &a.list {
        all.extend(read_list(list)?);
    }
    if all.is_empty() {
        bail!("no images given: pass image files or folders, or --list FILE");
    }
    Ok(a.shard.unwrap_or(Shard::ALL).take(&all).to_vec())
}

/// The causal set's size: --top-k (at most C), else round(rho * C); refuses the
/// baseline, which has no gate to explain.
fn causal_k(a: &ExplainArgs, model: &Cprl) -> Result<usize> {
    let g = require_gate(model).map_err(|e| anyhow!("{}: {e}", a.ckpt.display()))?;
    let c = model.config.channels();
    match a.top_k {
        Some(k) if k as usize > c => bail!("--top-k {k}: the model has only {c} channels"),
        Some(k) => Ok(k as usize),
        None => Ok(default_k(g.rho, c)),
    }
}

/// Explains every image in turn, printing a line for each and writing its heatmaps;
/// unreadable images are warned about and left out.
fn explain_all(
    a: &ExplainArgs,
    model: &Cprl,
    paths: &[PathBuf],
    k: usize,
    attack: Option<&AttackConfig>,
) -> Result<Vec<Entry>> {
    let mut cfg = PredictConfig::for_model(&model.config);
    cfg.max_per_side = a.crops_per_side;
    let mut used = HashSet::new();
    let mut entries = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let crops = match load_crops(path, &cfg) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("warning: skipping {e}");
                continue;
            }
        };
        let (e, maps) = explain(model, &crops, k, attack, i as u64)?;
        let stem = unique_stem(path, i, &mut used);
        let (heatmap, heatmap_ncpr) = write_heatmaps(&a.out, &stem, &maps)?;
        println!("{}", line(&e, &attack_label(a, attack), path));
        entries.push(Entry {
            path: path.display().to_string(),
            heatmap,
            heatmap_ncpr,
            e,
        });
    }
    Ok(entries)
}

/// The image's file stem made safe for a file name (characters outside
/// `[A-Za-z0-9._-]` become `_`), with `_<position>` added when an earlier image of
/// this run had the same stem, so no heatmap overwrites another.
fn unique_stem(path: &Path, i: usize, used: &mut HashSet<String>) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = if used.contains(&safe) {
        format!("{safe}_{i}")
    } else {
        safe
    };
    used.insert(name.clone());
    name
}

/// Writes OUT/<stem>_cpr.png and, when there is one, OUT/<stem>_ncpr.png; their paths.
fn write_heatmaps(out: &Path, stem: &str, maps: &Heatmaps) -> Result<(String, Option<String>)> {
    let cpr = out.join(format!("{stem}_cpr.png"));
    write_atomic(&cpr, &maps.cpr)?;
    let ncpr = match &maps.ncpr {
        Some(bytes) => {
            let p = out.join(format!("{stem}_ncpr.png"));
            write_atomic(&p, bytes)?;
            Some(p.display().to_string())
        }
        None => None,
    };
    Ok((cpr.display().to_string(), ncpr))
}

/// `reflect 4/255`: the attack as the terminal names it (empty when none), with eps
/// as given rather than rounded through the pixel scale.
fn attack_label(a: &ExplainArgs, attack: Option<&AttackConfig>) -> String {
    attack
        .map(|c| format!("{} {}/255", c.name, a.eps))
        .unwrap_or_default()
}

/// The terminal line of one image: score, channels on, the first 8 of the causal set
/// with their m, and the attack's Jaccard and score change.
fn line(e: &Explanation, attack: &str, path: &Path) -> String {
    let top: Vec<String> = e
        .top_k
        .iter()
        .take(8)
        .map(|&c| format!("{c}:{:.3}", e.channels[c].m))
        .collect();
    let attacked = match &e.attack {
        Some(s) => format!(
            "  {attack}: jaccard {:.3}, score {:+.4}",
            s.jaccard, s.score_change
        ),
        None => String::new(),
    };
    format!(
        "{:.4}  on {}/{}  top {}{attacked}  {}",
        e.score,
        e.channels_on,
        e.channels.len(),
        top.join(" "),
        path.display()
    )
}

/// The final count on stderr; an error when no image could be explained.
fn report_counts(taken: usize, explained: usize) -> Result<()> {
    let skipped = taken - explained;
    eprintln!("explained {explained} of {taken} images; {skipped} skipped (unreadable)");
    if explained == 0 {
        bail!("none of the {taken} images could be read (see the warnings above)");
    }
    Ok(())
}
