//! Full-reference image quality metrics, matching piq 0.8.0 on RGB images in [0, 1].
//!
//! Every metric takes `(x, y)` in piq's order: `x` the distorted (predicted) image, `y` the
//! reference (target). Both are [`Planes`] with values in [0, 1] (piq's `data_range = 1`), the
//! same size, and 3 (RGB) or 1 (grey) channels. The colour handling follows piq:
//!
//! | metric      | colour                                  | better | identical images |
//! |-------------|-----------------------------------------|--------|------------------|
//! | [`psnr`]    | all channels in one MSE                 | higher | 80 dB (EPS 1e-8) |
//! | [`ssim`]    | each channel, then the channel mean     | higher | 1                |
//! | [`ms_ssim`] | each channel, then the channel mean     | higher | 1                |
//! | [`gmsd`]    | luminance Y = 0.299 R + 0.587 G + 0.114 B | lower | 0              |
//! | [`vif_p`]   | luminance Y (as gmsd)                   | higher | 1                |
//! | [`fsim::fsim`] | YIQ (written in its own module)      | higher | 1                |
//! | [`delta_e`] | CIELAB from sRGB (not in piq)           | lower  | 0                |
//!
//! Errors: a size mismatch, an image smaller than a metric's windows, an unsupported channel
//! count or an invalid parameter give an [`FrError`] naming the metric and the sizes; no input
//! makes these functions panic. [`all_fr`] computes them all and gives NaN for a metric that
//! failed ([`try_all_fr`] gives the error instead). Values outside [0, 1] are not rejected (piq asserts on them):
//! they are computed as given.
//!
//! All arithmetic is in f64; piq's reference values were computed in float32, which is the
//! main source of the (small) differences the tests allow.

mod delta_e;
pub mod filter;
pub mod fsim;
mod gmsd;
mod gray;
pub mod image;
mod psnr;
mod ssim;
mod vif;

pub use delta_e::{delta_e, srgb_to_lab};
pub use gmsd::{GMSD_T, gmsd};
pub use image::Planes;
pub use psnr::{PSNR_EPS, psnr};
pub use ssim::{MS_SSIM_WEIGHTS, SsimParams, SsimValue, ms_ssim, ms_ssim_with, ssim, ssim_with};
pub use vif::{VIF_SIGMA_N_SQ, vif_p};

/// Why a full-reference metric could not be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FrError {
    /// The two images differ in channels, height or width.
    #[error(
        "{metric}: the images differ in size: distorted {x:?} vs reference {y:?} (channels, height, width)"
    )]
    SizeMismatch {
        metric: &'static str,
        x: [usize; 3],
        y: [usize; 3],
    },
    /// The images are smaller than the metric's windows need.
    #[error("{metric}: images of {height}x{width} are too small, the metric needs at least {min}x{min}")]
    TooSmall {
        metric: &'static str,
        height: usize,
        width: usize,
        min: usize,
    },
    /// Anything else outside what the metric accepts (channel count, a parameter, a
    /// `Planes` whose data length does not match its size).
    #[error("{metric}: {detail}")]
    Invalid { metric: &'static str, detail: String },
}

/// All full-reference scores of one (distorted, reference) pair; see [`all_fr`] (NaN where a
/// metric could not be computed) and [`try_all_fr`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct FrScores {
    /// [`psnr`] in dB, higher is better.
    pub psnr: f64,
    /// [`ssim`] with piq's defaults (11x11 window), higher is better.
    pub ssim: f64,
    /// [`ms_ssim`] with a [`ALL_FR_MS_SSIM_KERNEL`]-wide window, higher is better.
    pub ms_ssim: f64,
    /// [`gmsd`], lower is better.
    pub gmsd: f64,
    /// [`vif_p`], higher is better.
    pub vif_p: f64,
    /// [`fsim::fsim`], higher is better; NaN where FSIM could not be computed.
    pub fsim: f64,
    /// [`delta_e`]: mean CIELAB colour difference, lower is better.
    pub delta_e: f64,
}

/// The MS-SSIM window side [`all_fr`] uses: 7, as in the test vectors' `ms_ssim` column
/// (piq's default is 11, which needs images of at least 161 px instead of 97).
pub const ALL_FR_MS_SSIM_KERNEL: usize = 7;

/// Computes every full-reference metric of distorted `x` against reference `y`; a metric that
/// cannot be computed (sizes differ, images too small for its windows: MS-SSIM with a 7-px
/// window needs 97x97, VIF 41x41, SSIM 11x11) is NaN, as FSIM reports its failures. Call
/// [`try_all_fr`] or the metric itself for the reason.
pub fn all_fr(x: &Planes, y: &Planes) -> FrScores {
    let nan = |r: Result<f64, FrError>| r.unwrap_or(f64::NAN);
    FrScores {
        psnr: nan(psnr(x, y)),
        ssim: nan(ssim(x, y)),
        ms_ssim: nan(ms_ssim(x, y, ALL_FR_MS_SSIM_KERNEL)),
        gmsd: nan(gmsd(x, y)),
        vif_p: nan(vif_p(x, y)),
        fsim: fsim::fsim(x, y),
        delta_e: nan(delta_e(x, y)),
    }
}

/// [`all_fr`], but failing with the first metric's error instead of NaN scores. FSIM still
/// reports its own failures as NaN in [`FrScores::fsim`].
pub fn try_all_fr(x: &Planes, y: &Planes) -> Result<FrScores, FrError> {
    Ok(FrScores {
        psnr: psnr(x, y)?,
        ssim: ssim(x, y)?,
        ms_ssim: ms_ssim(x, y, ALL_FR_MS_SSIM_KERNEL)?,
        gmsd: gmsd(x, y)?,
        vif_p: vif_p(x, y)?,
        fsim: fsim::fsim(x, y),
        delta_e: delta_e(x, y)?,
    })
}

/// Checks that `x` and `y` are well-formed, non-empty and of the same size.
fn check_pair(metric: &'static str, x: &Planes, y: &Planes) -> Result<(), FrError> {
    for p in [x, y] {
        let n = p
            .channels
            .checked_mul(p.height)
            .and_then(|v| v.checked_mul(p.width));
        if n != Some(p.data.len()) {
            return Err(FrError::Invalid {
                metric,
                detail: format!(
                    "a {}x{}x{} image holds {} values",
                    p.channels,
                    p.height,
                    p.width,
                    p.data.len()
                ),
            });
        }
    }
    let shape = |p: &Planes| [p.channels, p.height, p.width];
    if shape(x) != shape(y) {
        return Err(FrError::SizeMismatch {
            metric,
            x: shape(x),
            y: shape(y),
        });
    }
    if x.data.is_empty() {
        return Err(FrError::TooSmall {
            metric,
            height: x.height,
            width: x.width,
            min: 1,
        });
    }
    Ok(())
}

/// Checks that both sides of an image of `height` x `width` are at least `min`.
fn check_min_size(metric: &'static str, height: usize, width: usize, min: usize) -> Result<(), FrError> {
    if height < min || width < min {
        return Err(FrError::TooSmall {
            metric,
            height,
            width,
            min,
        });
    }
    Ok(())
}

/// Checks that the images have the 1 (grey) or 3 (RGB) channels the luminance metrics take.
fn check_grey_or_rgb(metric: &'static str, x: &Planes) -> Result<(), FrError> {
    if x.channels != 1 && x.channels != 3 {
        return Err(FrError::Invalid {
            metric,
            detail: format!("expected 1 (grey) or 3 (RGB) channels, got {}", x.channels),
        });
    }
    Ok(())
}
