//! 2-D convolution (cross-correlation, as in every DL framework): `conv2d(x, w, bias)`
//! with stride, zero padding and dilation per axis and channel groups (depthwise when
//! groups == C), bias fused into the forward. Its backward has three passes, each with
//! its own kernels: backward-data (dx), backward-weight (dw) and the bias gradient (db).
//!
//! Shapes: x [N, C, H, W], w [O, C/groups, KH, KW], bias [O], y [N, O, OH, OW] with
//! OH = `Conv2dParams::out_h(H, KH)`, OW = `out_w(W, KW)` (the reference uses the same).
//!
//! Versions, per pass (`shaders/conv2d_<pass>_vN.wgsl`; bench any one with
//! `NODEVICE_SELECT=1 cargo bench --bench kernels -- conv2d.<pass>.V<N>`):
//! - forward V1 direct: one output per invocation, the port of the reference.
//! - forward V2 register-blocked implicit GEMM: 8 output pixels x 64 output channels
//!   (16 x 32 when a group has at most 32) per invocation, weights repacked by
//!   `conv2d_pack_v1` so that 4 consecutive output channels are one vec4 load; no
//!   subgroups (llvmpipe GL, any adapter).
//! - forward V3 workgroup-tiled implicit GEMM: 64 x 64 tiles staged through workgroup
//!   memory, 4 x 4 per invocation (the real-GPU style).
//! - forward V4 subgroup broadcast: V2's tiles, but each lane loads an eighth of the
//!   weights and `subgroupBroadcast` hands them to the others (the lavapipe winner).
//! - backward_data V1: one input element per invocation, gathering over (o, kh, kw).
//! - backward_data V2 / V4: as forward V2 / V4 over dy, one launch per residue class
//!   (ih % sh, iw % sw) of the input pixels: within a class the same taps contribute.
//! - backward_weight V1: one (chunk of output pixels, weight element) per invocation.
//! - backward_weight V2 / V4: 4 or 8 rows (tap, input channel) x 32 or 64 output
//!   channels per invocation, per chunk of 1024 output pixels taken 4 at a time (dy
//!   loaded as vec4 over pixels); V4 broadcasts dy across the subgroup.
//! - The bias gradient: `reduce::sum_axes` over (N, OH, OW).
//! - `conv2d_pack_v1`: the weight (and bias) repacking that V2, V3 and V4 read.
//!
//! `Auto` (the default of every pass) asks `ops::tune::choose` to time the applicable
//! versions once per bucketed shape key on the adapter: V4 needs subgroups of 8 to 64
//! lanes (`subgroups_fit`); V3 is only tried on GPUs (workgroup tiling is the slowest
//! style on CPU drivers); V1 only when a group has fewer than 8 channels (the tiles of
//! V2 and V4 would be mostly padding, e.g. depthwise). With `CPRL_TUNE=off` the first
//! candidate runs: V3 (forward) on GPUs, else V4 where subgroups fit, else V2. Every
//! version meets the same tolerance (tests/conv2d.rs), so the choice changes speed only.
//! Numbers and the attempts behind these choices: benches/NOTES.md, conv2d.
//!
//! Files: this one holds the public API, `Conv2dParams`, the version enums and the
//! autograd op; `forward.rs`, `backward_data.rs` and `backward_weight.rs` dispatch each
//! pass's versions; `geometry.rs` validates the sizes and builds the kernels' uniform;
//! `tiles.rs` holds the register-blocked tile sizes and the weight repacking;
//! `tune_key.rs` the tuning key and the candidates of `Auto`.
//!
//! The loop cap: llvmpipe stops any loop after 65,535 iterations per invocation. The
//! per-output reductions (Cg*KH*KW forward, Og*KH*KW backward-data) are limited to
//! [`MAX_TAPS`]; backward-weight reduces over N*OH*OW (401,408 for the CNN's first
//! layer) and always works in chunks ([`WEIGHT_CHUNK`] pixels for V1, 1024 for V2 and
//! V4) whose partial sums a second pass adds in a fixed order (deterministic). The bias
//! gradient is `reduce::sum_axes` over (N, OH, OW), chunked the same way.

mod backward_data;
mod backward_weight;
mod forward;
mod geometry;
mod tiles;
mod tune_key;

pub use backward_data::conv2d_backward_data;
pub use backward_weight::conv2d_backward_weight;
pub use forward::conv2d_forward;

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::ops::reduce;
use crate::tensor::Tensor;
use geometry::Geom;

/// Most (channel, tap) terms one output of the forward (Cg*KH*KW) or one input of
/// backward-data (Og*KH*KW) may sum: every kernel's per-invocation loop stays well
/// under llvmpipe's 65,535-iteration cap.
pub const MAX_TAPS: usize = 32_768;
/// Output pixels (over N, OH, OW) one backward-weight invocation reduces.
pub const WEIGHT_CHUNK: usize = 4096;

/// Stride, zero padding and dilation per axis as (height, width), and channel groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dParams {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

fn out_len(input: usize, kernel: usize, stride: usize, pad: usize, dil: usize) -> usize {
    let span = dil * (kernel - 1) + 1;
    (input + 2 * pad - span) / stride + 1
}

