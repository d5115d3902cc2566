//! f64 reference of `ops::attack_step`: plain loops over images of `per_image`
//! elements each.

use super::gate::sign0 as sign;

/// `clip_[0,1](x + clip_eps(xa - alpha sign(d) - x))`, elementwise.
pub fn linf_step_ref(x: &[f64], xa: &[f64], d: &[f64], alpha: f64, eps: f64) -> Vec<f64> {
    x.iter()
        .zip(xa)
        .zip(d)
        .map(|((&x, &a), &d)| (x + (a - alpha * sign(d) - x).clamp(-eps, eps)).clamp(0.0, 1.0))
        .collect()
}

/// The L_2 norm of each image of `per_image` elements.
pub fn l2_norms_ref(v: &[f64], per_image: usize) -> Vec<f64> {
    v.chunks(per_image)
        .map(|c| c.iter().map(|e| e * e).sum::<f64>().sqrt())
        .collect()
}

/// `delta = xa - alpha d / (||d|| + floor) - x`, then
/// `clip_[0,1](x + min(1, eps / (||delta|| + floor)) delta)`, per image.
pub fn l2_step_ref(x: &[f64], xa: &[f64], d: &[f64], per_image: usize, alpha: f64, eps: f64) -> Vec<f64> {
    let floor = f64::from(crate::ops::attack_step::NORM_FLOOR);
    let dn = l2_norms_ref(d, per_image);
    let delta: Vec<f64> = (0..x.len())
        .map(|i| xa[i] - alpha / (dn[i / per_image] + floor) * d[i] - x[i])
        .collect();
    let deln = l2_norms_ref(&delta, per_image);
    (0..x.len())
        .map(|i| {
            let f = (eps / (deln[i / per_image] + floor)).min(1.0);
            (x[i] + f * delta[i]).clamp(0.0, 1.0)
        })
        .collect()
}

/// The tolerance of the fused L_inf step in f32 against [`linf_step_ref`] on images in
/// [0, 1], used by the tests and the benchmark alike: a handful of f32 operations
/// (the step, the difference, two clamps, the sum) on values of size 1, a few ulps
/// (6e-8 each), absolute.
pub const LINF_TOLERANCE: super::Tolerance = super::Tolerance::abs(5e-7);

/// The tolerance of the fused L_2 step in f32 against [`l2_step_ref`]: the L_inf
/// step's roundings, and the division by two f32 norms (sums of up to 2^16 squares,
/// relative error well under 1e-5), which scale the perturbation (at most about 1).
pub const L2_TOLERANCE: super::Tolerance = super::Tolerance::new(2e-6, 1e-5);
