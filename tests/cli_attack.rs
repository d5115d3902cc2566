//! `cprl attack` end to end on a tiny checkpoint and a few PNGs: the table, the
//! summary over eps, JSON, CSV, per-image scores, robustness curves and the saved
//! adversarial crops; shards whose per-image scores concatenate to the whole run's;
//! and bad arguments refused before any work, with nothing written.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use cprl::nn::{Cprl, CprlConfig};
use cprl::report::robustness::CURVE_SIZE;
use cprl::train::checkpoint::{Checkpoint, CheckpointMeta, module_entries, save};

/// A folder with a tiny checkpoint `ck.safetensors`, six PNGs of 16..31 x 20 pixels,
/// one corrupt `bad.png`, and a synthetic-format `labels.csv` over all seven.
fn setup(dir: &Path) {
    let model = Cprl::new(&gpu(), &CprlConfig::tiny(), 3).unwrap();
    let ck = Checkpoint {
        meta: CheckpointMeta::new(&model.config),
        tensors: module_entries("model", &model).unwrap(),
    };
    save(&dir.join("ck.safetensors"), &ck).unwrap();
    let imgs = dir.join("imgs");
    std::fs::create_dir(&imgs).unwrap();
    let mut labels = String::from("path,reference,distortion,level,pseudo_mos,split\n");
    for i in 0..6u32 {
        let (w, h) = (16 + 3 * i, 20);
        let v = rand_range(300 + u64::from(i), (w * h * 3) as usize, 0.0, 255.0);
        let img = image::RgbImage::from_raw(w, h, v.iter().map(|x| *x as u8).collect()).unwrap();
        img.save(imgs.join(format!("{i}.png"))).unwrap();
        labels += &format!("imgs/{i}.png,r{i},blur,1,{},test\n", f64::from(i) / 6.0);
    }
    std::fs::write(imgs.join("bad.png"), b"no image").unwrap();
    labels += "imgs/bad.png,r9,blur,1,0.5,test\n";
    std::fs::write(dir.join("labels.csv"), labels).unwrap();
}

fn cprl(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec![
        "attack",
        "--ckpt",
        "ck.safetensors",
        "--format",
        "synthetic",
        "--labels",
        "labels.csv",
        "--steps",
        "2",
    ];
    all.extend(args);
    Command::new(env!("CARGO_BIN_EXE_cprl"))
        .current_dir(dir)
        .args(all)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> String {
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    stdout
}

/// The rows of a CSV file as field vectors, header first.
fn csv_rows(p: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_path(p).unwrap();
    r.records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect()
}

fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let k = rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    rows[1..].iter().map(|r| r[k].clone()).collect()
}

