//! The distortions of the synthetic IQA set: sizes, level errors, determinism by
//! seed, and severity growing from level 1 to level 5 for every type.

use cprl::data::synth::distort::{self, DistortError, Distortion, LEVELS};
use image::RgbImage;

/// A deterministic test picture, photo-like in that nearby pixels are alike: a
/// smooth colour gradient, a saturated red disc, a dark and a bright rectangle with
/// sharp edges, stripes that widen from left to right, a smooth texture (three
/// sinusoids of unrelated periods, ±12 grey levels) and a faint hashed grain (±2).
fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w.max(2) as f32, y as f32 / h.max(2) as f32);
        let mut c = [40.0 + 170.0 * fx, 60.0 + 120.0 * fy, 200.0 - 150.0 * fx * fy];
        let (dx, dy) = (fx - 0.3, fy - 0.35);
        if dx * dx + dy * dy < 0.03 {
            c = [220.0, 30.0, 40.0];
        }
        if (0.6..0.85).contains(&fx) && (0.15..0.45).contains(&fy) {
            c = [25.0, 30.0, 20.0];
        }
        if (0.55..0.9).contains(&fx) && (0.6..0.85).contains(&fy) {
            c = [235.0, 240.0, 225.0];
        }
        if (0.05..0.45).contains(&fx)
            && (0.7..0.9).contains(&fy)
            && ((x as f32).sqrt() as u32).is_multiple_of(2)
        {
            c = c.map(|v| v * 0.5);
        }
        let (xf, yf) = (x as f32, y as f32);
        let texture = 5.0 * (xf / 7.3 * std::f32::consts::TAU).sin()
            + 4.0 * ((0.6 * xf + 0.8 * yf) / 11.1 * std::f32::consts::TAU).sin()
            + 3.0 * ((yf - 0.3 * xf) / 17.9 * std::f32::consts::TAU).sin();
        let hash = (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)).wrapping_mul(2_654_435_761);
        let grain = ((hash >> 24) % 5) as f32 - 2.0;
        image::Rgb(c.map(|v| (v + texture + grain).clamp(0.0, 255.0) as u8))
    })
}

fn run(d: Distortion, level: u32, img: &RgbImage, seed: u64) -> RgbImage {
    distort::apply(d, level, img, seed).unwrap_or_else(|e| panic!("{d} level {level}: {e}"))
}

/// Mean absolute difference in grey levels over all channel values.
fn mad(a: &RgbImage, b: &RgbImage) -> f64 {
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn every_type_has_a_unique_name_that_parses_back() {
    assert!(
        Distortion::ALL.len() >= 12,
        "only {} types",
        Distortion::ALL.len()
    );
    for (i, d) in Distortion::ALL.iter().enumerate() {
        let name = d.name();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "`{name}` is not a short snake-case name"
        );
        assert_eq!(Distortion::parse(name), Some(*d), "`{name}` does not parse back");
        assert_eq!(Distortion::parse(&format!(" {} ", name.to_uppercase())), Some(*d));
        assert_eq!(d.to_string(), name);
        for e in &Distortion::ALL[i + 1..] {
            assert_ne!(name, e.name(), "{d:?} and {e:?} share a name");
            assert_ne!(d, e, "{d:?} is listed twice in ALL");
        }
    }
    assert_eq!(Distortion::parse("jpeg2000"), None);
    assert_eq!(Distortion::parse(""), None);
}

#[test]
fn the_required_types_are_there() {
    for name in [
        "gblur",
        "awgn",
        "jpeg",
        "contrast",
        "motionblur",
        "impulse",
        "downup",
        "desaturate",
    ] {
        assert!(Distortion::parse(name).is_some(), "type `{name}` is missing");
    }
}

#[test]
fn param_reads_the_table_and_clamps_levels_outside_one_to_five() {
    for d in Distortion::ALL {
        let table = d.params();
        for level in 1..=LEVELS {
            assert_eq!(d.param(level), table[level as usize - 1], "{d} level {level}");
        }
        assert_eq!(d.param(0), table[0], "{d}: level 0 should read as level 1");
        assert_eq!(d.param(99), table[4], "{d}: level 99 should read as level 5");
        assert!(table.iter().all(|v| v.is_finite()), "{d}: {table:?}");
        assert!(!d.param_name().is_empty());
    }
}

#[test]
fn level_outside_one_to_five_is_an_error_not_a_panic() {
    let img = picture(24, 16);
    for d in Distortion::ALL {
        for level in [0, LEVELS + 1, u32::MAX] {
            match distort::apply(d, level, &img, 1) {
                Err(e @ DistortError::Level { .. }) => {
                    assert_eq!(e, DistortError::Level { distortion: d, level });
                    assert!(
                        e.to_string().contains(d.name()),
                        "message `{e}` does not name the type"
                    );
                }
                other => panic!("{d} level {level}: expected a level error, got {other:?}"),
            }
        }
    }
}

