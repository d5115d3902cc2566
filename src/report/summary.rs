//! The side-by-side summary: one row per measure, one column per model. The terminal
//! table and the HTML table read the same rows, so they cannot disagree.

use super::{ModelReport, Report};

/// A value with four decimals, the precision of every correlation in the summary;
/// NaN prints as `NaN` so an undefined value is never mistaken for a number.
pub fn format_value(x: f64) -> String {
    if x.is_nan() {
        "NaN".to_string()
    } else {
        format!("{x:.4}")
    }
}

/// `(measure, one cell per model)`, in the order the summary shows them.
pub fn summary_rows(r: &Report) -> Vec<(String, Vec<String>)> {
    let row = |label: &str, cell: &dyn Fn(&ModelReport) -> String| {
        (label.to_string(), r.models.iter().map(cell).collect::<Vec<_>>())
    };
    vec![
        row("preset", &|m| m.preset.clone()),
        row("test images", &|m| m.test.n.to_string()),
        row("SROCC", &|m| format_value(m.test.srocc)),
        row("SROCC 95% CI", &|m| format_ci(m.test.srocc_ci)),
        row("KROCC", &|m| format_value(m.test.krocc)),
        row("PLCC", &|m| format_value(m.test.plcc)),
        row("PLCC (logistic)", &|m| format_value(m.test.plcc_logistic)),
        row("RMSE", &|m| format_value(m.test.rmse)),
        row("RMSE (logistic)", &|m| format_value(m.test.rmse_logistic)),
        row("score std", &|m| format_value(m.score_std)),
        row("train time (s)", &|m| format!("{:.1}", m.train_seconds)),
        row("images/s", &|m| format!("{:.1}", m.images_per_second)),
        row("params", &|m| m.params.to_string()),
        row("gate channels on", &|m| format_gate(m)),
    ]
}

/// The summary as an aligned text table for the terminal: a header line with the
/// model names, then one line per row of [`summary_rows`]. Correlations print with
/// four decimals ([`format_value`]).
pub fn summary_table(r: &Report) -> String {
    let header = (
        "".to_string(),
        r.models.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
    );
    let mut lines = vec![header];
    lines.extend(summary_rows(r));
    let label_width = lines.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..r.models.len())
        .map(|i| {
            lines
                .iter()
                .map(|(_, cells)| cells[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (label, cells) in &lines {
        out.push_str(&format!("{label:<label_width$}"));
        for (cell, width) in cells.iter().zip(&widths) {
            out.push_str(&format!("  {cell:>width$}"));
        }
        out.push('\n');
    }
    out
}

fn format_ci(ci: Option<(f64, f64)>) -> String {
    match ci {
        Some((lo, hi)) => format!("[{lo:.3}, {hi:.3}]"),
        None => "-".to_string(),
    }
}

fn format_gate(m: &ModelReport) -> String {
    match &m.gate {
        Some(g) => format!("{:.1}/{}", g.channels_on, g.channels),
        None => "-".to_string(),
    }
}
