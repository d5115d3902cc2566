//! Noises: white Gaussian in RGB, white Gaussian in YCbCr, impulse, multiplicative.
//! Each draws one field per image from the seed and scales it by the level's
//! parameter, so the levels of one seed are nested.

use image::RgbImage;

use super::util::{Planes, Rng};

/// White Gaussian noise (KADID 11): every channel value x ∈ [0, 1] becomes
/// x + n, n ~ N(0, v) independently per pixel and channel (MATLAB's
/// `imnoise(I, 'gaussian', 0, v)`), then clipped.
///
/// Levels v = 0.001, 0.002, 0.003, 0.005, 0.01 (σ ≈ 8, 11, 14, 18, 26 grey levels;
/// KADID's table).
pub(super) fn white(img: &RgbImage, variance: f64, rng: &mut Rng) -> RgbImage {
    let mut p = Planes::from_rgb(img);
    let s = variance.sqrt() as f32;
    for c in &mut p.c {
        let n = rng.normals(c.len());
        c.iter_mut().zip(&n).for_each(|(x, &z)| *x += s * z);
    }
    p.to_rgb()
}

/// White noise in the colour components (KADID 12): N(0, v) noise added to each of
/// Y, Cb, Cr of MATLAB's studio-range YCbCr (`rgb2ycbcr`, values on [0, 1]), then
/// converted back. The conversion is linear, so this adds to R, G, B
///   ΔR = 1.164 nY + 1.596 nCr, ΔG = 1.164 nY − 0.392 nCb − 0.813 nCr,
///   ΔB = 1.164 nY + 2.017 nCb,
/// correlated, mostly chromatic noise.
///
/// Levels v = 0.0001, 0.0005, 0.001, 0.002, 0.003 (KADID's table).
pub(super) fn color_components(img: &RgbImage, variance: f64, rng: &mut Rng) -> RgbImage {
    let mut p = Planes::from_rgb(img);
    let s = variance.sqrt() as f32;
    let n = p.w * p.h;
    let (ny, ncb, ncr) = (rng.normals(n), rng.normals(n), rng.normals(n));
    for i in 0..n {
        let (y, cb, cr) = (s * ny[i], s * ncb[i], s * ncr[i]);
        p.c[0][i] += 1.164 * y + 1.596 * cr;
        p.c[1][i] += 1.164 * y - 0.392 * cb - 0.813 * cr;
        p.c[2][i] += 1.164 * y + 2.017 * cb;
    }
    p.to_rgb()
}

/// Impulse (salt-and-pepper) noise (KADID 13): each channel value independently
/// becomes 0 with probability d/2 and 255 with probability d/2 (MATLAB's
/// `imnoise(I, 'salt & pepper', d)` on an RGB array), else stays.
///
/// Levels d = 0.001, 0.005, 0.01, 0.02, 0.03 (KADID's table).
pub(super) fn impulse(img: &RgbImage, density: f64, rng: &mut Rng) -> RgbImage {
    let mut out = img.clone();
    for v in out.iter_mut() {
        let u = rng.uniform();
        if u < density / 2.0 {
            *v = 0;
        } else if u > 1.0 - density / 2.0 {
            *v = 255;
        }
    }
    out
}

/// Multiplicative (speckle) noise (KADID 14): x ∈ [0, 1] becomes x + x·n, n uniform
/// with mean 0 and variance v (MATLAB's `imnoise(I, 'speckle', v)`), per pixel and
/// channel, then clipped.
///
/// Levels v = 0.001, 0.005, 0.01, 0.02, 0.05 (KADID's table).
pub(super) fn multiplicative(img: &RgbImage, variance: f64, rng: &mut Rng) -> RgbImage {
    let mut p = Planes::from_rgb(img);
    let a = (12.0 * variance).sqrt();
    for c in &mut p.c {
        for x in c.iter_mut() {
            let n = (a * (rng.uniform() - 0.5)) as f32;
            *x += *x * n;
        }
    }
    p.to_rgb()
}
