//! The demo report: every file written, readable and consistent with the report
//! given; per-distortion SROCC on hand-derivable cases; the terminal table.

use std::path::{Path, PathBuf};
use std::time::Instant;

use cprl::data::rng::SplitMix64;
use cprl::metrics::correlation::{Correlations, EvalOptions, evaluate};
use cprl::report::plots::{CURVES_SIZE, SCATTER_SIZE, per_distortion_size};
use cprl::report::robustness::CURVE_SIZE;
use cprl::report::tables::{ROBUSTNESS_HEADER, SUMMARY_HEADER};
use cprl::report::{
    CurvePoint, GateHealth, ModelReport, Prediction, Report, RobustnessRow, format_value,
    per_distortion_srocc, summary_table, write_report,
};

const DISTORTIONS: [&str; 5] = ["blur", "jpeg", "noise", "pixelate", "contrast"];
const IMAGES: usize = 50;

/// 50 images, 10 per distortion at levels 1..=5 twice; the score is the MOS plus
/// seeded noise of standard deviation `noise`, so a smaller noise ranks better.
fn predictions(seed: u64, noise: f64) -> Vec<Prediction> {
    let mut rng = SplitMix64::new(seed);
    (0..IMAGES)
        .map(|i| {
            let level = (i % 5) as u32 + 1;
            let mos = (1.0 - level as f64 / 6.0 + 0.05 * rng.normal()).clamp(0.0, 1.0);
            Prediction {
                path: format!("test/img_{i:03}.png"),
                mos,
                score: (mos + noise * rng.normal()).clamp(0.0, 1.0),
                distortion: Some(DISTORTIONS[i / 10].to_string()),
                level: Some(level),
            }
        })
        .collect()
}

/// Ten points; validation runs on every second step only.
fn curve(seed: u64, nan_at: Option<usize>) -> Vec<CurvePoint> {
    let mut rng = SplitMix64::new(seed);
    (0..10)
        .map(|i| {
            let validated = i % 2 == 1;
            let rise = 0.03 + 0.01 * seed as f64;
            let srocc = if nan_at == Some(i) {
                f64::NAN
            } else {
                0.3 + rise * i as f64
            };
            CurvePoint {
                step: 20 * (i as u64 + 1),
                epoch: (i + 1) as f64 / 2.0,
                train_loss: Some(1.0 / (i as f64 + 1.0) + 0.02 * rng.next_f64()),
                val_srocc: validated.then_some(srocc),
                val_plcc: validated.then_some(srocc - 0.02),
                score_std: validated.then_some(0.2),
            }
        })
        .collect()
}

fn model(name: &str, seed: u64, noise: f64, gate: Option<GateHealth>, nan_at: Option<usize>) -> ModelReport {
    let predictions = predictions(seed, noise);
    let (scores, mos): (Vec<f64>, Vec<f64>) = predictions.iter().map(|p| (p.score, p.mos)).unzip();
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (scores.len() - 1) as f64;
    ModelReport {
        name: name.to_string(),
        preset: "tiny".to_string(),
        test: evaluate(&scores, &mos, &EvalOptions::default()),
        predictions,
        curve: curve(seed, nan_at),
        train_seconds: 12.5,
        images_per_second: 400.0,
        params: 12345,
        gate,
        score_std: var.sqrt(),
    }
}

fn demo_report() -> Report {
    let gate = GateHealth {
        channels_on: 11.5,
        channels: 32,
        m_spread: 0.31,
        top_set_stability: 0.87,
    };
    Report {
        title: "cprl demo".to_string(),
        created: "2026-01-01 00:00 UTC".to_string(),
        adapter: "test adapter".to_string(),
        cpu: "test cpu".to_string(),
        dataset: "synthetic, 50 test images".to_string(),
        command: "cprl demo --preset tiny".to_string(),
        models: vec![
            model("baseline", 1, 0.15, None, None),
            // The NaN validation SROCC at point 3 must be left out of the curve.
            model("cprl", 2, 0.08, Some(gate), Some(3)),
        ],
        robustness: Vec::new(),
        robustness_setup: None,
        notes: vec!["synthetic data: pseudo-MOS from the distortion levels".to_string()],
        total_seconds: 30.0,
    }
}

fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn png_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: not a readable PNG: {e}", path.display()));
    (img.width(), img.height())
}

#[test]
fn write_report_writes_every_file_non_empty() {
    let r = demo_report();
    let dir = out_dir("report_files");
    let start = Instant::now();
    let files = write_report(&dir, &r).unwrap();
    eprintln!("write_report: {:.3} s", start.elapsed().as_secs_f64());
    let names: Vec<String> = files
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let want = [
        "report.json",
        "summary.csv",
        "predictions.csv",
        "curves.csv",
        "curves.png",
        "scatter_baseline.png",
        "scatter_cprl.png",
        "per_distortion.png",
        "report.html",
    ];
    assert_eq!(names, want, "files written");
    for p in &files.files {
        assert!(
            p.starts_with(&dir),
            "{} is outside {}",
            p.display(),
            dir.display()
        );
        let len = std::fs::metadata(p).unwrap().len();
        assert!(len > 0, "{} is empty", p.display());
    }
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), want.len());
}

