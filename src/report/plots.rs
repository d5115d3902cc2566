//! The report's PNG plots, drawn with plotters into an RGB buffer and encoded with
//! the `image` crate (plotters' own encoder would pull in a second `image` version).
//!
//! Text uses DejaVu Sans compiled into the binary and registered with plotters'
//! ab_glyph backend as "sans-serif", so drawing needs no system font library.
//! Missing data never fails a plot: a panel without points says so in its caption.

use std::collections::{BTreeSet, HashSet};
use std::io::Cursor;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use super::{ModelReport, Report, per_distortion_srocc};
use crate::{Error, Result};

/// DejaVu Sans (licence in `assets/fonts/LICENSE-DejaVu.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Size of `curves.png`: two panels side by side.
pub const CURVES_SIZE: (u32, u32) = (1200, 480);
/// Size of each `scatter_<model>.png`.
pub const SCATTER_SIZE: (u32, u32) = (640, 640);
/// Width of `per_distortion.png`; its height follows the number of bars.
pub const PER_DISTORTION_WIDTH: u32 = 900;

/// One colour per model, in report order (matplotlib's tab10, which reads well on
/// white and for the common colour blindnesses); wraps after ten models.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const FONT: &str = "sans-serif";

pub(super) type Drawn = std::result::Result<(), Box<dyn std::error::Error>>;
pub(super) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Size of `per_distortion.png` for this many distortion types and models: one row
/// of bars per type, each model's bar 14 px high, so labels never overlap, and a
/// strip at the bottom for the legend, so it never hides a bar.
pub fn per_distortion_size(distortions: usize, models: usize) -> (u32, u32) {
    let height = 130 + distortions.max(1) * row_pixels(models) + legend_pixels(models);
    (PER_DISTORTION_WIDTH, height as u32)
}

/// Height of one distortion's row of bars.
fn row_pixels(models: usize) -> usize {
    12 + 14 * models.max(1)
}

/// Height of the per-distortion legend: one 20 px line per model and its frame.
fn legend_pixels(models: usize) -> usize {
    16 + 20 * models.max(1)
}

/// The file name of a model's scatter plot: `scatter_<name>.png`, with every
/// character other than ASCII letters, digits, `-` and `_` replaced by `_` so that a
/// model name cannot escape the report folder.
pub fn scatter_file_name(model: &str) -> String {
    format!("scatter_{}.png", file_slug(model))
}

/// `name` with every character other than ASCII letters, digits, `-` and `_` made
/// `_`, for a file name.
pub fn file_slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `(file name, PNG bytes)` of every plot: curves, one scatter per model, the
/// per-distortion bars.
pub(super) fn all_plots(r: &Report) -> Result<Vec<(String, Vec<u8>)>> {
    ensure_font()?;
    let mut out = vec![("curves.png".to_string(), curves_png(&r.models)?)];
    let mut used = HashSet::new();
    for (i, m) in r.models.iter().enumerate() {
        let mut name = scatter_file_name(&m.name);
        // Two names that sanitise alike must not overwrite each other.
        if !used.insert(name.clone()) {
            name = scatter_file_name(&format!("{}_{i}", m.name));
            used.insert(name.clone());
        }
        let png = render_png(&name, SCATTER_SIZE, |area| draw_scatter(area, m))?;
        out.push((name, png));
    }
    out.push(("per_distortion.png".to_string(), per_distortion_png(&r.models)?));
    if !r.robustness.is_empty() {
        out.extend(super::robustness::report_curves(&r.robustness)?);
    }
    Ok(out)
}

/// Registers the embedded font once per process.
pub(super) fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok());
    crate::ensure!(
        ok,
        Error::Invalid("the embedded DejaVu Sans font could not be parsed; the plots cannot be drawn".into())
    );
    Ok(())
}

/// Draws with `draw` on a white canvas of `size` and returns the PNG.
pub(super) fn render_png(file: &str, size: (u32, u32), draw: impl FnOnce(&Area) -> Drawn) -> Result<Vec<u8>> {
    let fail = |e: &dyn std::fmt::Display| Error::Invalid(format!("{file}: drawing failed: {e}"));
    let mut buf = vec![0_u8; size.0 as usize * size.1 as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        area.fill(&WHITE).map_err(|e| fail(&e))?;
        draw(&area).map_err(|e| fail(&e))?;
        area.present().map_err(|e| fail(&e))?;
    }
    let img = image::RgbImage::from_raw(size.0, size.1, buf)
        .ok_or_else(|| fail(&"the pixel buffer does not match the image size"))?;
    let mut png = Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| fail(&e))?;
    Ok(png.into_inner())
}

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// `(low, high)` of the finite values with 5% margins, or `None` if there are none.
/// A single value gets a margin of its own, since plotters needs low < high.
fn padded_span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return None;
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.05
    };
    let span = (lo - pad, hi + pad);
    (span.0.is_finite() && span.1.is_finite()).then_some(span)
}

