//! `cprl data check`: a summary of a dataset before training on it.
//!
//! [`check`] counts images, label ranges (raw and normalised) with mean and
//! standard deviation, split sizes, references that leak across splits, missing
//! image files (looked up under the root) and duplicate paths. The [`Summary`]
//! prints as a short report ([`std::fmt::Display`]) and serialises to JSON
//! ([`serde::Serialize`]).

use std::collections::{BTreeSet, HashSet};

use serde::Serialize;

use crate::data::split::leaking_references;
use crate::data::{Dataset, Split};

/// How many names the summary lists for each kind of problem.
pub const EXAMPLES: usize = 5;

/// Minimum, maximum, mean and (population) standard deviation of some values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
}

impl Stats {
    /// `None` for no values.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Stats> {
        let v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return None;
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        Some(Stats {
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mean,
            std: var.sqrt(),
        })
    }
}

/// Images per split; `none` = in no split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SplitCounts {
    pub train: usize,
    pub val: usize,
    pub test: usize,
    pub none: usize,
}

/// A list of names, capped at [`EXAMPLES`], with the full count.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Examples {
    pub count: usize,
    pub first: Vec<String>,
}

impl Examples {
    fn from(names: impl IntoIterator<Item = String>) -> Examples {
        let mut e = Examples::default();
        for n in names {
            if e.first.len() < EXAMPLES {
                e.first.push(n);
            }
            e.count += 1;
        }
        e
    }
}

/// The summary [`check`] returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Format or dataset name.
    pub name: String,
    /// Folder the image paths are relative to.
    pub root: String,
    pub images: usize,
    /// The raw scale: range and direction.
    pub scale_lo: f64,
    pub scale_hi: f64,
    pub higher_is_better: bool,
    /// Raw scores as the label file gives them.
    pub raw: Option<Stats>,
    /// Labels on [0, 1], higher = better.
    pub label: Option<Stats>,
    /// Samples with a standard deviation.
    pub with_std: usize,
    /// Distinct references and distortion types named.
    pub references: usize,
    pub distortions: usize,
    pub splits: SplitCounts,
    /// References with images in more than one split.
    pub leaking_references: Examples,
    /// Image files not found under the root (each path once).
    pub missing: Examples,
    /// Paths listed more than once (each counted once per extra listing).
    pub duplicates: Examples,
}

/// Summarises `ds`, looking up every image file under its root.
pub fn check(ds: &Dataset) -> Summary {
    let s = &ds.samples;
    let distinct = |f: fn(&crate::data::Sample) -> Option<&String>| {
        s.iter().filter_map(f).collect::<BTreeSet<_>>().len()
    };
    Summary {
        name: ds.name.clone(),
        root: ds.root.display().to_string(),
        images: s.len(),
        scale_lo: ds.scale.lo,
        scale_hi: ds.scale.hi,
        higher_is_better: ds.scale.higher_is_better,
        raw: Stats::of(s.iter().map(|x| x.raw)),
        label: Stats::of(s.iter().map(|x| x.label)),
        with_std: s.iter().filter(|x| x.std.is_some()).count(),
        references: distinct(|x| x.reference.as_ref()),
        distortions: distinct(|x| x.distortion.as_ref()),
        splits: split_counts(ds),
        leaking_references: Examples::from(leaking_references(s)),
        missing: missing(ds),
        duplicates: duplicates(ds),
    }
}

fn split_counts(ds: &Dataset) -> SplitCounts {
    let mut c = SplitCounts::default();
    for s in &ds.samples {
        match s.split {
            Some(Split::Train) => c.train += 1,
            Some(Split::Val) => c.val += 1,
            Some(Split::Test) => c.test += 1,
            None => c.none += 1,
        }
    }
    c
}

/// Paths (each once) whose file is not under the root.
fn missing(ds: &Dataset) -> Examples {
    let mut seen = HashSet::new();
    Examples::from(
        ds.samples
            .iter()
            .filter(|x| seen.insert(&x.path) && !ds.path_of(x).is_file())
            .map(|x| x.path.display().to_string()),
    )
}

fn duplicates(ds: &Dataset) -> Examples {
    let mut seen = HashSet::new();
    Examples::from(
        ds.samples
            .iter()
            .filter(|x| !seen.insert(&x.path))
            .map(|x| x.path.display().to_string()),
    )
}

/// A number with at most 4 decimals, trailing zeros dropped.
fn num(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

fn stats_line(s: &Option<Stats>) -> String {
    match s {
        Some(s) => format!(
            "min {}  max {}  mean {}  std {}",
            num(s.min),
            num(s.max),
            num(s.mean),
            num(s.std)
        ),
        None => "-".into(),
    }
}

fn examples_line(e: &Examples) -> String {
    if e.count == 0 {
        return "0".into();
    }
    let more = if e.count > e.first.len() { ", ..." } else { "" };
    format!("{} ({}{more})", e.count, e.first.join(", "))
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dir = if self.higher_is_better { "higher" } else { "lower" };
        let sp = &self.splits;
        writeln!(f, "dataset     {} (root {})", self.name, self.root)?;
        writeln!(
            f,
            "images      {} ({} with std, {} references, {} distortion types)",
            self.images, self.with_std, self.references, self.distortions
        )?;
        writeln!(
            f,
            "scale       [{}, {}], {dir} = better",
            num(self.scale_lo),
            num(self.scale_hi)
        )?;
        writeln!(f, "raw         {}", stats_line(&self.raw))?;
        writeln!(f, "label       {}", stats_line(&self.label))?;
        writeln!(
            f,
            "splits      train {}  val {}  test {}  none {}",
            sp.train, sp.val, sp.test, sp.none
        )?;
        writeln!(f, "leaks       {}", examples_line(&self.leaking_references))?;
        writeln!(f, "missing     {}", examples_line(&self.missing))?;
        write!(f, "duplicates  {}", examples_line(&self.duplicates))
    }
}
