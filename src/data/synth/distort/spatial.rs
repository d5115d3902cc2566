//! Spatial distortions: JPEG, jitter, non-eccentricity patches, pixelation, colour
//! blocks and down-up sampling.

use image::RgbImage;
use image::codecs::jpeg::JpegEncoder;

use super::util::{self, Axis, Planes, Rng};

/// KADID-10k's image area (512×384 px), to which the patch and block counts of
/// its tables refer.
const KADID_AREA: f64 = 512.0 * 384.0;

/// JPEG compression (KADID 10): encoded by the `image` crate's baseline encoder at
/// quality q (IJG quality scaling of the standard tables; no chroma subsampling,
/// where MATLAB's `imwrite` uses 4:2:0) and decoded again.
///
/// Levels q = 70, 43, 24, 10, 4. KADID's table is 43, 36, 24, 7, 4; it starts at an
/// already visible quality, so level 1 became 70 and 36, 7 became 43, 10.
pub(super) fn jpeg(img: &RgbImage, quality: u8) -> Result<RgbImage, String> {
    let mut buf = Vec::new();
    JpegEncoder::new_with_quality(&mut buf, quality)
        .encode_image(img)
        .map_err(|e| format!("JPEG encoding failed: {e}"))?;
    let back = image::load_from_memory_with_format(&buf, image::ImageFormat::Jpeg)
        .map_err(|e| format!("JPEG decoding failed: {e}"))?;
    Ok(back.to_rgb8())
}

/// Jitter (KADID 19): five times in a row, every pixel is resampled from a place
/// displaced by (σ·n₁, σ·n₂) px, n ~ N(0, 1) drawn per pixel, with bilinear
/// interpolation (KADID uses cubic splines) and the border mirrored (half-sample,
/// SciPy's `reflect`, as KADID).
///
/// Levels σ = 0.05, 0.1, 0.2, 0.5, 1 px (KADID's table).
pub(super) fn jitter(img: &RgbImage, sigma: f64, rng: &mut Rng) -> RgbImage {
    let mut p = Planes::from_rgb(img);
    let (w, h) = (p.w, p.h);
    let s = sigma as f32;
    let mut next = [vec![0.0f32; w * h], vec![0.0f32; w * h], vec![0.0f32; w * h]];
    for _ in 0..5 {
        let shifts = rng.normals(2 * w * h);
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let sy = y as f32 - s * shifts[2 * i];
                let sx = x as f32 - s * shifts[2 * i + 1];
                let (fy, fx) = (util::floor_i(sy), util::floor_i(sx));
                let (ty, tx) = (sy - fy as f32, sx - fx as f32);
                let (y0, x0) = (util::mirror(fy, h) * w, util::mirror(fx, w));
                let (y1, x1) = (util::mirror(fy + 1, h) * w, util::mirror(fx + 1, w));
                for (src, dst) in p.c.iter().zip(next.iter_mut()) {
                    let top = src[y0 + x0] + tx * (src[y0 + x1] - src[y0 + x0]);
                    let bottom = src[y1 + x0] + tx * (src[y1 + x1] - src[y1 + x0]);
                    dst[i] = top + ty * (bottom - top);
                }
            }
        }
        std::mem::swap(&mut p.c, &mut next);
    }
    p.to_rgb()
}

/// Number of patches or blocks for an image: KADID's count for 512×384 px scaled by
/// the area, and at least the level, so that the levels stay apart on small images.
fn scaled_count(per_kadid_image: f64, level: u32, w: usize, h: usize) -> usize {
    ((per_kadid_image * (w * h) as f64 / KADID_AREA).round() as usize).max(level as usize)
}

/// Non-eccentricity patches (KADID 20): n times, a 16×16 patch of the original at a
/// random place (at least 16 px from the border) is copied to a place offset by a
/// random whole vector in [−8, 8]², not (0, 0). Unlike KADID (which copies within
/// the image being changed, may draw the zero offset and lets patches overwrite
/// each other), the destinations do not overlap (up to [`TRIES`] draws each), so
/// every patch adds damage and more patches never undo earlier ones.
///
/// Levels: KADID's 20, 40, 60, 80, 100 patches for its 512×384 images, scaled by
/// area (7, 13, 20, 27, 33 for 256×256) and at least the level number. The patch
/// and margin shrink to a third of the shorter side on images under 48 px; images
/// under 3 px come back unchanged. Patch k draws the same numbers at every level.
pub(super) fn non_eccentricity(img: &RgbImage, count: f64, level: u32, rng: &mut Rng) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let ps = 16.min(w.min(h) / 3);
    let mut out = img.clone();
    if ps == 0 {
        return out;
    }
    let (margin, reach) = (ps as i64, (ps as i64 / 2).max(1));
    let mut placed = Vec::new();
    for _ in 0..scaled_count(count, level, w, h) {
        let ((x, y), (tx, ty)) = place(&mut placed, ps, || {
            let x = rng.int_in(margin, w as i64 - ps as i64 - margin);
            let y = rng.int_in(margin, h as i64 - ps as i64 - margin);
            let (mut dx, mut dy) = (0, 0);
            while dx == 0 && dy == 0 {
                dx = rng.int_in(-reach, reach);
                dy = rng.int_in(-reach, reach);
            }
            ((x, y), (x + dx, y + dy))
        });
        for r in 0..ps {
            let s = ((y as usize + r) * w + x as usize) * 3;
            let d = ((ty as usize + r) * w + tx as usize) * 3;
            (*out)[d..d + ps * 3].copy_from_slice(&img.as_raw()[s..s + ps * 3]);
        }
    }
    out
}

