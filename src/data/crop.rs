//! Crops, flips and the small-image policy, on 8-bit RGB images, writing the planar
//! f32 layout [3, crop, crop] with values in [0, 1] that the models read.

use image::RgbImage;
use image::imageops::{self, FilterType};

use super::rng::SplitMix64;

/// What to do with an image smaller than the crop on either side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SmallImages {
    /// Mirror the image at its borders (reflect, edge pixel not repeated) until it
    /// covers the crop. The default: it adds no interpolation blur, which an IQA model
    /// would read as a quality change.
    #[default]
    Reflect,
    /// Scale up (bilinear) so that the short side equals the crop, keeping the aspect.
    Resize,
}

impl SmallImages {
    pub fn parse(s: &str) -> Option<SmallImages> {
        match s {
            "reflect" | "pad" => Some(SmallImages::Reflect),
            "resize" => Some(SmallImages::Resize),
            _ => None,
        }
    }
}

/// Brings an image to at least `crop` x `crop` by the policy (unchanged when large
/// enough).
pub fn fit_small(img: RgbImage, crop: u32, policy: SmallImages) -> RgbImage {
    let (w, h) = img.dimensions();
    if w >= crop && h >= crop {
        return img;
    }
    match policy {
        SmallImages::Resize => {
            let s = crop as f64 / w.min(h) as f64;
            let nw = ((w as f64 * s).round() as u32).max(crop);
            let nh = ((h as f64 * s).round() as u32).max(crop);
            imageops::resize(&img, nw, nh, FilterType::Triangle)
        }
        SmallImages::Reflect => {
            let (nw, nh) = (w.max(crop), h.max(crop));
            RgbImage::from_fn(nw, nh, |x, y| *img.get_pixel(reflect(x, w), reflect(y, h)))
        }
    }
}

/// Index `i` mirrored into [0, n) (pattern 0 1 .. n-1 n-2 .. 1 0 1 ..; n = 1 gives 0).
fn reflect(i: u32, n: u32) -> u32 {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let r = i % period;
    if r < n { r } else { period - r }
}

/// Scales an image so that its short side is `short` (bilinear; area-style
/// `Triangle` filter for downscaling keeps aliasing low).
pub fn resize_short(img: RgbImage, short: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w.min(h) == short {
        return img;
    }
    let s = short as f64 / w.min(h) as f64;
    let nw = ((w as f64 * s).round() as u32).max(1);
    let nh = ((h as f64 * s).round() as u32).max(1);
    imageops::resize(&img, nw, nh, FilterType::Triangle)
}

/// Top-left corners of the evaluation crops along one axis of length `len`: the fewest
/// crops that cover it (at most `max_per_side`, 0 = no cap), evenly spaced from one
/// edge to the other, so the same image always gives the same crops.
pub fn grid_positions(len: u32, crop: u32, max_per_side: u32) -> Vec<u32> {
    let mut n = len.div_ceil(crop).max(1);
    if max_per_side > 0 {
        n = n.min(max_per_side);
    }
    let span = len.saturating_sub(crop);
    if n == 1 {
        return vec![span / 2];
    }
    (0..n)
        .map(|i| ((i as f64 * span as f64) / (n - 1) as f64).round() as u32)
        .collect()
}

/// A uniformly random top-left corner for a crop of an image of size (w, h).
pub fn random_corner(rng: &mut SplitMix64, w: u32, h: u32, crop: u32) -> (u32, u32) {
    let x = rng.below((w - crop + 1) as usize) as u32;
    let y = rng.below((h - crop + 1) as usize) as u32;
    (x, y)
}

/// Writes the crop at (x, y), mirrored left-right when `flip`, as planar f32 in
/// [0, 1] into `out` (length 3 * crop * crop).
pub fn write_crop(img: &RgbImage, x: u32, y: u32, crop: u32, flip: bool, out: &mut [f32]) {
    let c = crop as usize;
    debug_assert_eq!(out.len(), 3 * c * c);
    let (plane_r, rest) = out.split_at_mut(c * c);
    let (plane_g, plane_b) = rest.split_at_mut(c * c);
    for row in 0..c {
        for col in 0..c {
            let sx = if flip {
                x + crop - 1 - col as u32
            } else {
                x + col as u32
            };
            let p = img.get_pixel(sx, y + row as u32);
            let i = row * c + col;
            plane_r[i] = p[0] as f32 / 255.0;
            plane_g[i] = p[1] as f32 / 255.0;
            plane_b[i] = p[2] as f32 / 255.0;
        }
    }
}