/// One line chart: a titled panel with one line per model.
pub(super) struct LinePanel<'a> {
    pub(super) title: &'a str,
    pub(super) x_desc: &'a str,
    pub(super) y_desc: &'a str,
    /// `(model, points)`; points are finite.
    pub(super) lines: Vec<(&'a str, Vec<(f64, f64)>)>,
    /// Bounds the y axis may not pass (SROCC lives in [-1, 1]).
    pub(super) y_limits: Option<(f64, f64)>,
    /// Label the x axis with whole numbers (steps are counts; "20.0" misleads).
    pub(super) whole_x: bool,
}

fn curves_png(models: &[ModelReport]) -> Result<Vec<u8>> {
    let loss = LinePanel {
        title: "Training loss",
        x_desc: "step",
        y_desc: "loss",
        lines: models
            .iter()
            .map(|m| {
                (
                    m.name.as_str(),
                    finite(m.curve.iter().map(|c| (c.step as f64, c.train_loss))),
                )
            })
            .collect(),
        y_limits: None,
        whole_x: true,
    };
    let srocc = LinePanel {
        title: "Validation SROCC",
        x_desc: "epoch",
        y_desc: "SROCC",
        lines: models
            .iter()
            .map(|m| {
                (
                    m.name.as_str(),
                    finite(m.curve.iter().map(|c| (c.epoch, c.val_srocc))),
                )
            })
            .collect(),
        y_limits: Some((-1.0, 1.0)),
        whole_x: false,
    };
    render_png("curves.png", CURVES_SIZE, |area| {
        let panels = area.split_evenly((1, 2));
        draw_line_panel(&panels[0], &loss)?;
        draw_line_panel(&panels[1], &srocc)
    })
}

/// The points whose x and y are both present and finite; a NaN validation pass is
/// left out rather than drawn at an arbitrary place.
fn finite(points: impl Iterator<Item = (f64, Option<f64>)>) -> Vec<(f64, f64)> {
    points
        .filter_map(|(x, y)| y.map(|y| (x, y)))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect()
}

pub(super) fn draw_line_panel(area: &Area, p: &LinePanel) -> Drawn {
    let empty: Vec<&str> = p
        .lines
        .iter()
        .filter(|(_, pts)| pts.is_empty())
        .map(|(n, _)| *n)
        .collect();
    let caption = if empty.is_empty() {
        p.title.to_string()
    } else {
        format!("{} (no points: {})", p.title, empty.join(", "))
    };
    let all = || p.lines.iter().flat_map(|(_, pts)| pts.iter());
    let x = padded_span(all().map(|q| q.0)).unwrap_or((0.0, 1.0));
    let mut y = padded_span(all().map(|q| q.1)).unwrap_or((0.0, 1.0));
    if let Some((lo, hi)) = p.y_limits {
        y = (y.0.max(lo), y.1.min(hi));
        if y.0 >= y.1 {
            y = (lo, hi);
        }
    }
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
    let whole = |v: &f64| format!("{v:.0}");
    let plain = |v: &f64| short_number(*v);
    chart
        .configure_mesh()
        .x_desc(p.x_desc)
        .y_desc(p.y_desc)
        .x_label_formatter(if p.whole_x { &whole } else { &plain })
        .max_light_lines(2)
        .label_style((FONT, 13))
        .draw()?;
    let mut labelled = false;
    for (i, (name, pts)) in p.lines.iter().enumerate() {
        if pts.is_empty() {
            continue;
        }
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        // Markers show single points and where a NaN pass left a gap.
        chart.draw_series(pts.iter().map(|&q| Circle::new(q, 3, c.filled())))?;
        labelled = true;
    }
    if labelled {
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    } else {
        draw_centered_note(area, "no data")?;
    }
    Ok(())
}

/// `v` with at most three decimals and no trailing zeros: an axis label, not data.
fn short_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

fn draw_centered_note(area: &Area, text: &str) -> Drawn {
    let (w, h) = area.dim_in_pixel();
    let style = TextStyle::from((FONT, 22).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(text.to_string(), (w as i32 / 2, h as i32 / 2), style))?;
    Ok(())
}

