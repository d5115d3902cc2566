//! Colour and tone: colour shift, colour quantisation, saturation down and up,
//! brightness up and down, mean shift, intensity quantisation, sharpening,
//! contrast down and up.

use image::RgbImage;

use super::util::{self, Planes, Rng};

/// Colour shift (KADID 5): the green plane is displaced by `shift` px in a direction
/// drawn from the seed (uniform angle; the shift vector is rounded to whole pixels,
/// the border mirrored) and blended in where the image has edges:
/// G' = a·e·G_shifted + (1 − a·e)·G. The weight e is KADID's: the gradient magnitude of
/// the grey image (`numpy.gradient` differences), blurred by a Gaussian of σ = 4 px,
/// stretched to [0, 1], clipped below at 0.1, stretched, clipped to its 1st and 99th
/// percentiles and stretched again.
///
/// Levels shift = 1, 3, 6, 8, 12 px (KADID's table), with the blend strength
/// a = [`SHIFT_BLEND`] (our change: KADID blends fully, a = 1, at every level). Once
/// the shift passes the width of an edge the error stops growing with it, and on
/// periodic texture (railings, power lines) a longer shift can even land closer to the
/// original, so shift alone did not order the levels on every photo; the growing blend
/// does.
pub(super) fn color_shift(img: &RgbImage, shift: f64, blend: f32, rng: &mut Rng) -> RgbImage {
    let mut p = Planes::from_rgb(img);
    let (w, h) = (p.w, p.h);
    let grey: Vec<f32> = (0..w * h)
        .map(|i| 0.2989 * p.c[0][i] + 0.587 * p.c[1][i] + 0.114 * p.c[2][i])
        .collect();
    let gx = gradient(&grey, w, h, true);
    let gy = gradient(&grey, w, h, false);
    let e: Vec<f32> = gx.iter().zip(&gy).map(|(a, b)| a.hypot(*b)).collect();
    let mut e = util::convolve_separable(&e, w, h, &util::gaussian_kernel(4.0));
    util::stretch(&mut e);
    e.iter_mut().for_each(|v| *v = v.clamp(0.1, 1.0));
    util::stretch(&mut e);
    let (lo, hi) = (util::quantile(&e, 0.01), util::quantile(&e, 0.99));
    e.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
    util::stretch(&mut e);

    let angle = rng.uniform() * std::f64::consts::TAU;
    let (dy, dx) = (
        (shift * angle.sin()).round() as i64,
        (shift * angle.cos()).round() as i64,
    );
    let g = &p.c[1];
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        let sy = util::mirror(y as i64 - dy, h);
        for x in 0..w {
            let sx = util::mirror(x as i64 - dx, w);
            let i = y * w + x;
            let a = blend * e[i];
            out[i] = a * g[sy * w + sx] + (1.0 - a) * g[i];
        }
    }
    p.c[1] = out;
    p.to_rgb()
}

/// Blend strength of the shifted green plane per level (see [`color_shift`]).
pub(super) const SHIFT_BLEND: [f32; 5] = [0.3, 0.5, 0.7, 0.85, 1.0];

/// `numpy.gradient` of a w×h plane along x or y: central differences inside,
/// one-sided at the two borders, 0 along a side of length 1.
fn gradient(v: &[f32], w: usize, h: usize, along_x: bool) -> Vec<f32> {
    let (n, stride) = if along_x { (w, 1) } else { (h, w) };
    let mut out = vec![0.0f32; w * h];
    if n < 2 {
        return out;
    }
    for (i, o) in out.iter_mut().enumerate() {
        let k = if along_x { i % w } else { i / w };
        *o = if k == 0 {
            v[i + stride] - v[i]
        } else if k == n - 1 {
            v[i] - v[i - stride]
        } else {
            (v[i + stride] - v[i - stride]) / 2.0
        };
    }
    out
}

