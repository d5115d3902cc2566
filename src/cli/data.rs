//! `cprl data`: build the synthetic set (`synth`) and summarise a dataset (`check`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use cprl::data::check;
use cprl::data::formats;
use cprl::data::split::Ratios;
use cprl::data::synth::{self, RefSource, SynthConfig, distort::Distortion};
use indicatif::{ProgressBar, ProgressStyle};

use super::dataset::DatasetArgs;

#[derive(clap::Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(clap::Subcommand)]
enum DataCommand {
    /// Build the built-in weakly labelled set: distorted crops of real photos labelled
    /// by full-reference metrics (labels.csv, PNGs, synth.json).
    Synth(SynthArgs),
    /// Read a dataset's label file and summarise it: images, score range, missing files,
    /// split sizes.
    Check(CheckArgs),
}

#[derive(clap::Args)]
struct SynthArgs {
    /// Folder to write the set into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Use the PNG/JPEG photos of this folder instead of the built-in ones.
    #[arg(long)]
    refs: Option<PathBuf>,
    /// Side of the square crops in pixels (at least 112).
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Crops per photo (the first centred, the others at seeded positions).
    #[arg(long, default_value_t = 1)]
    crops: usize,
    /// Comma-separated distortion names (default: all; `--list` shows them).
    #[arg(long, value_delimiter = ',')]
    distortions: Vec<String>,
    /// List the distortions with their parameters at levels 1-5, then exit.
    #[arg(long)]
    list: bool,
    /// Seed of the crops, the noise and the split.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Train,val,test shares by photo.
    #[arg(long, value_delimiter = ',', default_values_t = [0.7, 0.1, 0.2])]
    split: Vec<f64>,
    /// Threads (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
}

#[derive(clap::Args)]
struct CheckArgs {
    #[command(flatten)]
    data: DatasetArgs,
    /// Seed of the ratio split used when the file gives none.
    #[arg(long, default_value_t = 123)]
    seed: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &DataArgs) -> Result<()> {
    match &args.command {
        DataCommand::Synth(a) => run_synth(a),
        DataCommand::Check(a) => run_check(a),
    }
}

fn run_synth(a: &SynthArgs) -> Result<()> {
    if a.list {
        for d in Distortion::ALL {
            let p: Vec<String> = (1..=5).map(|l| format!("{}", d.param(l))).collect();
            println!("{:<16} {}", d.name(), p.join(" "));
        }
        return Ok(());
    }
    let mut cfg = SynthConfig::new(&a.out);
    if let Some(r) = &a.refs {
        cfg.refs = RefSource::Dir(r.clone());
    }
    cfg.size = a.size;
    cfg.crops_per_photo = a.crops;
    cfg.seed = a.seed;
    if let Some(j) = a.jobs {
        cfg.jobs = j.max(1);
    }
    let [train, val, test] = a.split[..] else {
        bail!(
            "--split takes three shares, train,val,test (got {})",
            a.split.len()
        );
    };
    cfg.ratios = Ratios::new(train, val, test)?;
    if !a.distortions.is_empty() {
        cfg.distortions = a
            .distortions
            .iter()
            .map(|n| {
                Distortion::parse(n).ok_or_else(|| {
                    let known: Vec<&str> = Distortion::ALL.iter().map(|d| d.name()).collect();
                    anyhow::anyhow!("unknown distortion `{n}`; known: {}", known.join(", "))
                })
            })
            .collect::<Result<_>>()?;
    }
    let t0 = Instant::now();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} images, {per_sec}, ETA {eta}")
            .expect("a fixed template parses")
            .progress_chars("=> "),
    );
    bar.set_message("synth");
    let rows = synth::build(&cfg, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    let count = |s: cprl::data::Split| rows.iter().filter(|r| r.split == s).count();
    println!(
        "wrote {} images ({} train, {} val, {} test) to {} in {secs:.1} s on {} threads",
        rows.len(),
        count(cprl::data::Split::Train),
        count(cprl::data::Split::Val),
        count(cprl::data::Split::Test),
        a.out.display(),
        cfg.jobs
    );
    println!("labels: {}", a.out.join("labels.csv").display());
    Ok(())
}

fn run_check(a: &CheckArgs) -> Result<()> {
    if a.data.format == "list" {
        for f in formats::formats() {
            let s = f.scale;
            let dir = if s.higher_is_better {
                "higher = better"
            } else {
                "lower = better"
            };
            println!("{:<16} [{}, {}] {dir:<15} {}", f.name, s.lo, s.hi, f.about);
        }
        return Ok(());
    }
    let ds = a.data.open(a.seed)?;
    let summary = check::check(&ds);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{summary}");
    }
    Ok(())
}
