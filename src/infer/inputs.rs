//! The list of images `cprl score` works on: command-line files and folders, list
//! files, and the shard of that list one job takes.
//!
//! The full ordered list is formed first ([`expand_inputs`], [`read_list`]); then
//! [`Shard`] `i/n` takes the `i`-th of `n` contiguous parts, so running every shard
//! and concatenating the outputs in shard order gives the output of one run over the
//! whole list.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};

/// File extensions (any case) taken from a folder: the formats the decoder reads.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];

/// Part `index` of `count` contiguous parts of a list. `index` is 0-based, as
/// Kubernetes' `JOB_COMPLETION_INDEX` and Slurm's `SLURM_ARRAY_TASK_ID` (for arrays
/// starting at 0) are, so a job can pass its index unchanged: `--shard 0/4` .. `3/4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole list as one part.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Checks `index < count` (and so `count > 0`).
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 {
            return Err(Error::Invalid("shard count must be at least 1 (got i/0)".into()));
        }
        if index >= count {
            return Err(Error::Invalid(format!(
                "shard {index}/{count} is out of range: the index is 0-based, so it must be \
                 in 0..{count} (0/{count} to {}/{count})",
                count - 1
            )));
        }
        Ok(Shard { index, count })
    }

    /// The positions this part takes from a list of `len`: `[i len / n, (i+1) len / n)`.
    /// Parts differ in size by at most one; with more parts than items some are empty.
    pub fn range(&self, len: usize) -> Range<usize> {
        let at = |i: usize| (i as u128 * len as u128 / self.count as u128) as usize;
        at(self.index)..at(self.index + 1)
    }

    /// This part of `items`.
    pub fn take<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        &items[self.range(items.len())]
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// Parses `i/n`, e.g. `0/4`.
    fn from_str(s: &str) -> Result<Shard> {
        let bad = || Error::Invalid(format!("--shard `{s}`: expected i/n with 0 <= i < n, e.g. 0/4"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i: usize = i.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n)
    }
}

/// The paths of a list file's text: one per line, surrounding whitespace trimmed,
/// blank lines and lines starting with `#` ignored. Relative paths are kept as
/// written (taken from the current folder, as for command-line inputs).
pub fn parse_list(text: &str) -> Vec<PathBuf> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(PathBuf::from)
        .collect()
}

/// [`parse_list`] on the file at `path`.
pub fn read_list(path: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: format!("list file {}", path.display()),
        source,
    })?;
    Ok(parse_list(&text))
}

/// Command-line inputs as image paths, in order: a folder gives its image files
/// ([`IMAGE_EXTENSIONS`], hidden files left out) sorted by path, descending into
/// subfolders when `recursive`; anything else is kept as given (a missing or
/// unreadable file is then reported and skipped when scored, like any bad image).
pub fn expand_inputs(inputs: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found = Vec::new();
            images_in(input, recursive, &mut found)?;
            found.sort();
            out.extend(found);
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

/// Appends the image files of `dir` (and of its subfolders when `recursive`).
fn images_in(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |source| Error::Io {
        path: format!("folder {}", dir.display()),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            if recursive {
                images_in(&path, recursive, out)?;
            }
        } else if is_image(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}
