//! The loader: crops hold the right pixels, order and crops are fixed by the seed
//! whatever the number of threads, every image is visited once per epoch, the
//! evaluation grid is deterministic, small images follow the policy, and bad files are
//! skipped, named and counted.

mod common;

use std::path::{Path, PathBuf};

use cprl::data::crop::{SmallImages, fit_small, grid_positions};
use cprl::data::{CpuBatch, Dataset, DecodeLimits, Loader, LoaderConfig, Mode, Sample, Scale, decode_rgb};
use image::{Rgb, RgbImage};

/// A fresh, empty folder for one test.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cprl-loader-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An image whose pixel (x, y) encodes its position and the image number, so a
/// crop's origin can be read back from its values: R = x, G = y, B = id.
fn coded_image(w: u32, h: u32, id: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, id]))
}

/// A dataset of coded PNGs of the given sizes, labels id / 10.
fn write_set(dir: &Path, sizes: &[(u32, u32)]) -> Dataset {
    let samples = sizes
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| {
            let name = format!("img{i}.png");
            coded_image(w, h, i as u8).save(dir.join(&name)).unwrap();
            Sample::new(name, i as f64 / 10.0)
        })
        .collect();
    Dataset {
        name: "test".into(),
        root: dir.to_path_buf(),
        scale: Scale::UNIT,
        samples,
    }
}

fn cfg(crop: u32, batch: usize, workers: usize) -> LoaderConfig {
    LoaderConfig {
        crop,
        batch,
        workers,
        ..LoaderConfig::default()
    }
}

fn all_indices(ds: &Dataset) -> Vec<usize> {
    (0..ds.samples.len()).collect()
}

/// The value at channel c, row y, column x of crop k of a batch.
fn px(b: &CpuBatch, k: usize, c: usize, y: usize, x: usize) -> f32 {
    let s = b.crop as usize;
    b.images[((k * 3 + c) * s + y) * s + x]
}

/// Reads a crop's origin and orientation back from a coded image's values.
fn origin(b: &CpuBatch, k: usize) -> (u32, u32, bool) {
    let s = b.crop as usize;
    let v = |c, y, x| (px(b, k, c, y, x) * 255.0).round() as u32;
    let (x0, x1) = (v(0, 0, 0), v(0, 0, s - 1));
    let flip = x0 > x1;
    (x0.min(x1), v(1, 0, 0), flip)
}

#[test]
fn train_crops_hold_the_pixels_of_one_window_of_their_image() {
    let dir = temp_dir("window");
    let ds = write_set(&dir, &[(60, 50), (40, 70), (33, 33)]);
    let loader = Loader::new(
        &ds,
        &all_indices(&ds),
        cfg(32, 2, 1),
        Mode::Train { seed: 7, flip: true },
    );
    for b in loader.epoch(0) {
        for k in 0..b.len() {
            let id = b.samples[k];
            let (x0, y0, flip) = origin(&b, k);
            for y in 0..32 {
                for x in 0..32 {
                    let sx = if flip { x0 + 31 - x as u32 } else { x0 + x as u32 };
                    let want = [sx as f32, (y0 + y as u32) as f32, id as f32];
                    for (c, w) in want.iter().enumerate() {
                        assert_eq!(
                            px(&b, k, c, y, x),
                            w / 255.0,
                            "image {id} crop at ({x0},{y0}) flip {flip}"
                        );
                    }
                }
            }
            assert_eq!(b.labels[k], id as f32 / 10.0);
        }
    }
}

#[test]
fn train_epoch_visits_every_image_once_in_a_seeded_order() {
    let dir = temp_dir("order");
    let sizes: Vec<(u32, u32)> = (0..11).map(|i| (40 + i, 40)).collect();
    let ds = write_set(&dir, &sizes);
    let loader = Loader::new(
        &ds,
        &all_indices(&ds),
        cfg(16, 4, 1),
        Mode::Train { seed: 3, flip: true },
    );
    let order = |e| loader.epoch(e).flat_map(|b| b.samples).collect::<Vec<_>>();
    let (e0, e1) = (order(0), order(1));
    let mut sorted = e0.clone();
    sorted.sort();
    assert_eq!(sorted, (0..11).collect::<Vec<_>>(), "each image once per epoch");
    assert_ne!(e0, e1, "epochs are shuffled differently");
    assert_eq!(e0, order(0), "the same epoch gives the same order");
    assert_eq!(loader.batches_per_epoch(), 3);
}

