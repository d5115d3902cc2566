//! `report.html`: one self-contained page. The plots are embedded as base64 data
//! URIs and the style sheet is inline, so the file opens offline and can be mailed
//! or archived alone.

use std::fmt::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Report, summary_rows};

const STYLE: &str = "body{font-family:sans-serif;max-width:1240px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f2f2f2}\
figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}code{background:#f4f4f4;padding:1px 4px}";

const HOW_TO_READ: &str = "SROCC is the rank agreement between the model's scores and the pseudo-MOS \
labels of the test images: 1 means the same order, 0 no relation, -1 the reverse. The CI is a 95% \
bootstrap interval of SROCC over the test images; two models whose intervals overlap widely are not \
told apart by this test split. PLCC is the linear agreement, before and after the usual 4-parameter \
logistic fit. score std is the spread of the test scores: a collapsed model can still rank well but \
puts every score within a narrow band, so check it next to SROCC and in the scatter plots.";

/// The whole page for `r`; `pngs` are `(file name, PNG bytes)` as written next to it.
pub fn report_html(r: &Report, pngs: &[(String, Vec<u8>)]) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        h,
        "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        esc(&r.title)
    );
    let _ = writeln!(
        h,
        "<h1>{}</h1>\n<p>Created {}</p>",
        esc(&r.title),
        esc(&r.created)
    );
    push_facts(&mut h, r);
    push_summary(&mut h, r);
    push_gates(&mut h, r);
    push_robustness(&mut h, r);
    push_figures(&mut h, pngs);
    push_notes(&mut h, r);
    let _ = writeln!(h, "<h2>How to read this</h2>\n<p>{}</p>", esc(HOW_TO_READ));
    h.push_str("</body>\n</html>\n");
    h
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn push_facts(h: &mut String, r: &Report) {
    h.push_str("<h2>Run</h2>\n<table>\n");
    let facts = [
        ("adapter", r.adapter.clone()),
        ("CPU", r.cpu.clone()),
        ("dataset", r.dataset.clone()),
        ("command", r.command.clone()),
        ("total time", format!("{:.1} s", r.total_seconds)),
    ];
    for (k, v) in facts {
        let _ = writeln!(h, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    h.push_str("</table>\n");
}

fn push_summary(h: &mut String, r: &Report) {
    h.push_str("<h2>Test results</h2>\n<table>\n<tr><th></th>");
    for m in &r.models {
        let _ = write!(h, "<th>{}</th>", esc(&m.name));
    }
    h.push_str("</tr>\n");
    for (label, cells) in summary_rows(r) {
        let _ = write!(h, "<tr><td>{}</td>", esc(&label));
        for c in cells {
            let _ = write!(h, "<td>{}</td>", esc(&c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn push_gates(h: &mut String, r: &Report) {
    let gated: Vec<_> = r
        .models
        .iter()
        .filter_map(|m| m.gate.as_ref().map(|g| (m, g)))
        .collect();
    if gated.is_empty() {
        return;
    }
    h.push_str("<h2>Gate health</h2>\n<table>\n<tr><th>model</th><th>channels on</th><th>channels</th>");
    h.push_str("<th>mask spread</th><th>top-set stability</th></tr>\n");
    for (m, g) in gated {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{:.2}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td></tr>",
            esc(&m.name),
            g.channels_on,
            g.channels,
            g.m_spread,
            g.top_set_stability
        );
    }
    h.push_str("</table>\n");
}

/// The robustness pass: what it did, then one line per model, attack and eps.
fn push_robustness(h: &mut String, r: &Report) {
    if r.robustness.is_empty() {
        return;
    }
    h.push_str("<h2>Under attack</h2>\n");
    if let Some(setup) = &r.robustness_setup {
        let _ = writeln!(h, "<p>{}</p>", esc(setup));
    }
    h.push_str("<table>\n<tr><th>model</th><th>attack</th><th>eps (/255)</th><th>SROCC clean</th>");
    h.push_str("<th>SROCC attacked</th><th>|&Delta;s| / std</th><th>crossed 0.5</th>");
    h.push_str("<th>left to reflection</th><th>strongest surrogate</th></tr>\n");
    for x in &r.robustness {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.2}</td><td>{:.1}%</td><td>{:.3}</td><td>{}</td></tr>",
            esc(&x.model),
            esc(&x.attack),
            x.eps_255,
            x.srocc_clean,
            x.srocc_attacked,
            x.change_in_std,
            100.0 * x.crossed_midpoint,
            x.reflection_distance,
            esc(x.strongest.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table>\n");
}

fn push_figures(h: &mut String, pngs: &[(String, Vec<u8>)]) {
    h.push_str("<h2>Plots</h2>\n");
    for (name, bytes) in pngs {
        let _ = writeln!(
            h,
            "<figure><img alt=\"{0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0}</figcaption></figure>",
            esc(name),
            STANDARD.encode(bytes)
        );
    }
}

/// The run's notes, then each model's evaluation notes (why a metric is undefined,
/// a logistic fit that fell back), which would otherwise only be in the JSON.
fn push_notes(h: &mut String, r: &Report) {
    let model_notes = r
        .models
        .iter()
        .flat_map(|m| m.test.notes.iter().map(move |n| format!("{}: {n}", m.name)));
    let notes: Vec<String> = r.notes.iter().cloned().chain(model_notes).collect();
    if notes.is_empty() {
        return;
    }
    h.push_str("<h2>Notes</h2>\n<ul>\n");
    for n in notes {
        let _ = writeln!(h, "<li>{}</li>", esc(&n));
    }
    h.push_str("</ul>\n");
}
