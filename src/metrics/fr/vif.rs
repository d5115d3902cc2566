//! Visual information fidelity in the pixel domain, as piq 0.8.0's
//! `vif_p(x, y, sigma_n_sq=2.0, data_range=1.0)` (Sheikh & Bovik 2006, the authors' MATLAB
//! `vifvec` pixel-domain version).

use super::filter::{MomentRow, filter_valid, for_each_moment_row, gaussian_window};
use super::gray::Gray;
use super::image::Planes;
use super::{FrError, check_grey_or_rgb, check_min_size, check_pair};

/// Variance of the visual noise, in units of 8-bit grey levels squared: piq scales the [0, 1]
/// data by 255 before the computation (`x / data_range * 255`), so `sigma_n_sq = 2` keeps the
/// meaning it has in the MATLAB code for 0..255 images.
pub const VIF_SIGMA_N_SQ: f64 = 2.0;

/// piq's `EPS`: variance threshold and the constant added to the final ratio.
const EPS: f64 = 1e-8;

/// piq's smallest accepted side.
const MIN_SIZE: usize = 41;

/// VIFp of distorted `x` against reference `y` (not symmetric); higher is better, 1 for
/// identical images, above 1 for a contrast-enhanced `x`.
///
/// As piq: luminance `Y = 0.299 R + 0.587 G + 0.114 B` (RGB) or the grey channel, times 255.
/// Four scales `s = 0..3`, each with a Gaussian window of side `N = 2^(4 - s) + 1` (17, 9, 5, 3)
/// and sigma `N / 5`, 'valid' filtering; for `s > 0` both images are first filtered with that
/// scale's window and every second row and column kept. Per position, with the local
/// statistics (`sigma^2 = E[v^2] - mu^2` clamped at 0, `sigma_xy = E[xy] - mu_x mu_y`):
///
/// `g = sigma_xy / (sigma_y^2 + EPS)`, `sigma_v^2 = sigma_x^2 - g sigma_xy`,
///
/// with piq's special cases for flat windows (`sigma_y^2 < EPS`: g = 0, sigma_v^2 = sigma_x^2;
/// `sigma_x^2 < EPS`: g = 0, sigma_v^2 = 0; g < 0: sigma_v^2 = sigma_x^2, g = 0;
/// sigma_v^2 <= EPS: EPS), and
///
/// `VIF = (sum_s sum log10(1 + g^2 sigma_y^2 / (sigma_v^2 + sigma_n^2)) + EPS)
///      / (sum_s sum log10(1 + sigma_y^2 / sigma_n^2) + EPS)`.
///
/// Errors: sizes differ, a channel count other than 1 or 3, or a side under 41 px.
pub fn vif_p(x: &Planes, y: &Planes) -> Result<f64, FrError> {
    check_pair("vif_p", x, y)?;
    check_grey_or_rgb("vif_p", x)?;
    check_min_size("vif_p", x.height, x.width, MIN_SIZE)?;
    let mut xs = Gray::luminance(x).scaled(255.0);
    let mut ys = Gray::luminance(y).scaled(255.0);
    let (mut num, mut den) = (0.0, 0.0);
    for scale in 0..4 {
        let size = (1usize << (4 - scale)) + 1;
        let k = gaussian_window(size, size as f64 / 5.0);
        if scale > 0 {
            xs = filter_valid(&xs, &k).subsample2();
            ys = filter_valid(&ys, &k).subsample2();
        }
        for_each_moment_row(&xs, &ys, &k, |row| {
            let (n, d) = row_sums(&row);
            num += n;
            den += d;
        });
    }
    Ok((num + EPS) / (den + EPS))
}

/// The numerator and denominator sums over one row of window positions.
fn row_sums(m: &MomentRow<'_>) -> (f64, f64) {
    let (mut num, mut den) = (0.0, 0.0);
    for [_, _, sxx, syy, sxy] in m.stats() {
        let (g, sv, syy) = gain_and_noise(sxx.max(0.0), syy.max(0.0), sxy);
        num += (1.0 + g * g * syy / (sv + VIF_SIGMA_N_SQ)).log10();
        den += (1.0 + syy / VIF_SIGMA_N_SQ).log10();
    }
    (num, den)
}

/// `(g, sigma_v^2, sigma_y^2)` of one position after piq's sequence of `torch.where`s, kept
/// in piq's order because later cases override earlier ones.
fn gain_and_noise(sxx: f64, syy: f64, sxy: f64) -> (f64, f64, f64) {
    let mut g = sxy / (syy + EPS);
    let mut sv = sxx - g * sxy;
    if syy < EPS {
        g = 0.0;
        sv = sxx;
    }
    let syy = if syy >= EPS { syy } else { 0.0 };
    if sxx < EPS {
        g = 0.0;
        sv = 0.0;
    }
    if g < 0.0 {
        sv = sxx;
    }
    let g = g.max(0.0);
    let sv = if sv > EPS { sv } else { EPS };
    (g, sv, syy)
}