/// How many draws a new patch or block gets to find a place that overlaps no
/// earlier one.
const TRIES: usize = 100;

/// Calls `draw` (which returns a payload and the top-left corner of a square of side
/// `side`) until the square overlaps none of `placed`, at most [`TRIES`] times
/// (then the last draw stands), and records the square.
fn place<T>(
    placed: &mut Vec<(i64, i64)>,
    side: usize,
    mut draw: impl FnMut() -> (T, (i64, i64)),
) -> (T, (i64, i64)) {
    let s = side as i64;
    let mut got = draw();
    for _ in 1..TRIES {
        let (x, y) = got.1;
        if placed
            .iter()
            .all(|&(px, py)| (x - px).abs() >= s || (y - py).abs() >= s)
        {
            break;
        }
        got = draw();
    }
    placed.push(got.1);
    got
}

/// Pixelation (KADID 21): nearest-neighbour down-sampling by the factor
/// z = 0.95 − p^0.6 (to floor(z·w) × floor(z·h), at least 1 px) and
/// nearest-neighbour up-sampling back, both reading the source pixel under the
/// output pixel's centre.
///
/// Levels p = 0.01, 0.05, 0.1, 0.2, 0.5 (z ≈ 0.89, 0.78, 0.70, 0.57, 0.29; KADID's
/// table).
pub(super) fn pixelate(img: &RgbImage, amount: f64) -> RgbImage {
    let z = 0.95 - amount.powf(0.6);
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (sw, sh) = (((z * w as f64) as usize).max(1), ((z * h as f64) as usize).max(1));
    let down = resize(img, (Axis::nearest(w, sw), Axis::nearest(h, sh)));
    resize(&down, (Axis::nearest(sw, w), Axis::nearest(sh, h)))
}

/// Colour blocks (KADID 23): n squares of 32×32 px (at most the shorter side), each
/// of a uniformly random colour and at a uniformly random place inside the image.
/// Unlike KADID the blocks do not overlap (up to [`TRIES`] draws each), so a later
/// block never hides an earlier one.
///
/// Levels: KADID's 2, 4, 6, 8, 10 blocks for its 512×384 images, scaled by area and
/// at least the level number (1, 2, 3, 4, 5 for 256×256). Block k draws the same
/// numbers at every level.
pub(super) fn color_block(img: &RgbImage, count: f64, level: u32, rng: &mut Rng) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let bs = 32.min(w).min(h);
    let mut out = img.clone();
    let mut placed = Vec::new();
    for _ in 0..scaled_count(count, level, w, h) {
        let (colour, (x, y)) = place(&mut placed, bs, || {
            let colour = [0; 3].map(|_: u8| rng.int_in(0, 255) as u8);
            let x = (rng.uniform() * (w - bs) as f64) as i64;
            let y = (rng.uniform() * (h - bs) as f64) as i64;
            (colour, (x, y))
        });
        for r in y as u32..(y as usize + bs) as u32 {
            for c in x as u32..(x as usize + bs) as u32 {
                out.get_pixel_mut(c, r).0 = colour;
            }
        }
    }
    out
}

/// Down-up sampling (not a KADID type; in PIPAL and KADIS ports): area-average
/// down-sampling by the factor f (to round(w/f) × round(h/f), at least 1 px) and
/// bilinear up-sampling back (pixel centres aligned, border clamped).
///
/// Levels f = 2, 3, 4, 6, 8.
pub(super) fn down_up(img: &RgbImage, factor: f64) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (sw, sh) = (
        ((w as f64 / factor).round() as usize).max(1),
        ((h as f64 / factor).round() as usize).max(1),
    );
    let down = resize(img, (Axis::area(w, sw.min(w)), Axis::area(h, sh.min(h))));
    resize(
        &down,
        (Axis::bilinear(sw.min(w), w), Axis::bilinear(sh.min(h), h)),
    )
}

fn resize(img: &RgbImage, (ax, ay): (Axis, Axis)) -> RgbImage {
    let p = Planes::from_rgb(img);
    let c = p.c.each_ref().map(|c| util::resample(c, p.w, p.h, &ax, &ay));
    let (w, h) = (ax.len(), ay.len());
    Planes { w, h, c }.to_rgb()
}
