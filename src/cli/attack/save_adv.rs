//! `cprl attack --save-adv`: the adversarial crops as lossless 8-bit PNGs, kept within
//! eps after rounding, and a CSV of each crop's PSNR, SSIM and L_inf distance against
//! its clean crop.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cprl::attack::run::{AttackedCrops, quantise_within};
use cprl::metrics::fr::{Planes, psnr, ssim};

use super::{Images, csv_bytes, short};
use crate::cli::outputs::write_atomic;

/// `DIR/<k>_<checkpoint>/<attack>/eps_<eps>`: the checkpoint's number keeps two
/// checkpoints of one name apart; every character outside `[A-Za-z0-9._-]` becomes
/// `_`, so no name escapes DIR.
pub(super) fn adv_dir(dir: &Path, k: usize, ck: &Path, attack: &str, eps_255: f32) -> PathBuf {
    let name = short(&ck.display().to_string());
    let name = name.trim_end_matches(".safetensors");
    dir.join(format!("{k}_{}", safe(name)))
        .join(safe(attack))
        .join(format!("eps_{}", safe(&eps_255.to_string())))
}

fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes one run's adversarial crops (`--save-adv`) as they come, and at the end a
/// CSV of each crop's PSNR and SSIM (the project's `metrics::fr`) against its clean
/// crop.
pub(super) struct AdvSaver {
    dir: PathBuf,
    eps: f32,
    /// File name prefix (`<dataset index>_<stem>`) and dataset path of each attacked
    /// image, by position in the attacked indices. The dataset index makes names
    /// unique and the same in every shard.
    images: Vec<(String, String)>,
    csv_name: String,
    rows: Vec<CropRow>,
}

/// One saved crop.
struct CropRow {
    file: String,
    image: String,
    crop: usize,
    psnr: f64,
    ssim: f64,
    linf_255: f64,
}

impl AdvSaver {
    pub(super) fn new(dir: &Path, im: &Images, eps: f32) -> Result<AdvSaver> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let images = im
            .indices
            .iter()
            .map(|&i| {
                let p = &im.ds.samples[i].path;
                let stem = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (format!("{i:06}_{}", safe(&stem)), p.display().to_string())
            })
            .collect();
        let csv_name = if im.shard.count > 1 {
            format!("crops_{}of{}.csv", im.shard.index, im.shard.count)
        } else {
            "crops.csv".to_string()
        };
        Ok(AdvSaver {
            dir: dir.to_path_buf(),
            eps,
            images,
            csv_name,
            rows: Vec::new(),
        })
    }

    /// Saves each crop of a batch and measures it against its clean crop.
    pub(super) fn save(&mut self, c: AttackedCrops) -> cprl::Result<()> {
        let [n, ch, h, w] = c.shape;
        let len = ch * h * w;
        for k in 0..n {
            let (adv, clean) = (
                &c.adversarial[k * len..(k + 1) * len],
                &c.clean[k * len..(k + 1) * len],
            );
            let (bytes, linf) = quantise_within(adv, clean, self.eps);
            let (prefix, image) = &self.images[c.images[k]];
            let file = format!("{prefix}_c{}.png", c.crop_no[k]);
            write_png(&self.dir.join(&file), &bytes, h, w)?;
            let saved = planes(bytes.iter().map(|&b| f64::from(b) / 255.0), ch, h, w);
            let reference = planes(clean.iter().map(|&v| f64::from(v)), ch, h, w);
            self.rows.push(CropRow {
                file,
                image: image.clone(),
                crop: c.crop_no[k],
                psnr: psnr(&saved, &reference).unwrap_or(f64::NAN),
                ssim: ssim(&saved, &reference).unwrap_or(f64::NAN),
                linf_255: linf * 255.0,
            });
        }
        Ok(())
    }

    /// Writes the crops' CSV and reports the largest distance saved.
    pub(super) fn finish(self) -> Result<()> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["file", "image", "crop", "psnr", "ssim", "linf_255"])?;
        for r in &self.rows {
            w.write_record([
                r.file.clone(),
                r.image.clone(),
                r.crop.to_string(),
                r.psnr.to_string(),
                r.ssim.to_string(),
                r.linf_255.to_string(),
            ])?;
        }
        write_atomic(&self.dir.join(&self.csv_name), &csv_bytes(w)?)?;
        let worst = self.rows.iter().map(|r| r.linf_255).fold(0.0, f64::max);
        if worst > f64::from(self.eps) * 255.0 + 1e-3 {
            eprintln!(
                "warning: {}: a saved crop is {worst:.3}/255 from its clean crop, over eps (clean values off the 1/255 grid)",
                self.dir.display()
            );
        }
        Ok(())
    }
}

/// [`Planes`] of a planar crop.
fn planes(values: impl Iterator<Item = f64>, channels: usize, height: usize, width: usize) -> Planes {
    Planes {
        channels,
        height,
        width,
        data: values.collect(),
    }
}

/// Writes planar 8-bit RGB `bytes` ([3, h, w]) as a PNG, through a temporary name.
fn write_png(path: &Path, bytes: &[u8], h: usize, w: usize) -> cprl::Result<()> {
    let plane = h * w;
    let img = image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        image::Rgb([bytes[i], bytes[plane + i], bytes[2 * plane + i]])
    });
    let mut png = Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| cprl::Error::Invalid(format!("{}: encoding the PNG: {e}", path.display())))?;
    let io = |p: &Path, source| cprl::Error::Io {
        path: p.display().to_string(),
        source,
    };
    let tmp = path.with_extension("png.tmp");
    std::fs::write(&tmp, png.into_inner()).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}
