//! What the distortions share: a planar float image, the random stream, colour
//! conversions, separable and sparse convolution with replicated borders, and
//! separable resampling.

use image::RgbImage;

/// Planar RGB with values nominally in [0, 1]; they may leave the range until
/// [`Planes::to_rgb`] clamps them.
pub(super) struct Planes {
    pub w: usize,
    pub h: usize,
    pub c: [Vec<f32>; 3],
}

impl Planes {
    pub fn from_rgb(img: &RgbImage) -> Planes {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mut c = [vec![0.0f32; w * h], vec![0.0f32; w * h], vec![0.0f32; w * h]];
        for (i, px) in img.as_raw().chunks_exact(3).enumerate() {
            for k in 0..3 {
                c[k][i] = f32::from(px[k]) / 255.0;
            }
        }
        Planes { w, h, c }
    }

    /// Rounds to the nearest 8-bit value, clamping to [0, 255].
    pub fn to_rgb(&self) -> RgbImage {
        let mut raw = vec![0u8; self.w * self.h * 3];
        for (i, px) in raw.chunks_exact_mut(3).enumerate() {
            for (v, c) in px.iter_mut().zip(&self.c) {
                *v = to_u8(c[i]);
            }
        }
        RgbImage::from_raw(self.w as u32, self.h as u32, raw).expect("buffer of w*h*3 bytes")
    }
}

/// A [0, 1] value to the nearest 8-bit one, clamped (NaN becomes 0). Adding 0.5 and
/// truncating is rounding for the non-negative values left after the clamp, without
/// a call to `roundf` on targets that lack a rounding instruction.
pub(super) fn to_u8(v: f32) -> u8 {
    ((v * 255.0).clamp(0.0, 255.0) + 0.5) as u8
}

/// floor(v) as an integer, without a call to `floorf` (v well inside the i64 range).
pub(super) fn floor_i(v: f32) -> i64 {
    let i = v as i64;
    if (i as f32) > v { i - 1 } else { i }
}

/// Maps every channel value of `img` through `f` (on [0, 1]) by a 256-entry table.
pub(super) fn map_values(img: &RgbImage, f: impl Fn(f32) -> f32) -> RgbImage {
    let lut: Vec<u8> = (0..=255u8).map(|v| to_u8(f(f32::from(v) / 255.0))).collect();
    let raw = img.as_raw().iter().map(|&v| lut[v as usize]).collect();
    RgbImage::from_raw(img.width(), img.height(), raw).expect("same size")
}

/// Mean of the BT.601 luma of `img`, on [0, 1].
pub(super) fn mean_luma(img: &RgbImage) -> f64 {
    let n = (img.width() as usize * img.height() as usize).max(1);
    let sum: f64 = img
        .as_raw()
        .chunks_exact(3)
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .sum();
    sum / n as f64 / 255.0
}

/// SplitMix64 (Steele, Lea, Flood 2014) with Box-Muller normals.
pub(super) struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: seed,
            spare: None,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1), 53 bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in lo..=hi (hi >= lo).
    pub fn int_in(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo + 1) as f64;
        lo + ((self.uniform() * span) as i64).min(hi - lo)
    }

    /// Standard normal by Box-Muller in Marsaglia's polar form (no trigonometry; a
    /// pair of uniforms outside the unit disc is drawn again); the second value of
    /// each pair is kept for the next call.
    pub fn normal(&mut self) -> f64 {
        if let Some(v) = self.spare.take() {
            return v;
        }
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = (-2.0 * s.ln() / s).sqrt();
                self.spare = Some(v * f);
                return u * f;
            }
        }
    }

    /// `n` standard normals as f32.
    pub fn normals(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.normal() as f32).collect()
    }
}

/// Full-range BT.601 luma and centred chroma of planar RGB.
pub(super) fn to_ycc(p: &Planes) -> [Vec<f32>; 3] {
    let n = p.w * p.h;
    let (mut y, mut cb, mut cr) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]);
    for i in 0..n {
        let (r, g, b) = (p.c[0][i], p.c[1][i], p.c[2][i]);
        let l = 0.299 * r + 0.587 * g + 0.114 * b;
        y[i] = l;
        cb[i] = (b - l) / 1.772;
        cr[i] = (r - l) / 1.402;
    }
    [y, cb, cr]
}

