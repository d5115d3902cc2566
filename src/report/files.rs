//! File writing for the report: every file goes through a temporary name.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Creates `dir` and its parents.
pub(super) fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| io_error(dir, source))
}

/// Writes `bytes` to `dir/name` by way of `dir/.name.tmp` and a rename, so a crash or
/// a reader in the middle never sees a truncated file. Returns the final path.
pub(super) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(|source| io_error(&tmp, source))?;
    std::fs::rename(&tmp, &path).map_err(|source| io_error(&path, source))?;
    Ok(path)
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}
