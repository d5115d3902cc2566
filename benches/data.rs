//! Data benchmark: the CPU side of training and of building the synthetic set.
//!
//!     cargo bench --bench data                # every row
//!     cargo bench --bench data -- loader fr   # rows whose name contains a word
//!     cargo bench --bench data -- --quick     # fewer repeats
//!
//! Rows (each validated before it is timed, medians of wall time, both cores free):
//! - `fr.<metric>`: one full-reference metric on a 256x256 pair of the piq test
//!   vectors, checked against piq's value first; pairs/s per thread.
//! - `distort.<name>`: one distortion at each level of a 256x256 crop, checked to
//!   change the image and keep its size; images/s per thread.
//! - `loader.train.wN`: a training epoch over 64 PNGs of 256x256 into device batches of
//!   32 random 224-px crops with N decoding threads, checked against a direct decode
//!   and crop; images/s. Training never waits on data while this exceeds the images/s
//!   of the training step (`cargo bench --bench kernels -- cnn`).
//!
//! Prints a table and a `JSON {...}` line per row.

use std::path::{Path, PathBuf};
use std::time::Instant;

use cprl::Gpu;
use cprl::data::crop::write_crop;
use cprl::data::synth::distort::{self, Distortion};
use cprl::data::{Dataset, Loader, LoaderConfig, Mode, Sample, Scale, decode_rgb};
use cprl::metrics::fr::{self, Planes};

struct Bench {
    filters: Vec<String>,
    quick: bool,
    failures: usize,
}

