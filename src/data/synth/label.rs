//! The pseudo-MOS of the synthetic set: an ensemble of full-reference metrics, each
//! mapped to [0, 1] (1 = the pristine image) by a fixed monotone map.
//!
//! Why these metrics: on KADID-10k-style distortions, VIF, GMSD and FSIM follow human
//! ratings more closely than SSIM, MS-SSIM or PSNR, and an ensemble is sturdier than
//! any one, because each has blind spots: GMSD (as piq computes it) sees luminance
//! only and halves the resolution first, so it scores a saturation change or a 2x
//! pixelation as perfect; VIFp sees luminance only, so it misses colour changes too;
//! FSIMc has a chroma term, but a weak one: a chroma blur (colour diffusion) or a
//! uniform brightness shift barely moves any of the three. So the ensemble has a
//! fourth, colour-fidelity member: the mean CIELAB colour difference Delta E (CIE76),
//! which sees luminance shifts and every colour change, in a perceptual unit (about
//! 2.3 is one just-noticeable difference). Without it, the strongest colour diffusion
//! scored within 0.005 of the mildest on every photo tried (see
//! `tests/synth_set.rs`).
//!
//! Why fixed maps and not min-max over the set: a label must not change when other
//! images are added to the set or a user builds it from other photos. Each map is
//! affine between the metric's pristine value and an anchor where the metric saturates
//! on this set's strongest distortions, then clamped to [0, 1]:
//!
//! ```text
//! vif'  = clamp(vif_p, 0, 1)                        VIFp: 1 = pristine, 0 = no information
//! gmsd' = clamp(1 - gmsd / GMSD_WORST, 0, 1)        GMSD: 0 = pristine
//! fsim' = clamp((fsim - FSIM_WORST) / (1 - FSIM_WORST), 0, 1)
//! de'   = 1 / (1 + delta_e / DELTA_E_HALF)            Delta E: 0 = pristine; 1/2 at DELTA_E_HALF
//! pseudo_mos = (vif' + gmsd' + fsim' + de') / 4
//! ```
//!
//! Delta E has no natural worst value, so its map is hyperbolic rather than clamped:
//! it keeps resolution at the small differences where colour distortions live (the
//! levels of colour diffusion lie 0.5-6 apart) and still ranks the large ones.

use crate::metrics::fr::FrScores;

/// GMSD at which the mapped score reaches 0 (the strongest distortions of the set reach
/// about this value).
pub const GMSD_WORST: f64 = 0.35;
/// FSIM at which the mapped score reaches 0.
pub const FSIM_WORST: f64 = 0.5;
/// Delta E at which the colour member is 1/2: about two just-noticeable differences.
pub const DELTA_E_HALF: f64 = 5.0;

/// The four mapped metrics, each in [0, 1], 1 = pristine.
pub fn mapped(s: &FrScores) -> [f64; 4] {
    [
        s.vif_p.clamp(0.0, 1.0),
        (1.0 - s.gmsd / GMSD_WORST).clamp(0.0, 1.0),
        ((s.fsim - FSIM_WORST) / (1.0 - FSIM_WORST)).clamp(0.0, 1.0),
        1.0 / (1.0 + s.delta_e.max(0.0) / DELTA_E_HALF),
    ]
}

/// The pseudo-MOS in [0, 1], higher = better. A NaN metric gives NaN, which the set
/// builder reports rather than writing.
pub fn pseudo_mos(s: &FrScores) -> f64 {
    mapped(s).iter().sum::<f64>() / 4.0
}

/// The mapping in words and numbers, for `synth.json`.
pub fn describe() -> serde_json::Value {
    serde_json::json!({
        "formula": "mean(clamp(vif_p,0,1), clamp(1-gmsd/GMSD_WORST,0,1), clamp((fsim-FSIM_WORST)/(1-FSIM_WORST),0,1), 1/(1+delta_e/DELTA_E_HALF))",
        "GMSD_WORST": GMSD_WORST,
        "FSIM_WORST": FSIM_WORST,
        "DELTA_E_HALF": DELTA_E_HALF,
    })
}
