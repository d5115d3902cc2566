//! FSIM and FSIMc, the Feature Similarity Index (Zhang, Zhang, Mou, Zhang 2011), as
//! computed by piq 0.8.0's `piq.fsim` with its defaults (`chromatic=True`, `data_range=1`).
//!
//! The pipeline, step for step as in piq (`piq/fsim.py` and the helpers in
//! `piq/functional/`):
//!
//! 1. Scale both images to [0, 255] (all constants below are for that range), then average-pool
//!    with a `f x f` kernel and stride `f`, `f = max(1, round(min(H, W) / 256))` (Python's
//!    `round`, ties to even; `f = 1` at 256 px).
//! 2. Convert RGB to YIQ with piq's `rgb2yiq` weights:
//!    `Y = 0.299 R + 0.587 G + 0.114 B`, `I = 0.5959 R - 0.2746 G - 0.3213 B`,
//!    `Q = 0.2115 R - 0.5227 G + 0.3112 B`.
//! 3. Phase congruency `PC` of each luminance plane with a bank of log-Gabor filters
//!    (4 scales, 4 orientations, smallest wavelength 6, scale factor 2, `sigma_f = 0.55`,
//!    `delta_theta = 1.2`, noise factor `k = 2`), built in the frequency domain as piq does;
//!    see `FilterBank` and `phase_congruency`.
//! 4. Gradient magnitude `G` of each luminance plane: 3x3 Scharr kernels
//!    `[[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]] / 16` and its transpose, zero padding of one pixel
//!    (`conv2d(..., padding=1)`), `G = sqrt(gx^2 + gy^2)`.
//! 5. Similarity maps `S(a, b; T) = (2 a b + T) / (a^2 + b^2 + T)`:
//!    `S_PC` with `T1 = 0.85`, `S_G` with `T2 = 160`, `S_I` with `T3 = 200`, `S_Q` with `T4 = 200`.
//! 6. `FSIMc = sum(S_PC * S_G * PC_max * |S_I * S_Q|^0.03) / sum(PC_max)` with
//!    `PC_max = max(PC_x, PC_y)` (`lambda = 0.03`).
//!
//! piq runs in float32; this runs in f64 and so differs from piq's values by float32 rounding
//! only: at most 4.9e-6 on the test vectors, whose labels are rounded to 5 decimals (see
//! `tests/metrics_fsim.rs`, tolerance 1e-5). The two `EPS`
//! guards of piq's phase congruency are `torch.finfo(float32).eps`, kept here as
//! `f32::EPSILON` so that flat regions behave the same.
//!
//! Speed: the filter bank, its noise constants, the FFT plans and all work buffers depend only
//! on the image size; they are built once per size and thread and cached (`filter_bank`; about
//! 20 MB per size and thread, two sizes kept). One pair costs two forward and 32 inverse 2-D
//! FFTs (rustfft, f64), about 17 ms of CPU per 256x256 pair in release on a busy 2-core VM, of
//! which the FFT butterflies are about a quarter and memory traffic (filter products,
//! transposes) most of the rest. `fsim` may be called from any number of threads; each keeps its
//! own cache.

use std::cell::RefCell;
use std::f64::consts::PI;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::image::Planes;

type C64 = Complex<f64>;

