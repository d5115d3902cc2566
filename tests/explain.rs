//! `cprl explain` and the `cprl::explain` library: the Jaccard overlap, ranking and
//! map arithmetic on hand values; the gate reading against `cprl score`'s scores;
//! and the binary end to end on a tiny random-init checkpoint (one JSON entry per
//! readable image, causal sets that are the k largest m, heatmaps at the crop size
//! that differ between images, an eps-0 attack that moves nothing), with a baseline
//! checkpoint, a negative eps and only unreadable images refused.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use cprl::explain::{
    NO_GATE, default_k, grid_crops, jaccard, load_crops, ranking, read_gate, top_k, upsample,
    weighted_channel_mean,
};
use cprl::infer::{PredictConfig, predict_files};
use cprl::nn::{Cprl, CprlConfig};
use cprl::train::checkpoint::{Checkpoint, CheckpointMeta, module_entries, save};

#[test]
fn jaccard_on_hand_values() {
    assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
    assert_eq!(jaccard(&[3, 1], &[1, 3]), 1.0, "order does not matter");
    assert_eq!(jaccard(&[0, 1], &[2, 3]), 0.0);
    assert_eq!(jaccard(&[5], &[5, 6, 7, 8]), 0.25);
    assert_eq!(jaccard(&[], &[]), 1.0, "two empty sets agree");
}

#[test]
fn top_k_is_the_k_largest_m_with_ties_to_the_lower_id() {
    let m = [0.2, 0.9, 0.5, 0.9, 0.1, 0.7];
    assert_eq!(ranking(&m), [1, 3, 5, 2, 0, 4]);
    assert_eq!(top_k(&m, 3), [1, 3, 5]);
    let m = rand_range(11, 64, 0.0, 1.0);
    for k in [1, 7, 16, 64] {
        let top = top_k(&m, k);
        let least_in = top.iter().map(|&c| m[c]).fold(f32::INFINITY, f32::min);
        let most_out = (0..m.len())
            .filter(|c| !top.contains(c))
            .map(|c| m[c])
            .fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(top.len(), k);
        assert!(least_in >= most_out, "k {k}: {least_in} < {most_out}");
    }
    assert_eq!(default_k(0.25, 128), 32);
    assert_eq!(default_k(0.25, 8), 2);
    assert_eq!(default_k(0.01, 8), 1, "at least one channel");
}

#[test]
fn channel_mean_is_weighted_by_the_given_weights_and_upsampling_keeps_levels() {
    // Two 1 x 2 channels: [1, 1] and [3, 5], weights 1 and 3.
    let maps = [1.0, 1.0, 3.0, 5.0];
    let got = weighted_channel_mean(&maps, [2, 1, 2], &[0, 1], &[1.0, 3.0]);
    assert_eq!(got, [2.5, 4.0]);
    // Zero weights fall back to the plain mean.
    assert_eq!(
        weighted_channel_mean(&maps, [2, 1, 2], &[0, 1], &[0.0, 0.0]),
        [2.0, 3.0]
    );
    // A constant map stays constant; a left-right ramp stays monotone and in range.
    assert!(
        upsample(&[0.7; 4], 2, 2, 8)
            .iter()
            .all(|&v| (v - 0.7).abs() < 1e-6)
    );
    let ramp = upsample(&[0.0, 1.0], 1, 2, 6);
    assert_eq!(ramp.len(), 36);
    assert!(ramp[..6].windows(2).all(|w| w[0] <= w[1]), "{ramp:?}");
    assert_eq!((ramp[0], ramp[5]), (0.0, 1.0));
}

#[test]
fn crops_are_the_score_grid_and_the_heatmap_crop_is_centred() {
    // Pixel (x, y) has red x, green y: a crop's first pixel gives its corner.
    let img = image::RgbImage::from_fn(40, 20, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let c = grid_crops(&img, 16, 3);
    assert_eq!((c.count, c.side), (6, 16), "3 crops across 40 px, 2 down 20 px");
    let plane = 16 * 16;
    let corner = |crop: &[f32]| ((crop[0] * 255.0).round(), (crop[plane] * 255.0).round());
    let per = 3 * plane;
    let corners: Vec<_> = (0..6).map(|i| corner(&c.data[i * per..(i + 1) * per])).collect();
    assert_eq!(
        corners,
        [
            (0.0, 0.0),
            (12.0, 0.0),
            (24.0, 0.0),
            (0.0, 4.0),
            (12.0, 4.0),
            (24.0, 4.0)
        ]
    );
    assert_eq!(c.centre_at, (12, 2));
    assert_eq!(corner(&c.centre), (12.0, 2.0));
}

/// Writes a tiny random-init checkpoint (gated, or the baseline) to `path`.
fn tiny_checkpoint(path: &Path, baseline: bool) -> Cprl {
    let cfg = if baseline {
        CprlConfig::tiny().baseline()
    } else {
        CprlConfig::tiny()
    };
    let model = Cprl::new(&gpu(), &cfg, 5).unwrap();
    let ck = Checkpoint {
        meta: CheckpointMeta::new(&model.config),
        tensors: module_entries("model", &model).unwrap(),
    };
    save(path, &ck).unwrap();
    model
}

/// Three random PNGs of 16..40 x 20 pixels (`0.png` .. `2.png`) and a corrupt
/// `bad.png` in `dir/imgs`.
fn images(dir: &Path) {
    let imgs = dir.join("imgs");
    std::fs::create_dir(&imgs).unwrap();
    for i in 0..3u32 {
        let (w, h) = (16 + 12 * i, 20);
        let v = rand_range(400 + u64::from(i), (w * h * 3) as usize, 0.0, 255.0);
        let img = image::RgbImage::from_raw(w, h, v.iter().map(|x| *x as u8).collect()).unwrap();
        img.save(imgs.join(format!("{i}.png"))).unwrap();
    }
    std::fs::write(imgs.join("bad.png"), b"no image").unwrap();
}

/// Runs `cprl explain ARGS` in `dir`, so relative paths in the arguments and the
/// JSON resolve there.
fn explain(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cprl"))
        .current_dir(dir)
        .arg("explain")
        .args(args)
        .output()
        .unwrap()
}

/// A process's output as text, for assertions and their messages.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn gate_reading_scores_an_image_as_cprl_score_does() {
    let dir = tempfile::tempdir().unwrap();
    images(dir.path());
    let model = tiny_checkpoint(&dir.path().join("ck.safetensors"), false);
    let cfg = PredictConfig::for_model(&model.config);
    let paths: Vec<_> = (0..3).map(|i| dir.path().join(format!("imgs/{i}.png"))).collect();
    let want = predict_files(&model, &paths, &cfg, None).unwrap().scores;
    for (p, &w) in paths.iter().zip(&want) {
        let crops = load_crops(p, &cfg).unwrap();
        let x = crops.to_device(&gpu()).unwrap();
        let r = read_gate(&model, &x).unwrap();
        assert!((r.score - w).abs() < 1e-5, "{}: {} vs {w}", p.display(), r.score);
        assert_eq!(r.m.len(), model.config.channels());
        assert!(r.m.iter().all(|v| (0.0..=1.0).contains(v)), "{:?}", r.m);
    }
    assert!(load_crops(&dir.path().join("imgs/bad.png"), &cfg).is_err());
}