#[test]
fn output_has_the_input_size_for_every_type_level_and_shape() {
    for (w, h) in [(64, 48), (37, 23), (5, 90), (1, 1), (2, 3)] {
        let img = picture(w, h);
        for d in Distortion::ALL {
            for level in 1..=LEVELS {
                let out = run(d, level, &img, 7);
                assert_eq!(out.dimensions(), (w, h), "{d} level {level} on {w}x{h}");
            }
        }
    }
}

#[test]
fn an_empty_image_comes_back_unchanged() {
    let img = RgbImage::new(0, 5);
    for d in Distortion::ALL {
        assert_eq!(run(d, 3, &img, 1).dimensions(), (0, 5), "{d}");
    }
}

#[test]
fn same_seed_gives_identical_bytes() {
    let img = picture(72, 56);
    for d in Distortion::ALL {
        for level in [1, 5] {
            let a = run(d, level, &img, 42);
            let b = run(d, level, &img, 42);
            assert!(
                a.as_raw() == b.as_raw(),
                "{d} level {level}: two runs with seed 42 differ"
            );
        }
    }
}

#[test]
fn random_types_differ_between_seeds_and_the_others_ignore_the_seed() {
    let img = picture(72, 56);
    let mut random = 0;
    for d in Distortion::ALL {
        let a = run(d, 5, &img, 1);
        let b = run(d, 5, &img, 2);
        if d.is_random() {
            random += 1;
            assert!(
                a.as_raw() != b.as_raw(),
                "{d} is random but seeds 1 and 2 give the same bytes"
            );
        } else {
            assert!(
                a.as_raw() == b.as_raw(),
                "{d} claims not to be random but seeds 1 and 2 differ"
            );
        }
    }
    assert!(random >= 5, "only {random} random types");
}