#[test]
fn write_report_pngs_decode_at_their_sizes() {
    let r = demo_report();
    let dir = out_dir("report_pngs");
    write_report(&dir, &r).unwrap();
    assert_eq!(png_size(&dir.join("curves.png")), CURVES_SIZE);
    assert_eq!(png_size(&dir.join("scatter_baseline.png")), SCATTER_SIZE);
    assert_eq!(png_size(&dir.join("scatter_cprl.png")), SCATTER_SIZE);
    assert_eq!(
        png_size(&dir.join("per_distortion.png")),
        per_distortion_size(5, 2)
    );
}

#[test]
fn write_report_html_is_self_contained() {
    let r = demo_report();
    let dir = out_dir("report_html");
    write_report(&dir, &r).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let uris = html.matches("data:image/png;base64,").count();
    assert!(uris >= 4, "{uris} embedded PNGs, want 4 or more");
    assert!(!html.contains("http"), "report.html refers to something online");
    for want in [
        "baseline",
        "cprl",
        "Gate health",
        "How to read this",
        "test adapter",
        "cprl demo --preset tiny",
    ] {
        assert!(html.contains(want), "report.html lacks {want:?}");
    }
}

#[test]
fn write_report_summary_csv_matches_correlations() {
    let r = demo_report();
    let dir = out_dir("report_csv");
    write_report(&dir, &r).unwrap();
    let mut rd = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    let header: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, SUMMARY_HEADER);
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    for (row, m) in rows.iter().zip(&r.models) {
        let t: &Correlations = &m.test;
        let field = |name: &str| row[SUMMARY_HEADER.iter().position(|h| *h == name).unwrap()].to_string();
        assert_eq!(field("name"), m.name);
        assert_eq!(field("n"), t.n.to_string());
        assert_eq!(
            field("srocc").parse::<f64>().unwrap(),
            t.srocc,
            "{} srocc",
            m.name
        );
        let (lo, hi) = t.srocc_ci.expect("50 distinct pairs have an interval");
        assert_eq!(field("srocc_ci_lo").parse::<f64>().unwrap(), lo);
        assert_eq!(field("srocc_ci_hi").parse::<f64>().unwrap(), hi);
        assert_eq!(field("plcc").parse::<f64>().unwrap(), t.plcc);
    }
    assert_eq!(&rows[0][15], "", "baseline has no gate");
    assert_eq!(rows[1][15].parse::<f64>().unwrap(), 11.5);
}