/// Colour quantisation (KADID 6): the image reduced to a palette of N colours by
/// median cut (the box with the widest channel range is split at the median of
/// that channel until there are N boxes) and every pixel replaced by the mean
/// colour of its box, without dithering. KADID uses MATLAB's `rgb2ind`
/// (minimum-variance quantisation); median cut gives the same flat, banded look.
///
/// Levels N = 64, 48, 32, 16, 8 colours (KADID's table).
pub(super) fn color_quantization(img: &RgbImage, colours: usize) -> RgbImage {
    let px: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    let mut idx: Vec<u32> = (0..px.len() as u32).collect();
    // The channel with the widest range in a box, and that range.
    let widest = |ids: &[u32]| {
        (0..3)
            .map(|ch| {
                let (lo, hi) = ids.iter().fold((255u8, 0u8), |(lo, hi), &i| {
                    let v = px[i as usize][ch];
                    (lo.min(v), hi.max(v))
                });
                (ch, hi.saturating_sub(lo))
            })
            .fold((0, 0), |best, c| if c.1 > best.1 { c } else { best })
    };
    // Boxes are ranges of `idx` with their widest channel; the split order makes
    // fewer colours a coarser partition by the same cuts, so the levels are nested.
    let mut boxes: Vec<(usize, usize, (usize, u8))> = vec![(0, idx.len(), widest(&idx))];
    while boxes.len() < colours {
        // The first box of the widest range (0: no box can be split).
        let (b, &(s, e, (ch, range))) =
            boxes.iter().enumerate().fold(
                (0, &boxes[0]),
                |best, c| if c.1.2.1 > best.1.2.1 { c } else { best },
            );
        if range == 0 {
            break;
        }
        let mid = (e - s) / 2;
        // Order by (channel value, index): a total order, so the cut is unique.
        idx[s..e].select_nth_unstable_by_key(mid, |&i| (px[i as usize][ch], i));
        boxes[b] = (s, s + mid, widest(&idx[s..s + mid]));
        boxes.push((s + mid, e, widest(&idx[s + mid..e])));
    }
    let mut out = img.clone();
    let raw: &mut [u8] = &mut out;
    for &(s, e, _) in &boxes {
        let mut sum = [0u64; 3];
        for &i in &idx[s..e] {
            for k in 0..3 {
                sum[k] += u64::from(px[i as usize][k]);
            }
        }
        let n = (e - s).max(1) as u64;
        let mean = sum.map(|v| ((v + n / 2) / n) as u8);
        for &i in &idx[s..e] {
            raw[i as usize * 3..i as usize * 3 + 3].copy_from_slice(&mean);
        }
    }
    out
}

/// Colour saturation decrease (KADID 7): the HSV saturation multiplied by k, hue
/// and value kept. With V = max(R, G, B) this is, per channel, c' = V − k (V − c);
/// a negative k pushes the channels past V (clipped), towards the complementary
/// hue, as KADID's level 5 does.
///
/// Levels k = 0.4, 0.2, 0.1, 0, −0.4 (KADID's table).
pub(super) fn desaturate(img: &RgbImage, factor: f64) -> RgbImage {
    let k = factor as f32;
    let mut out = img.clone();
    for px in out.pixels_mut() {
        let c = px.0.map(|v| f32::from(v) / 255.0);
        let v = c[0].max(c[1]).max(c[2]);
        px.0 = c.map(|x| util::to_u8(v - k * (v - x)));
    }
    out
}

/// Colour saturation increase (KADID 8): the chroma (full-range BT.601 Cb, Cr)
/// multiplied by s, the luma kept, then clipped. KADID scales CIELAB a*, b*.
///
/// Levels s = 1.5, 2, 3, 6, 9. KADID's table is 1, 2, 3, 6, 9; s = 1 is the identity,
/// so level 1 became 1.5.
pub(super) fn saturate(img: &RgbImage, factor: f64) -> RgbImage {
    let p = Planes::from_rgb(img);
    let mut ycc = util::to_ycc(&p);
    for c in &mut ycc[1..] {
        c.iter_mut().for_each(|v| *v *= factor as f32);
    }
    util::from_ycc(p.w, p.h, &ycc).to_rgb()
}

/// Brightness increase (KADID 16): KADID's curve, the parabola through (0, 0),
/// (0.5, 0.5 + a/2), (1, 1), which is f(x) = x + 2a·x(1 − x) clipped to [0, 1], is
/// applied to each RGB channel (J₁) and to the luma with the chroma kept (J₂; KADID
/// uses CIELAB L*), and the result is (2 J₁ + J₂) / 3.
///
/// Levels a = 0.1, 0.2, 0.4, 0.7, 1.1 (KADID's table).
pub(super) fn brighten(img: &RgbImage, amount: f64) -> RgbImage {
    let a = amount as f32;
    let f = |x: f32| (x + 2.0 * a * x * (1.0 - x)).clamp(0.0, 1.0);
    let mut p = Planes::from_rgb(img);
    let mut ycc = util::to_ycc(&p);
    ycc[0].iter_mut().for_each(|y| *y = f(*y));
    let j2 = util::from_ycc(p.w, p.h, &ycc);
    for (c, c2) in p.c.iter_mut().zip(&j2.c) {
        c.iter_mut()
            .zip(c2)
            .for_each(|(x, &x2)| *x = (2.0 * f(*x) + x2.clamp(0.0, 1.0)) / 3.0);
    }
    p.to_rgb()
}