#[test]
fn output_does_not_depend_on_the_thread_it_runs_on() {
    let img = picture(64, 48);
    let serial: Vec<RgbImage> = Distortion::ALL.iter().map(|&d| run(d, 4, &img, 9)).collect();
    let parallel: Vec<RgbImage> = std::thread::scope(|s| {
        let img = &img;
        let handles: Vec<_> = Distortion::ALL
            .iter()
            .map(|&d| s.spawn(move || run(d, 4, img, 9)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread panicked"))
            .collect()
    });
    for ((d, a), b) in Distortion::ALL.iter().zip(&serial).zip(&parallel) {
        assert!(a.as_raw() == b.as_raw(), "{d}: the run on another thread differs");
    }
}

#[test]
fn level_1_changes_the_image_and_severity_grows_strictly_to_level_5() {
    // A non-square size, big enough for the patch and block types.
    let img = picture(160, 120);
    let mut failures = Vec::new();
    let mut table = String::new();
    for d in Distortion::ALL {
        let m: Vec<f64> = (1..=LEVELS)
            .map(|level| mad(&img, &run(d, level, &img, 3)))
            .collect();
        table += &format!(
            "{:>13}: {}\n",
            d.name(),
            m.iter().map(|v| format!("{v:7.3}")).collect::<String>()
        );
        if m[0] <= 0.0 {
            failures.push(format!("{d}: level 1 leaves the image unchanged"));
        }
        for (i, pair) in m.windows(2).enumerate() {
            if pair[1] <= pair[0] {
                failures.push(format!(
                    "{d}: level {} (MAD {:.3}) is not worse than level {} (MAD {:.3})",
                    i + 2,
                    pair[1],
                    i + 1,
                    pair[0]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nmean absolute difference per level:\n{table}",
        failures.join("\n")
    );
}

#[test]
fn severity_grows_on_other_seeds_too() {
    let img = picture(128, 96);
    let mut failures = Vec::new();
    for d in Distortion::ALL.into_iter().filter(|d| d.is_random()) {
        for seed in [11, 12, 13] {
            let m: Vec<f64> = (1..=LEVELS)
                .map(|level| mad(&img, &run(d, level, &img, seed)))
                .collect();
            if m[0] <= 0.0 || m.windows(2).any(|p| p[1] <= p[0]) {
                failures.push(format!("{d} seed {seed}: MAD per level {m:.3?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "severity does not grow:\n{}",
        failures.join("\n")
    );
}

#[test]
fn blurs_and_resampling_keep_a_flat_image_flat_up_to_the_border() {
    let flat = RgbImage::from_pixel(40, 30, image::Rgb([90, 140, 200]));
    for d in [
        Distortion::GaussianBlur,
        Distortion::LensBlur,
        Distortion::MotionBlur,
        Distortion::ColorDiffusion,
        Distortion::Jitter,
        Distortion::Pixelate,
        Distortion::DownUp,
    ] {
        for level in 1..=LEVELS {
            let out = run(d, level, &flat, 5);
            assert!(
                out.as_raw() == flat.as_raw(),
                "{d} level {level} changes a flat image (border not replicated?)"
            );
        }
    }
}

#[test]
fn impulses_are_black_or_white_and_nested_across_levels() {
    let img = picture(64, 64);
    let mut previous: Option<Vec<bool>> = None;
    for level in 1..=LEVELS {
        let out = run(Distortion::ImpulseNoise, level, &img, 77);
        let hit: Vec<bool> = img
            .as_raw()
            .iter()
            .zip(out.as_raw())
            .map(|(a, b)| a != b)
            .collect();
        for ((&a, &b), _) in img
            .as_raw()
            .iter()
            .zip(out.as_raw())
            .zip(&hit)
            .filter(|(_, h)| **h)
        {
            assert!(
                b == 0 || b == 255,
                "level {level}: {a} became {b}, neither black nor white"
            );
        }
        if let Some(prev) = &previous {
            let lost = prev.iter().zip(&hit).filter(|(p, h)| **p && !**h).count();
            assert_eq!(
                lost,
                0,
                "level {level} lacks {lost} impulses of level {}",
                level - 1
            );
        }
        previous = Some(hit);
    }
}

#[test]
fn tone_curves_keep_the_order_of_values() {
    let ramp = RgbImage::from_fn(256, 1, |x, _| image::Rgb([x as u8; 3]));
    for d in [
        Distortion::Brighten,
        Distortion::Darken,
        Distortion::ContrastDecrease,
        Distortion::ContrastIncrease,
    ] {
        for level in 1..=LEVELS {
            let out = run(d, level, &ramp, 0);
            let v: Vec<u8> = out.pixels().map(|p| p.0[0]).collect();
            assert!(
                v.windows(2).all(|p| p[0] <= p[1]),
                "{d} level {level} is not monotone: {v:?}"
            );
        }
    }
    let bright = run(Distortion::Brighten, 3, &ramp, 0);
    let dark = run(Distortion::Darken, 3, &ramp, 0);
    let mid = |im: &RgbImage| im.get_pixel(128, 0).0[0];
    assert!(
        mid(&bright) > 128 && mid(&dark) < 128,
        "brighten {} darken {}",
        mid(&bright),
        mid(&dark)
    );
}

#[test]
fn jpeg_output_is_blocky_at_level_5() {
    // At quality 4 the 8×8 blocks are nearly flat: the mean jump across block
    // borders exceeds the mean jump inside blocks.
    let img = picture(128, 128);
    let out = run(Distortion::Jpeg, 5, &img, 0);
    let (mut across, mut inside, mut na, mut ni) = (0f64, 0f64, 0, 0);
    for y in 0..128 {
        for x in 1..128 {
            let j = f64::from(out.get_pixel(x, y).0[1].abs_diff(out.get_pixel(x - 1, y).0[1]));
            if x % 8 == 0 {
                across += j;
                na += 1;
            } else {
                inside += j;
                ni += 1;
            }
        }
    }
    let (across, inside) = (across / f64::from(na), inside / f64::from(ni));
    assert!(
        across > 1.5 * inside,
        "jump across block borders {across:.2}, inside {inside:.2}"
    );
}

/// Timing, run by hand: `cargo test --release --test synth_distort -- --ignored --nocapture`.
/// Prints the mean time per 256×256 image for each type (all five levels) and checks
/// a loose bound (20 ms per distortion in release, the set needs ~7 ms on average).
#[test]
#[ignore]
fn timing_per_type_on_256x256() {
    let img = picture(256, 256);
    let reps: u32 = 4;
    let mut total = 0.0;
    for d in Distortion::ALL {
        let t = std::time::Instant::now();
        for r in 0..reps {
            for level in 1..=LEVELS {
                std::hint::black_box(run(d, level, &img, u64::from(r)));
            }
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(reps * LEVELS);
        total += ms;
        println!("{:>13}: {ms:7.2} ms per image", d.name());
    }
    let mean = total / Distortion::ALL.len() as f64;
    println!("mean over types: {mean:.2} ms per image");
    let bound = if cfg!(debug_assertions) { 400.0 } else { 20.0 };
    assert!(
        mean < bound,
        "mean {mean:.2} ms per distortion exceeds {bound} ms"
    );
}