impl Conv2dParams {
    /// Same stride and padding on both axes, no dilation, one group.
    pub fn new(stride: usize, padding: usize) -> Self {
        Conv2dParams {
            stride: (stride, stride),
            padding: (padding, padding),
            ..Default::default()
        }
    }

    /// Output height for input height `h` and kernel height `kh` (valid params only).
    pub fn out_h(&self, h: usize, kh: usize) -> usize {
        out_len(h, kh, self.stride.0, self.padding.0, self.dilation.0)
    }

    /// Output width for input width `w` and kernel width `kw` (valid params only).
    pub fn out_w(&self, w: usize, kw: usize) -> usize {
        out_len(w, kw, self.stride.1, self.padding.1, self.dilation.1)
    }

    /// Checks x [N, C, H, W] against w [O, C/groups, KH, KW] and returns the output
    /// shape [N, O, OH, OW].
    pub fn output_shape(&self, x: &[usize], w: &[usize]) -> Result<[usize; 4]> {
        Ok(Geom::new(self, x, w)?.y_shape())
    }
}

/// Forward kernel versions (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conv2dForward {
    /// Chosen by measurement among the applicable versions (see the module header).
    #[default]
    Auto,
    V1,
    V2,
    V3,
    V4,
}

/// Backward-data kernel versions (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conv2dBackwardData {
    /// Chosen by measurement among the applicable versions (see the module header).
    #[default]
    Auto,
    V1,
    V2,
    V4,
}

/// Backward-weight kernel versions (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conv2dBackwardWeight {
    /// Chosen by measurement among the applicable versions (see the module header).
    #[default]
    Auto,
    V1,
    V2,
    V4,
}

/// The kernel version of each pass; the default chooses every pass automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Conv2dVersions {
    pub forward: Conv2dForward,
    pub backward_data: Conv2dBackwardData,
    pub backward_weight: Conv2dBackwardWeight,
}

/// Whether the subgroup kernels (V4) run here: subgroups of 8 to 64 lanes (lanes 0..7
/// are the broadcast sources; the workgroup holds whole subgroups).
pub fn subgroups_fit(gpu: &Gpu) -> bool {
    let i = gpu.info();
    gpu.has_subgroups() && i.subgroup_min_size >= 8 && i.subgroup_max_size <= 64
}

pub(super) fn need_subgroups(gpu: &Gpu, what: &str) -> Result<()> {
    if subgroups_fit(gpu) {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{what} needs subgroups of 8 to 64 lanes; {} has {}",
        gpu.info().name,
        if gpu.has_subgroups() {
            "other sizes"
        } else {
            "none"
        }
    )))
}

/// `y = conv2d(x, w) + bias`, recorded for backward. x [N, C, H, W],
/// w [O, C/groups, KH, KW], bias [O]; returns [N, O, OH, OW].
pub fn conv2d(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, p: &Conv2dParams) -> Result<Tensor> {
    conv2d_with(x, w, bias, p, Conv2dVersions::default())
}

/// `conv2d` with the kernel version of each pass chosen by the caller.
pub fn conv2d_with(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    p: &Conv2dParams,
    versions: Conv2dVersions,
) -> Result<Tensor> {
    let y = conv2d_forward(x, w, bias, p, versions.forward)?;
    let mut inputs = vec![x, w];
    inputs.extend(bias);
    Ok(autograd::record(y, &inputs, || Conv2dBackward {
        x: x.detach(),
        w: w.detach(),
        has_bias: bias.is_some(),
        p: *p,
        versions,
    }))
}

/// The bias gradient: db[o] = sum of dy[n, o, oh, ow] over n, oh, ow (chunked and in a
/// fixed order by `reduce::sum_axes`).
pub fn conv2d_backward_bias(dy: &Tensor) -> Result<Tensor> {
    if dy.dims() != 4 {
        return Err(Error::shape(
            "conv2d backward-bias",
            format!("dy must be [N, O, OH, OW], got {:?}", dy.shape()),
        ));
    }
    let _no_grad = autograd::no_grad();
    reduce::sum_axes(dy, &[0, 2, 3], false)
}

/// What the forward saved for the three backward passes.
struct Conv2dBackward {
    x: Tensor,
    w: Tensor,
    has_bias: bool,
    p: Conv2dParams,
    versions: Conv2dVersions,
}

impl Backward for Conv2dBackward {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn backward(&self, dy: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // y = conv(x, w) + b  =>  dx = conv^T(dy, w), dw = corr(dy, x), db = sum(dy).
        let dx = if needs[0] {
            Some(conv2d_backward_data(
                dy,
                &self.w,
                self.x.shape(),
                &self.p,
                self.versions.backward_data,
            )?)
        } else {
            None
        };
        let dw = if needs[1] {
            Some(conv2d_backward_weight(
                dy,
                &self.x,
                self.w.shape(),
                &self.p,
                self.versions.backward_weight,
            )?)
        } else {
            None
        };
        let mut out = vec![dx, dw];
        if self.has_bias {
            out.push(if needs[2] {
                Some(conv2d_backward_bias(dy)?)
            } else {
                None
            });
        }
        Ok(out)
    }
}