#[test]
fn cli_attack_writes_the_table_summary_files_plots_and_crops() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let out = cprl(
        d,
        &[
            "--attack",
            "fgsm,ifgsm",
            "--eps",
            "0,2,4",
            "--json",
            "out.json",
            "--csv",
            "out.csv",
            "--summary-csv",
            "summary.csv",
            "--scores",
            "scores.csv",
            "--plots",
            "plots",
            "--save-adv",
            "adv",
        ],
    );
    let stdout = ok(&out);
    println!("{stdout}");
    assert!(stdout.contains(" R ") && stdout.contains("MSU"), "{stdout}");
    assert!(stdout.contains("over eps"), "{stdout}");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("out.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "2 attacks x 3 budgets");
    for r in rows {
        assert!(r["r_robustness"].as_f64().is_some(), "{r}");
        assert!(r["msu_robustness"].as_f64().is_some(), "{r}");
        if r["eps_255"].as_f64() == Some(0.0) {
            // Nothing moved: every image at the floor, the R term log10(room / 1e-6).
            assert_eq!(r["r_unmoved"].as_u64(), Some(6), "{r}");
        }
    }
    let summary = json["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 2);
    for s in summary {
        assert_eq!(s["max_eps_255"].as_f64(), Some(4.0), "{s}");
        let mean = s["mean_srocc"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&mean), "{s}");
        assert!(s["mean_change_in_std"].as_f64().unwrap() >= 0.0, "{s}");
    }
    let summary_csv = csv_rows(&d.join("summary.csv"));
    assert_eq!(column(&summary_csv, "attack"), ["fgsm", "ifgsm"]);
    assert_eq!(csv_rows(&d.join("out.csv")).len(), 7);

    // Six readable images (bad.png skipped) x 6 runs, image by image.
    let scores = csv_rows(&d.join("scores.csv"));
    assert_eq!(scores.len(), 1 + 36);
    let paths = column(&scores, "path");
    assert_eq!(paths[0], "imgs/0.png");
    assert_eq!(paths[35], "imgs/5.png");
    let (clean, attacked) = (column(&scores, "clean"), column(&scores, "attacked"));
    for (k, eps) in column(&scores, "eps_255").iter().enumerate() {
        if eps == "0" {
            assert_eq!(clean[k], attacked[k], "eps 0 leaves the score");
        }
    }

    for name in [
        "srocc_fgsm.png",
        "change_fgsm.png",
        "srocc_ifgsm.png",
        "change_ifgsm.png",
    ] {
        let img = image::open(d.join("plots").join(name)).unwrap();
        assert_eq!((img.width(), img.height()), CURVE_SIZE, "{name}");
    }

    for (eps, linf) in [("0", 0.0), ("4", 4.0)] {
        let folder = d.join("adv/0_ck/fgsm").join(format!("eps_{eps}"));
        let crops = csv_rows(&folder.join("crops.csv"));
        assert!(crops.len() > 6, "at least one crop per image: {}", crops.len());
        let files = column(&crops, "file");
        let unique: std::collections::BTreeSet<&String> = files.iter().collect();
        assert_eq!(unique.len(), files.len(), "one file per crop: {files:?}");
        for f in &files {
            let img = image::open(folder.join(f)).unwrap();
            assert_eq!((img.width(), img.height()), (16, 16), "{f}");
        }
        for v in column(&crops, "linf_255") {
            // The clean crop is f32: k/255 to about 1e-5 of a step.
            assert!(
                v.parse::<f64>().unwrap() <= linf + 1e-4,
                "eps {eps}: saved {v}/255 from clean"
            );
        }
        let psnr: Vec<f64> = column(&crops, "psnr")
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        if eps == "0" {
            // The saved crop is the clean crop: piq's PSNR of identical images, 80 dB,
            // less the f32 rounding of the clean crop's k/255.
            assert!(psnr.iter().all(|&p| p > 79.99 && p <= 80.0), "{psnr:?}");
        } else {
            // Within 4/255 the MSE is at most (4/255)^2: PSNR >= 20 log10(255 / 4).
            assert!(psnr.iter().all(|&p| p >= 36.08), "{psnr:?}");
            assert!(psnr.iter().any(|&p| p < 79.0), "nothing moved: {psnr:?}");
        }
    }
}

#[test]
fn cli_attack_shards_concatenate_to_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let run = |extra: &[&str], file: &str| {
        let mut args = vec!["--attack", "fgsm", "--eps", "2", "--scores", file];
        args.extend(extra);
        ok(&cprl(d, &args));
        csv_rows(&d.join(file))
    };
    let whole = run(&[], "whole.csv");
    let first = run(&["--shard", "0/2"], "s0.csv");
    let second = run(&["--shard", "1/2"], "s1.csv");
    assert_eq!(first[0], whole[0], "same header");
    let joined: Vec<Vec<String>> = first.iter().chain(&second[1..]).cloned().collect();
    assert_eq!(joined.len(), whole.len());
    for (a, b) in joined.iter().zip(&whole) {
        assert_eq!(a[..5], b[..5], "path, label, checkpoint, attack, eps");
        if a[0] != "path" {
            for k in 5..7 {
                let (x, y): (f64, f64) = (a[k].parse().unwrap(), b[k].parse().unwrap());
                assert!((x - y).abs() <= 1e-5, "{a:?} vs {b:?}");
            }
        }
    }
}

