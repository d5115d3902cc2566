//! Losses: mean squared error, L1, Huber and 1 - PLCC, each a scalar tensor (shape
//! `[]`) with a fused backward. Every sum runs in a fixed order that depends only on
//! the sizes, so losses and gradients are bitwise reproducible.
//!
//! Versions (each kernel file has per-element entries, [`LossVersion::V1`], and vec4
//! entries, [`LossVersion::V1Vec4`]; `Auto` takes the vec4 ones when the count divides
//! by 4):
//! - `loss_pointwise_forward_v1`: workgroups reduce tiles of 16,384 elements in a tree;
//!   one more single-workgroup pass adds the tile sums (skipped when one tile covers
//!   the input, so a batch loss is one dispatch).
//! - `loss_pointwise_backward_v1`: one invocation per element (vec4); one dispatch
//!   per input that wants a gradient.
//! - `loss_plcc_forward_v1`: one workgroup, two passes (means, then centred moments).
//! - `loss_plcc_backward_v1`: one invocation per element (vec4).
//!
//! Bench: `cargo bench --bench kernels -- loss`.
//!
//! Conventions (as torch's `reduction='mean'`): the mean runs over every element;
//! `pred` and `target` must have the same shape (no broadcasting: a `[B, 1]` against
//! `[B]` mistake would silently average over B x B pairs); L1's subgradient at 0 is 0;
//! Huber is `d^2 / 2` where `|d| < delta`, else `delta * (|d| - delta / 2)`.
//! PLCC takes `[B]` or `[B, 1]` for either input; see [`plcc_loss`] for its epsilon.

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::tensor::Tensor;

static POINTWISE_FORWARD_V1: Kernel = kernel!("loss_pointwise_forward_v1");
static POINTWISE_BACKWARD_V1: Kernel = kernel!("loss_pointwise_backward_v1");
static PLCC_FORWARD_V1: Kernel = kernel!("loss_plcc_forward_v1");
static PLCC_BACKWARD_V1: Kernel = kernel!("loss_plcc_backward_v1");
const WG: u32 = 256;
/// Elements per lane in the first pass of the pointwise forward.
const K: u32 = 64;
/// Elements one workgroup of the pointwise forward reduces.
pub const TILE: usize = (WG * K) as usize;

/// Added to both variances in [`plcc_loss`].
pub const PLCC_EPS: f32 = 1e-8;
/// Largest batch [`plcc_loss`] takes: its single workgroup loops twice over n / 256
/// elements per lane, under llvmpipe's 65,535-iteration cap.
pub const PLCC_MAX_BATCH: usize = 8_000_000;

/// Kernel versions of the losses (see the module header); `Auto` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LossVersion {
    /// The default: `V1Vec4` when the element count divides by 4, else `V1`.
    #[default]
    Auto,
    /// The naive port of the reference: the per-element entries of the `_v1` kernels,
    /// any size.
    V1,
    /// The vec4 entries of the same `_v1` kernels; an error when the count does not
    /// divide by 4.
    V1Vec4,
}

impl LossVersion {
    /// Whether `n` elements take the vec4 entries.
    fn vec4(self, op: &'static str, n: usize) -> Result<bool> {
        match self {
            LossVersion::Auto => Ok(n.is_multiple_of(4)),
            LossVersion::V1 => Ok(false),
            LossVersion::V1Vec4 if !n.is_multiple_of(4) => Err(Error::shape(
                op,
                format!("the vec4 kernels need a count divisible by 4, got {n}"),
            )),
            LossVersion::V1Vec4 => Ok(true),
        }
    }
}

/// A loss that is the mean of a term of `pred - target`; the discriminant order is
/// the shaders' LOSS code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pointwise {
    /// `d^2`
    Mse,
    /// `|d|`
    L1,
    /// `d^2 / 2` where `|d| < delta`, else `delta * (|d| - delta / 2)` (torch's HuberLoss).
    Huber { delta: f32 },
}

impl Pointwise {
    fn code(self) -> u32 {
        match self {
            Pointwise::Mse => 0,
            Pointwise::L1 => 1,
            Pointwise::Huber { .. } => 2,
        }
    }
    fn delta(self) -> f32 {
        match self {
            Pointwise::Huber { delta } => delta,
            _ => 0.0,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Pointwise::Mse => "mse",
            Pointwise::L1 => "l1",
            Pointwise::Huber { .. } => "huber",
        }
    }
}

crate::uniform! {
    struct PointwiseForwardParams {
        n: u32,
        n_parts: u32,
        delta: f32,
        _pad: u32,
    }
}

crate::uniform! {
    struct PointwiseBackwardParams {
        n: u32,
        delta: f32,
        sign: f32,
        _pad: u32,
    }
}

/// Mean squared error.
pub fn mse(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    pointwise(Pointwise::Mse, pred, target)
}

/// Mean absolute error (subgradient 0 where pred == target).
pub fn l1(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    pointwise(Pointwise::L1, pred, target)
}

/// Huber loss with threshold `delta > 0` (torch's `HuberLoss(delta=...)`).
pub fn huber(pred: &Tensor, target: &Tensor, delta: f32) -> Result<Tensor> {
    pointwise(Pointwise::Huber { delta }, pred, target)
}