/// Number of log-Gabor scales (piq `scales`).
const SCALES: usize = 4;
/// Number of log-Gabor orientations (piq `orientations`).
const ORIENTATIONS: usize = 4;
/// Wavelength of the smallest-scale filter, in pixels (piq `min_length`).
const MIN_LENGTH: f64 = 6.0;
/// Wavelength ratio between successive scales (piq `mult`).
const MULT: f64 = 2.0;
/// Ratio of the radial Gaussian's width to the centre frequency (piq `sigma_f`).
const SIGMA_F: f64 = 0.55;
/// Ratio of the orientation spacing to the angular Gaussian's width (piq `delta_theta`).
const DELTA_THETA: f64 = 1.2;
/// Standard deviations of noise energy above its mean for the noise threshold (piq `k`).
const NOISE_K: f64 = 2.0;
/// Cut-off frequency of the Butterworth low-pass applied to all filters.
const LOWPASS_CUTOFF: f64 = 0.45;
/// Order of that Butterworth low-pass.
const LOWPASS_ORDER: i32 = 15;
/// piq's empirical rescaling of the noise threshold for its PC_2 measure.
const NOISE_RESCALE: f64 = 1.7;
/// Stability constant of the phase-congruency similarity.
const T1: f64 = 0.85;
/// Stability constant of the gradient-magnitude similarity (data in [0, 255]).
const T2: f64 = 160.0;
/// Stability constant of the I-chroma similarity (data in [0, 255]).
const T3: f64 = 200.0;
/// Stability constant of the Q-chroma similarity (data in [0, 255]).
const T4: f64 = 200.0;
/// Exponent of the chromatic term.
const LAMBDA: f64 = 0.03;
/// piq's `torch.finfo(x.dtype).eps` for its float32 computation.
const EPS: f64 = f32::EPSILON as f64;
/// RGB to YIQ weights of piq's `rgb2yiq`, one row per output channel.
const YIQ: [[f64; 3]; 3] = [
    [0.299, 0.587, 0.114],
    [0.5959, -0.2746, -0.3213],
    [0.2115, -0.5227, 0.3112],
];
/// How many filter banks (one per image size) each thread keeps.
const BANK_CACHE: usize = 2;

/// FSIMc of a distorted image `x` against a reference `y` (piq's argument order), both RGB
/// [`Planes`] with values in [0, 1]. Usually in [0, 1]; 1 for identical images.
///
/// Returns NaN where [`try_fsim`] returns an error (not RGB, sizes differ, smaller than 2x2).
pub fn fsim(x: &Planes, y: &Planes) -> f64 {
    try_fsim(x, y).unwrap_or(f64::NAN)
}

/// FSIMc as [`fsim`], with the reason when the input is invalid.
///
/// Errors: either image is not 3-channel (FSIMc needs chroma; piq asserts the same), the sizes
/// differ, a side is shorter than 2 pixels (piq's frequency grid divides by `side - 1`), or the
/// data length does not match the size. As for the other metrics of this module, values outside
/// [0, 1] are not rejected (piq asserts on them) but computed as given; a NaN in the input gives
/// a NaN result.
pub fn try_fsim(x: &Planes, y: &Planes) -> Result<f64, String> {
    validate(x)?;
    validate(y)?;
    if (x.height, x.width) != (y.height, y.width) {
        return Err(format!(
            "fsim: sizes differ: {}x{} and {}x{}",
            x.height, x.width, y.height, y.width
        ));
    }
    let factor = pool_factor(x.height, x.width);
    let bank = filter_bank(x.height / factor, x.width / factor);
    let mut work = bank.work.borrow_mut();
    let Workspace {
        pc,
        images: [fx, fy],
        reference,
    } = &mut *work;
    fx.compute(x, factor, &bank, pc);
    let key = y.fingerprint();
    if *reference != Some(key) {
        *reference = None; // stays unset if compute panics half-way
        fy.compute(y, factor, &bank, pc);
        *reference = Some(key);
    }
    Ok(pooled_similarity(fx, fy))
}

/// Checks one input image: RGB, at least 2x2, consistent length.
fn validate(p: &Planes) -> Result<(), String> {
    if p.channels != 3 {
        return Err(format!(
            "fsim: FSIMc needs RGB images, got {} channel(s)",
            p.channels
        ));
    }
    if p.height < 2 || p.width < 2 {
        return Err(format!("fsim: image too small: {}x{}", p.height, p.width));
    }
    if p.data.len() != p.channels * p.height * p.width {
        return Err(format!(
            "fsim: {} values for a 3x{}x{} image",
            p.data.len(),
            p.height,
            p.width
        ));
    }
    Ok(())
}

/// piq's average-pooling factor `max(1, round(min(H, W) / 256))`, with Python's `round`
/// (ties to even: 384 px gives 2, 640 px gives 2).
fn pool_factor(height: usize, width: usize) -> usize {
    let f = (height.min(width) as f64 / 256.0).round_ties_even() as usize;
    f.max(1)
}