#[test]
fn cli_explain_writes_rankings_heatmaps_and_an_unmoved_set_at_eps_0() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    images(d);
    tiny_checkpoint(&d.join("ck.safetensors"), false);
    let out = explain(
        d,
        &[
            "--ckpt",
            "ck.safetensors",
            "imgs",
            "--out",
            "heat",
            "--json",
            "out.json",
            "--eps",
            "0",
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stdout.contains("jaccard 1.000"), "{stdout}");
    assert!(
        stderr.contains("bad.png") && stderr.contains("1 skipped"),
        "{stderr}"
    );

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("out.json")).unwrap()).unwrap();
    assert_eq!(json["k"].as_u64(), Some(2), "round(0.25 * 8)");
    let entries = json["images"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "one entry per readable image");
    let mut heatmaps = Vec::new();
    for e in entries {
        let m: Vec<f64> = e["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["m"].as_f64().unwrap())
            .collect();
        assert_eq!(m.len(), 8);
        let top: Vec<usize> = serde_json::from_value(e["top_k"].clone()).unwrap();
        let mut by_m: Vec<usize> = (0..m.len()).collect();
        by_m.sort_by(|&a, &b| m[b].total_cmp(&m[a]).then(a.cmp(&b)));
        assert_eq!(top, by_m[..2].to_vec(), "{e}");
        let a = &e["attack"];
        assert_eq!(a["jaccard"].as_f64(), Some(1.0), "{e}");
        assert_eq!(a["score_change"].as_f64(), Some(0.0), "{e}");
        assert_eq!(a["top_k"], e["top_k"]);
        let png = image::open(d.join(e["heatmap"].as_str().unwrap()))
            .unwrap()
            .to_rgb8();
        assert_eq!(png.dimensions(), (16, 16), "the crop size");
        let ncpr = image::open(d.join(e["heatmap_ncpr"].as_str().unwrap()))
            .unwrap()
            .to_rgb8();
        assert_eq!(ncpr.dimensions(), (16, 16));
        heatmaps.push(png);
    }
    assert!(d.join("heat/0_cpr.png").is_file());
    assert_ne!(
        heatmaps[0], heatmaps[1],
        "two different images, two different heatmaps"
    );
}

#[test]
fn cli_explain_reports_the_attacked_set() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    images(d);
    tiny_checkpoint(&d.join("ck.safetensors"), false);
    let out = explain(
        d,
        &[
            "--ckpt",
            "ck.safetensors",
            "imgs/1.png",
            "--steps",
            "2",
            "--top-k",
            "3",
            "--json",
            "a.json",
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("reflect 4/255: jaccard"), "{stdout}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("a.json")).unwrap()).unwrap();
    let e = &json["images"][0];
    assert_eq!(e["top_k"].as_array().unwrap().len(), 3);
    let j = e["attack"]["jaccard"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&j), "{e}");
    let (clean, attacked) = (
        e["score"].as_f64().unwrap(),
        e["attack"]["score"].as_f64().unwrap(),
    );
    let change = e["attack"]["score_change"].as_f64().unwrap();
    assert!((attacked - clean - change).abs() < 1e-12, "{e}");
}

#[test]
fn cli_explain_refuses_the_baseline_a_negative_eps_and_only_unreadable_images() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    images(d);
    tiny_checkpoint(&d.join("base.safetensors"), true);
    tiny_checkpoint(&d.join("ck.safetensors"), false);

    let out = explain(d, &["--ckpt", "base.safetensors", "imgs/0.png", "--out", "o1"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(NO_GATE), "{}", text(&out.stderr));
    assert!(!d.join("o1").exists(), "refused before writing anything");

    let out = explain(
        d,
        &[
            "--ckpt",
            "ck.safetensors",
            "imgs/0.png",
            "--eps",
            "-1",
            "--out",
            "o2",
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--eps -1"), "{}", text(&out.stderr));
    assert!(!d.join("o2").exists());

    let out = explain(d, &["--ckpt", "ck.safetensors", "imgs/bad.png", "--out", "o3"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bad.png") && stderr.contains("none of the 1 images"),
        "{stderr}"
    );
}