/// `mean(term(pred - target))` as a scalar tensor, recorded for backward.
pub fn pointwise(loss: Pointwise, pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    pointwise_with(loss, pred, target, LossVersion::Auto)
}

/// [`pointwise`] with a choice of kernel entries.
pub fn pointwise_with(
    loss: Pointwise,
    pred: &Tensor,
    target: &Tensor,
    version: LossVersion,
) -> Result<Tensor> {
    let op = loss.name();
    if pred.shape() != target.shape() {
        return Err(Error::shapes(
            op,
            pred.shape(),
            target.shape(),
            "pred and target must have the same shape",
        ));
    }
    let n = pred.numel();
    if n == 0 {
        return Err(Error::shape(op, format!("empty input {:?}", pred.shape())));
    }
    if let Pointwise::Huber { delta } = loss
        && !(delta > 0.0 && delta.is_finite())
    {
        return Err(Error::Invalid(format!(
            "huber: delta must be positive, got {delta}"
        )));
    }
    let vec4 = version.vec4(op, n)?;
    let out = pointwise_forward(loss, pred, target, vec4)?;
    Ok(autograd::record(out, &[pred, target], || PointwiseBackward {
        loss,
        vec4,
        pred: pred.clone(),
        target: target.clone(),
    }))
}

/// The forward kernels alone (no shape checks, no tape).
fn pointwise_forward(loss: Pointwise, pred: &Tensor, target: &Tensor, vec4: bool) -> Result<Tensor> {
    let gpu = pred.gpu();
    let n = pred.numel();
    let n_parts = n.div_ceil(TILE);
    let p = PointwiseForwardParams {
        n: n as u32,
        n_parts: n_parts as u32,
        delta: loss.delta(),
        _pad: 0,
    };
    let constants = [("WG", WG as f64), ("K", K as f64), ("LOSS", loss.code() as f64)];
    let out = Tensor::empty(gpu, &[])?;
    // One tile: the partial pass writes the loss itself.
    let parts = if n_parts == 1 {
        out.clone()
    } else {
        Tensor::empty(gpu, &[n_parts])?
    };
    gpu.launch(Launch {
        kernel: &POINTWISE_FORWARD_V1,
        entry: if vec4 { "partial4" } else { "partial" },
        constants: &constants,
        params: uniform(&p),
        args: &[Arg::R(pred.buf()), Arg::R(target.buf()), Arg::W(parts.buf())],
        workgroups: grid_1d(n_parts as u64),
    })?;
    if n_parts > 1 {
        gpu.launch(Launch {
            kernel: &POINTWISE_FORWARD_V1,
            entry: "finish",
            constants: &constants,
            params: uniform(&p),
            args: &[Arg::R(parts.buf()), Arg::W(out.buf())],
            workgroups: [1, 1, 1],
        })?;
    }
    Ok(out)
}

/// The backward kernel: `sign * g * term'(pred - target) / n`, shaped like `pred`.
fn pointwise_backward(
    loss: Pointwise,
    pred: &Tensor,
    target: &Tensor,
    g: &Tensor,
    sign: f32,
    vec4: bool,
) -> Result<Tensor> {
    let d = Tensor::empty(pred.gpu(), pred.shape())?;
    let n = pred.numel() as u32;
    let units = if vec4 { n / 4 } else { n };
    pred.gpu().launch(Launch {
        kernel: &POINTWISE_BACKWARD_V1,
        entry: if vec4 { "main4" } else { "main" },
        constants: &[("WG", WG as f64), ("LOSS", loss.code() as f64)],
        params: uniform(&PointwiseBackwardParams {
            n,
            delta: loss.delta(),
            sign,
            _pad: 0,
        }),
        args: &[
            Arg::R(pred.buf()),
            Arg::R(target.buf()),
            Arg::R(g.buf()),
            Arg::W(d.buf()),
        ],
        workgroups: grid_1d(units.div_ceil(WG) as u64),
    })?;
    Ok(d)
}

struct PointwiseBackward {
    loss: Pointwise,
    vec4: bool,
    pred: Tensor,
    target: Tensor,
}

impl Backward for PointwiseBackward {
    fn name(&self) -> &'static str {
        self.loss.name()
    }
    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // loss = mean(term(pred - target))  =>  dpred = g term'/n, dtarget = -dpred.
        let (p, t) = (&self.pred, &self.target);
        let dp = match needs[0] {
            true => Some(pointwise_backward(self.loss, p, t, g, 1.0, self.vec4)?),
            false => None,
        };
        let dt = match needs[1] {
            true => Some(pointwise_backward(self.loss, p, t, g, -1.0, self.vec4)?),
            false => None,
        };
        Ok(vec![dp, dt])
    }
}

crate::uniform! {
    struct PlccForwardParams {
        n: u32,
        eps: f32,
    }
}

crate::uniform! {
    struct PlccBackwardParams {
        n: u32,
        which: u32,
    }
}