#[test]
fn cli_attack_refuses_bad_arguments_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    std::fs::write(d.join("file"), b"x").unwrap();
    let cases: [(&[&str], &str); 8] = [
        (&["--norm", "l1"], "unknown norm"),
        (&["--norm", "l2", "--save-adv", "adv"], "--save-adv"),
        (&["--jpeg", "0"], "quality"),
        (&["--shard", "2/2"], "out of range"),
        (&["--shard", "1/0"], "at least 1"),
        (&["--save-adv", "file"], "not a folder"),
        (&["--plots", "file"], "not a folder"),
        (&["--attack", "pgd,cw"], "unknown attack"),
    ];
    for (args, want) in cases {
        let mut all = vec!["--json", "out.json", "--scores", "scores.csv"];
        all.extend(args);
        let out = cprl(d, &all);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} ran");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!text(&out.stdout).contains("adapter"), "{args:?} opened the GPU");
        assert!(
            !d.join("out.json").exists() && !d.join("scores.csv").exists(),
            "{args:?} wrote output"
        );
    }
    let out = cprl(d, &["--csv", "missing/out.csv"]);
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn cli_attack_adaptive_and_jpeg_add_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    // One crop per image, so the per-crop worst case is the per-image one.
    let args = [
        "--attack",
        "reflect",
        "--eps",
        "4",
        "--adaptive",
        "--crops-per-side",
        "1",
        "--csv",
        "a.csv",
        "--save-adv",
        "adv",
    ];
    let stdout = ok(&cprl(d, &args));
    assert!(stdout.contains("reflect worst"), "{stdout}");
    let rows = csv_rows(&d.join("a.csv"));
    assert_eq!(column(&rows, "attack"), ["reflect", "reflect worst"]);
    // The worst case is at least as far along as the plain attack, image by image on
    // the attack's own loss; over the set, its distance to the reflection is no larger.
    let dist = column(&rows, "reflection_distance");
    let (plain, worst): (f64, f64) = (dist[0].parse().unwrap(), dist[1].parse().unwrap());
    assert!(worst <= plain + 1e-6, "worst {worst} > plain {plain}");
    // --save-adv keeps the worst case's crops, one per image, within the budget.
    let crops = csv_rows(&d.join("adv/0_ck/reflect_worst/eps_4/crops.csv"));
    assert_eq!(crops.len(), 7, "a header and one crop per readable image");
    for v in column(&crops, "linf_255") {
        assert!(
            v.parse::<f64>().unwrap() <= 4.0 + 1e-4,
            "saved {v}/255 from clean"
        );
    }
    let args = ["--attack", "pgd", "--eps", "4", "--jpeg", "90", "--csv", "j.csv"];
    ok(&cprl(d, &args));
    let rows = csv_rows(&d.join("j.csv"));
    assert_eq!(column(&rows, "attack"), ["pgd jpeg90"]);
    let budget: f64 = column(&rows, "max_linf_255")[0].parse().unwrap();
    assert!(budget <= 4.0 + 1e-3, "max |x' - x| = {budget}/255");
}

#[test]
fn cli_attack_l2_and_the_literature_attacks_keep_their_budgets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let args = [
        "--attack",
        "pgd,korhonen,perceptual",
        "--eps",
        "2,4",
        "--norm",
        "l2",
        "--crops-per-side",
        "1",
        "--csv",
        "l2.csv",
    ];
    let stdout = ok(&cprl(d, &args));
    assert!(stdout.contains("rms"), "{stdout}");
    let rows = csv_rows(&d.join("l2.csv"));
    assert_eq!(
        column(&rows, "attack"),
        ["pgd", "pgd", "korhonen", "korhonen", "perceptual", "perceptual"]
    );
    assert!(column(&rows, "norm").iter().all(|n| n == "l2"));
    for (eps, rms) in column(&rows, "eps_255").iter().zip(column(&rows, "max_rms_255")) {
        let (eps, rms): (f64, f64) = (eps.parse().unwrap(), rms.parse().unwrap());
        assert!(
            rms > 0.0 && rms <= eps * (1.0 + 1e-4),
            "rms {rms}/255 at eps {eps}/255"
        );
    }
}