/// Per-pixel features of one image, row-major at the pooled size. Kept in the thread-local
/// [`Workspace`] and overwritten by each call: fresh multi-megabyte buffers per call cost more
/// in page faults than the arithmetic.
struct Features {
    /// Y (luminance), I and Q, scaled to [0, 255] and pooled.
    yiq: [Vec<f64>; 3],
    /// Phase congruency of Y.
    pc: Vec<f64>,
    /// Scharr gradient magnitude of Y.
    grad: Vec<f64>,
    /// Y with one pixel of zero padding, for the gradient.
    padded: Vec<f64>,
}

impl Features {
    fn new(height: usize, width: usize) -> Features {
        let n = height * width;
        Features {
            yiq: std::array::from_fn(|_| vec![0.0; n]),
            pc: vec![0.0; n],
            grad: vec![0.0; n],
            padded: vec![0.0; (height + 2) * (width + 2)],
        }
    }

    /// The features of a validated RGB image pooled by `f` to the bank's size.
    fn compute(&mut self, p: &Planes, f: usize, bank: &FilterBank, work: &mut PcBuffers) {
        rgb_to_yiq(p, f, &mut self.yiq);
        phase_congruency(&self.yiq[0], bank, work, &mut self.pc);
        scharr_magnitude(
            &self.yiq[0],
            bank.height,
            bank.width,
            &mut self.padded,
            &mut self.grad,
        );
    }
}

/// Scales by 255, average-pools by `f` (`avg_pool2d(x, f)`: stride `f`, no padding, the
/// incomplete last block dropped) and converts to YIQ into `yiq` (sized for the pooled image).
/// Pooling and the colour transform are both linear; as in piq the pooling comes first.
fn rgb_to_yiq(p: &Planes, f: usize, yiq: &mut [Vec<f64>; 3]) {
    let width = p.width / f;
    let planes = [p.plane(0), p.plane(1), p.plane(2)];
    let norm = 255.0 / (f * f) as f64;
    for i in 0..yiq[0].len() {
        let rgb = if f == 1 {
            [planes[0][i] * 255.0, planes[1][i] * 255.0, planes[2][i] * 255.0]
        } else {
            let (r, c) = (i / width, i % width);
            planes.map(|plane| block_sum(plane, p.width, f, r, c) * norm)
        };
        for (out, w) in yiq.iter_mut().zip(YIQ) {
            out[i] = w[0] * rgb[0] + w[1] * rgb[1] + w[2] * rgb[2];
        }
    }
}

/// The sum of the `f x f` block at pooled row `r`, column `c` of a row-major plane.
fn block_sum(plane: &[f64], width: usize, f: usize, r: usize, c: usize) -> f64 {
    (0..f)
        .map(|dr| plane[(r * f + dr) * width + c * f..][..f].iter().sum::<f64>())
        .sum()
}

/// The Dice-like similarity `(2 a b + t) / (a^2 + b^2 + t)` of piq's `similarity_map`.
fn similarity(a: f64, b: f64, t: f64) -> f64 {
    (2.0 * a * b + t) / (a * a + b * b + t)
}

/// `sum(S_PC * S_G * PC_max * |S_I * S_Q|^lambda) / sum(PC_max)`.
///
/// For identical inputs every similarity is exactly 1, so the result is exactly 1.
fn pooled_similarity(x: &Features, y: &Features) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    let ([_, xi, xq], [_, yi, yq]) = (&x.yiq, &y.yiq);
    for p in 0..x.pc.len() {
        let pc_max = x.pc[p].max(y.pc[p]);
        let structure = similarity(x.pc[p], y.pc[p], T1) * similarity(x.grad[p], y.grad[p], T2);
        let chroma = similarity(xi[p], yi[p], T3) * similarity(xq[p], yq[p], T4);
        num += structure * pc_max * chroma.abs().powf(LAMBDA);
        den += pc_max;
    }
    num / den
}

