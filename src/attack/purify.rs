//! Input purification at inference, and how an attack goes through it.
//!
//! [`Defense::Jpeg`] JPEG-encodes every crop at quality q and scores the decoded crop:
//! a classic pre-processing defence against small perturbations (the 8-bit rounding
//! and the DCT quantisation both erase part of an L_inf perturbation). It runs on the
//! CPU with the `image` crate (baseline encoder, no chroma subsampling), so the crops
//! are read back from the device and the decoded ones written to it again.
//!
//! JPEG has no useful gradient (rounding everywhere), so a defended model must be
//! attacked with BPDA, Backward Pass Differentiable Approximation (Athalye et al.
//! 2018): the forward purifies, the backward treats purification as the identity, and
//! the gradient of the model at the purified image is applied to the unpurified one.
//! [`super::attack_defended`] does exactly that; without it the defence would pass an
//! attack by hiding the gradient, not by being robust.

use image::RgbImage;
use image::codecs::jpeg::JpegEncoder;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// What is done to an image before the model scores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Defense {
    /// The model sees the image as it is.
    None,
    /// JPEG encoding at `quality` (1..=100) and decoding, per crop.
    Jpeg { quality: u8 },
}

impl Defense {
    /// A name for tables: `none` or `jpeg<q>`.
    pub fn name(&self) -> String {
        match self {
            Defense::None => "none".into(),
            Defense::Jpeg { quality } => format!("jpeg{quality}"),
        }
    }

    /// The images the model scores for `x` ([B, 3, H, W] in [0, 1]), detached from any
    /// tape (BPDA's forward); [`Defense::None`] gives `x` itself, detached.
    pub fn purify(&self, x: &Tensor) -> Result<Tensor> {
        match *self {
            Defense::None => Ok(x.detach()),
            Defense::Jpeg { quality } => jpeg_batch(x, quality),
        }
    }
}

/// Each image of `x` ([B, 3, H, W]) JPEG-encoded at `quality` and decoded, back on the
/// device with the same shape. Values are rounded to 8 bits first, as any image file.
pub fn jpeg_batch(x: &Tensor, quality: u8) -> Result<Tensor> {
    if !(1..=100).contains(&quality) {
        return Err(Error::Invalid(format!(
            "JPEG quality must be in 1..=100, got {quality}"
        )));
    }
    if x.dims() != 4 || x.dim(1) != 3 {
        return Err(Error::shape(
            "jpeg_batch",
            format!("images must be [B, 3, H, W], got {:?}", x.shape()),
        ));
    }
    let (h, w) = (x.dim(2), x.dim(3));
    let plane = h * w;
    let v = x.to_vec()?;
    let mut out = Vec::with_capacity(v.len());
    for img in v.chunks(3 * plane) {
        let rgb = to_rgb8(img, w, h);
        let back = jpeg_roundtrip(&rgb, quality)?;
        out.extend(from_rgb8(&back, plane));
    }
    Tensor::from_slice(x.gpu(), &out, x.shape())
}

/// One image's planes (CHW, [0, 1]) as 8-bit RGB (rounded, clamped).
fn to_rgb8(img: &[f32], w: usize, h: usize) -> RgbImage {
    let plane = w * h;
    let mut bytes = Vec::with_capacity(3 * plane);
    for p in 0..plane {
        for c in 0..3 {
            bytes.push((img[c * plane + p].clamp(0.0, 1.0) * 255.0).round() as u8);
        }
    }
    RgbImage::from_raw(w as u32, h as u32, bytes).expect("3 * w * h bytes")
}

/// 8-bit RGB back to CHW planes in [0, 1].
fn from_rgb8(img: &RgbImage, plane: usize) -> Vec<f32> {
    let raw = img.as_raw();
    (0..3)
        .flat_map(|c| (0..plane).map(move |p| f32::from(raw[3 * p + c]) / 255.0))
        .collect()
}

/// Encodes `img` at `quality` and decodes it again.
fn jpeg_roundtrip(img: &RgbImage, quality: u8) -> Result<RgbImage> {
    let mut buf = Vec::new();
    JpegEncoder::new_with_quality(&mut buf, quality)
        .encode_image(img)
        .map_err(|e| Error::Invalid(format!("JPEG encoding failed: {e}")))?;
    let back = image::load_from_memory_with_format(&buf, image::ImageFormat::Jpeg)
        .map_err(|e| Error::Invalid(format!("JPEG decoding failed: {e}")))?;
    Ok(back.to_rgb8())
}