#[test]
fn train_batches_are_identical_whatever_the_number_of_workers() {
    let dir = temp_dir("workers");
    let sizes: Vec<(u32, u32)> = (0..9).map(|i| (50 + 3 * i, 45 + i)).collect();
    let ds = write_set(&dir, &sizes);
    let run = |workers| {
        let l = Loader::new(
            &ds,
            &all_indices(&ds),
            cfg(24, 2, workers),
            Mode::Train { seed: 11, flip: true },
        );
        l.epoch(5).collect::<Vec<_>>()
    };
    let one = run(1);
    assert_eq!(one.len(), 5);
    assert_eq!(one, run(3));
    assert_eq!(one, run(8));
}

#[test]
fn train_drop_last_leaves_out_the_short_batch() {
    let dir = temp_dir("droplast");
    let ds = write_set(&dir, &[(30, 30); 7]);
    let mut c = cfg(16, 3, 2);
    c.drop_last = true;
    let l = Loader::new(&ds, &all_indices(&ds), c, Mode::Train { seed: 1, flip: false });
    let lens: Vec<usize> = l.epoch(0).map(|b| b.len()).collect();
    assert_eq!(lens, vec![3, 3]);
    assert_eq!(l.batches_per_epoch(), 2);
}

#[test]
fn eval_grid_covers_the_image_with_evenly_spaced_crops() {
    // 256 px with 224-px crops: ceil(256 / 224) = 2 crops, at 0 and 256 - 224 = 32.
    assert_eq!(grid_positions(256, 224, 0), vec![0, 32]);
    // 500 px, 224 crops: 3 crops, spaced (500 - 224) / 2 = 138 apart.
    assert_eq!(grid_positions(500, 224, 0), vec![0, 138, 276]);
    assert_eq!(grid_positions(500, 224, 2), vec![0, 276]);
    // Exactly the crop: one crop at 0; one crop per side when capped at 1: centred.
    assert_eq!(grid_positions(224, 224, 0), vec![0]);
    assert_eq!(grid_positions(500, 224, 1), vec![138]);
}