/// Gradient magnitude with the 3x3 Scharr pair of piq's `scharr_filter` (`/ 16`) and zero
/// padding of one pixel, as `conv2d(x, kernels, padding=1)`, into `out`; `padded` is a work
/// buffer of `(H + 2) x (W + 2)`.
fn scharr_magnitude(img: &[f64], height: usize, width: usize, padded: &mut [f64], out: &mut [f64]) {
    let pw = width + 2;
    padded.fill(0.0);
    for r in 0..height {
        padded[(r + 1) * pw + 1..][..width].copy_from_slice(&img[r * width..][..width]);
    }
    for (r, out) in out.chunks_exact_mut(width).enumerate() {
        let (up, mid, down) = (
            &padded[r * pw..],
            &padded[(r + 1) * pw..],
            &padded[(r + 2) * pw..],
        );
        for (c, g) in out.iter_mut().enumerate() {
            let gx = 3.0 * (up[c + 2] - up[c]) + 10.0 * (mid[c + 2] - mid[c]) + 3.0 * (down[c + 2] - down[c]);
            let gy =
                3.0 * (down[c] - up[c]) + 10.0 * (down[c + 1] - up[c + 1]) + 3.0 * (down[c + 2] - up[c + 2]);
            *g = (gx * gx + gy * gy).sqrt() / 16.0;
        }
    }
}

/// 2-D FFTs of one size with cached plans, computed as 1-D transforms of rows, a transpose and
/// 1-D transforms of rows again.
///
/// Spectra are kept transposed (column-major: index `kc * H + kr`) so that a forward and an
/// inverse transform each need a single transpose; the filters are stored in the same layout.
/// Conventions as `torch.fft.fft2` (no scaling) and `ifft2` without its `1 / (H W)` factor,
/// which callers fold into their filters.
struct Fft2 {
    height: usize,
    width: usize,
    row_fwd: Arc<dyn Fft<f64>>,
    col_fwd: Arc<dyn Fft<f64>>,
    row_inv: Arc<dyn Fft<f64>>,
    col_inv: Arc<dyn Fft<f64>>,
}

impl Fft2 {
    fn new(height: usize, width: usize) -> Fft2 {
        let mut planner = FftPlanner::new();
        Fft2 {
            height,
            width,
            row_fwd: planner.plan_fft_forward(width),
            col_fwd: planner.plan_fft_forward(height),
            row_inv: planner.plan_fft_inverse(width),
            col_inv: planner.plan_fft_inverse(height),
        }
    }

    /// Scratch length the plans need.
    fn scratch_len(&self) -> usize {
        let plans = [&self.row_fwd, &self.col_fwd, &self.row_inv, &self.col_inv];
        plans
            .iter()
            .map(|p| p.get_inplace_scratch_len())
            .max()
            .unwrap_or(0)
    }

    /// Forward DFT of a real row-major plane into the transposed spectrum `spec`; `tmp` is a
    /// work buffer of the same size.
    fn forward(&self, plane: &[f64], tmp: &mut [C64], spec: &mut [C64], scratch: &mut [C64]) {
        for (z, &v) in tmp.iter_mut().zip(plane) {
            *z = C64::new(v, 0.0);
        }
        self.row_fwd.process_with_scratch(tmp, scratch);
        transpose_band(tmp, self.height, self.width, spec, 0..self.width);
        self.col_fwd.process_with_scratch(spec, scratch);
    }

    /// First half of an inverse DFT: transforms each spectrum column (a whole number of
    /// columns of length `H`, transposed layout) in place.
    fn inverse_columns(&self, cols: &mut [C64], scratch: &mut [C64]) {
        self.col_inv.process_with_scratch(cols, scratch);
    }

    /// Second half of an inverse DFT: rows `band` of the image, from the column-transformed
    /// transposed `cols`, into `out` (`band.len() x W`, row-major).
    fn inverse_rows(&self, cols: &[C64], band: Range<usize>, out: &mut [C64], scratch: &mut [C64]) {
        transpose_band(cols, self.width, self.height, out, band);
        self.row_inv.process_with_scratch(out, scratch);
    }
}

/// Side of the square tiles of [`transpose_band`].
const TILE: usize = 16;
/// Height of the row bands in which [`orientation_energy`] finishes the inverse transforms.
const BAND: usize = 32;

