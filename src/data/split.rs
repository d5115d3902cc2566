//! Train / val / test splits.
//!
//! [`apply`] chooses, in this order:
//! 1. a pyiqa split file (`--split-file FILE --split-index K`): a Python pickle of
//!    `{K: {'train': [row, ...], 'val': [...], 'test': [...]}}` whose rows are
//!    0-based indices into the label file's data rows (pyiqa
//!    `docs/Dataset_Preparation.md`, "Using separate split file"; pyiqa's own
//!    default index is 1). A missing part is empty; rows it does not list are in
//!    no split. An index outside the rows, a row listed twice, or another
//!    structure is an error naming the file.
//! 2. the label file's own split column (KonIQ-10k's official split ...), when
//!    at least one sample has a split and [`SplitOptions::use_official`] is set;
//! 3. otherwise a seeded ratio split ([`ratio_split`]), 0.7 / 0.1 / 0.2 by default.
//!
//! The ratio split is reference-disjoint whenever samples name their reference
//! (every image of one reference lands in one part), deterministic for a seed, and
//! independent of row order: the groups are sorted by key before a shuffle with the
//! data layer's [`SplitMix64`], so the same seed and the same set give the same
//! split. A test pins the split of a fixed set and seed, so a change of
//! generator that would move images between parts is caught.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::data::error::DataResult;
use crate::data::rng::SplitMix64;
use crate::data::{DataError, Dataset, Sample, Split};

/// The fractions of a ratio split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ratios {
    pub train: f64,
    pub val: f64,
    pub test: f64,
}

impl Default for Ratios {
    /// 0.7 / 0.1 / 0.2: a validation part for early stopping and calibration and
    /// a test part of the size common in IQA papers (pyiqa uses 0.8 / 0.2 without
    /// validation).
    fn default() -> Ratios {
        Ratios {
            train: 0.7,
            val: 0.1,
            test: 0.2,
        }
    }
}

impl Ratios {
    /// Fractions `train`, `val`, `test`, checked by [`Ratios::validate`].
    pub fn new(train: f64, val: f64, test: f64) -> DataResult<Ratios> {
        let r = Ratios { train, val, test };
        r.validate()?;
        Ok(r)
    }

    /// Parses `train,val,test` (e.g. `0.8,0.1,0.1`); they must be finite, >= 0 and
    /// sum to 1 (within 1e-6).
    pub fn parse(s: &str) -> DataResult<Ratios> {
        let bad = || DataError::Invalid(format!("ratios `{s}`: expected train,val,test summing to 1"));
        let v: Vec<f64> = s
            .split(',')
            .map(|x| x.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        let [train, val, test] = v[..] else {
            return Err(bad());
        };
        Ratios::new(train, val, test)
    }

    /// Checks that the fractions are finite, >= 0 and sum to 1 (within 1e-6).
    pub fn validate(&self) -> DataResult<()> {
        let all = [self.train, self.val, self.test];
        let sum: f64 = all.iter().sum();
        if all.iter().all(|x| x.is_finite() && *x >= 0.0) && (sum - 1.0).abs() < 1e-6 {
            Ok(())
        } else {
            Err(DataError::Invalid(format!(
                "split ratios {}/{}/{} must be >= 0 and sum to 1",
                self.train, self.val, self.test
            )))
        }
    }
}

/// How [`apply`] assigns splits.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitOptions {
    /// A pyiqa split pickle (`--split-file`).
    pub file: Option<PathBuf>,
    /// The split to take from it (`--split-index`, default 1 as in pyiqa).
    pub index: i64,
    /// Keep the label file's own split column when it has one (default true).
    pub use_official: bool,
    /// Fractions of the ratio split.
    pub ratios: Ratios,
    /// Seed of the ratio split (default 123, pyiqa's seed).
    pub seed: u64,
}

impl Default for SplitOptions {
    fn default() -> SplitOptions {
        SplitOptions {
            file: None,
            index: 1,
            use_official: true,
            ratios: Ratios::default(),
            seed: 123,
        }
    }
}

/// Where the splits of a dataset came from.
#[derive(Clone, Debug, PartialEq)]
pub enum SplitSource {
    /// A pyiqa split file and the index used.
    File { path: PathBuf, index: i64 },
    /// The label file's own split column.
    Official,
    /// A seeded ratio split; `by_reference` when it kept references together.
    Ratio { seed: u64, by_reference: bool },
}

impl std::fmt::Display for SplitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SplitSource::File { path, index } => write!(f, "split file {} (split {index})", path.display()),
            SplitSource::Official => f.write_str("the label file's split column"),
            SplitSource::Ratio { seed, by_reference } => {
                let by = if *by_reference { ", reference-disjoint" } else { "" };
                write!(f, "ratio split (seed {seed}{by})")
            }
        }
    }
}

/// Assigns every sample's split as the module documentation says.
pub fn apply(ds: &mut Dataset, opts: &SplitOptions) -> DataResult<SplitSource> {
    if let Some(path) = &opts.file {
        apply_split_file(&mut ds.samples, path, opts.index)?;
        return Ok(SplitSource::File {
            path: path.clone(),
            index: opts.index,
        });
    }
    if opts.use_official && ds.samples.iter().any(|s| s.split.is_some()) {
        return Ok(SplitSource::Official);
    }
    let by_reference = ratio_split(&mut ds.samples, &opts.ratios, opts.seed)?;
    Ok(SplitSource::Ratio {
        seed: opts.seed,
        by_reference,
    })
}

