//! f64 reference of `ops::optim`: one parameter tensor per call, as torch.optim's
//! single-tensor (`foreach=False`) code path writes it.
//!
//! Shapes: `p`, `g` and every state slice hold the n values of one parameter.

use crate::ops::optim::{AdamConfig, SgdConfig};

/// One `torch.optim.SGD` step. `buf` is the momentum buffer: `None` before the first
/// step (then it starts as a copy of the gradient, with no dampening), and unused
/// when momentum is 0.
pub fn sgd_step_ref(c: &SgdConfig, p: &mut [f64], g: &[f64], buf: &mut Option<Vec<f64>>) {
    assert_eq!(p.len(), g.len());
    let mut d: Vec<f64> = g.to_vec();
    if c.weight_decay != 0.0 {
        // d_p = d_p.add(param, alpha=weight_decay)
        for (d, &x) in d.iter_mut().zip(p.iter()) {
            *d += c.weight_decay * x;
        }
    }
    if c.momentum != 0.0 {
        match buf {
            None => *buf = Some(d.clone()),
            Some(b) => {
                // buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
                for (b, &x) in b.iter_mut().zip(&d) {
                    *b = c.momentum * *b + (1.0 - c.dampening) * x;
                }
            }
        }
        let b = buf.as_ref().expect("set above");
        for (d, &bv) in d.iter_mut().zip(b) {
            // nesterov: d_p = d_p.add(buf, alpha=momentum); else d_p = buf
            *d = if c.nesterov { *d + c.momentum * bv } else { bv };
        }
    }
    for (x, &dv) in p.iter_mut().zip(&d) {
        // param.add_(d_p, alpha=-lr)
        *x -= c.lr * dv;
    }
}

/// One `torch.optim.Adam` step (`AdamW` when `decoupled`), amsgrad off. `m` and `v`
/// start at zero and `step` at 0; the step count is raised before the bias
/// corrections are computed.
pub fn adam_step_ref(c: &AdamConfig, p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64], step: &mut u64) {
    assert!(p.len() == g.len() && p.len() == m.len() && p.len() == v.len());
    *step += 1;
    let bc1 = 1.0 - c.beta1.powi(*step as i32);
    let bc2 = 1.0 - c.beta2.powi(*step as i32);
    let step_size = c.lr / bc1;
    let bc2_sqrt = bc2.sqrt();
    for i in 0..p.len() {
        let mut gi = g[i];
        if c.weight_decay != 0.0 {
            if c.decoupled {
                // param.mul_(1 - lr * weight_decay)
                p[i] *= 1.0 - c.lr * c.weight_decay;
            } else {
                // grad = grad.add(param, alpha=weight_decay)
                gi += c.weight_decay * p[i];
            }
        }
        // exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
        m[i] += (1.0 - c.beta1) * (gi - m[i]);
        v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * gi * gi;
        // denom = exp_avg_sq.sqrt() / bias_correction2_sqrt + eps
        let denom = v[i].sqrt() / bc2_sqrt + c.eps;
        // param.addcdiv_(exp_avg, denom, value=-step_size)
        p[i] -= step_size * m[i] / denom;
    }
}

/// `torch.nn.utils.clip_grad_norm_` with the L2 norm: the norm over all gradients
/// together, and every gradient scaled by `min(1, max_norm / (norm + 1e-6))`.
/// Returns the norm before clipping.
pub fn clip_grad_norm_ref(grads: &mut [Vec<f64>], max_norm: f64) -> f64 {
    let norm = grads.iter().flatten().map(|g| g * g).sum::<f64>().sqrt();
    let coef = (max_norm / (norm + 1e-6)).min(1.0);
    for g in grads.iter_mut().flatten() {
        *g *= coef;
    }
    norm
}

/// The tolerance of the f32 optimiser kernels against this reference after a few
/// steps, used by the tests and the benchmark alike: each step rounds a handful of f32
/// operations on values of size ~1, while the reference runs in f64 from the same
/// inputs, so a few ulps per step accumulate.
pub const TOLERANCE: super::Tolerance = super::Tolerance::new(2e-6, 1e-5);

/// The tolerance of the f32 global gradient norm of `clip_grad_norm` against
/// [`clip_grad_norm_ref`] (gradients in [-1, 1]), used by the tests and the benchmark
/// alike: f32 squares added in fixed-order trees over up to 10M terms, one rounding
/// (6e-8 relative) per level, about 1.4e-6 at 24 levels, halved by the square root;
/// rtol 1e-5 leaves room, atol 1e-6 covers norms near 0.
pub const CLIP_NORM_TOLERANCE: super::Tolerance = super::Tolerance::new(1e-6, 1e-5);

/// The tolerance of the clipped gradients g c, c = max_norm / (norm + 1e-6), against
/// [`clip_grad_norm_ref`], used by the tests and the benchmark alike: c carries the f32
/// norm's relative error (within [`CLIP_NORM_TOLERANCE`]'s 1e-5) and the product one
/// more rounding, so the error is relative, 2e-5 with room; no cancellation, so atol
/// only has to cover values near 0 (c may be far below 1).
pub const CLIP_TOLERANCE: super::Tolerance = super::Tolerance::new(1e-9, 2e-5);
