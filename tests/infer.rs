//! Batch prediction (`infer`) and the input list of `cprl score` (`infer::inputs`):
//! an image's score does not depend on the images batched with it; a corrupt file
//! is skipped, scored NaN and named; two runs agree bit for bit; shards concatenate
//! to the whole list; list files and folders expand as documented.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use cprl::data::{Dataset, Sample, Scale};
use cprl::infer::inputs::{Shard, expand_inputs, parse_list, read_list};
use cprl::infer::{PredictConfig, predict, predict_files};
use cprl::nn::{Cprl, CprlConfig};

/// Writes a seeded random RGB PNG of `w` x `h` to `path`.
fn write_png(path: &Path, w: u32, h: u32, salt: u64) {
    let v = rand_range(salt, (w * h * 3) as usize, 0.0, 255.0);
    let bytes: Vec<u8> = v.iter().map(|x| *x as u8).collect();
    image::RgbImage::from_raw(w, h, bytes)
        .unwrap()
        .save(path)
        .unwrap();
}

/// A folder of four PNGs of different sizes (one smaller than the crop) and a corrupt
/// one, as a dataset in that order; the corrupt file is index 2.
fn small_set(dir: &Path) -> Dataset {
    let sizes = [(20, 24), (16, 16), (0, 0), (40, 18), (12, 30)];
    let mut samples = Vec::new();
    for (i, &(w, h)) in sizes.iter().enumerate() {
        let name = format!("img{i}.png");
        if w == 0 {
            std::fs::write(dir.join(&name), b"not a png at all").unwrap();
        } else {
            write_png(&dir.join(&name), w, h, 100 + i as u64);
        }
        samples.push(Sample::new(name, i as f64 / 4.0));
    }
    Dataset {
        name: "pngs".into(),
        root: dir.to_path_buf(),
        scale: Scale::UNIT,
        samples,
    }
}

fn tiny_model() -> Cprl {
    Cprl::new(&gpu(), &CprlConfig::tiny(), 5).unwrap()
}

#[test]
fn predict_is_batch_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let ds = small_set(dir.path());
    let model = tiny_model();
    let mut cfg = PredictConfig::for_model(&model.config);
    cfg.batch = 5;
    let all = [0, 1, 3, 4];
    let together = predict(&model, &ds, &all, &cfg, None).unwrap();
    cfg.batch = 1;
    for (k, &i) in all.iter().enumerate() {
        let alone = predict(&model, &ds, &[i], &cfg, None).unwrap();
        let (a, b) = (together.scores[k], alone.scores[0]);
        assert!((a - b).abs() <= 1e-5, "image {i}: {a} in a batch vs {b} alone");
        assert!((0.0..=1.0).contains(&a), "image {i}: score {a}");
    }
}

#[test]
fn predict_skips_a_corrupt_image_with_nan_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let ds = small_set(dir.path());
    let model = tiny_model();
    let cfg = PredictConfig::for_model(&model.config);
    let p = predict(&model, &ds, &[0, 1, 2, 3, 4], &cfg, None).unwrap();
    assert_eq!(p.scores.len(), 5);
    assert!(p.scores[2].is_nan());
    assert!(p.scores.iter().enumerate().all(|(i, s)| i == 2 || s.is_finite()));
    assert_eq!(p.skipped.len(), 1);
    assert_eq!(p.skipped[0].0, dir.path().join("img2.png"));
}

#[test]
fn predict_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let ds = small_set(dir.path());
    let model = tiny_model();
    let mut cfg = PredictConfig::for_model(&model.config);
    cfg.batch = 2;
    cfg.workers = 2;
    let bits = |p: cprl::infer::Predictions| p.scores.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
    let a = predict(&model, &ds, &[4, 3, 2, 1, 0], &cfg, None).unwrap();
    let b = predict(&model, &ds, &[4, 3, 2, 1, 0], &cfg, None).unwrap();
    assert_eq!(bits(a), bits(b));
}

#[test]
fn predict_files_scores_paths_and_counts_the_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    small_set(dir.path());
    let model = tiny_model();
    let cfg = PredictConfig::for_model(&model.config);
    let paths = expand_inputs(&[dir.path().to_path_buf(), dir.path().join("missing.png")], false).unwrap();
    assert_eq!(paths.len(), 6);
    let p = predict_files(&model, &paths, &cfg, None).unwrap();
    assert_eq!(p.scores.iter().filter(|s| s.is_nan()).count(), 2);
    assert_eq!(p.skipped.len(), 2);
    assert!(p.scores[5].is_nan(), "the missing file is last");
}

#[test]
fn shard_parts_concatenate_to_the_whole() {
    for len in [0usize, 1, 2, 5, 7, 10, 33] {
        let items: Vec<usize> = (0..len).collect();
        for n in [1usize, 2, 3, 4, 7, 10, 50] {
            let mut joined = Vec::new();
            let mut sizes = Vec::new();
            for i in 0..n {
                let part = Shard::new(i, n).unwrap().take(&items);
                sizes.push(part.len());
                joined.extend_from_slice(part);
            }
            assert_eq!(joined, items, "len {len}, n {n}");
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(hi - lo <= 1, "len {len}, n {n}: part sizes {sizes:?}");
        }
    }
}

#[test]
fn shard_parse_accepts_i_of_n_and_refuses_the_rest() {
    assert_eq!("0/4".parse::<Shard>().unwrap(), Shard { index: 0, count: 4 });
    assert_eq!(
        " 3 / 4 ".trim().parse::<Shard>().unwrap(),
        Shard { index: 3, count: 4 }
    );
    for (bad, says) in [
        ("4/4", "out of range"),
        ("5/4", "out of range"),
        ("0/0", "at least 1"),
        ("1", "expected i/n"),
        ("a/4", "expected i/n"),
        ("-1/4", "expected i/n"),
        ("1/2/3", "expected i/n"),
    ] {
        let e = bad.parse::<Shard>().unwrap_err().to_string();
        assert!(e.contains(says), "{bad}: {e}");
    }
}

#[test]
fn list_parsing_ignores_blank_lines_and_comments() {
    let text = "# header\na.png\n\n  b c.jpg  \r\n   # indented comment\n/abs/d.png\n";
    let want: Vec<PathBuf> = ["a.png", "b c.jpg", "/abs/d.png"]
        .iter()
        .map(PathBuf::from)
        .collect();
    assert_eq!(parse_list(text), want);
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    std::fs::write(&list, text).unwrap();
    assert_eq!(read_list(&list).unwrap(), want);
    let e = read_list(&dir.path().join("none.txt")).unwrap_err().to_string();
    assert!(e.contains("none.txt"), "{e}");
}

#[test]
fn folder_inputs_expand_sorted_with_image_extensions_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["b.PNG", "a.jpg", "c.jpeg", "notes.txt", ".hidden.png"] {
        std::fs::write(d.join(name), b"x").unwrap();
    }
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/z.png"), b"x").unwrap();
    let names = |v: Vec<PathBuf>| {
        v.iter()
            .map(|p| p.strip_prefix(d).unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(expand_inputs(&[d.to_path_buf()], false).unwrap()),
        ["a.jpg", "b.PNG", "c.jpeg"]
    );
    assert_eq!(
        names(expand_inputs(&[d.to_path_buf()], true).unwrap()),
        ["a.jpg", "b.PNG", "c.jpeg", "sub/z.png"]
    );
    // Files given by name are kept whatever their extension, in the order given.
    assert_eq!(
        names(expand_inputs(&[d.join("notes.txt"), d.join("a.jpg")], false).unwrap()),
        ["notes.txt", "a.jpg"]
    );
}
