//! Blurs: Gaussian, lens (disc), motion (line) and colour diffusion (chroma blur).
//! Every kernel reads past the border by replicating the edge pixel.

use image::RgbImage;

use super::util::{self, Planes, Rng, Tap};

/// Gaussian blur (KADID 1): each channel convolved with a normalised Gaussian of
/// standard deviation σ = `sigma` px, truncated at radius ceil(3σ), separably.
///
/// Levels σ = 0.5, 1, 2, 3, 5 px. KADID's table is 0.1, 0.5, 1, 2, 5; σ = 0.1 leaves
/// an 8-bit image unchanged (the neighbour weight is e^−50), so level 1 became 0.5
/// and the middle levels were spread.
pub(super) fn gaussian(img: &RgbImage, sigma: f64) -> RgbImage {
    let mut p = Planes::from_rgb(img);
    let k = util::gaussian_kernel(sigma);
    for c in &mut p.c {
        *c = util::convolve_separable(c, p.w, p.h, &k);
    }
    p.to_rgb()
}

/// Lens blur (KADID 2): each channel convolved with a disc ("pillbox", MATLAB's
/// `fspecial('disk', r)`) of radius r = `radius` px. A kernel pixel's weight is the
/// area of its square inside the disc (16×16 sub-samples), normalised to sum 1.
///
/// Levels r = 1, 2, 4, 6, 8 px (KADID's table).
pub(super) fn lens(img: &RgbImage, radius: f64) -> RgbImage {
    const SUB: i32 = 16;
    let crad = (radius - 0.5).ceil().max(1.0) as i32;
    let mut taps: Vec<Tap> = Vec::new();
    for dy in -crad..=crad {
        for dx in -crad..=crad {
            let mut inside = 0;
            for sy in 0..SUB {
                for sx in 0..SUB {
                    let y = f64::from(dy) - 0.5 + (f64::from(sy) + 0.5) / f64::from(SUB);
                    let x = f64::from(dx) - 0.5 + (f64::from(sx) + 0.5) / f64::from(SUB);
                    if x * x + y * y <= radius * radius {
                        inside += 1;
                    }
                }
            }
            if inside > 0 {
                taps.push((dy, dx, inside as f32));
            }
        }
    }
    convolve_all(img, normalise(taps), crad as usize)
}

/// Motion blur (KADID 3): each channel convolved with a line of length L = `length`
/// px through the centre, at an angle drawn uniformly from [0°, 180°) by the seed.
/// The line is sampled every 1/16 px and each sample is split bilinearly among its
/// four nearest kernel pixels (an anti-aliased line, like MATLAB's
/// `fspecial('motion', L, θ)`); the kernel is normalised to sum 1.
///
/// Levels L = 2, 4, 6, 10, 14 px. KADID's table is 1, 2, 4, 6, 10; length 1 is the
/// identity, so the table was shifted by one level and 14 added.
pub(super) fn motion(img: &RgbImage, length: f64, rng: &mut Rng) -> RgbImage {
    let theta = rng.uniform() * std::f64::consts::PI;
    let (s, c) = theta.sin_cos();
    let r = (length / 2.0).ceil() as i32 + 1;
    let side = (2 * r + 1) as usize;
    let mut k = vec![0.0f64; side * side];
    let n = (length * 16.0).ceil() as usize + 1;
    for i in 0..n {
        let t = -length / 2.0 + length * i as f64 / (n - 1) as f64;
        let (x, y) = (t * c + f64::from(r), -t * s + f64::from(r));
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (x0, y0) = (x0 as usize, y0 as usize);
        k[y0 * side + x0] += (1.0 - fx) * (1.0 - fy);
        k[y0 * side + x0 + 1] += fx * (1.0 - fy);
        k[(y0 + 1) * side + x0] += (1.0 - fx) * fy;
        k[(y0 + 1) * side + x0 + 1] += fx * fy;
    }
    let mut taps = Vec::new();
    for (i, &v) in k.iter().enumerate() {
        if v > 1e-9 {
            taps.push(((i / side) as i32 - r, (i % side) as i32 - r, v as f32));
        }
    }
    convolve_all(img, normalise(taps), r as usize)
}

/// Colour diffusion (KADID 4): the chroma planes (full-range BT.601 Cb, Cr) blurred
/// by a Gaussian of σ = 1.5a + 2 px, the luma kept. KADID blurs CIELAB a*, b*; the
/// effect, colours bleeding across edges, is the same.
///
/// Levels a = 1, 3, 6, 8, 12 (σ = 3.5, 6.5, 11, 14, 20 px; KADID's table). The
/// Python ports also multiply the blurred chroma by a, which turns the distortion
/// into a strong saturation boost; that is not done here.
pub(super) fn color_diffusion(img: &RgbImage, amount: f64) -> RgbImage {
    let p = Planes::from_rgb(img);
    let mut ycc = util::to_ycc(&p);
    let k = util::gaussian_kernel(1.5 * amount + 2.0);
    for c in &mut ycc[1..] {
        *c = util::convolve_separable(c, p.w, p.h, &k);
    }
    util::from_ycc(p.w, p.h, &ycc).to_rgb()
}

fn normalise(mut taps: Vec<Tap>) -> Vec<Tap> {
    let sum: f32 = taps.iter().map(|t| t.2).sum();
    taps.iter_mut().for_each(|t| t.2 /= sum);
    taps
}

fn convolve_all(img: &RgbImage, taps: Vec<Tap>, radius: usize) -> RgbImage {
    let mut p = Planes::from_rgb(img);
    for c in &mut p.c {
        *c = util::convolve_taps(c, p.w, p.h, &taps, radius);
    }
    p.to_rgb()
}
