//! Robustness curves over the attack budget (`cprl attack --plots`): one line per
//! model, drawn with the report's line panel ([`super::plots`]: the embedded font,
//! the palette, markers on every point), so these figures read like the demo's.
//! The drawing takes plain `(name, points)` series, not attack rows, so the demo can
//! draw the same curves from its own numbers.

use std::path::{Path, PathBuf};

use super::RobustnessRow;
use super::files;
use super::plots::{LinePanel, draw_line_panel, ensure_font, file_slug, render_png};
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

/// The demo report's robustness figures, for each attack of `rows` (an adaptive
/// attack's rows, `<attack> worst`, fold into their attack): attacked SROCC and mean
/// |delta s| in clean-score std over eps, one line per model, eps 0 the clean figure.
/// A model met by the adaptive attack is drawn with its worst case, the others with
/// the plain attack (for them it is the same attack), so each line is the strongest
/// attack that model met.
pub fn report_curves(rows: &[RobustnessRow]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut attacks: Vec<&str> = Vec::new();
    for r in rows {
        let base = r.attack.trim_end_matches(" worst");
        if !attacks.contains(&base) {
            attacks.push(base);
        }
    }
    let mut out = Vec::new();
    for attack in attacks {
        let srocc = strongest_series(rows, attack, |r| (r.srocc_attacked, r.srocc_clean));
        let change = strongest_series(rows, attack, |r| (r.change_in_std, 0.0));
        let slug = file_slug(attack);
        out.push((
            format!("robustness_srocc_{slug}.png"),
            curves_png(
                &format!("SROCC under {attack} (worst case per model)"),
                "eps (1/255)",
                "SROCC",
                &srocc,
                Some((-1.0, 1.0)),
            )?,
        ));
        out.push((
            format!("robustness_change_{slug}.png"),
            curves_png(
                &format!("score change under {attack}, in clean-score std"),
                "eps (1/255)",
                "mean |delta s| / std",
                &change,
                None,
            )?,
        ));
    }
    Ok(out)
}

/// One series per model for `attack`: its worst-case rows where it has them, else
/// its plain rows; `value` gives (attacked, clean) and the clean one is the eps-0
/// point.
fn strongest_series(
    rows: &[RobustnessRow],
    attack: &str,
    value: impl Fn(&RobustnessRow) -> (f64, f64),
) -> Vec<(String, Vec<(f64, f64)>)> {
    let worst = format!("{attack} worst");
    let mut models: Vec<&str> = Vec::new();
    for r in rows {
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
    }
    models
        .into_iter()
        .map(|m| {
            let of = |name: &str| -> Vec<&RobustnessRow> {
                rows.iter().filter(|r| r.model == m && r.attack == name).collect()
            };
            let mut picked = of(&worst);
            let label = if picked.is_empty() {
                picked = of(attack);
                m.to_string()
            } else {
                format!("{m} (adaptive)")
            };
            let mut pts: Vec<(f64, f64)> = picked.iter().map(|r| (r.eps_255, value(r).0)).collect();
            if let Some(first) = picked.first() {
                pts.insert(0, (0.0, value(first).1));
            }
            (label, pts)
        })
        .collect()
}