/// Brightness decrease (KADID 17): each RGB channel through KADID's parabola through
/// (0, 0), (0.5, 0.5 − p/2), (1, 1), which is f(x) = x − 2p·x(1 − x), clipped.
///
/// Levels p = 0.05, 0.1, 0.2, 0.4, 0.8 (KADID's table).
pub(super) fn darken(img: &RgbImage, amount: f64) -> RgbImage {
    let p = amount as f32;
    util::map_values(img, |x| x - 2.0 * p * x * (1.0 - x))
}

/// Mean shift (KADID 18): a constant ±δ added to every channel value on [0, 1],
/// then clipped. The sign is + when the image's mean luma is below 0.5, else −, so
/// the shift goes where there is room and is not eaten by clipping.
///
/// Levels δ = 0.02, 0.05, 0.08, 0.12, 0.16. KADID's table is +0.15, +0.08, 0,
/// −0.08, −0.15: signed, with the identity at level 3, not ordered by strength.
pub(super) fn mean_shift(img: &RgbImage, delta: f64) -> RgbImage {
    let d = if util::mean_luma(img) < 0.5 { delta } else { -delta } as f32;
    util::map_values(img, |x| x + d)
}

/// Quantisation (KADID 22): N thresholds over all channel values, chosen as MATLAB's
/// `multithresh` does (multi-level Otsu, which maximises the between-class variance;
/// here solved exactly by dynamic programming over the 256-bin histogram), and
/// every value replaced as KADID's `imquantize(I, t, [0 t(2:N) 1])` does: the lowest
/// class by 0, class k by its upper threshold t_k, the top class by 1.
///
/// Levels N = 20, 16, 13, 10, 7 thresholds (KADID's table).
pub(super) fn quantization(img: &RgbImage, thresholds: usize) -> RgbImage {
    let mut hist = [0f64; 256];
    img.as_raw().iter().for_each(|&v| hist[v as usize] += 1.0);
    let th = otsu_thresholds(&hist, thresholds);
    let lut: Vec<u8> = (0..256usize)
        .map(|v| {
            let class = th.iter().take_while(|&&t| v > t).count();
            if class == 0 {
                0
            } else if class == th.len() {
                255
            } else {
                th[class] as u8
            }
        })
        .collect();
    let raw = img.as_raw().iter().map(|&v| lut[v as usize]).collect();
    RgbImage::from_raw(img.width(), img.height(), raw).expect("same size")
}

/// The `n` thresholds (bin indices; class k holds the bins up to and including
/// t_k) of the (n + 1)-class split of `hist` with the least within-class sum of
/// squares, by dynamic programming; ties go to the lowest threshold.
fn otsu_thresholds(hist: &[f64; 256], n: usize) -> Vec<usize> {
    let classes = (n + 1).min(256);
    // Prefix sums of count, count·v, count·v².
    let mut c0 = [0f64; 257];
    let mut c1 = [0f64; 257];
    let mut c2 = [0f64; 257];
    for v in 0..256 {
        let (h, x) = (hist[v], v as f64);
        c0[v + 1] = c0[v] + h;
        c1[v + 1] = c1[v] + h * x;
        c2[v + 1] = c2[v] + h * x * x;
    }
    // Within-class sum of squares of bins a..b (exclusive b).
    let sse = |a: usize, b: usize| {
        let m = c0[b] - c0[a];
        if m <= 0.0 {
            0.0
        } else {
            (c2[b] - c2[a]) - (c1[b] - c1[a]).powi(2) / m
        }
    };
    // cost[k][b]: best split of bins 0..b into k + 1 classes; from[k][b]: start of the last.
    let mut cost = vec![[f64::INFINITY; 257]; classes];
    let mut from = vec![[0usize; 257]; classes];
    for (b, c) in cost[0].iter_mut().enumerate().skip(1) {
        *c = sse(0, b);
    }
    for k in 1..classes {
        for b in (k + 1)..=256 {
            for a in k..b {
                let c = cost[k - 1][a] + sse(a, b);
                if c < cost[k][b] - 1e-9 {
                    cost[k][b] = c;
                    from[k][b] = a;
                }
            }
        }
    }
    let mut th = vec![0usize; classes - 1];
    let mut b = 256;
    for k in (1..classes).rev() {
        let a = from[k][b];
        th[k - 1] = a - 1;
        b = a;
    }
    th
}

