//! Peak signal-to-noise ratio, as piq 0.8.0's `psnr(x, y, data_range=1.0, convert_to_greyscale=False)`.

use super::image::Planes;
use super::{FrError, check_pair};

/// The constant piq adds to the MSE "for numerical stability"; it caps PSNR at 80 dB.
pub const PSNR_EPS: f64 = 1e-8;

/// PSNR in dB of distorted `x` against reference `y` (symmetric), higher is better:
///
/// `PSNR = -10 log10(MSE + 1e-8)`, `MSE = mean over channels, rows and columns of (x - y)^2`.
///
/// As piq with `data_range = 1` (so the peak is 1) and `convert_to_greyscale = False`: one MSE
/// over all RGB values, not a per-channel PSNR. Identical images give 80 dB (the EPS).
/// Errors: sizes differ, or the images are empty.
pub fn psnr(x: &Planes, y: &Planes) -> Result<f64, FrError> {
    check_pair("psnr", x, y)?;
    let sse: f64 = x.data.iter().zip(&y.data).map(|(a, b)| (a - b) * (a - b)).sum();
    let mse = sse / x.data.len() as f64;
    Ok(-10.0 * (mse + PSNR_EPS).log10())
}