/// Inverse of [`to_ycc`].
pub(super) fn from_ycc(w: usize, h: usize, ycc: &[Vec<f32>; 3]) -> Planes {
    let n = w * h;
    let mut c = [vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]];
    for i in 0..n {
        let (y, cb, cr) = (ycc[0][i], ycc[1][i], ycc[2][i]);
        c[0][i] = y + 1.402 * cr;
        c[1][i] = y - (0.114 * 1.772 / 0.587) * cb - (0.299 * 1.402 / 0.587) * cr;
        c[2][i] = y + 1.772 * cb;
    }
    Planes { w, h, c }
}

/// Normalised Gaussian kernel of radius ceil(3σ) (at least 1).
pub(super) fn gaussian_kernel(sigma: f64) -> Vec<f32> {
    let r = (3.0 * sigma).ceil().max(1.0) as i64;
    let k: Vec<f64> = (-r..=r)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f64 = k.iter().sum();
    k.iter().map(|v| (v / s) as f32).collect()
}

/// Convolves a w×h plane with the symmetric odd 1-D kernel `k` along x, then along
/// y; pixels past the border replicate the edge.
pub(super) fn convolve_separable(plane: &[f32], w: usize, h: usize, k: &[f32]) -> Vec<f32> {
    let r = k.len() / 2;
    let mut tmp = vec![0.0f32; w * h];
    let mut pad = vec![0.0f32; w + 2 * r];
    for y in 0..h {
        let row = &plane[y * w..(y + 1) * w];
        pad[..r].fill(row[0]);
        pad[r..r + w].copy_from_slice(row);
        pad[r + w..].fill(row[w - 1]);
        let out = &mut tmp[y * w..(y + 1) * w];
        for (j, &kj) in k.iter().enumerate() {
            for (o, &v) in out.iter_mut().zip(&pad[j..j + w]) {
                *o += kj * v;
            }
        }
    }
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        let dst = &mut out[y * w..(y + 1) * w];
        for (j, &kj) in k.iter().enumerate() {
            let sy = (y + j).saturating_sub(r).min(h - 1);
            for (o, &v) in dst.iter_mut().zip(&tmp[sy * w..(sy + 1) * w]) {
                *o += kj * v;
            }
        }
    }
    out
}

/// One tap of a 2-D kernel: offsets (dy, dx) and weight.
pub(super) type Tap = (i32, i32, f32);

/// Correlates a w×h plane with a sparse 2-D kernel whose offsets lie within
/// `radius`; pixels past the border replicate the edge. (The kernels used are
/// point-symmetric, so this is also their convolution.)
pub(super) fn convolve_taps(plane: &[f32], w: usize, h: usize, taps: &[Tap], radius: usize) -> Vec<f32> {
    let r = radius;
    let pw = w + 2 * r;
    let ph = h + 2 * r;
    let mut pad = vec![0.0f32; pw * ph];
    for py in 0..ph {
        let sy = py.saturating_sub(r).min(h - 1);
        let row = &plane[sy * w..(sy + 1) * w];
        let dst = &mut pad[py * pw..(py + 1) * pw];
        dst[..r].fill(row[0]);
        dst[r..r + w].copy_from_slice(row);
        dst[r + w..].fill(row[w - 1]);
    }
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        let dst = &mut out[y * w..(y + 1) * w];
        for &(dy, dx, wt) in taps {
            let sy = (y as i64 + r as i64 + i64::from(dy)) as usize;
            let sx = (r as i64 + i64::from(dx)) as usize;
            let src = &pad[sy * pw + sx..sy * pw + sx + w];
            for (o, &v) in dst.iter_mut().zip(src) {
                *o += wt * v;
            }
        }
    }
    out
}

/// Resampling weights along one axis: output i reads `taps[start[i]..start[i + 1]]`,
/// each a source index and a weight.
pub(super) struct Axis {
    start: Vec<usize>,
    taps: Vec<(usize, f32)>,
}

impl Axis {
    pub fn len(&self) -> usize {
        self.start.len() - 1
    }