/// A pyiqa split file: split index -> part name -> row indices.
pub type SplitFile = BTreeMap<i64, BTreeMap<String, Vec<i64>>>;

/// Reads a pyiqa split pickle (any pickle protocol, 0 to 5).
pub fn read_split_file(path: &Path) -> DataResult<SplitFile> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    serde_pickle::from_slice(&bytes, serde_pickle::DeOptions::new()).map_err(|e| DataError::Malformed {
        file: path.into(),
        line: None,
        why: format!(
            "not a pyiqa split file {{index: {{'train': [row, ...], 'val': [...], 'test': [...]}}}}: {e}"
        ),
    })
}

/// Sets each sample's split from split `index` of the pickle at `path`; samples
/// it does not list get no split.
pub fn apply_split_file(samples: &mut [Sample], path: &Path, index: i64) -> DataResult<()> {
    let file = read_split_file(path)?;
    let parts = file.get(&index).ok_or_else(|| DataError::NoSuchSplit {
        file: path.into(),
        index: index.to_string(),
        available: file.keys().map(|k| k.to_string()).collect(),
    })?;
    let assigned = rows_of(parts, path, index, samples.len())?;
    for (i, s) in samples.iter_mut().enumerate() {
        s.split = assigned.get(&i).copied();
    }
    Ok(())
}

/// Row -> split of one split's parts, every index checked.
fn rows_of(
    parts: &BTreeMap<String, Vec<i64>>,
    path: &Path,
    index: i64,
    rows: usize,
) -> DataResult<BTreeMap<usize, Split>> {
    let mut assigned = BTreeMap::new();
    for (name, indices) in parts {
        let split = Split::parse(name).ok_or_else(|| DataError::Malformed {
            file: path.into(),
            line: None,
            why: format!("split {index}: part `{name}` is none of train, val, test"),
        })?;
        for &i in indices {
            let row = usize::try_from(i).ok().filter(|&r| r < rows);
            let row = row.ok_or_else(|| DataError::BadSplitIndex {
                file: path.into(),
                split: index.to_string(),
                part: name.clone(),
                index: i,
                rows,
            })?;
            if let Some(before) = assigned.insert(row, split) {
                return Err(DataError::Malformed {
                    file: path.into(),
                    line: None,
                    why: format!("split {index}: row {row} is in both `{before}` and `{split}`"),
                });
            }
        }
    }
    Ok(assigned)
}

/// A seeded ratio split of `samples`, reference-disjoint when any sample names a
/// reference (samples without one then form groups of their own, by path).
/// Returns whether it grouped by reference.
pub fn ratio_split(samples: &mut [Sample], ratios: &Ratios, seed: u64) -> DataResult<bool> {
    ratios.validate()?;
    let by_reference = samples.iter().any(|s| s.reference.is_some());
    let keys: Vec<String> = samples.iter().map(|s| group_key(s, by_reference)).collect();
    for (s, part) in samples.iter_mut().zip(reference_disjoint(&keys, *ratios, seed)) {
        s.split = Some(part);
    }
    Ok(by_reference)
}

/// One part per key, equal keys in equal parts (a key is a reference, a photo, or
/// an image's own path).
///
/// The distinct keys are sorted, shuffled with [`SplitMix64`] seeded by `seed`,
/// and walked in that order: a group goes to the part in which the middle of its
/// items falls on the cumulative item count, so the parts' sizes are as near the
/// ratios as whole groups allow. The result depends on the keys and their counts,
/// not on their order.
pub fn reference_disjoint<K: AsRef<str>>(keys: &[K], ratios: Ratios, seed: u64) -> Vec<Split> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        groups.entry(k.as_ref()).or_default().push(i);
    }
    let mut order: Vec<&Vec<usize>> = groups.values().collect();
    SplitMix64::new(seed).shuffle(&mut order);
    let total = keys.len() as f64;
    let mut parts = vec![Split::Train; keys.len()];
    let mut before = 0usize;
    for members in order {
        let middle = (before as f64 + members.len() as f64 / 2.0) / total;
        let part = part_at(middle, &ratios);
        for &i in members {
            parts[i] = part;
        }
        before += members.len();
    }
    parts
}

/// The key that keeps a sample's group together.
fn group_key(s: &Sample, by_reference: bool) -> String {
    match (&s.reference, by_reference) {
        (Some(r), true) => format!("ref:{r}"),
        _ => format!("img:{}", s.path.to_string_lossy()),
    }
}

/// The part in which the cumulative fraction `x` falls.
fn part_at(x: f64, r: &Ratios) -> Split {
    if x < r.train {
        Split::Train
    } else if x < r.train + r.val {
        Split::Val
    } else {
        Split::Test
    }
}

/// References that appear in more than one part (a leak between parts).
pub fn leaking_references(samples: &[Sample]) -> Vec<String> {
    let mut parts: BTreeMap<&str, BTreeSet<Split>> = BTreeMap::new();
    for s in samples {
        if let (Some(r), Some(p)) = (&s.reference, s.split) {
            parts.entry(r).or_default().insert(p);
        }
    }
    parts
        .into_iter()
        .filter(|(_, p)| p.len() > 1)
        .map(|(r, _)| r.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_parse_and_validate() {
        assert_eq!(Ratios::parse("0.8, 0.1, 0.1").unwrap().train, 0.8);
        assert!(Ratios::parse("0.8,0.3,0.1").is_err());
        assert!(Ratios::parse("0.8,0.2").is_err());
        assert!(Ratios::parse("a,b,c").is_err());
    }
}