#[test]
fn eval_batches_hold_every_grid_crop_in_dataset_order() {
    let dir = temp_dir("eval");
    let ds = write_set(&dir, &[(40, 40), (70, 40), (40, 40)]);
    let l = Loader::new(
        &ds,
        &all_indices(&ds),
        cfg(32, 2, 2),
        Mode::Eval { max_per_side: 0 },
    );
    let batches: Vec<CpuBatch> = l.epoch(0).collect();
    // Image 0: 2 x 2 crops at {0, 8}; image 1: 3 columns at {0, 19, 38} x 2 rows.
    assert_eq!(batches[0].samples, vec![0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    assert_eq!(batches[1].samples, vec![2, 2, 2, 2]);
    let origins: Vec<_> = (4..10).map(|k| origin(&batches[0], k)).collect();
    assert_eq!(
        origins,
        vec![
            (0, 0, false),
            (19, 0, false),
            (38, 0, false),
            (0, 8, false),
            (19, 8, false),
            (38, 8, false)
        ]
    );
    assert_eq!(
        batches,
        l.epoch(3).collect::<Vec<_>>(),
        "evaluation ignores the epoch"
    );
}

#[test]
fn small_images_are_reflected_or_resized_to_cover_the_crop() {
    let img = coded_image(5, 3, 0);
    let r = fit_small(img.clone(), 8, SmallImages::Reflect);
    assert_eq!(r.dimensions(), (8, 8));
    // Columns 0 1 2 3 4 3 2 1, rows 0 1 2 1 0 1 2 1 (mirror without repeating the edge).
    let cols: Vec<u8> = (0..8).map(|x| r.get_pixel(x, 0)[0]).collect();
    let rows: Vec<u8> = (0..8).map(|y| r.get_pixel(0, y)[1]).collect();
    assert_eq!(cols, vec![0, 1, 2, 3, 4, 3, 2, 1]);
    assert_eq!(rows, vec![0, 1, 2, 1, 0, 1, 2, 1]);
    let s = fit_small(img.clone(), 8, SmallImages::Resize);
    assert_eq!(s.dimensions(), (13, 8), "short side to the crop, aspect kept");
    let big = coded_image(20, 9, 0);
    assert_eq!(
        fit_small(big.clone(), 8, SmallImages::Reflect),
        big,
        "large enough: unchanged"
    );
    // One-pixel images reflect to a constant.
    let one = fit_small(coded_image(1, 1, 9), 4, SmallImages::Reflect);
    assert!(one.pixels().all(|p| *p == Rgb([0, 0, 9])));
}

#[test]
fn loader_gives_full_crops_of_images_smaller_than_the_crop() {
    let dir = temp_dir("small");
    let ds = write_set(&dir, &[(10, 6), (3, 30)]);
    for policy in [SmallImages::Reflect, SmallImages::Resize] {
        let mut c = cfg(16, 4, 1);
        c.small = policy;
        for mode in [
            Mode::Train { seed: 1, flip: true },
            Mode::Eval { max_per_side: 0 },
        ] {
            let l = Loader::new(&ds, &all_indices(&ds), c.clone(), mode);
            let b: Vec<CpuBatch> = l.epoch(0).collect();
            let crops: usize = b.iter().map(|b| b.len()).sum();
            assert!(crops >= 2, "{policy:?} {mode:?}: every image gives a crop");
            assert!(b.iter().all(|b| b.images.len() == b.len() * 3 * 16 * 16));
            assert!(l.skipped().is_empty());
        }
    }
}

#[test]
fn corrupt_missing_and_oversized_images_are_skipped_named_and_counted() {
    let dir = temp_dir("bad");
    let mut ds = write_set(&dir, &[(40, 40), (40, 40), (300, 40)]);
    std::fs::write(dir.join("corrupt.png"), b"\x89PNG\r\n\x1a\nthis is not a png").unwrap();
    std::fs::write(dir.join("empty.jpg"), b"").unwrap();
    for name in ["corrupt.png", "missing.png", "empty.jpg"] {
        ds.samples.push(Sample::new(name, 0.5));
    }
    let mut c = cfg(32, 3, 2);
    c.limits = DecodeLimits {
        max_side: 200,
        ..DecodeLimits::default()
    };
    let l = Loader::new(&ds, &all_indices(&ds), c, Mode::Train { seed: 2, flip: false });
    for epoch in 0..2 {
        let seen: usize = l.epoch(epoch).map(|b| b.len()).sum();
        assert_eq!(seen, 2, "only the two good images give crops");
    }
    let skipped = l.skipped();
    let names: Vec<String> = skipped
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["corrupt.png", "empty.jpg", "img2.png", "missing.png"]);
    let why = |n: &str| &skipped[names.iter().position(|x| x == n).unwrap()].1;
    assert!(why("img2.png").contains("limits"), "{}", why("img2.png"));
    assert!(
        why("missing.png").contains("missing.png"),
        "{}",
        why("missing.png")
    );
}

#[test]
fn decode_reads_grey_and_alpha_images_as_rgb() {
    let dir = temp_dir("decode");
    let grey = image::GrayImage::from_fn(4, 3, |x, _| image::Luma([x as u8 * 10]));
    grey.save(dir.join("g.png")).unwrap();
    let rgba = image::RgbaImage::from_fn(2, 2, |_, _| image::Rgba([1, 2, 3, 0]));
    rgba.save(dir.join("a.png")).unwrap();
    let g = decode_rgb(&dir.join("g.png"), DecodeLimits::default()).unwrap();
    assert_eq!(*g.get_pixel(3, 0), Rgb([30, 30, 30]));
    let a = decode_rgb(&dir.join("a.png"), DecodeLimits::default()).unwrap();
    assert_eq!(*a.get_pixel(1, 1), Rgb([1, 2, 3]));
}

#[test]
fn device_batch_has_the_shapes_and_values_of_the_host_batch() {
    let gpu = common::gpu();
    let dir = temp_dir("device");
    let ds = write_set(&dir, &[(20, 20), (25, 20), (20, 30)]);
    let l = Loader::new(
        &ds,
        &all_indices(&ds),
        cfg(16, 3, 1),
        Mode::Train { seed: 4, flip: true },
    );
    let host = l.epoch(0).next().unwrap();
    let dev = host.to_device(&gpu).unwrap();
    assert_eq!(dev.images.shape(), &[3, 3, 16, 16]);
    assert_eq!(dev.labels.shape(), &[3]);
    assert_eq!(dev.images.to_vec().unwrap(), host.images);
    assert_eq!(dev.labels.to_vec().unwrap(), host.labels);
}

#[test]
fn grouped_epochs_keep_runs_of_one_group_together_and_cover_every_image() {
    let dir = temp_dir("groups");
    let sizes: Vec<(u32, u32)> = (0..22).map(|i| (40 + i, 40)).collect();
    let ds = write_set(&dir, &sizes);
    // Groups of 5, 5, 5, 4 and 3 images; runs of 2.
    let keys: Vec<u64> = [5, 5, 5, 4, 3]
        .iter()
        .enumerate()
        .flat_map(|(g, &n)| std::iter::repeat_n(10 * g as u64, n))
        .collect();
    let loader = Loader::new(
        &ds,
        &all_indices(&ds),
        LoaderConfig {
            drop_last: false,
            ..cfg(16, 4, 2)
        },
        Mode::Train { seed: 5, flip: false },
    )
    .with_groups(keys.clone(), 2);
    let order: Vec<usize> = loader.epoch(0).flat_map(|b| b.samples).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, all_indices(&ds), "each image once per epoch");
    // Cut the order where the group changes: no piece is longer than a run unless two
    // runs of one group happen to follow each other, and every group's pieces hold
    // all its members.
    let mut pieces: Vec<(u64, usize)> = Vec::new();
    for &i in &order {
        match pieces.last_mut() {
            Some((k, n)) if *k == keys[i] => *n += 1,
            _ => pieces.push((keys[i], 1)),
        }
    }
    let members = |k: u64| keys.iter().filter(|&&x| x == k).count();
    for &(k, n) in &pieces {
        assert!(
            n >= 2 || members(k) % 2 == 1,
            "group {k}: a piece of {n} (runs of 2)"
        );
    }
    let pairs = order.windows(2).filter(|w| keys[w[0]] == keys[w[1]]).count();
    let want: usize = {
        let mut ks = keys.clone();
        ks.dedup();
        ks.iter().map(|&k| members(k) / 2).sum()
    };
    assert!(
        pairs >= want,
        "{pairs} neighbours of one group, at least {want} expected"
    );
    let again: Vec<usize> = loader.epoch(0).flat_map(|b| b.samples).collect();
    assert_eq!(order, again, "the seed fixes a grouped epoch");
    let next: Vec<usize> = loader.epoch(1).flat_map(|b| b.samples).collect();
    assert_ne!(order, next, "each epoch has its own grouping order");
}

#[test]
fn an_epoch_resumed_at_a_batch_gives_the_rest_of_the_full_epoch_bit_for_bit() {
    let dir = temp_dir("resume");
    let sizes: Vec<(u32, u32)> = (0..13).map(|i| (40 + i, 36 + i)).collect();
    let ds = write_set(&dir, &sizes);
    let loader = Loader::new(
        &ds,
        &all_indices(&ds),
        cfg(16, 3, 2),
        Mode::Train { seed: 9, flip: true },
    )
    .with_groups((0..13).map(|i| i / 4).collect(), 2);
    let full: Vec<CpuBatch> = loader.epoch(2).collect();
    assert_eq!(full.len(), 5, "13 images in batches of 3");
    for start in [0, 1, 3, 4, 5, 9] {
        let rest: Vec<CpuBatch> = loader.epoch_from(2, start).collect();
        let want = &full[start.min(full.len())..];
        assert_eq!(rest.len(), want.len(), "from batch {start}");
        for (g, w) in rest.iter().zip(want) {
            assert_eq!(g.samples, w.samples, "from batch {start}");
            assert_eq!(g.images, w.images, "from batch {start}: the same crops");
            assert_eq!(g.labels, w.labels);
        }
    }
}