/// `1 - r` for Pearson's linear correlation r between `pred` and `target` over the
/// batch, each shaped `[B]` or `[B, 1]`, with [`PLCC_EPS`]; see [`plcc_loss_eps`].
pub fn plcc_loss(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    plcc_loss_with(pred, target, PLCC_EPS, LossVersion::Auto)
}

/// `1 - r` with `r = cov(p, t) / sqrt((var(p) + eps) * (var(t) + eps))` over the
/// batch, using population (1/B) moments.
///
/// With eps = 0 this is exactly 1 - Pearson's r (the 1/B factors cancel). The epsilon
/// keeps degenerate batches finite: where one input is constant, and always for
/// B = 1 (every centred value is 0), cov = 0, so r = 0, the loss is 1 and the
/// gradient with respect to the constant input is `-(t - mean t) / (B sqrt(eps (var t + eps)))`,
/// which is 0 for B = 1. It also bounds the gradient near zero variance: r is scale
/// invariant, so its true gradient grows like 1 / std(pred); eps caps that at
/// std = sqrt(eps) (1e-4 for the default).
/// The backward is the analytic gradient of this expression, with respect to pred and,
/// when it requires a gradient, target.
pub fn plcc_loss_eps(pred: &Tensor, target: &Tensor, eps: f32) -> Result<Tensor> {
    plcc_loss_with(pred, target, eps, LossVersion::Auto)
}

/// [`plcc_loss_eps`] with a choice of kernel entries.
pub fn plcc_loss_with(pred: &Tensor, target: &Tensor, eps: f32, version: LossVersion) -> Result<Tensor> {
    let batch = |s: &[usize]| match s {
        [b] | [b, 1] => Some(*b),
        _ => None,
    };
    let (Some(b), Some(bt)) = (batch(pred.shape()), batch(target.shape())) else {
        return Err(Error::shapes(
            "plcc_loss",
            pred.shape(),
            target.shape(),
            "pred and target must each be [B] or [B, 1]",
        ));
    };
    if b != bt {
        return Err(Error::shapes(
            "plcc_loss",
            pred.shape(),
            target.shape(),
            "batch sizes differ",
        ));
    }
    if b == 0 || b > PLCC_MAX_BATCH {
        return Err(Error::shape(
            "plcc_loss",
            format!("batch of {b} is outside 1..={PLCC_MAX_BATCH}"),
        ));
    }
    if !(eps >= 0.0 && eps.is_finite()) {
        return Err(Error::Invalid(format!("plcc_loss: eps must be >= 0, got {eps}")));
    }
    let vec4 = version.vec4("plcc_loss", b)?;
    let gpu = pred.gpu();
    let out = Tensor::empty(gpu, &[])?;
    let stats = Tensor::empty(gpu, &[8])?;
    gpu.launch(Launch {
        kernel: &PLCC_FORWARD_V1,
        entry: if vec4 { "main4" } else { "main" },
        constants: &[("WG", WG as f64)],
        params: uniform(&PlccForwardParams { n: b as u32, eps }),
        args: &[
            Arg::R(pred.buf()),
            Arg::R(target.buf()),
            Arg::W(stats.buf()),
            Arg::W(out.buf()),
        ],
        workgroups: [1, 1, 1],
    })?;
    Ok(autograd::record(out, &[pred, target], || PlccBackward {
        pred: pred.clone(),
        target: target.clone(),
        stats,
        vec4,
    }))
}

/// Gradient of 1 - r with respect to `x` (`which` 0: x is pred; 1: x is target).
fn plcc_backward(
    x: &Tensor,
    y: &Tensor,
    stats: &Tensor,
    g: &Tensor,
    which: u32,
    vec4: bool,
) -> Result<Tensor> {
    let dx = Tensor::empty(x.gpu(), x.shape())?;
    let n = x.numel() as u32;
    let units = if vec4 { n / 4 } else { n };
    x.gpu().launch(Launch {
        kernel: &PLCC_BACKWARD_V1,
        entry: if vec4 { "main4" } else { "main" },
        constants: &[("WG", WG as f64)],
        params: uniform(&PlccBackwardParams { n, which }),
        args: &[
            Arg::R(x.buf()),
            Arg::R(y.buf()),
            Arg::R(stats.buf()),
            Arg::R(g.buf()),
            Arg::W(dx.buf()),
        ],
        workgroups: grid_1d(units.div_ceil(WG) as u64),
    })?;
    Ok(dx)
}

struct PlccBackward {
    pred: Tensor,
    target: Tensor,
    /// mean_p, mean_t, var_p + eps, var_t + eps, cov, r, 1 / sqrt(var_p var_t), n.
    stats: Tensor,
    vec4: bool,
}

impl Backward for PlccBackward {
    fn name(&self) -> &'static str {
        "plcc_loss"
    }
    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (p, t, s) = (&self.pred, &self.target, &self.stats);
        let dp = match needs[0] {
            true => Some(plcc_backward(p, t, s, g, 0, self.vec4)?),
            false => None,
        };
        let dt = match needs[1] {
            true => Some(plcc_backward(t, p, s, g, 1, self.vec4)?),
            false => None,
        };
        Ok(vec![dp, dt])
    }
}