    /// Area averaging from n to m <= n samples: output i averages the source
    /// interval [i n / m, (i + 1) n / m), partial pixels by their overlap.
    pub fn area(n: usize, m: usize) -> Axis {
        let scale = n as f64 / m as f64;
        let mut ax = Axis {
            start: vec![0],
            taps: Vec::new(),
        };
        for i in 0..m {
            let (a, b) = (i as f64 * scale, (i + 1) as f64 * scale);
            let mut j = a.floor() as usize;
            while (j as f64) < b && j < n {
                let overlap = (b.min(j as f64 + 1.0) - a.max(j as f64)).max(0.0);
                if overlap > 0.0 {
                    ax.taps.push((j, (overlap / scale) as f32));
                }
                j += 1;
            }
            ax.start.push(ax.taps.len());
        }
        ax
    }

    /// Bilinear interpolation from n to m samples, pixel centres aligned
    /// (source x = (i + 0.5) n / m − 0.5), clamped at the border.
    pub fn bilinear(n: usize, m: usize) -> Axis {
        let scale = n as f64 / m as f64;
        let mut ax = Axis {
            start: vec![0],
            taps: Vec::new(),
        };
        for i in 0..m {
            let s = ((i as f64 + 0.5) * scale - 0.5).clamp(0.0, (n - 1) as f64);
            let j0 = s.floor() as usize;
            let f = s - j0 as f64;
            ax.taps.push((j0, (1.0 - f) as f32));
            if f > 0.0 && j0 + 1 < n {
                ax.taps.push((j0 + 1, f as f32));
            }
            ax.start.push(ax.taps.len());
        }
        ax
    }

    /// Nearest neighbour from n to m samples: output i reads floor((i + 0.5) n / m).
    pub fn nearest(n: usize, m: usize) -> Axis {
        let mut ax = Axis {
            start: vec![0],
            taps: Vec::new(),
        };
        for i in 0..m {
            let j = (((2 * i + 1) * n) / (2 * m)).min(n - 1);
            ax.taps.push((j, 1.0));
            ax.start.push(ax.taps.len());
        }
        ax
    }
}

/// Resamples a w×h plane separably: along x with `ax`, then along y with `ay`.
pub(super) fn resample(plane: &[f32], w: usize, h: usize, ax: &Axis, ay: &Axis) -> Vec<f32> {
    let (mw, mh) = (ax.len(), ay.len());
    let mut tmp = vec![0.0f32; mw * h];
    for y in 0..h {
        let src = &plane[y * w..(y + 1) * w];
        for (i, o) in tmp[y * mw..(y + 1) * mw].iter_mut().enumerate() {
            *o = ax.taps[ax.start[i]..ax.start[i + 1]]
                .iter()
                .map(|&(j, wt)| wt * src[j])
                .sum();
        }
    }
    let mut out = vec![0.0f32; mw * mh];
    for i in 0..mh {
        let dst = &mut out[i * mw..(i + 1) * mw];
        for &(j, wt) in &ay.taps[ay.start[i]..ay.start[i + 1]] {
            for (o, &v) in dst.iter_mut().zip(&tmp[j * mw..(j + 1) * mw]) {
                *o += wt * v;
            }
        }
    }
    out
}

/// Min-max stretch to [0, 1] (KADID's `mapmm`); a constant plane is left alone.
pub(super) fn stretch(v: &mut [f32]) {
    let (lo, hi) = v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
        (a.min(x), b.max(x))
    });
    if lo < hi {
        let s = 1.0 / (hi - lo);
        v.iter_mut().for_each(|x| *x = (*x - lo) * s);
    }
}

/// The q-quantile (q in [0, 1]) with linear interpolation between order statistics
/// (numpy's default `percentile`).
pub(super) fn quantile(v: &[f32], q: f64) -> f32 {
    let mut s = v.to_vec();
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let k = pos.floor() as usize;
    let (_, &mut lo, rest) = s.select_nth_unstable_by(k, f32::total_cmp);
    let hi = rest.iter().copied().fold(f32::INFINITY, f32::min);
    if rest.is_empty() {
        lo
    } else {
        lo + (hi - lo) * (pos - k as f64) as f32
    }
}

/// Index `i` mirrored into 0..n with period 2n, edge pixel repeated
/// (numpy `symmetric`, SciPy `reflect`: ... b a | a b c ... ).
pub(super) fn mirror(i: i64, n: usize) -> usize {
    let n = n as i64;
    if (0..n).contains(&i) {
        return i as usize; // the common case, without a division
    }
    let m = i.rem_euclid(2 * n);
    (if m >= n { 2 * n - 1 - m } else { m }) as usize
}
