//! SSIM and MS-SSIM, as piq 0.8.0's `ssim` and `multi_scale_ssim` with `data_range = 1`.
//!
//! Per position of a Gaussian window (piq: `kernel_size` 11, `kernel_sigma` 1.5), with local
//! means `mu`, variances `sigma^2 = E[v^2] - mu^2` and covariance `sigma_xy = E[xy] - mu_x mu_y`:
//!
//! `cs = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2)`,
//! `ssim = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1) * cs`, `C1 = K1^2`, `C2 = K2^2`
//!
//! (`K1 = 0.01`, `K2 = 0.03`; the data range is 1, so piq's `(K L)^2` is `K^2`). The window is
//! applied without padding ('valid', piq's `F.conv2d(..., padding=0)`), the maps are averaged
//! over positions, then over channels (each RGB channel separately, no colour conversion).

use super::filter::{for_each_moment_row, gaussian_window};
use super::gray::Gray;
use super::image::Planes;
use super::{FrError, check_min_size, check_pair};

/// Parameters of SSIM and MS-SSIM; [`SsimParams::PIQ`] (also `Default`) holds piq's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SsimParams {
    /// Side of the Gaussian window, odd (piq: 11).
    pub kernel_size: usize,
    /// Standard deviation of the window in pixels (piq: 1.5).
    pub kernel_sigma: f64,
    /// `C1 = k1^2` (piq: 0.01).
    pub k1: f64,
    /// `C2 = k2^2` (piq: 0.03).
    pub k2: f64,
}

impl SsimParams {
    /// piq's defaults: 11x11 window, sigma 1.5, K1 0.01, K2 0.03.
    pub const PIQ: SsimParams = SsimParams {
        kernel_size: 11,
        kernel_sigma: 1.5,
        k1: 0.01,
        k2: 0.03,
    };

    /// These parameters with another window side.
    pub fn with_kernel_size(self, kernel_size: usize) -> SsimParams {
        SsimParams { kernel_size, ..self }
    }

    /// The 1-D window, or an error where the size is even or zero or sigma not positive.
    fn window(&self, metric: &'static str) -> Result<Vec<f64>, FrError> {
        if self.kernel_size.is_multiple_of(2) {
            return Err(invalid(
                metric,
                format!("kernel size must be odd, got {}", self.kernel_size),
            ));
        }
        if !(self.kernel_sigma > 0.0 && self.kernel_sigma.is_finite()) {
            return Err(invalid(
                metric,
                format!("kernel sigma must be > 0, got {}", self.kernel_sigma),
            ));
        }
        Ok(gaussian_window(self.kernel_size, self.kernel_sigma))
    }

    /// `(C1, C2)`.
    fn constants(&self) -> (f64, f64) {
        (self.k1 * self.k1, self.k2 * self.k2)
    }
}

impl Default for SsimParams {
    fn default() -> Self {
        SsimParams::PIQ
    }
}

/// Mean SSIM and mean contrast-structure term `cs` (piq's `full=True` output).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SsimValue {
    pub ssim: f64,
    pub cs: f64,
}

fn invalid(metric: &'static str, detail: String) -> FrError {
    FrError::Invalid { metric, detail }
}

/// SSIM of distorted `x` against reference `y` with piq's defaults ([`SsimParams::PIQ`],
/// `downsample=True`); 1 for identical images, higher is better. See [`ssim_with`].
pub fn ssim(x: &Planes, y: &Planes) -> Result<f64, FrError> {
    Ok(ssim_with(x, y, &SsimParams::PIQ, true)?.ssim)
}

/// SSIM (and mean `cs`) of `x` against `y`, the channel mean of the per-channel map means.
///
/// With `downsample` (piq's default), both images are first average-pooled by
/// `f = max(1, round(min(H, W) / 256))` in `f x f` blocks (Python's `round`: halves go to the
/// even integer), so images up to 383 px are used as they are. Errors: sizes differ, an even
/// window, or the (pooled) image is smaller than the window.
pub fn ssim_with(x: &Planes, y: &Planes, p: &SsimParams, downsample: bool) -> Result<SsimValue, FrError> {
    check_pair("ssim", x, y)?;
    let k = p.window("ssim")?;
    let f = if downsample {
        downsample_factor(x.height, x.width)
    } else {
        1
    };
    check_min_size("ssim", x.height / f, x.width / f, p.kernel_size)?;
    let (c1, c2) = p.constants();
    let (mut sum_ssim, mut sum_cs) = (0.0, 0.0);
    for c in 0..x.channels {
        let (xc, yc) = (Gray::channel(x, c), Gray::channel(y, c));
        let v = if f > 1 {
            ssim_plane(&xc.avg_pool(f), &yc.avg_pool(f), &k, c1, c2)
        } else {
            ssim_plane(&xc, &yc, &k, c1, c2)
        };
        sum_ssim += v.ssim;
        sum_cs += v.cs;
    }
    let n = x.channels as f64;
    Ok(SsimValue {
        ssim: sum_ssim / n,
        cs: sum_cs / n,
    })
}

/// piq's pooling factor `max(1, round(min(H, W) / 256))`, rounding halves to even as Python.
fn downsample_factor(h: usize, w: usize) -> usize {
    ((h.min(w) as f64 / 256.0).round_ties_even() as usize).max(1)
}