/// Predicted score against pseudo-MOS on [0, 1] x [0, 1], with the diagonal and the
/// test correlations in the caption.
fn draw_scatter(area: &Area, m: &ModelReport) -> Drawn {
    let caption = format!(
        "{}: SROCC {}, PLCC {} (n = {})",
        m.name,
        super::format_value(m.test.srocc),
        super::format_value(m.test.plcc),
        m.test.n
    );
    let inside = |v: f64| (0.0..=1.0).contains(&v);
    let pts: Vec<(f64, f64)> = m
        .predictions
        .iter()
        .map(|p| (p.mos, p.score))
        .filter(|&(x, y)| inside(x) && inside(y))
        .collect();
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("pseudo-MOS")
        .y_desc("predicted score")
        .max_light_lines(2)
        .label_style((FONT, 13))
        .draw()?;
    chart.draw_series(LineSeries::new(
        vec![(0.0, 0.0), (1.0, 1.0)],
        RGBColor(160, 160, 160).stroke_width(1),
    ))?;
    let c = colour(0);
    chart.draw_series(pts.iter().map(|&q| Circle::new(q, 3, c.mix(0.6).filled())))?;
    let left_out = m.predictions.len() - pts.len();
    let note = match (m.predictions.len(), left_out) {
        (0, _) => Some("no predictions".to_string()),
        (_, 0) => None,
        (n, k) => Some(format!(
            "{k} of {n} points outside [0, 1] or not finite, not shown"
        )),
    };
    if let Some(note) = note {
        chart.draw_series(std::iter::once(Text::new(
            note,
            (0.03, 0.95),
            (FONT, 14).into_font(),
        )))?;
    }
    Ok(())
}

fn per_distortion_png(models: &[ModelReport]) -> Result<Vec<u8>> {
    let per_model: Vec<Vec<(String, usize, f64)>> = models
        .iter()
        .map(|m| per_distortion_srocc(&m.predictions))
        .collect();
    let names: Vec<String> = per_model
        .iter()
        .flatten()
        .map(|(d, _, _)| d.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let size = per_distortion_size(names.len(), models.len());
    let bars = DistortionBars {
        models: models.iter().map(|m| m.name.as_str()).collect(),
        names,
        per_model,
    };
    render_png("per_distortion.png", size, |area| {
        draw_distortion_bars(area, &bars)
    })
}

/// What the per-distortion chart shows: one row per distortion type, one bar per
/// model within the row.
struct DistortionBars<'a> {
    models: Vec<&'a str>,
    /// Distortion types over all models, sorted.
    names: Vec<String>,
    /// [`per_distortion_srocc`] of each model.
    per_model: Vec<Vec<(String, usize, f64)>>,
}

fn draw_distortion_bars(area: &Area, b: &DistortionBars) -> Drawn {
    let rows = b.names.len();
    let longest = b.names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let caption = if rows == 0 {
        "SROCC per distortion type (no distortion labels in the predictions)"
    } else {
        "SROCC per distortion type"
    };
    // The first name in the top row: y = rows - 1 - index. The names are drawn by
    // hand: plotters' key-point axes cannot take a label formatter.
    let y_top = rows.max(1) as f64 - 0.5;
    let models = b.models.len();
    let y_bottom = -0.5 - legend_pixels(models) as f64 / row_pixels(models) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size((longest * 8 + 20).clamp(60, 260) as u32)
        .build_cartesian_2d(-1.0..1.0, y_bottom..y_top)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("SROCC within the type")
        .max_light_lines(1)
        .label_style((FONT, 13))
        .draw()?;
    let right = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, name) in b.names.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(-1.0, (rows - 1 - i) as f64));
        area.draw(&Text::new(name.clone(), (px - 8, py), right.clone()))?;
    }
    if rows > 0 {
        chart.draw_series(LineSeries::new(
            vec![(0.0, -0.5), (0.0, y_top)],
            BLACK.stroke_width(1),
        ))?;
    }
    let band = 0.8 / b.models.len().max(1) as f64;
    for (j, (model, values)) in b.models.iter().zip(&b.per_model).enumerate() {
        let c = colour(j);
        let bar = |(d, _, s): &(String, usize, f64)| {
            let i = b.names.iter().position(|n| n == d).unwrap_or(0);
            // Models stack top to bottom within a row, in report order.
            let top = (rows - 1 - i) as f64 + 0.4 - j as f64 * band;
            (top - band * 0.9, top, *s)
        };
        let defined: Vec<(f64, f64, f64)> = values.iter().map(bar).filter(|v| v.2.is_finite()).collect();
        chart
            .draw_series(
                defined
                    .iter()
                    .map(|&(lo, hi, s)| Rectangle::new([(0.0, lo), (s, hi)], c.filled())),
            )?
            .label(*model)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        let undefined = values.iter().map(bar).filter(|v| !v.2.is_finite());
        chart.draw_series(undefined.map(|(lo, hi, _)| {
            Text::new(
                "undefined",
                (0.02, (lo + hi) / 2.0 + 0.05),
                (FONT, 11).into_font().color(&c),
            )
        }))?;
    }
    if !b.models.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    if rows == 0 {
        draw_centered_note(area, "no data")?;
    }
    Ok(())
}