impl Bench {
    fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }

    /// Validates, then times `run` (one unit of `items` items) and prints the row.
    fn row(
        &mut self,
        name: &str,
        items: f64,
        validate: impl FnOnce() -> Result<(), String>,
        mut run: impl FnMut(),
    ) {
        if !self.wants(name) {
            return;
        }
        if let Err(why) = validate() {
            self.failures += 1;
            println!("{name:<28} INVALID: {why}");
            println!(
                "JSON {}",
                serde_json::json!({"bench": "cprl-data", "name": name, "invalid": why})
            );
            return;
        }
        run(); // warm-up: caches, pipelines, the page cache
        let (min_reps, budget) = if self.quick { (3, 0.5) } else { (7, 3.0) };
        let mut times = Vec::new();
        let start = Instant::now();
        while times.len() < min_reps || (times.len() < 50 && start.elapsed().as_secs_f64() < budget) {
            let t0 = Instant::now();
            run();
            times.push(t0.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let spread = (times[times.len() * 3 / 4] - times[times.len() / 4]) / median * 100.0;
        let rate = items / median;
        println!(
            "{name:<28} {:>10.3} {:>8.1} {:>12.1}",
            median * 1e3 / items,
            spread,
            rate
        );
        println!(
            "JSON {}",
            serde_json::json!({
                "bench": "cprl-data", "name": name, "ms_per_item": median * 1e3 / items,
                "items_per_s": rate, "spread_pct": spread, "threads": threads_note(name),
            })
        );
    }
}

fn threads_note(name: &str) -> usize {
    name.rsplit_once(".w")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(1)
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fr_metrics")
}

fn load(rel: &str) -> image::RgbImage {
    decode_rgb(&data_dir().join(rel), Default::default()).expect("test vector image")
}

/// The first row of the piq test vectors: (distorted, reference, piq's values by column).
fn first_pair() -> (Planes, Planes, std::collections::HashMap<String, f64>) {
    let text = std::fs::read_to_string(data_dir().join("labels.csv")).expect("labels.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let get = |c: &str| row[header.iter().position(|h| *h == c).unwrap()];
    let values = header
        .iter()
        .zip(&row)
        .filter_map(|(h, v)| Some((h.to_string(), v.parse().ok()?)))
        .collect();
    (
        Planes::from_rgb8(&load(get("path"))),
        Planes::from_rgb8(&load(get("ref_path"))),
        values,
    )
}

fn bench_fr(b: &mut Bench) {
    let (x, y, piq) = first_pair();
    type Metric = fn(&Planes, &Planes) -> Result<f64, fr::FrError>;
    /// (name, metric, piq column and tolerance to validate against).
    type Row = (&'static str, Metric, Option<(&'static str, f64)>);
    let ms7: Metric = |x, y| fr::ms_ssim(x, y, 7);
    let fsim: Metric = |x, y| Ok(fr::fsim::fsim(x, y));
    let rows: [Row; 7] = [
        ("psnr", fr::psnr, Some(("psnr", 1e-5))),
        ("ssim", fr::ssim, None),
        ("ms_ssim", ms7, Some(("ms_ssim", 2e-5))),
        ("gmsd", fr::gmsd, Some(("gmsd", 1e-5))),
        ("vif_p", fr::vif_p, Some(("vif_p", 5e-4))),
        ("fsim", fsim, Some(("fsim", 1e-3))),
        ("delta_e", fr::delta_e, None),
    ];
    for (name, f, check) in rows {
        let validate = || {
            let v = f(&x, &y).map_err(|e| e.to_string())?;
            match check {
                Some((col, tol)) if (v - piq[col]).abs() > tol => {
                    Err(format!("{v} vs piq {} (tol {tol})", piq[col]))
                }
                None if !(v > 0.0 && v.is_finite()) => Err(format!("{v} is not a positive number")),
                _ => Ok(()),
            }
        };
        b.row(&format!("fr.{name}"), 1.0, validate, || {
            std::hint::black_box(f(&x, &y).ok());
        });
    }
    b.row(
        "fr.all_fr",
        1.0,
        || Ok(()),
        || {
            std::hint::black_box(fr::all_fr(&x, &y));
        },
    );
}

fn bench_distort(b: &mut Bench) {
    let img = load("ref/r00.png");
    for d in Distortion::ALL {
        let validate = || {
            for level in 1..=5 {
                let out = distort::apply(d, level, &img, 1).map_err(|e| e.to_string())?;
                if out.dimensions() != img.dimensions() || out == img {
                    return Err(format!("level {level}: size changed or image unchanged"));
                }
            }
            Ok(())
        };
        b.row(&format!("distort.{}", d.name()), 5.0, validate, || {
            for level in 1..=5 {
                std::hint::black_box(distort::apply(d, level, &img, 1).ok());
            }
        });
    }
}

/// 64 PNGs of 256x256 (crops of the test-vector photos with their distortions).
fn loader_set(dir: &Path) -> Dataset {
    std::fs::create_dir_all(dir).unwrap();
    let text = std::fs::read_to_string(data_dir().join("labels.csv")).unwrap();
    let mut samples = Vec::new();
    for (i, line) in text.lines().skip(1).cycle().take(64).enumerate() {
        let rel = line.split(',').next().unwrap();
        let name = format!("img{i:02}.png");
        load(rel).save(dir.join(&name)).unwrap();
        samples.push(Sample::new(name, (i % 10) as f64 / 10.0));
    }
    Dataset {
        name: "bench".into(),
        root: dir.to_path_buf(),
        scale: Scale::UNIT,
        samples,
    }
}

fn bench_loader(b: &mut Bench, gpu: &std::sync::Arc<Gpu>) {
    if !b.wants("loader") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("cprl-bench-loader-{}", std::process::id()));
    let ds = loader_set(&dir);
    let idx: Vec<usize> = (0..ds.samples.len()).collect();
    for workers in [1, 2] {
        let cfg = LoaderConfig {
            crop: 224,
            batch: 32,
            workers,
            ..LoaderConfig::default()
        };
        let loader = Loader::new(&ds, &idx, cfg, Mode::Train { seed: 1, flip: false });
        let validate = || {
            let batch = loader.epoch(0).next().ok_or("no batch")?;
            let i = batch.samples[0];
            let img =
                decode_rgb(&ds.path_of(&ds.samples[i]), Default::default()).map_err(|e| e.to_string())?;
            // Find the crop's window by trying every position of the first pixel row.
            let per = 3 * 224 * 224;
            let mut want = vec![0.0f32; per];
            let found = (0..=32)
                .flat_map(|y| (0..=32).map(move |x| (x, y)))
                .any(|(x, y)| {
                    write_crop(&img, x, y, 224, false, &mut want);
                    want[..] == batch.images[..per]
                });
            let dev = batch.to_device(gpu).map_err(|e| e.to_string())?;
            if !found || dev.images.shape() != [32, 3, 224, 224] {
                return Err("the first crop is no window of its image, or the batch shape is wrong".into());
            }
            Ok(())
        };
        let mut epoch = 0;
        b.row(
            &format!("loader.train.w{workers}"),
            ds.samples.len() as f64,
            validate,
            || {
                epoch += 1;
                for batch in loader.epoch(epoch) {
                    let dev = batch.to_device(gpu).expect("upload");
                    gpu.sync().expect("sync");
                    std::hint::black_box(dev);
                }
            },
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mut b = Bench {
        quick: args.iter().any(|a| a == "--quick"),
        filters: args.into_iter().filter(|a| !a.starts_with("--")).collect(),
        failures: 0,
    };
    let gpu = Gpu::new().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let cpu = cprl::host::cpu_model().unwrap_or_else(|| "unknown CPU".into());
    println!(
        "cpu: {cpu} | threads available: {} | adapter: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        gpu.info().name
    );
    println!(
        "{:<28} {:>10} {:>8} {:>12}",
        "row", "ms/item", "spread%", "items/s"
    );
    bench_fr(&mut b);
    bench_distort(&mut b);
    bench_loader(&mut b, &gpu);
    if b.failures > 0 {
        eprintln!("{} row(s) failed validation", b.failures);
        std::process::exit(1);
    }
}
