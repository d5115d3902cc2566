//! The built-in weakly labelled IQA set, in the spirit of KADIS-700k: pristine crops
//! of real photos, each distorted by every [`distort::Distortion`] at five levels,
//! labelled by full-reference metrics against its pristine crop.
//!
//! Layout of a built set (`cprl data synth --out DIR`):
//!
//! ```text
//! DIR/labels.csv     one row per image (below)
//! DIR/ref/*.png      the pristine crops, <photo>_c<k>.png
//! DIR/dist/*.png     <photo>_c<k>_<distortion>_<level>.png
//! DIR/synth.json     how the set was built: settings, program version, the label mapping
//! DIR/ATTRIBUTION.md the photos' licences (they travel with anything made from them)
//! ```
//!
//! `labels.csv` columns: `path,reference,distortion,level,param,psnr,ssim,ms_ssim,gmsd,
//! vif_p,fsim,delta_e,pseudo_mos,split`. Paths are relative to DIR. The pristine crops are rows
//! too (distortion `pristine`, level 0, pseudo-MOS 1), so a ranking loss can use
//! "pristine is better than level 1". `pseudo_mos` is in [0, 1], higher = better; see
//! [`label`] for how it is made from the metrics and why. `split` is `train`, `val` or
//! `test`, by photo: every crop of one photo, and all its distortions, lie in one part.
//!
//! Everything is a function of the settings and the seed: the crops' positions, the
//! noise of each distortion, the split. Jobs run on `jobs` threads and each writes its
//! own files, so the result does not depend on the thread count.

pub mod distort;
pub mod label;
pub mod refs;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use image::RgbImage;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};

use self::distort::Distortion;
use self::refs::RefPhoto;
use super::error::{DataError, DataResult};
use super::rng::SplitMix64;
use super::split::{Ratios, reference_disjoint};
use super::{Dataset, Sample, Scale, Split};
use crate::metrics::fr::{FrScores, Planes, all_fr};

/// Where the pristine photos come from.
#[derive(Clone, Debug, PartialEq)]
pub enum RefSource {
    /// The 25 photos built into the program.
    Builtin,
    /// Every PNG and JPEG of a folder.
    Dir(PathBuf),
}

/// Settings of a synthetic set.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    pub out: PathBuf,
    pub refs: RefSource,
    /// Side of the square crops, in pixels.
    pub size: u32,
    /// Crops taken from each photo (at seeded random positions; 1 = the centre).
    pub crops_per_photo: usize,
    pub distortions: Vec<Distortion>,
    pub seed: u64,
    /// Train / val / test shares, by photo.
    pub ratios: Ratios,
    /// Threads (at least 1).
    pub jobs: usize,
}

impl SynthConfig {
    /// The default set: built-in photos, one 256-px centre crop each, every
    /// distortion, seed 1, split 70/10/20 by photo, all cores.
    pub fn new(out: impl Into<PathBuf>) -> SynthConfig {
        SynthConfig {
            out: out.into(),
            refs: RefSource::Builtin,
            size: 256,
            crops_per_photo: 1,
            distortions: Distortion::ALL.to_vec(),
            seed: 1,
            ratios: Ratios::default(),
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }
}

/// One labelled image of the set.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    pub path: String,
    pub reference: String,
    pub distortion: String,
    pub level: u32,
    pub param: f64,
    pub scores: FrScores,
    pub pseudo_mos: f64,
    pub split: Split,
}

/// A pristine crop and the name its files carry.
struct Scene {
    name: String,
    photo: String,
    image: RgbImage,
    planes: Planes,
}

/// One image to make: the pristine crop (`dist == None`) or one distortion of it.
#[derive(Clone, Copy)]
struct Job {
    scene: usize,
    dist: Option<(Distortion, u32)>,
}