/// Writes rows `band` of the transpose of the row-major `rows x cols` matrix `src` (its
/// columns `band`) into `dst` (`band.len() x rows`). Tiled, with contiguous writes: at 256 px
/// that is 4x faster than contiguous reads, whose power-of-two write stride thrashes the cache.
fn transpose_band(src: &[C64], rows: usize, cols: usize, dst: &mut [C64], band: Range<usize>) {
    for r0 in (0..rows).step_by(TILE) {
        for c0 in band.clone().step_by(TILE) {
            for c in c0..(c0 + TILE).min(band.end) {
                let out = &mut dst[(c - band.start) * rows..];
                for r in r0..(r0 + TILE).min(rows) {
                    out[r] = src[r * cols + c];
                }
            }
        }
    }
}

/// The log-Gabor filter bank of piq's `_construct_filters` for one image size, with the
/// image-independent constants of its noise model, the FFT plans and work buffers.
///
/// With the frequency grid of `get_meshgrid` (`u` along rows, `v` along columns, in cycles per
/// pixel: `(i - n/2) / n` for even `n`, `(i - (n-1)/2) / (n-1)` for odd `n`), moved so that
/// frequency 0 is at index (0, 0) (`ifftshift`), radius `rho = sqrt(u^2 + v^2)` and angle
/// `theta = atan2(-v, u)`, filter `(o, s)` is
///
/// `F(o, s) = exp(-ln(rho / w_s)^2 / (2 ln(sigma_f)^2)) * LP(rho) * exp(-dtheta_o^2 / (2 sigma_theta^2))`
///
/// with `w_s = 1 / (min_length * mult^s)`, `LP = 1 / (1 + (rho / 0.45)^30)`,
/// `dtheta_o = |atan2(sin(theta - a_o), cos(theta - a_o))|`, `a_o = o pi / orientations`,
/// `sigma_theta = pi / (orientations * delta_theta)`, and 0 at frequency 0.
struct FilterBank {
    height: usize,
    width: usize,
    fft: Fft2,
    /// `F(o, s) / (H W)` at index `o * SCALES + s`, transposed like [`Fft2`]'s spectra; the
    /// division is `ifft2`'s normalisation.
    filters: Vec<Vec<f64>>,
    /// Noise threshold per unit of median squared smallest-scale response, per orientation:
    /// `T_o = threshold_gain[o] * sqrt(median |E_(o,0)|^2)`; see [`noise_gains`].
    threshold_gain: [f64; ORIENTATIONS],
    /// Buffers reused by every call (the bank is thread-local).
    work: RefCell<Workspace>,
}

/// The per-call buffers of one image size.
struct Workspace {
    pc: PcBuffers,
    /// Features of the distorted and of the reference image.
    images: [Features; 2],
    /// [`Planes::fingerprint`] of the reference whose features `images[1]` holds: a
    /// reference seen on the previous call is not analysed again.
    reference: Option<u64>,
}

/// Work buffers of [`phase_congruency`].
struct PcBuffers {
    /// The image's spectrum, transposed.
    spec: Vec<C64>,
    /// Per scale of one orientation: `spec * F(o, s)` after [`Fft2::inverse_columns`].
    cols: Vec<Vec<C64>>,
    /// Per scale: a band of `BAND` rows of the complex response `e + i o`.
    band: Vec<Vec<C64>>,
    scratch: Vec<C64>,
    /// One orientation's energy `E_o` before the noise threshold.
    orientation: Vec<f64>,
    /// One orientation's squared smallest-scale amplitudes, for the median.
    e2: Vec<f64>,
    /// `sum_o max(E_o - T_o, 0)` so far.
    energy: Vec<f64>,
    /// `sum_(o,s) A_(o,s)` so far.
    amplitude: Vec<f64>,
}

impl PcBuffers {
    fn new(fft: &Fft2) -> PcBuffers {
        let n = fft.height * fft.width;
        PcBuffers {
            spec: vec![C64::default(); n],
            cols: vec![vec![C64::default(); n]; SCALES],
            band: vec![vec![C64::default(); BAND * fft.width]; SCALES],
            scratch: vec![C64::default(); fft.scratch_len()],
            orientation: vec![0.0; n],
            e2: vec![0.0; n],
            energy: vec![0.0; n],
            amplitude: vec![0.0; n],
        }
    }
}