/// Mean SSIM and cs maps of one plane pair (`k` fits).
fn ssim_plane(x: &Gray, y: &Gray, k: &[f64], c1: f64, c2: f64) -> SsimValue {
    let (mut sum_ssim, mut sum_cs, mut count) = (0.0, 0.0, 0usize);
    for_each_moment_row(x, y, k, |row| {
        for [mx, my, sxx, syy, sxy] in row.stats() {
            let cs = (2.0 * sxy + c2) / (sxx + syy + c2);
            sum_ssim += (2.0 * mx * my + c1) / (mx * mx + my * my + c1) * cs;
            sum_cs += cs;
        }
        count += row.mu_x.len();
    });
    let n = count as f64;
    SsimValue {
        ssim: sum_ssim / n,
        cs: sum_cs / n,
    }
}

/// The MS-SSIM scale weights of Wang et al. 2003, piq's default (they sum to 1.0001 and piq
/// uses them as they are; weights a caller passes are normalised to sum 1, as piq does).
pub const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/// MS-SSIM of distorted `x` against reference `y` with piq's defaults except the window side
/// (`kernel_size`: piq's default is 11; the test vectors use 7). 1 for identical images.
/// See [`ms_ssim_with`].
pub fn ms_ssim(x: &Planes, y: &Planes, kernel_size: usize) -> Result<f64, FrError> {
    ms_ssim_with(x, y, &SsimParams::PIQ.with_kernel_size(kernel_size), None)
}

/// MS-SSIM, piq's `multi_scale_ssim`: per channel, over scales `j = 1..M` (`M` = number of
/// weights, 5 by default),
///
/// `MS-SSIM = relu(ssim_M)^w_M * prod_{j<M} relu(cs_j)^w_j`,
///
/// then the mean over channels. Scale 1 is the image itself; each next scale pads one row and
/// column at the top and left by replication if the height or the width is odd, then
/// average-pools 2x2 (rounding the size down). No 256-px pre-pooling (unlike [`ssim`]).
/// `weights`: `None` for [`MS_SSIM_WEIGHTS`], else normalised to sum 1.
/// Errors: sizes differ, even window, invalid weights, or either side below piq's
/// `(kernel_size - 1) * 2^(M - 1) + 1` (97 for a 7-px window, 161 for 11).
pub fn ms_ssim_with(x: &Planes, y: &Planes, p: &SsimParams, weights: Option<&[f64]>) -> Result<f64, FrError> {
    const METRIC: &str = "ms_ssim";
    check_pair(METRIC, x, y)?;
    let k = p.window(METRIC)?;
    let weights = scale_weights(weights)?;
    let min = u32::try_from(weights.len() - 1)
        .ok()
        .and_then(|e| 2usize.checked_pow(e))
        .and_then(|s| (p.kernel_size - 1).checked_mul(s))
        .ok_or_else(|| invalid(METRIC, format!("{} scales are too many", weights.len())))?
        + 1;
    check_min_size(METRIC, x.height, x.width, min)?;
    let (c1, c2) = p.constants();
    let sum: f64 = (0..x.channels)
        .map(|c| ms_ssim_plane(Gray::channel(x, c), Gray::channel(y, c), &k, (c1, c2), &weights))
        .sum();
    Ok(sum / x.channels as f64)
}

/// The weights to use: the defaults, or the caller's normalised to sum 1.
fn scale_weights(weights: Option<&[f64]>) -> Result<Vec<f64>, FrError> {
    let Some(w) = weights else {
        return Ok(MS_SSIM_WEIGHTS.to_vec());
    };
    let sum: f64 = w.iter().sum();
    if w.is_empty() || !sum.is_finite() || sum <= 0.0 {
        return Err(invalid(
            "ms_ssim",
            format!("scale weights {w:?} must be finite with a positive sum"),
        ));
    }
    Ok(w.iter().map(|v| v / sum).collect())
}

/// MS-SSIM of one plane pair (the size has been checked for every scale).
fn ms_ssim_plane(mut x: Gray, mut y: Gray, k: &[f64], (c1, c2): (f64, f64), weights: &[f64]) -> f64 {
    let mut prod = 1.0;
    for (level, &w) in weights.iter().enumerate() {
        if level > 0 {
            x = halve(&x);
            y = halve(&y);
        }
        let v = ssim_plane(&x, &y, k, c1, c2);
        let term = if level + 1 == weights.len() { v.ssim } else { v.cs };
        prod *= term.max(0.0).powf(w);
    }
    prod
}

/// piq's step between MS-SSIM scales: replicate-pad top and left by `max(H % 2, W % 2)`, then
/// 2x2 average pooling.
fn halve(g: &Gray) -> Gray {
    let pad = (g.h % 2).max(g.w % 2);
    if pad > 0 {
        g.pad_replicate_top_left(pad).avg_pool(2)
    } else {
        g.avg_pool(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_factor_rounds_halves_to_even_like_python() {
        assert_eq!(downsample_factor(256, 256), 1);
        assert_eq!(downsample_factor(383, 1000), 1);
        assert_eq!(downsample_factor(384, 1000), 2); // 1.5 -> 2
        assert_eq!(downsample_factor(640, 640), 2); // 2.5 -> 2
        assert_eq!(downsample_factor(10, 10), 1);
    }
}