/// Builds the set; `progress(done, total)` is called after each image.
pub fn build(cfg: &SynthConfig, progress: &(dyn Fn(usize, usize) + Sync)) -> DataResult<Vec<Row>> {
    validate(cfg)?;
    let photos = match &cfg.refs {
        RefSource::Builtin => refs::builtin()?,
        RefSource::Dir(d) => refs::from_dir(d, Default::default())?,
    };
    let scenes = crop_scenes(&photos, cfg)?;
    for sub in ["ref", "dist"] {
        let d = cfg.out.join(sub);
        std::fs::create_dir_all(&d).map_err(|e| DataError::io(&d, e))?;
    }
    let jobs = plan(&scenes, &cfg.distortions);
    let split = split_by_photo(&scenes, cfg);
    let rows = run_jobs(&jobs, &scenes, &split, cfg, progress)?;
    write_labels(&cfg.out.join("labels.csv"), &rows)?;
    write_manifest(cfg, &photos, rows.len())?;
    Ok(rows)
}

fn validate(cfg: &SynthConfig) -> DataResult<()> {
    // MS-SSIM's five scales with a 7-px window need 7 * 2^4 = 112 px at the coarsest.
    if cfg.size < 112 {
        return Err(DataError::Invalid(format!(
            "crop size {} px is too small: the metrics that label the set need at least 112 px",
            cfg.size
        )));
    }
    if cfg.crops_per_photo == 0 || cfg.distortions.is_empty() {
        return Err(DataError::Invalid(
            "the set needs at least one crop per photo and one distortion".into(),
        ));
    }
    Ok(())
}

/// The pristine crops: crop 0 of each photo is centred, the others at seeded positions.
fn crop_scenes(photos: &[RefPhoto], cfg: &SynthConfig) -> DataResult<Vec<Scene>> {
    let s = cfg.size;
    let mut scenes = Vec::new();
    for (p, photo) in photos.iter().enumerate() {
        let (w, h) = photo.image.dimensions();
        if w < s || h < s {
            return Err(DataError::Invalid(format!(
                "photo {} is {w}x{h}, smaller than the {s}-px crops",
                photo.name
            )));
        }
        for k in 0..cfg.crops_per_photo {
            let (x, y) = if k == 0 {
                ((w - s) / 2, (h - s) / 2)
            } else {
                let mut rng = SplitMix64::stream(cfg.seed, &[0x5343_454E, p as u64, k as u64]);
                super::crop::random_corner(&mut rng, w, h, s)
            };
            let image = image::imageops::crop_imm(&photo.image, x, y, s, s).to_image();
            scenes.push(Scene {
                name: format!("{}_c{k}", photo.name),
                photo: photo.name.clone(),
                planes: Planes::from_rgb8(&image),
                image,
            });
        }
    }
    Ok(scenes)
}

/// Every image of the set, pristine first, in a fixed order (the rows' order).
fn plan(scenes: &[Scene], dists: &[Distortion]) -> Vec<Job> {
    let mut jobs = Vec::new();
    for scene in 0..scenes.len() {
        jobs.push(Job { scene, dist: None });
        for &d in dists {
            for level in 1..=5 {
                jobs.push(Job {
                    scene,
                    dist: Some((d, level)),
                });
            }
        }
    }
    jobs
}

/// The part of each scene, decided by photo.
fn split_by_photo(scenes: &[Scene], cfg: &SynthConfig) -> Vec<Split> {
    let photos: Vec<String> = scenes.iter().map(|s| s.photo.clone()).collect();
    reference_disjoint(&photos, cfg.ratios, cfg.seed)
}

