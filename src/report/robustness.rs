//! Robustness curves over the attack budget (`cprl attack --plots`): one line per
//! model, drawn with the report's line panel ([`super::plots`]: the embedded font,
//! the palette, markers on every point), so these figures read like the demo's.
//! The drawing takes plain `(name, points)` series, not attack rows, so the demo can
//! draw the same curves from its own numbers.

use std::path::{Path, PathBuf};

use super::files;
use super::plots::{LinePanel, draw_line_panel, ensure_font, render_png};
use crate::Result;

/// Size of one robustness curve figure.
pub const CURVE_SIZE: (u32, u32) = (720, 480);

/// A PNG of [`CURVE_SIZE`] with one line per `(name, points)` series. Points that
/// are not finite are left out (a series left without points is named in the title
/// as having none); `y_limits` bounds the y axis where the figure has natural bounds
/// (SROCC: -1 to 1).
pub fn curves_png(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    y_limits: Option<(f64, f64)>,
) -> Result<Vec<u8>> {
    ensure_font()?;
    let panel = LinePanel {
        title,
        x_desc: x_label,
        y_desc: y_label,
        lines: series
            .iter()
            .map(|(name, pts)| {
                let finite = pts
                    .iter()
                    .copied()
                    .filter(|(x, y)| x.is_finite() && y.is_finite());
                (name.as_str(), finite.collect())
            })
            .collect(),
        y_limits,
        whole_x: false,
    };
    render_png(title, CURVE_SIZE, |area| draw_line_panel(area, &panel))
}

/// Writes `(file name, bytes)` pairs into `dir` (created if missing), each through a
/// temporary name and a rename as the report's files are, so an interrupted run
/// leaves no half-written figure. Returns the paths written.
pub fn write_files(dir: &Path, named: &[(String, Vec<u8>)]) -> Result<Vec<PathBuf>> {
    files::create_dir(dir)?;
    named
        .iter()
        .map(|(name, bytes)| files::write_atomic(dir, name, bytes))
        .collect()
}