impl FilterBank {
    fn new(height: usize, width: usize) -> FilterBank {
        let fft = Fft2::new(height, width);
        let mut pc = PcBuffers::new(&fft);
        let raw = log_gabor_filters(height, width);
        let threshold_gain = noise_gains(&raw, &fft, &mut pc);
        let norm = 1.0 / (height * width) as f64;
        let filters = raw
            .into_iter()
            .map(|f| f.into_iter().map(|v| v * norm).collect())
            .collect();
        let images = [Features::new(height, width), Features::new(height, width)];
        let work = RefCell::new(Workspace {
            pc,
            images,
            reference: None,
        });
        FilterBank {
            height,
            width,
            fft,
            filters,
            threshold_gain,
            work,
        }
    }
}

/// The frequency coordinates of `get_meshgrid` along one axis of length `n`, ifftshifted
/// (`out[i] = grid[(i + n / 2) % n]`, so that `out[0] = 0`).
fn shifted_grid(n: usize) -> Vec<f64> {
    let (centre, denom) = if n.is_multiple_of(2) {
        (n / 2, n)
    } else {
        ((n - 1) / 2, n - 1)
    };
    let grid: Vec<f64> = (0..n)
        .map(|i| (i as f64 - centre as f64) / denom as f64)
        .collect();
    (0..n).map(|i| grid[(i + n / 2) % n]).collect()
}

/// The `SCALES * ORIENTATIONS` filters `F(o, s)` of [`FilterBank`] (index `o * SCALES + s`,
/// as piq's `repeat_interleave`/`repeat` stacking), transposed (index `kc * H + kr`).
fn log_gabor_filters(height: usize, width: usize) -> Vec<Vec<f64>> {
    let (gu, gv) = (shifted_grid(height), shifted_grid(width));
    let mut filters: Vec<Vec<f64>> = (0..SCALES * ORIENTATIONS)
        .map(|_| Vec::with_capacity(height * width))
        .collect();
    for &v in &gv {
        for &u in &gu {
            let radius = (u * u + v * v).sqrt();
            let theta = (-v).atan2(u);
            for o in 0..ORIENTATIONS {
                let spread = angular_spread(theta, o);
                for s in 0..SCALES {
                    filters[o * SCALES + s].push(radial_log_gabor(radius, s) * spread);
                }
            }
        }
    }
    filters
}

/// `exp(-dtheta^2 / (2 sigma_theta^2))`, `dtheta` the angular distance from orientation `o`,
/// from the sine and cosine differences as piq (no wrap-around problem).
fn angular_spread(theta: f64, o: usize) -> f64 {
    let theta_sigma = PI / (ORIENTATIONS as f64 * DELTA_THETA);
    let angle = o as f64 * PI / ORIENTATIONS as f64;
    let (sin_t, cos_t) = theta.sin_cos();
    let ds = sin_t * angle.cos() - cos_t * angle.sin();
    let dc = cos_t * angle.cos() + sin_t * angle.sin();
    let dtheta = ds.atan2(dc).abs();
    (-dtheta * dtheta / (2.0 * theta_sigma * theta_sigma)).exp()
}

/// The radial log-Gabor of scale `s` times the Butterworth low-pass; 0 at frequency 0.
fn radial_log_gabor(radius: f64, s: usize) -> f64 {
    if radius == 0.0 {
        return 0.0;
    }
    let omega = 1.0 / (MIN_LENGTH * MULT.powi(s as i32));
    let lowpass = 1.0 / (1.0 + (radius / LOWPASS_CUTOFF).powi(2 * LOWPASS_ORDER));
    let log_r = (radius / omega).ln();
    let log_sigma_f = SIGMA_F.ln();
    (-log_r * log_r / (2.0 * log_sigma_f * log_sigma_f)).exp() * lowpass
}

