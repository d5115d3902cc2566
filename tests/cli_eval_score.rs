//! The `cprl eval` and `cprl score` commands end to end, on a tiny checkpoint and a
//! few PNGs: eval prints the metrics table and writes JSON and CSV, and refuses a
//! split the dataset lacks; score prints one line per readable image, names and
//! counts the unreadable, fails only when nothing scored, and its shards
//! concatenate to the whole run.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use cprl::nn::{Cprl, CprlConfig};
use cprl::train::checkpoint::{Checkpoint, CheckpointMeta, DatasetInfo, module_entries, save};

/// A folder with a tiny checkpoint (`ck.safetensors`, trained on a 1-5 scale), six
/// PNGs, one corrupt `bad.png` and a synthetic-format `labels.csv` over all seven
/// (four test images, the corrupt one among them, three train).
fn setup(dir: &Path) {
    let model = Cprl::new(&gpu(), &CprlConfig::tiny(), 3).unwrap();
    let mut meta = CheckpointMeta::new(&model.config);
    meta.dataset = Some(DatasetInfo {
        name: "t".into(),
        fingerprint: "0".repeat(16),
        images: 7,
        scale_lo: 1.0,
        scale_hi: 5.0,
        higher_is_better: true,
    });
    let ck = Checkpoint {
        meta,
        tensors: module_entries("model", &model).unwrap(),
    };
    save(&dir.join("ck.safetensors"), &ck).unwrap();
    let imgs = dir.join("imgs");
    std::fs::create_dir(&imgs).unwrap();
    let mut labels = String::from("path,reference,distortion,level,pseudo_mos,split\n");
    for i in 0..6u32 {
        let (w, h) = (16 + 3 * i, 20);
        let v = rand_range(200 + u64::from(i), (w * h * 3) as usize, 0.0, 255.0);
        let img = image::RgbImage::from_raw(w, h, v.iter().map(|x| *x as u8).collect()).unwrap();
        img.save(imgs.join(format!("{i}.png"))).unwrap();
        let split = if i < 3 { "test" } else { "train" };
        labels += &format!("imgs/{i}.png,r{i},blur,1,{},{split}\n", f64::from(i) / 6.0);
    }
    std::fs::write(imgs.join("bad.png"), b"no image").unwrap();
    labels += "imgs/bad.png,r9,blur,1,0.5,test\n";
    std::fs::write(dir.join("labels.csv"), labels).unwrap();
}

fn cprl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cprl"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn cli_eval_prints_metrics_and_writes_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let data = ["--format", "synthetic", "--labels", "labels.csv"];
    let mut args = vec!["eval", "--ckpt", "ck.safetensors"];
    args.extend(data);
    args.extend(["--json", "out.json", "--csv", "out.csv", "--seed", "4"]);
    let out = cprl(d, &args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    println!("{stdout}"); // shown with --nocapture
    for part in [
        "SROCC",
        "95% CI",
        "KROCC",
        "PLCC",
        "RMSE",
        "logistic fit",
        "1 skipped",
        "bad.png",
    ] {
        assert!(stdout.contains(part), "no {part:?} in\n{stdout}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out.json")).unwrap()).unwrap();
    assert_eq!(json["metrics"]["n"], 3);
    assert_eq!(json["predictions"].as_array().unwrap().len(), 4);
    assert_eq!(json["skipped"].as_array().unwrap().len(), 1);
    assert_eq!(json["model"]["crop"], 16);
    assert!(json["adapter"].is_string());
    let csv = std::fs::read_to_string(d.join("out.csv")).unwrap();
    assert_eq!(csv.lines().next().unwrap(), "path,mos,mos_raw,score,score_raw");
    assert_eq!(csv.lines().count(), 5);

    let mut args = vec!["eval", "--ckpt", "ck.safetensors", "--split", "val"];
    args.extend(data);
    let out = cprl(d, &args);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no val split") && err.contains("labels.csv"),
        "{err}"
    );
}

#[test]
fn cli_score_skips_and_counts_the_unreadable_and_shards_concatenate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let out = cprl(d, &["score", "--ckpt", "ck.safetensors", "imgs"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    println!("{stdout}{stderr}"); // shown with --nocapture
    assert_eq!(stdout.lines().count(), 6, "{stdout}");
    for line in stdout.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let score: f64 = f[0].parse().unwrap();
        let raw: f64 = f[1].parse().unwrap();
        assert!((0.0..=1.0).contains(&score), "{line}");
        assert!((raw - (1.0 + 4.0 * score)).abs() < 1e-3, "{line}");
    }
    assert!(stderr.contains("bad.png"), "{stderr}");
    assert!(stderr.contains("scored 6 of 7 images; 1 skipped"), "{stderr}");

    let whole = text(
        &cprl(
            d,
            &["score", "--ckpt", "ck.safetensors", "--format", "csv", "imgs"],
        )
        .stdout,
    );
    let mut joined: Vec<String> = Vec::new();
    for i in 0..3 {
        let shard = format!("{i}/3");
        let args = [
            "score",
            "--ckpt",
            "ck.safetensors",
            "--format",
            "csv",
            "--shard",
            &shard,
            "imgs",
        ];
        let part = text(&cprl(d, &args).stdout);
        joined.extend(part.lines().skip(1).map(String::from));
    }
    let want: Vec<String> = whole.lines().skip(1).map(String::from).collect();
    // The same images in the same order, and the same scores up to rounding: each
    // process picks its kernel versions by timing, and a shard's smaller batches are
    // other shapes, so the last bits may differ (one CI run: 3e-8). 1e-5 is the
    // batch-invariance bound of tests/infer.rs.
    assert_eq!(joined.len(), want.len(), "{joined:?}\n{want:?}");
    for (j, w) in joined.iter().zip(&want) {
        let (jf, wf): (Vec<&str>, Vec<&str>) = (j.split(',').collect(), w.split(',').collect());
        assert_eq!(jf[0], wf[0], "the shards concatenate in order");
        for k in 1..wf.len() {
            let (a, b): (f64, f64) = (jf[k].parse().unwrap(), wf[k].parse().unwrap());
            assert!((a - b).abs() < 1e-5, "{j} against {w}");
        }
    }

    let out = cprl(
        d,
        &["score", "--ckpt", "ck.safetensors", "--shard", "3/3", "imgs"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("out of range"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn cli_score_fails_when_nothing_scores_or_no_checkpoint_exists() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    std::fs::write(d.join("list.txt"), "# only the bad one\nimgs/bad.png\n").unwrap();
    let out = cprl(d, &["score", "--ckpt", "ck.safetensors", "--list", "list.txt"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("none of the 1 images"),
        "{}",
        text(&out.stderr)
    );

    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/model/cprl.safetensors");
    if !shipped.exists() {
        let out = cprl(d, &["score", "imgs/0.png"]);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(err.contains("--ckpt") && err.contains("cprl train"), "{err}");
    }
}
