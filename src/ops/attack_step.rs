//! The update of one adversarial-attack step, fused into one pass over the batch:
//! step along the direction, project the perturbation onto the eps ball around the
//! clean images, clamp to [0, 1] (docs/METHOD.md section 3, "Attacks").
//!
//! - [`linf_step`] (`attack_step_v1`, entry `linf`): the signed step of FGSM, PGD and
//!   MI-FGSM, `x' = clip_[0,1](x + clip_eps(a - alpha sign(d) - x))`, one kernel in
//!   place of the seven elementwise ones it replaces.
//! - [`l2_step`]: the L_2 step of torchattacks' `PGDL2`: `a - alpha d / ||d||`, then
//!   the perturbation scaled by `min(1, eps / ||delta||)` per image, then clamped.
//!   The two per-image norms are reductions (`reduce`), the elementwise passes the
//!   kernel's `l2_delta` and `l2_project` entries.
//!
//! Every image is the batch's leading axis; norms are per image. The update is never
//! differentiated (an attack takes its gradient before it), so nothing is recorded on
//! the tape. The f64 twin is `reference::attack_step`.

use crate::autograd::no_grad;
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::tensor::Tensor;

static ATTACK_STEP_V1: Kernel = kernel!("attack_step_v1");
const WG: u32 = 256;
/// Added to a norm before dividing by it: a zero gradient makes no step (torchattacks
/// adds 1e-10 to the gradient's norm too).
pub const NORM_FLOOR: f32 = 1e-10;

crate::uniform! {
    struct Params {
        n: u32,
        per_image: u32,
        alpha: f32,
        eps: f32,
    }
}

/// Checks that `xa` and `d` have the clean batch's shape `[B, ..]` and the scalars
/// are usable; returns the elements per image.
fn check(op: &'static str, x: &Tensor, xa: &Tensor, d: &Tensor, alpha: f32, eps: f32) -> Result<usize> {
    xa.expect_shape(op, x.shape())?;
    d.expect_shape(op, x.shape())?;
    if x.shape().is_empty() || x.numel() > u32::MAX as usize {
        return Err(Error::shape(
            op,
            format!("a batch [B, ..] of at most 2^32 elements, got {:?}", x.shape()),
        ));
    }
    if !(alpha.is_finite() && eps.is_finite() && eps >= 0.0) {
        return Err(Error::Invalid(format!(
            "{op}: alpha {alpha} and eps {eps} must be finite, eps >= 0"
        )));
    }
    Ok(x.numel() / x.shape()[0].max(1))
}

/// One launch of an `attack_step_v1` entry writing a fresh tensor of `x`'s shape.
fn launch(
    entry: &'static str,
    x: &Tensor,
    a: &Tensor,
    d: &Tensor,
    s: Option<&Tensor>,
    p: Params,
) -> Result<Tensor> {
    let out = Tensor::empty(x.gpu(), x.shape())?;
    let mut args = vec![
        Arg::R(x.buf()),
        Arg::R(a.buf()),
        Arg::R(d.buf()),
        Arg::W(out.buf()),
    ];
    if let Some(s) = s {
        args.push(Arg::R(s.buf()));
    }
    x.gpu().launch(Launch {
        kernel: &ATTACK_STEP_V1,
        entry,
        constants: &[("WG", WG as f64)],
        params: uniform(&p),
        args: &args,
        workgroups: grid_1d(u64::from(p.n.div_ceil(WG))),
    })?;
    Ok(out)
}

/// The L_inf step: `clip_[0,1](x + clip_eps(xa - alpha sign(d) - x))`, elementwise,
/// for clean images `x`, current images `xa` and direction `d` (a gradient or a
/// momentum; the step goes against it). Shapes must match.
pub fn linf_step(x: &Tensor, xa: &Tensor, d: &Tensor, alpha: f32, eps: f32) -> Result<Tensor> {
    let per_image = check("attack linf_step", x, xa, d, alpha, eps)?;
    let p = Params {
        n: x.numel() as u32,
        per_image: per_image as u32,
        alpha,
        eps,
    };
    launch("linf", x, xa, d, None, p)
}

/// The per-image L_2 norms of `t`: `[B, ..]` -> `[B]`, or `[B, 1, ..]` with `keepdim`
/// (to broadcast against `t`).
pub fn l2_norms(t: &Tensor, keepdim: bool) -> Result<Tensor> {
    let axes: Vec<usize> = (1..t.shape().len()).collect();
    let sq = t.square()?;
    let sums = if axes.is_empty() {
        sq
    } else {
        sq.sum_axes(&axes, keepdim)?
    };
    sums.sqrt()
}

/// The L_2 step against `d` of length `alpha` per image, projected onto the L_2 ball
/// of radius `eps` around `x` and clamped to [0, 1]:
/// `delta = xa - alpha d / (||d|| + 1e-10) - x`,
/// `x' = clip_[0,1](x + min(1, eps / ||delta||) delta)`, norms per image over all its
/// elements (torchattacks' `PGDL2`). The clamp only moves pixels towards `x` (which
/// lies in [0, 1]), so it never leaves the ball.
pub fn l2_step(x: &Tensor, xa: &Tensor, d: &Tensor, alpha: f32, eps: f32) -> Result<Tensor> {
    let per_image = check("attack l2_step", x, xa, d, alpha, eps)?;
    let _g = no_grad();
    let gpu = x.gpu();
    let b = x.shape()[0];
    let p = Params {
        n: x.numel() as u32,
        per_image: per_image as u32,
        alpha,
        eps,
    };
    let step = Tensor::full(gpu, &[b], alpha)?.div(&l2_norms(d, false)?.affine(1.0, NORM_FLOOR)?)?;
    let delta = launch("l2_delta", x, xa, d, Some(&step), p)?;
    // min(1, eps / ||delta||); a zero delta has factor 1 (eps / floor, clamped).
    let factor = Tensor::full(gpu, &[b], eps)?
        .div(&l2_norms(&delta, false)?.affine(1.0, NORM_FLOOR)?)?
        .clamp(0.0, 1.0)?;
    launch("l2_project", x, &delta, &factor, None, p)
}