/// Per orientation, the factor turning `sqrt(median |E_(o,0)|^2)` into piq's noise threshold.
///
/// piq: `mean_e2n = -median(|E_(o,0)|^2) / ln(0.5)` (the median over all pixels, the lower
/// middle value as `torch.median`; Rayleigh assumption), `noise_power = mean_e2n / em_n` with
/// `em_n = sum F(o,0)^2`, `noise_energy2 = noise_power * (2 sum_s sum f_s^2 + 4 sum_(s<t) sum
/// f_s f_t)` where `f_s = Re(ifft2(F(o, s))) * sqrt(H W)` (the spatial filters), Rayleigh
/// parameter `tau = sqrt(noise_energy2 / 2)`, threshold
/// `T = (tau sqrt(pi / 2) + k sqrt(2 - pi / 2) tau) / 1.7`.
/// All of it but the median depends on the size only, so `T = gain * sqrt(median)`.
fn noise_gains(filters: &[Vec<f64>], fft: &Fft2, work: &mut PcBuffers) -> [f64; ORIENTATIONS] {
    let scale = 1.0 / ((fft.height * fft.width) as f64).sqrt();
    let spatial: Vec<Vec<f64>> = filters
        .iter()
        .map(|f| {
            let (cols, out) = (&mut work.cols[0], &mut work.spec);
            for (z, &v) in cols.iter_mut().zip(f) {
                *z = C64::new(v, 0.0);
            }
            fft.inverse_columns(cols, &mut work.scratch);
            fft.inverse_rows(cols, 0..fft.height, out, &mut work.scratch);
            out.iter().map(|z| z.re * scale).collect()
        })
        .collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let rayleigh = (PI / 2.0).sqrt() + NOISE_K * (2.0 - PI / 2.0).sqrt();
    std::array::from_fn(|o| {
        let f = &spatial[o * SCALES..(o + 1) * SCALES];
        let sum_an2: f64 = f.iter().map(|a| dot(a, a)).sum();
        let pairs = (0..SCALES).flat_map(|s| (s + 1..SCALES).map(move |t| (s, t)));
        let sum_ai_aj: f64 = pairs.map(|(s, t)| dot(&f[s], &f[t])).sum();
        let em_n = dot(&filters[o * SCALES], &filters[o * SCALES]);
        let energy2_per_median = -(2.0 * sum_an2 + 4.0 * sum_ai_aj) / (0.5f64.ln() * em_n);
        (energy2_per_median / 2.0).sqrt() * rayleigh / NOISE_RESCALE
    })
}

thread_local! {
    /// Filter banks of the sizes this thread saw last.
    static BANKS: RefCell<Vec<Rc<FilterBank>>> = const { RefCell::new(Vec::new()) };
}

/// The cached [`FilterBank`] for a size, built on first use (per thread; the oldest of
/// [`BANK_CACHE`] sizes is dropped).
fn filter_bank(height: usize, width: usize) -> Rc<FilterBank> {
    BANKS.with(|cell| {
        let mut banks = cell.borrow_mut();
        if let Some(bank) = banks.iter().find(|b| b.height == height && b.width == width) {
            return Rc::clone(bank);
        }
        let bank = Rc::new(FilterBank::new(height, width));
        if banks.len() >= BANK_CACHE {
            banks.remove(0);
        }
        banks.push(Rc::clone(&bank));
        bank
    })
}

/// Phase congruency map of a luminance plane (piq's `_phase_congruency`, Kovesi's PC_2):
///
/// `PC = (sum_o max(E_o - T_o, 0) + eps) / (sum_(o,s) A_(o,s) + eps)`
///
/// where `e + i o = ifft2(fft2(Y) F(o, s))` is the even/odd response, `A = |e + i o|`, and per
/// orientation, with the unit mean response `(me, mo) = (sum_s e, sum_s o) / (|(sum_s e, sum_s
/// o)| + eps)`, the energy `E_o = sum_s (e me + o mo - |e mo - o me|)`; `T_o` is the noise
/// threshold of [`noise_gains`].
fn phase_congruency(lum: &[f64], bank: &FilterBank, w: &mut PcBuffers, pc: &mut [f64]) {
    bank.fft.forward(lum, &mut w.cols[0], &mut w.spec, &mut w.scratch);
    w.energy.fill(0.0);
    w.amplitude.fill(0.0);
    for o in 0..ORIENTATIONS {
        filter_columns(bank, o, w);
        orientation_energy(bank, w);
        let threshold = bank.threshold_gain[o] * lower_median(&mut w.e2).sqrt();
        for (e, &e_o) in w.energy.iter_mut().zip(&w.orientation) {
            *e += (e_o - threshold).max(0.0);
        }
    }
    for ((pc, e), a) in pc.iter_mut().zip(&w.energy).zip(&w.amplitude) {
        *pc = (e + EPS) / (a + EPS);
    }
}

