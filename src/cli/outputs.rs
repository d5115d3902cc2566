//! Output files of the commands: checked before any work, written whole or not at all.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

/// Refuses an output file path that cannot be written: a folder, or a file in a folder
/// that does not exist. `flag` names the option in the error.
pub fn check_output_file(flag: &str, p: &Path) -> Result<()> {
    if p.is_dir() {
        bail!("{flag} {}: is a folder; give a file name", p.display());
    }
    if let Some(d) = p.parent().filter(|d| !d.as_os_str().is_empty())
        && !d.is_dir()
    {
        bail!(
            "{flag} {}: the folder {} does not exist",
            p.display(),
            d.display()
        );
    }
    Ok(())
}

/// Writes `bytes` to `path` by way of a temporary file beside it and a rename, so an
/// interrupted run never leaves half a file under the name asked for.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{}: not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
