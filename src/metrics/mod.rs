//! Metrics of IQA evaluation and labelling, on the CPU in f64.
//!
//! - [`correlation`]: how well predicted scores follow subjective ones (SROCC, KROCC,
//!   PLCC, RMSE, the VQEG logistic fit, a bootstrap interval for SROCC).
//! - [`fr`]: full-reference metrics as piq computes them (PSNR, SSIM, MS-SSIM, GMSD,
//!   VIFp, FSIM), which label the synthetic set.
pub mod correlation;
pub mod fr;