/// Runs the jobs on `cfg.jobs` threads; rows come back in job order.
fn run_jobs(
    jobs: &[Job],
    scenes: &[Scene],
    split: &[Split],
    cfg: &SynthConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> DataResult<Vec<Row>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<DataResult<Row>>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..cfg.jobs.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= jobs.len() {
                        break;
                    }
                    let job = jobs[i];
                    let row = make(job, &scenes[job.scene], split[job.scene], cfg);
                    let failed = row.is_err();
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(row);
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
                    if failed {
                        // Stop handing out work; the first error is reported below.
                        next.store(jobs.len(), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.into_iter().flatten().collect()
}

/// Makes, labels and writes one image.
fn make(job: Job, scene: &Scene, split: Split, cfg: &SynthConfig) -> DataResult<Row> {
    let reference = format!("ref/{}.png", scene.name);
    let Some((d, level)) = job.dist else {
        write_png(&cfg.out.join(&reference), &scene.image)?;
        return Ok(Row {
            path: reference.clone(),
            reference,
            distortion: "pristine".into(),
            level: 0,
            param: 0.0,
            scores: all_fr(&scene.planes, &scene.planes),
            pseudo_mos: 1.0,
            split,
        });
    };
    // The level is left out of the noise seed on purpose: every level of one image
    // draws the same noise, so the levels are nested (level 4's impulses include
    // level 3's) and severity grows within each image, not only on average.
    let noise_seed = SplitMix64::stream(cfg.seed, &[0x4449_5354, job.scene as u64, d as u64]).next_u64();
    let labelled = label_one(&scene.image, &scene.planes, d, level, noise_seed)
        .map_err(|e| DataError::Invalid(format!("{}: {e}", scene.name)))?;
    let path = format!("dist/{}_{}_{level}.png", scene.name, d.name());
    write_png(&cfg.out.join(&path), &labelled.image)?;
    let scores = labelled.scores;
    Ok(Row {
        path,
        reference,
        distortion: d.name().into(),
        level,
        param: d.param(level),
        pseudo_mos: labelled.pseudo_mos,
        scores,
        split,
    })
}

/// A distorted image with its labels.
pub struct Labelled {
    pub image: RgbImage,
    pub scores: FrScores,
    pub pseudo_mos: f64,
}

/// Distorts a pristine image and labels the result against it (`planes` is the
/// pristine image as [`Planes`], passed in so a caller labelling many distortions of
/// one image converts it once). Errors when the level is not 1-5 or a metric is NaN.
pub fn label_one(
    pristine: &RgbImage,
    planes: &Planes,
    d: Distortion,
    level: u32,
    seed: u64,
) -> Result<Labelled, String> {
    let image = distort::apply(d, level, pristine, seed).map_err(|e| e.to_string())?;
    let scores = all_fr(&Planes::from_rgb8(&image), planes);
    let pseudo_mos = label::pseudo_mos(&scores);
    if !pseudo_mos.is_finite() {
        return Err(format!("{d} level {level}: a metric is undefined ({scores:?})"));
    }
    Ok(Labelled {
        image,
        scores,
        pseudo_mos,
    })
}

/// PNG with fast compression: the set is rebuilt often and read once per epoch.
fn write_png(path: &Path, img: &RgbImage) -> DataResult<()> {
    let file = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
    let enc = PngEncoder::new_with_quality(
        std::io::BufWriter::new(file),
        CompressionType::Fast,
        PngFilter::Adaptive,
    );
    img.write_with_encoder(enc).map_err(|e| DataError::Image {
        path: path.to_path_buf(),
        why: format!("cannot write: {e}"),
    })
}

const COLUMNS: [&str; 14] = [
    "path",
    "reference",
    "distortion",
    "level",
    "param",
    "psnr",
    "ssim",
    "ms_ssim",
    "gmsd",
    "vif_p",
    "fsim",
    "delta_e",
    "pseudo_mos",
    "split",
];

/// Writes `labels.csv` through a temporary file and a rename, so a reader never sees
/// half a file.
fn write_labels(path: &Path, rows: &[Row]) -> DataResult<()> {
    let tmp = path.with_extension("csv.tmp");
    let io = |e: std::io::Error| DataError::io(path, e);
    let mut w = csv::Writer::from_path(&tmp).map_err(|e| DataError::io(&tmp, e.into()))?;
    w.write_record(COLUMNS).map_err(|e| io(e.into()))?;
    for r in rows {
        let s = &r.scores;
        let num = |v: f64| format!("{v:.6}");
        w.write_record([
            r.path.clone(),
            r.reference.clone(),
            r.distortion.clone(),
            r.level.to_string(),
            format!("{}", r.param),
            num(s.psnr),
            num(s.ssim),
            num(s.ms_ssim),
            num(s.gmsd),
            num(s.vif_p),
            num(s.fsim),
            num(s.delta_e),
            num(r.pseudo_mos),
            r.split.name().to_string(),
        ])
        .map_err(|e| io(e.into()))?;
    }
    w.flush().map_err(io)?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(io)
}

/// `synth.json` (how the set was made) and the photos' attribution.
fn write_manifest(cfg: &SynthConfig, photos: &[RefPhoto], images: usize) -> DataResult<()> {
    let manifest = serde_json::json!({
        "program": format!("cprl {}", env!("CARGO_PKG_VERSION")),
        "images": images,
        "photos": photos.iter().map(|p| &p.name).collect::<Vec<_>>(),
        "refs": match &cfg.refs { RefSource::Builtin => "built-in".to_string(), RefSource::Dir(d) => d.display().to_string() },
        "size": cfg.size,
        "crops_per_photo": cfg.crops_per_photo,
        "distortions": cfg.distortions.iter().map(|d| serde_json::json!({
            "name": d.name(),
            "params": (1..=5).map(|l| d.param(l)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "seed": cfg.seed,
        "ratios": [cfg.ratios.train, cfg.ratios.val, cfg.ratios.test],
        "pseudo_mos": label::describe(),
    });
    let path = cfg.out.join("synth.json");
    let text = serde_json::to_string_pretty(&manifest).expect("a JSON value always serialises");
    std::fs::write(&path, text).map_err(|e| DataError::io(&path, e))?;
    if matches!(cfg.refs, RefSource::Builtin) {
        let path = cfg.out.join("ATTRIBUTION.md");
        std::fs::write(&path, refs::ATTRIBUTION).map_err(|e| DataError::io(&path, e))?;
    }
    Ok(())
}

/// Reads a built set's `labels.csv` as a [`Dataset`] (root = its folder; labels =
/// `pseudo_mos`, already on [0, 1] higher = better).
pub fn read(labels: &Path) -> DataResult<Dataset> {
    let root = labels.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut r = csv::Reader::from_path(labels).map_err(|e| DataError::io(labels, e.into()))?;
    let header = r.headers().map_err(|e| DataError::Malformed {
        file: labels.into(),
        line: Some(1),
        why: e.to_string(),
    })?;
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DataError::MissingColumn {
                file: labels.into(),
                column: name.into(),
                found: header.iter().collect::<Vec<_>>().join(","),
            })
    };
    let [c_path, c_ref, c_dist, c_level, c_mos, c_split] =
        ["path", "reference", "distortion", "level", "pseudo_mos", "split"].map(col);
    let (c_path, c_ref, c_dist, c_level, c_mos, c_split) =
        (c_path?, c_ref?, c_dist?, c_level?, c_mos?, c_split?);
    let mut samples = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| DataError::Malformed {
            file: labels.into(),
            line: Some(line),
            why: e.to_string(),
        })?;
        let bad = |column: &str, why: String| DataError::BadValue {
            file: labels.into(),
            line,
            column: column.into(),
            why,
        };
        let field = |c: usize| rec.get(c).unwrap_or("");
        let mos: f64 = field(c_mos)
            .trim()
            .parse()
            .map_err(|_| bad("pseudo_mos", format!("`{}` is not a number", field(c_mos))))?;
        if !(0.0..=1.0).contains(&mos) {
            return Err(bad("pseudo_mos", format!("{mos} is outside [0, 1]")));
        }
        let level: u32 = field(c_level)
            .trim()
            .parse()
            .map_err(|_| bad("level", format!("`{}` is not a level", field(c_level))))?;
        let split = Split::parse(field(c_split))
            .ok_or_else(|| bad("split", format!("`{}` is not train, val or test", field(c_split))))?;
        let mut s = Sample::new(field(c_path), mos);
        s.reference = Some(field(c_ref).to_string());
        s.distortion = Some(field(c_dist).to_string());
        s.level = Some(level);
        s.split = Some(split);
        samples.push(s);
    }
    if samples.is_empty() {
        return Err(DataError::Empty {
            file: labels.into(),
            why: "no image rows".into(),
        });
    }
    Ok(Dataset {
        name: "synthetic".into(),
        root,
        scale: Scale::UNIT,
        samples,
    })
}