/// High sharpening (KADID 24): the luma (full-range BT.601 Y; KADID uses CIELAB L*,
/// the operation is linear so the scale does not matter) minus `amount` times its
/// Laplacian, Y' = Y − a (∂²Y/∂x² + ∂²Y/∂y²), each second derivative being
/// `numpy.gradient` applied twice (so one-sided at the border), clipped to [0, 1];
/// the chroma is kept.
///
/// Levels a = 1, 2, 3, 6, 12 (KADID's table).
pub(super) fn sharpen(img: &RgbImage, amount: f64) -> RgbImage {
    let p = Planes::from_rgb(img);
    let (w, h) = (p.w, p.h);
    let mut ycc = util::to_ycc(&p);
    let y = &ycc[0];
    let gxx = gradient(&gradient(y, w, h, true), w, h, true);
    let gyy = gradient(&gradient(y, w, h, false), w, h, false);
    let a = amount as f32;
    let sharp: Vec<f32> = (0..w * h)
        .map(|i| (y[i] - a * (gxx[i] + gyy[i])).clamp(0.0, 1.0))
        .collect();
    ycc[0] = sharp;
    util::from_ycc(w, h, &ycc).to_rgb()
}

/// Contrast decrease (the lowering half of KADID 25, and CSIQ's global contrast
/// decrement): every channel value pulled towards the image's mean luma μ,
/// x' = μ + c (x − μ).
///
/// Levels c = 0.85, 0.7, 0.55, 0.4, 0.25. KADID's contrast change runs from a strong
/// increase (level 1) through a mild one to a decrease (levels 4, 5), not ordered by
/// strength, so it is split in this type and [`contrast_increase`].
pub(super) fn contrast_decrease(img: &RgbImage, factor: f64) -> RgbImage {
    let mu = util::mean_luma(img) as f32;
    let c = factor as f32;
    util::map_values(img, |x| mu + c * (x - mu))
}

/// Contrast increase (the raising half of KADID 25): each channel through KADID's
/// S-shaped tone curve, which passes through (0, 0), (0.3, 0.3 − d), (0.5, 0.5),
/// (0.7, 0.7 + d), (1, 1), here the monotone piecewise-cubic (PCHIP,
/// Fritsch-Carlson) interpolant of those points.
///
/// Levels d = 0.025, 0.05, 0.075, 0.1, 0.125. KADID's strongest increase (its level
/// 1, parameter 0.3) puts the curve through (0.3, 0.175), d = 0.125.
pub(super) fn contrast_increase(img: &RgbImage, lift: f64) -> RgbImage {
    let xs = [0.0, 0.3, 0.5, 0.7, 1.0];
    let ys = [0.0, 0.3 - lift, 0.5, 0.7 + lift, 1.0];
    util::map_values(img, |x| pchip(&xs, &ys, f64::from(x)) as f32)
}

/// Monotone cubic Hermite interpolation (Fritsch-Carlson slopes: weighted harmonic
/// mean inside, 0 at a local extremum, the secant at the two ends).
fn pchip(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let n = xs.len();
    let hs: Vec<f64> = xs.windows(2).map(|p| p[1] - p[0]).collect();
    let ds: Vec<f64> = (0..n - 1).map(|i| (ys[i + 1] - ys[i]) / hs[i]).collect();
    let mut m = vec![0.0; n];
    m[0] = ds[0];
    m[n - 1] = ds[n - 2];
    for i in 1..n - 1 {
        if ds[i - 1] * ds[i] > 0.0 {
            let (w1, w2) = (2.0 * hs[i] + hs[i - 1], hs[i] + 2.0 * hs[i - 1]);
            m[i] = (w1 + w2) / (w1 / ds[i - 1] + w2 / ds[i]);
        }
    }
    let i = (0..n - 1).rfind(|&i| x >= xs[i]).unwrap_or(0);
    let t = ((x - xs[i]) / hs[i]).clamp(0.0, 1.0);
    let (t2, t3) = (t * t, t * t * t);
    (2.0 * t3 - 3.0 * t2 + 1.0) * ys[i]
        + (t3 - 2.0 * t2 + t) * hs[i] * m[i]
        + (-2.0 * t3 + 3.0 * t2) * ys[i + 1]
        + (t3 - t2) * hs[i] * m[i + 1]
}