/// `w.cols[s] = spec * F(o, s)` for every scale, each spectrum column transformed by
/// [`Fft2::inverse_columns`] while it is in cache.
fn filter_columns(bank: &FilterBank, o: usize, w: &mut PcBuffers) {
    let h = bank.height;
    for (kc, spec) in w.spec.chunks_exact(h).enumerate() {
        let range = kc * h..(kc + 1) * h;
        for (s, cols) in w.cols.iter_mut().enumerate() {
            let col = &mut cols[range.clone()];
            let filter = &bank.filters[o * SCALES + s][range.clone()];
            for ((z, &x), &f) in col.iter_mut().zip(spec).zip(filter) {
                *z = x * f;
            }
            bank.fft.inverse_columns(col, &mut w.scratch);
        }
    }
}

/// Finishes the inverse transforms of one orientation band by band and reduces the responses
/// to `w.orientation` (`E_o`), `w.e2` (`|E_(o,0)|^2`) and `w.amplitude` (`+= sum_s A_(o,s)`).
fn orientation_energy(bank: &FilterBank, w: &mut PcBuffers) {
    let (h, width) = (bank.height, bank.width);
    for r0 in (0..h).step_by(BAND) {
        let px = r0 * width..(r0 + BAND).min(h) * width;
        for (cols, band) in w.cols.iter().zip(w.band.iter_mut()) {
            let band = &mut band[..px.len()];
            bank.fft
                .inverse_rows(cols, r0..(r0 + BAND).min(h), band, &mut w.scratch);
        }
        let responses: [&[C64]; SCALES] = std::array::from_fn(|s| &w.band[s][..px.len()]);
        let energy = &mut w.orientation[px.clone()];
        pixel_energy(responses, energy, &mut w.e2[px.clone()], &mut w.amplitude[px]);
    }
}

/// Per pixel of one orientation: `E_o` into `energy`, the squared smallest-scale amplitude into
/// `e2`, and the amplitudes added to `amplitude`.
fn pixel_energy(responses: [&[C64]; SCALES], energy: &mut [f64], e2: &mut [f64], amplitude: &mut [f64]) {
    for p in 0..energy.len() {
        let z: [C64; SCALES] = std::array::from_fn(|s| responses[s][p]);
        let sum = z.iter().fold(C64::default(), |acc, &z| acc + z);
        let norm = sum.norm_sqr().sqrt() + EPS;
        let (me, mo) = (sum.re / norm, sum.im / norm);
        let (mut e_o, mut a_o) = (0.0, 0.0);
        for z in z {
            e_o += z.re * me + z.im * mo - (z.re * mo - z.im * me).abs();
            a_o += z.norm_sqr().sqrt();
        }
        energy[p] = e_o;
        e2[p] = z[0].norm_sqr();
        amplitude[p] += a_o;
    }
}

/// `torch.median` over all values: the lower of the two middle values (reorders `values`).
fn lower_median(values: &mut [f64]) -> f64 {
    let mid = (values.len() - 1) / 2;
    *values.select_nth_unstable_by(mid, f64::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_factor_rounds_half_to_even_like_python() {
        assert_eq!(pool_factor(256, 256), 1);
        assert_eq!(pool_factor(100, 900), 1);
        assert_eq!(pool_factor(383, 1000), 1);
        assert_eq!(pool_factor(384, 384), 2);
        assert_eq!(pool_factor(640, 700), 2);
        assert_eq!(pool_factor(641, 700), 3);
    }

    #[test]
    fn shifted_grid_puts_zero_frequency_first() {
        assert_eq!(shifted_grid(4), vec![0.0, 0.25, -0.5, -0.25]);
        assert_eq!(shifted_grid(5), vec![0.0, 0.25, 0.5, -0.5, -0.25]);
    }
}