#[test]
fn write_report_curves_csv_keeps_nan_and_missing_apart() {
    let r = demo_report();
    let dir = out_dir("report_curves");
    write_report(&dir, &r).unwrap();
    let mut rd = csv::Reader::from_path(dir.join("curves.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 20);
    // cprl's point 3 (a validation step) has a NaN SROCC; point 2 was not validated.
    assert_eq!(&rows[13][4], "NaN");
    assert_eq!(&rows[12][4], "");
}

#[test]
fn write_report_survives_empty_and_nan_models() {
    let mut r = demo_report();
    r.models[0].curve.clear();
    r.models[0].predictions.clear();
    r.models[0].test = evaluate(&[], &[], &EvalOptions::default());
    for p in &mut r.models[1].predictions {
        p.score = f64::NAN;
    }
    for c in &mut r.models[1].curve {
        c.val_srocc = c.val_srocc.map(|_| f64::NAN);
    }
    let dir = out_dir("report_empty");
    let files = write_report(&dir, &r).unwrap();
    assert_eq!(files.files.len(), 9);
    // cprl's NaN scores leave every type undefined: bars marked "undefined".
    assert_eq!(
        png_size(&dir.join("per_distortion.png")),
        per_distortion_size(5, 2)
    );
    let mut unlabelled = demo_report();
    for m in &mut unlabelled.models {
        m.predictions.iter_mut().for_each(|p| p.distortion = None);
    }
    let dir = out_dir("report_unlabelled");
    write_report(&dir, &unlabelled).unwrap();
    assert_eq!(
        png_size(&dir.join("per_distortion.png")),
        per_distortion_size(0, 2)
    );
    assert!(summary_table(&r).contains("NaN"));
}

fn pred(distortion: &str, mos: f64, score: f64) -> Prediction {
    Prediction {
        path: String::new(),
        mos,
        score,
        distortion: Some(distortion.to_string()),
        level: None,
    }
}

#[test]
fn per_distortion_srocc_matches_hand_values() {
    let preds = vec![
        // "up": scores in MOS order: ranks agree, SROCC 1.
        pred("up", 0.1, 0.2),
        pred("up", 0.5, 0.3),
        pred("up", 0.9, 0.8),
        // "down": scores in reverse order: SROCC -1.
        pred("down", 0.1, 0.9),
        pred("down", 0.5, 0.5),
        pred("down", 0.9, 0.4),
        // "flat": constant scores: undefined.
        pred("flat", 0.2, 0.5),
        pred("flat", 0.4, 0.5),
        // "swap": MOS ranks 1 2 3 4, score ranks 2 1 3 4: d^2 sum = 2,
        // SROCC = 1 - 6 * 2 / (4 * 15) = 0.8.
        pred("swap", 0.1, 0.2),
        pred("swap", 0.2, 0.1),
        pred("swap", 0.3, 0.3),
        pred("swap", 0.4, 0.4),
        // "one": a single image: undefined.
        pred("one", 0.3, 0.3),
    ];
    let mut unlabelled = pred("x", 0.5, 0.5);
    unlabelled.distortion = None;
    let mut all = preds;
    all.push(unlabelled);
    let got = per_distortion_srocc(&all);
    let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["down", "flat", "one", "swap", "up"],
        "sorted by name, unlabelled left out"
    );
    let counts: Vec<usize> = got.iter().map(|g| g.1).collect();
    assert_eq!(counts, [3, 2, 1, 4, 3]);
    assert!((got[0].2 + 1.0).abs() < 1e-12, "down: {}", got[0].2);
    assert!(got[1].2.is_nan(), "flat: {}", got[1].2);
    assert!(got[2].2.is_nan(), "one: {}", got[2].2);
    assert!((got[3].2 - 0.8).abs() < 1e-12, "swap: {}", got[3].2);
    assert!((got[4].2 - 1.0).abs() < 1e-12, "up: {}", got[4].2);
}

#[test]
fn summary_table_shows_both_models_and_their_srocc() {
    let r = demo_report();
    let table = summary_table(&r);
    eprintln!("{table}");
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("baseline") && header.contains("cprl"),
        "header: {header}"
    );
    let srocc_line = table.lines().find(|l| l.starts_with("SROCC ")).unwrap();
    for m in &r.models {
        let printed = format!("{:.4}", m.test.srocc);
        assert_eq!(format_value(m.test.srocc), printed);
        assert!(srocc_line.contains(&printed), "{srocc_line:?} lacks {printed}");
    }
    assert!(table.contains("11.5/32"), "gate column");
}

fn robustness_row(model: &str, attack: &str, eps: f64, srocc: f64) -> RobustnessRow {
    RobustnessRow {
        model: model.into(),
        attack: attack.into(),
        eps_255: eps,
        images: 21,
        srocc_clean: 0.8,
        srocc_attacked: srocc,
        plcc_attacked: srocc,
        mean_abs_change: eps / 100.0,
        change_in_std: eps / 10.0,
        crossed_midpoint: 0.1,
        reflection_distance: 0.5,
        strongest: attack.ends_with("worst").then(|| "straight-through".to_string()),
    }
}

#[test]
fn write_report_robustness_rows_give_their_csv_curves_and_section() {
    let mut r = demo_report();
    r.robustness = vec![
        robustness_row("baseline", "reflect", 2.0, 0.5),
        robustness_row("baseline", "reflect", 4.0, 0.1),
        robustness_row("cprl", "reflect", 2.0, 0.7),
        robustness_row("cprl", "reflect worst", 2.0, 0.6),
        robustness_row("cprl", "reflect", 4.0, 0.65),
        robustness_row("cprl", "reflect worst", 4.0, 0.55),
    ];
    r.robustness_setup = Some("21 test images, reflection at 2 and 4 / 255".into());
    let dir = out_dir("report_robustness");
    write_report(&dir, &r).unwrap();
    let csv = std::fs::read_to_string(dir.join("robustness.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0].split(',').collect::<Vec<_>>(),
        ROBUSTNESS_HEADER.to_vec()
    );
    assert_eq!(lines.len(), 1 + r.robustness.len());
    assert!(
        lines[4].starts_with("cprl,reflect worst,2,21,0.8,0.6,"),
        "{}",
        lines[4]
    );
    assert!(lines[4].ends_with(",straight-through"), "{}", lines[4]);
    for f in ["robustness_srocc_reflect.png", "robustness_change_reflect.png"] {
        assert_eq!(png_size(&dir.join(f)), CURVE_SIZE, "{f}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    for want in [
        "Under attack",
        "reflect worst",
        "21 test images",
        "straight-through",
    ] {
        assert!(html.contains(want), "report.html lacks {want:?}");
    }
    // A report without attacks writes neither the CSV nor the curves.
    let dir = out_dir("report_no_robustness");
    write_report(&dir, &demo_report()).unwrap();
    assert!(!dir.join("robustness.csv").exists());
    assert!(!dir.join("robustness_srocc_reflect.png").exists());
}
