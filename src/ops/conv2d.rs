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
//! The loop cap: llvmpipe stops any loop after 65,535 iterations per invocation. The
//! per-output reductions (Cg*KH*KW forward, Og*KH*KW backward-data) are limited to
//! [`MAX_TAPS`]; backward-weight reduces over N*OH*OW (401,408 for the CNN's first
//! layer) and always works in chunks ([`WEIGHT_CHUNK`] pixels for V1, 1024 for V2 and
//! V4) whose partial sums a second pass adds in a fixed order (deterministic). The bias
//! gradient is `reduce::sum_axes` over (N, OH, OW), chunked the same way.

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Gpu, Kernel, Launch, grid_1d};
use crate::kernel;
use crate::ops::{reduce, tune};
use crate::tensor::Tensor;

static FORWARD_V1: Kernel = kernel!("conv2d_forward_v1");
static BACKWARD_DATA_V1: Kernel = kernel!("conv2d_backward_data_v1");
static BACKWARD_WEIGHT_V1: Kernel = kernel!("conv2d_backward_weight_v1");
static FORWARD_V2: Kernel = kernel!("conv2d_forward_v2");
static FORWARD_V3: Kernel = kernel!("conv2d_forward_v3");
static FORWARD_V4: Kernel = kernel!("conv2d_forward_v4");
static BACKWARD_DATA_V2: Kernel = kernel!("conv2d_backward_data_v2");
static BACKWARD_DATA_V4: Kernel = kernel!("conv2d_backward_data_v4");
static BACKWARD_WEIGHT_V2: Kernel = kernel!("conv2d_backward_weight_v2");
static BACKWARD_WEIGHT_V4: Kernel = kernel!("conv2d_backward_weight_v4");
static PACK_V1: Kernel = kernel!("conv2d_pack_v1");

/// Most (channel, tap) terms one output of the forward (Cg*KH*KW) or one input of
/// backward-data (Og*KH*KW) may sum: every kernel's per-invocation loop stays well
/// under llvmpipe's 65,535-iteration cap.
pub const MAX_TAPS: usize = 32_768;
/// Output pixels (over N, OH, OW) one backward-weight invocation reduces.
pub const WEIGHT_CHUNK: usize = 4096;
const WG: u32 = 256;

/// Stride, zero padding and dilation per axis as (height, width), and channel groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dParams {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
}

impl Default for Conv2dParams {
    /// Stride 1, no padding, no dilation, one group.
    fn default() -> Self {
        Conv2dParams::new(1, 0)
    }
}

fn out_len(input: usize, kernel: usize, stride: usize, pad: usize, dil: usize) -> usize {
    let span = dil * (kernel - 1) + 1;
    (input + 2 * pad - span) / stride + 1
}

impl Conv2dParams {
    /// Same stride and padding on both axes, no dilation, one group. The other
    /// settings chain on: `Conv2dParams::new(1, 2).dilation(2).groups(c)`.
    #[must_use]
    pub const fn new(stride: usize, padding: usize) -> Self {
        Conv2dParams {
            stride: (stride, stride),
            padding: (padding, padding),
            dilation: (1, 1),
            groups: 1,
        }
    }

    /// With a stride per axis (height, width).
    #[must_use]
    pub const fn stride_hw(self, h: usize, w: usize) -> Self {
        Conv2dParams {
            stride: (h, w),
            ..self
        }
    }

    /// With a padding per axis (height, width).
    #[must_use]
    pub const fn padding_hw(self, h: usize, w: usize) -> Self {
        Conv2dParams {
            padding: (h, w),
            ..self
        }
    }

    /// With the same dilation on both axes.
    #[must_use]
    pub const fn dilation(self, d: usize) -> Self {
        self.dilation_hw(d, d)
    }

    /// With a dilation per axis (height, width).
    #[must_use]
    pub const fn dilation_hw(self, h: usize, w: usize) -> Self {
        Conv2dParams {
            dilation: (h, w),
            ..self
        }
    }

    /// With `groups` channel groups (depthwise when it equals the input channels).
    #[must_use]
    pub const fn groups(self, groups: usize) -> Self {
        Conv2dParams { groups, ..self }
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

/// Every size of one convolution, validated.
#[derive(Debug, Clone, Copy)]
struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    cg: usize,
    og: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    p: Conv2dParams,
}

impl Geom {
    fn new(p: &Conv2dParams, xs: &[usize], ws: &[usize]) -> Result<Geom> {
        const OP: &str = "conv2d";
        if xs.len() != 4 || ws.len() != 4 {
            return Err(Error::shapes(
                OP,
                xs,
                ws,
                "x must be [N, C, H, W] and w [O, C/groups, KH, KW]",
            ));
        }
        let (st, pad, dil, g) = (p.stride, p.padding, p.dilation, p.groups);
        if st.0 == 0 || st.1 == 0 || dil.0 == 0 || dil.1 == 0 || g == 0 {
            return Err(Error::Invalid(format!(
                "conv2d: stride {st:?}, dilation {dil:?} and groups {g} must be at least 1"
            )));
        }
        if xs.contains(&0) || ws.contains(&0) {
            return Err(Error::shapes(OP, xs, ws, "every dimension must be at least 1"));
        }
        let [n, c, h, w] = [xs[0], xs[1], xs[2], xs[3]];
        let [o, cg, kh, kw] = [ws[0], ws[1], ws[2], ws[3]];
        if c % g != 0 {
            return Err(Error::shape(
                OP,
                format!("input channels C = {c} of x {xs:?} are not divisible by groups = {g}"),
            ));
        }
        if o % g != 0 {
            return Err(Error::shape(
                OP,
                format!("output channels O = {o} of w {ws:?} are not divisible by groups = {g}"),
            ));
        }
        if cg != c / g {
            return Err(Error::shapes(
                OP,
                xs,
                ws,
                format!("w must have C/groups = {} input channels, it has {cg}", c / g),
            ));
        }
        let span = (dil.0 * (kh - 1) + 1, dil.1 * (kw - 1) + 1);
        if span.0 > h + 2 * pad.0 || span.1 > w + 2 * pad.1 {
            return Err(Error::shapes(
                OP,
                xs,
                ws,
                format!(
                    "the dilated kernel ({} x {}) is larger than the padded input ({} x {})",
                    span.0,
                    span.1,
                    h + 2 * pad.0,
                    w + 2 * pad.1
                ),
            ));
        }
        Ok(Geom {
            n,
            c,
            h,
            w,
            o,
            cg,
            og: o / g,
            kh,
            kw,
            oh: p.out_h(h, kh),
            ow: p.out_w(w, kw),
            p: *p,
        })
    }

    fn x_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }
    fn w_shape(&self) -> [usize; 4] {
        [self.o, self.cg, self.kh, self.kw]
    }
    fn y_shape(&self) -> [usize; 4] {
        [self.n, self.o, self.oh, self.ow]
    }
    /// Output pixels over the batch: the length of the backward-weight reduction.
    fn pixels(&self) -> usize {
        self.n * self.oh * self.ow
    }
    fn taps(&self) -> usize {
        self.kh * self.kw
    }

    /// The uniform every conv2d kernel reads; pass-specific fields start zeroed.
    fn params(&self, total: usize) -> Params {
        let p = &self.p;
        Params {
            n: self.n as u32,
            c: self.c as u32,
            h: self.h as u32,
            w: self.w as u32,
            o: self.o as u32,
            kh: self.kh as u32,
            kw: self.kw as u32,
            groups: p.groups as u32,
            oh: self.oh as u32,
            ow: self.ow as u32,
            cg: self.cg as u32,
            og: self.og as u32,
            sh: p.stride.0 as u32,
            sw: p.stride.1 as u32,
            ph: p.padding.0 as u32,
            pw: p.padding.1 as u32,
            dh: p.dilation.0 as u32,
            dw: p.dilation.1 as u32,
            total: total as u32,
            ..Default::default()
        }
    }

    /// Elements of the largest tensor, which must index with u32 in the kernels.
    fn check_u32(&self, op: &'static str) -> Result<()> {
        let most = [
            self.n * self.c * self.h * self.w,
            self.n * self.o * self.oh * self.ow,
            self.o * self.cg * self.kh * self.kw * self.pixels().div_ceil(WEIGHT_CHUNK_GEMM),
        ];
        if most.iter().any(|&e| e >= u32::MAX as usize / 2) {
            return Err(Error::shapes(
                op,
                &self.x_shape(),
                &self.w_shape(),
                "a tensor of this convolution has more elements than 32-bit indexing allows",
            ));
        }
        Ok(())
    }
}

/// The uniform of every conv2d kernel (`struct Params` in `shaders/conv2d_*.wgsl`,
/// field for field). `total` is the number of work items of the dispatch; the rest
/// after it belong to one pass or version each.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    o: u32,
    kh: u32,
    kw: u32,
    groups: u32,
    oh: u32,
    ow: u32,
    cg: u32,
    og: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    dh: u32,
    dw: u32,
    total: u32,
    /// Backward-weight: output pixels per chunk.
    chunk: u32,
    /// Backward-weight: number of chunks.
    n_chunks: u32,
    /// Backward-data: row and column residue class (ih % sh, iw % sw) of the launch.
    rh: u32,
    rw: u32,
    /// Backward-data: rows and columns of the residue class.
    cls_h: u32,
    cls_w: u32,
    /// Padded channel counts of the packed weights (V2 and later).
    og_pad: u32,
    cg_pad: u32,
    _pad: u32,
}

/// Kernel versions of the forward pass (see the module header); `Auto` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conv2dForward {
    /// The default: chosen by measurement among the applicable versions.
    #[default]
    Auto,
    /// The naive port of the reference: direct, one output per invocation.
    V1,
    /// Register-blocked implicit GEMM over packed weights, no subgroups.
    V2,
    /// Workgroup-tiled implicit GEMM, 64 x 64 tiles (real GPUs).
    V3,
    /// V2's tiles with the weights broadcast across the subgroup; needs `subgroups_fit`.
    V4,
}

/// Kernel versions of the backward-data pass (see the module header); `Auto` is the
/// default. Numbers follow the forward's (no V3: its backward is not written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conv2dBackwardData {
    /// The default: chosen by measurement among the applicable versions.
    #[default]
    Auto,
    /// The naive port of the reference: one input element per invocation, gathering.
    V1,
    /// As forward V2 over dy, one launch per residue class of the input pixels.
    V2,
    /// As forward V4 over dy; needs `subgroups_fit`.
    V4,
}

/// Kernel versions of the backward-weight pass (see the module header); `Auto` is the
/// default. Numbers follow the forward's (no V3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conv2dBackwardWeight {
    /// The default: chosen by measurement among the applicable versions.
    #[default]
    Auto,
    /// The naive port of the reference: one (pixel chunk, weight element) per invocation.
    V1,
    /// Blocks of rows x output channels per invocation, dy loaded as vec4 over pixels.
    V2,
    /// V2 with dy broadcast across the subgroup; needs `subgroups_fit`.
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

fn need_subgroups(gpu: &Gpu, what: &str) -> Result<()> {
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

/// The tuning key of a convolution: exact kernel geometry, sizes bucketed to powers of two.
fn tune_key(g: &Geom) -> String {
    let b = tune::bucket;
    let p = &g.p;
    format!(
        "n{} c{} hw{}x{} o{} k{}x{} s{:?} p{:?} d{:?} g{}",
        b(g.n),
        b(g.cg),
        b(g.h),
        b(g.w),
        b(g.og),
        g.kh,
        g.kw,
        p.stride,
        p.padding,
        p.dilation,
        b(p.groups)
    )
}

/// Candidates of an automatic choice, the documented default first: V3 (forward) on
/// GPUs, then V4 where subgroups fit, then V2; V3 is left out on CPU adapters (workgroup
/// tiling is the slowest style there, see benches/NOTES.md, conv2d), and V1 joins when
/// the 32-channel tiles would be mostly padding (fewer than 8 channels per group).
fn candidates<V: Copy>(gpu: &Gpu, channels: usize, v1: V, v2: V, v3: Option<V>, v4: V) -> Vec<V> {
    let mut c = Vec::new();
    if let (Some(v3), false) = (v3, gpu.is_cpu()) {
        c.push(v3);
    }
    if subgroups_fit(gpu) {
        c.push(v4);
    }
    c.push(v2);
    if channels < 8 {
        c.push(v1);
    }
    c
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

/// The forward kernel alone (nothing recorded): `y = conv2d(x, w) + bias`.
pub fn conv2d_forward(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    p: &Conv2dParams,
    version: Conv2dForward,
) -> Result<Tensor> {
    let g = Geom::new(p, x.shape(), w.shape())?;
    if let Some(b) = bias {
        b.expect_shape("conv2d bias", &[g.o])?;
    }
    check_taps("conv2d forward", &g, g.cg)?;
    g.check_u32("conv2d")?;
    let gpu = x.gpu();
    let y = Tensor::empty(gpu, &g.y_shape())?;
    let run = |v: Conv2dForward, y: &Tensor| match v {
        Conv2dForward::V1 => forward_v1(&g, x, w, bias, y),
        Conv2dForward::V2 => forward_gemm(&g, &FORWARD_V2, x, w, bias, y),
        Conv2dForward::V3 => forward_v3(&g, x, w, bias, y),
        Conv2dForward::V4 => {
            need_subgroups(gpu, "conv2d forward V4")?;
            forward_gemm(&g, &FORWARD_V4, x, w, bias, y)
        }
        Conv2dForward::Auto => unreachable!("resolved below"),
    };
    let version = match version {
        Conv2dForward::Auto => {
            use Conv2dForward as F;
            let cands = candidates(gpu, g.og, F::V1, F::V2, Some(F::V3), F::V4);
            // Tuning runs write a scratch output (allocated only while measuring).
            tune::choose(gpu, "conv2d.forward", &tune_key(&g), &cands, |v| {
                run(v, &Tensor::empty(gpu, &g.y_shape())?)
            })?
        }
        v => v,
    };
    run(version, &y)?;
    Ok(y)
}

/// The backward-data kernel alone: dx [N, C, H, W] from dy [N, O, OH, OW] and w.
pub fn conv2d_backward_data(
    dy: &Tensor,
    w: &Tensor,
    x_shape: &[usize],
    p: &Conv2dParams,
    version: Conv2dBackwardData,
) -> Result<Tensor> {
    let g = Geom::new(p, x_shape, w.shape())?;
    dy.expect_shape("conv2d backward-data dy", &g.y_shape())?;
    check_taps("conv2d backward-data", &g, g.og)?;
    g.check_u32("conv2d")?;
    let gpu = dy.gpu();
    let dx = Tensor::empty(gpu, &g.x_shape())?;
    let run = |v: Conv2dBackwardData, dx: &Tensor| match v {
        Conv2dBackwardData::V1 => backward_data_v1(&g, dy, w, dx),
        Conv2dBackwardData::V2 => backward_data_gemm(&g, &BACKWARD_DATA_V2, dy, w, dx),
        Conv2dBackwardData::V4 => {
            need_subgroups(gpu, "conv2d backward-data V4")?;
            backward_data_gemm(&g, &BACKWARD_DATA_V4, dy, w, dx)
        }
        Conv2dBackwardData::Auto => unreachable!("resolved below"),
    };
    let version = match version {
        Conv2dBackwardData::Auto => {
            use Conv2dBackwardData as B;
            let cands = candidates(gpu, g.cg, B::V1, B::V2, None, B::V4);
            tune::choose(gpu, "conv2d.backward_data", &tune_key(&g), &cands, |v| {
                run(v, &Tensor::empty(gpu, &g.x_shape())?)
            })?
        }
        v => v,
    };
    run(version, &dx)?;
    Ok(dx)
}

/// The backward-weight kernels alone: dw [O, C/groups, KH, KW] from dy and x.
pub fn conv2d_backward_weight(
    dy: &Tensor,
    x: &Tensor,
    w_shape: &[usize],
    p: &Conv2dParams,
    version: Conv2dBackwardWeight,
) -> Result<Tensor> {
    let g = Geom::new(p, x.shape(), w_shape)?;
    dy.expect_shape("conv2d backward-weight dy", &g.y_shape())?;
    g.check_u32("conv2d")?;
    let gpu = dy.gpu();
    let run = |v: Conv2dBackwardWeight| match v {
        Conv2dBackwardWeight::V1 => backward_weight_v1(&g, dy, x),
        Conv2dBackwardWeight::V2 => backward_weight_gemm(&g, &BACKWARD_WEIGHT_V2, dy, x),
        Conv2dBackwardWeight::V4 => {
            need_subgroups(gpu, "conv2d backward-weight V4")?;
            backward_weight_gemm(&g, &BACKWARD_WEIGHT_V4, dy, x)
        }
        Conv2dBackwardWeight::Auto => unreachable!("resolved below"),
    };
    let version = match version {
        Conv2dBackwardWeight::Auto => {
            use Conv2dBackwardWeight as B;
            let cands = candidates(gpu, g.og, B::V1, B::V2, None, B::V4);
            tune::choose(gpu, "conv2d.backward_weight", &tune_key(&g), &cands, |v| {
                run(v).map(drop)
            })?
        }
        v => v,
    };
    sum_chunks(&run(version)?, &g.w_shape())
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
    let _g = autograd::no_grad();
    reduce::sum_axes(dy, &[0, 2, 3], false)
}

fn check_taps(op: &'static str, g: &Geom, channels: usize) -> Result<()> {
    if channels * g.taps() > MAX_TAPS {
        return Err(Error::shapes(
            op,
            &g.x_shape(),
            &g.w_shape(),
            format!(
                "{channels} channels x {} taps per output exceed the {MAX_TAPS} terms one invocation \
                 may sum (llvmpipe's loop cap); use more groups or a smaller kernel",
                g.taps()
            ),
        ));
    }
    Ok(())
}

/// Adds partial weight gradients [n_chunks, ...w_shape] over the chunks, in order.
fn sum_chunks(part: &Tensor, w_shape: &[usize]) -> Result<Tensor> {
    let _g = autograd::no_grad();
    let n_chunks = part.shape()[0];
    if n_chunks == 1 {
        return part.reshape(w_shape);
    }
    reduce::sum_axes(part, &[0], false)?.reshape(w_shape)
}

fn forward_v1(g: &Geom, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, y: &Tensor) -> Result<()> {
    let total = y.numel();
    x.gpu().launch(Launch {
        kernel: &FORWARD_V1,
        entry: "main",
        constants: &[("WG", WG as f64), ("HAS_BIAS", bias.is_some() as u32 as f64)],
        params: bytemuck::bytes_of(&g.params(total)),
        // Without a bias, w stands in for the unread binding.
        args: &[
            Arg::R(x.buf()),
            Arg::R(w.buf()),
            Arg::R(bias.unwrap_or(w).buf()),
            Arg::W(y.buf()),
        ],
        workgroups: grid_1d((total as u64).div_ceil(WG as u64)),
    })
}

/// Repacks w (and the bias) for the implicit-GEMM kernels (`conv2d_pack_v1`, MODE 0
/// forward, 1 backward-data).
fn pack_weight(
    g: &Geom,
    w: &Tensor,
    bias: Option<&Tensor>,
    mode: u32,
    og_pad: usize,
    cg_pad: usize,
) -> Result<Tensor> {
    let groups = g.p.groups;
    let rows = groups * g.taps() * if mode == 0 { cg_pad } else { og_pad };
    let len = if mode == 0 {
        (rows + groups) * og_pad
    } else {
        rows * cg_pad
    };
    let out = Tensor::empty(w.gpu(), &[len])?;
    let mut params = g.params(len);
    params.og_pad = og_pad as u32;
    params.cg_pad = cg_pad as u32;
    w.gpu().launch(Launch {
        kernel: &PACK_V1,
        entry: "main",
        constants: &[
            ("WG", WG as f64),
            ("MODE", mode as f64),
            ("HAS_BIAS", bias.is_some() as u32 as f64),
        ],
        params: bytemuck::bytes_of(&params),
        args: &[
            Arg::R(w.buf()),
            Arg::R(bias.unwrap_or(w).buf()),
            Arg::W(out.buf()),
        ],
        workgroups: grid_1d((len as u64).div_ceil(WG as u64)),
    })?;
    Ok(out)
}

/// Invocations per workgroup of the register-blocked kernels: 64, or the subgroup size
/// where that is larger (whole subgroups for the broadcasts).
fn gemm_wg(gpu: &Gpu) -> u32 {
    64.max(gpu.info().subgroup_max_size)
}

/// Channel tile of the register-blocked kernels: 32 * h output channels, h = 2 when the
/// group has more than 32.
fn tile_halves(channels: usize) -> usize {
    if channels > 32 { 2 } else { 1 }
}

/// Pixels per invocation of the register-blocked forward and backward-data kernels: 8
/// with a 64-channel tile, 16 with a 32-channel one (512 accumulators either way).
fn tile_pixels(h: usize) -> usize {
    if h == 2 { 8 } else { 16 }
}

/// Forward V2 or V4: 16 pixels x 32 channels or 8 x 64 per invocation.
fn forward_gemm(
    g: &Geom,
    kernel: &'static Kernel,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    y: &Tensor,
) -> Result<()> {
    let gpu = x.gpu();
    let h = tile_halves(g.og);
    let og_pad = g.og.next_multiple_of(32 * h);
    let cg_pad = g.cg.next_multiple_of(4);
    let wp = pack_weight(g, w, bias, 0, og_pad, cg_pad)?;
    let total = g.pixels();
    let mut params = g.params(total);
    params.og_pad = og_pad as u32;
    params.cg_pad = cg_pad as u32;
    let wg = gemm_wg(gpu);
    let px = tile_pixels(h);
    let mut grid = grid_1d((total as u64).div_ceil((wg as usize * px) as u64));
    grid[2] = check_dim(g, g.p.groups * og_pad / (32 * h))?;
    gpu.launch(Launch {
        kernel,
        entry: "main",
        constants: &[("WG", wg as f64), ("H", h as f64), ("P", px as f64)],
        params: bytemuck::bytes_of(&params),
        args: &[Arg::R(x.buf()), Arg::R(wp.buf()), Arg::W(y.buf())],
        workgroups: grid,
    })
}

/// A workgroup count along one grid axis, at most 65,535.
fn check_dim(g: &Geom, n: usize) -> Result<u32> {
    if n > 65535 {
        return Err(Error::shapes(
            "conv2d",
            &g.x_shape(),
            &g.w_shape(),
            format!("{n} tiles along one dispatch axis (at most 65,535)"),
        ));
    }
    Ok(n as u32)
}

/// Forward V3: 64 x 64 tiles through workgroup memory.
fn forward_v3(g: &Geom, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, y: &Tensor) -> Result<()> {
    let og_pad = g.og.next_multiple_of(64);
    let cg_pad = g.cg.next_multiple_of(4);
    let wp = pack_weight(g, w, bias, 0, og_pad, cg_pad)?;
    let total = g.pixels();
    let mut params = g.params(total);
    params.og_pad = og_pad as u32;
    params.cg_pad = cg_pad as u32;
    let mut grid = grid_1d((total as u64).div_ceil(64));
    grid[2] = check_dim(g, g.p.groups * og_pad / 64)?;
    x.gpu().launch(Launch {
        kernel: &FORWARD_V3,
        entry: "main",
        constants: &[],
        params: bytemuck::bytes_of(&params),
        args: &[Arg::R(x.buf()), Arg::R(wp.buf()), Arg::W(y.buf())],
        workgroups: grid,
    })
}

fn backward_data_v1(g: &Geom, dy: &Tensor, w: &Tensor, dx: &Tensor) -> Result<()> {
    let total = dx.numel();
    dy.gpu().launch(Launch {
        kernel: &BACKWARD_DATA_V1,
        entry: "main",
        constants: &[("WG", WG as f64)],
        params: bytemuck::bytes_of(&g.params(total)),
        args: &[Arg::R(dy.buf()), Arg::R(w.buf()), Arg::W(dx.buf())],
        workgroups: grid_1d((total as u64).div_ceil(WG as u64)),
    })
}

/// Backward-data V2 or V4: one launch per residue class (ih % sh, iw % sw), whose
/// pixels all receive the same taps; 16 pixels x 32 input channels or 8 x 64 per
/// invocation.
fn backward_data_gemm(g: &Geom, kernel: &'static Kernel, dy: &Tensor, w: &Tensor, dx: &Tensor) -> Result<()> {
    let gpu = dy.gpu();
    let h = tile_halves(g.cg);
    let cg_pad = g.cg.next_multiple_of(32 * h);
    let og_pad = g.og.next_multiple_of(4);
    let wp = pack_weight(g, w, None, 1, og_pad, cg_pad)?;
    let wg = gemm_wg(gpu);
    let (sh, sw) = g.p.stride;
    let tiles = check_dim(g, g.p.groups * cg_pad / (32 * h))?;
    for rh in 0..sh.min(g.h) {
        for rw in 0..sw.min(g.w) {
            let cls_h = (g.h - rh).div_ceil(sh);
            let cls_w = (g.w - rw).div_ceil(sw);
            let total = g.n * cls_h * cls_w;
            let mut params = g.params(total);
            params.rh = rh as u32;
            params.rw = rw as u32;
            params.cls_h = cls_h as u32;
            params.cls_w = cls_w as u32;
            params.og_pad = og_pad as u32;
            params.cg_pad = cg_pad as u32;
            let (kh0, kh_step) = class_taps(rh + g.p.padding.0, g.p.dilation.0, sh, g.kh);
            let (kw0, kw_step) = class_taps(rw + g.p.padding.1, g.p.dilation.1, sw, g.kw);
            params.chunk = (kh0 | kw0 << 16) as u32;
            params.n_chunks = (kh_step | kw_step << 16) as u32;
            let px = tile_pixels(h);
            let mut grid = grid_1d((total as u64).div_ceil((wg as usize * px) as u64));
            grid[2] = tiles;
            gpu.launch(Launch {
                kernel,
                entry: "main",
                constants: &[("WG", wg as f64), ("H", h as f64), ("P", px as f64)],
                params: bytemuck::bytes_of(&params),
                args: &[Arg::R(dy.buf()), Arg::R(wp.buf()), Arg::W(dx.buf())],
                workgroups: grid,
            })?;
        }
    }
    Ok(())
}

/// The taps k < size with k * dil = r (mod stride), i.e. those that reach an input of
/// residue r (+ padding) from an output: an arithmetic progression (first, step);
/// first = size when there is none.
fn class_taps(r: usize, dil: usize, stride: usize, size: usize) -> (usize, usize) {
    let valid: Vec<usize> = (0..size)
        .filter(|&k| (r as isize - (k * dil) as isize).rem_euclid(stride as isize) == 0)
        .collect();
    let step = match valid[..] {
        [a, b, ..] => b - a,
        _ => size,
    };
    debug_assert!(valid.iter().enumerate().all(|(i, &k)| k == valid[0] + i * step));
    (valid.first().copied().unwrap_or(size), step.max(1))
}

/// Partial weight gradients [n_chunks, O, Cg, KH, KW] (V1: one weight element per
/// invocation).
fn backward_weight_v1(g: &Geom, dy: &Tensor, x: &Tensor) -> Result<Tensor> {
    let n_chunks = g.pixels().div_ceil(WEIGHT_CHUNK);
    let nw = g.o * g.cg * g.taps();
    let part = Tensor::empty(dy.gpu(), &[n_chunks, nw])?;
    let total = n_chunks * nw;
    let mut params = g.params(total);
    params.chunk = WEIGHT_CHUNK as u32;
    params.n_chunks = n_chunks as u32;
    dy.gpu().launch(Launch {
        kernel: &BACKWARD_WEIGHT_V1,
        entry: "main",
        constants: &[("WG", WG as f64)],
        params: bytemuck::bytes_of(&params),
        args: &[Arg::R(dy.buf()), Arg::R(x.buf()), Arg::W(part.buf())],
        workgroups: grid_1d((total as u64).div_ceil(WG as u64)),
    })?;
    Ok(part)
}

/// Output pixels per chunk of the register-blocked backward-weight (a multiple of 4).
const WEIGHT_CHUNK_GEMM: usize = 1024;

/// Partial weight gradients [n_chunks, O, Cg, KH, KW] (V2 or V4: R rows of (tap, input
/// channel) x (32 or 64) output channels per invocation, per chunk of output pixels).
fn backward_weight_gemm(g: &Geom, kernel: &'static Kernel, dy: &Tensor, x: &Tensor) -> Result<Tensor> {
    let gpu = dy.gpu();
    let h = tile_halves(g.og);
    let og_pad = g.og.next_multiple_of(32 * h);
    // Rows per invocation: R input channels of one tap, R = 8; with fewer than 8 channels
    // (the CNN's first layer) 4 rows taken across taps (SPAN), else most rows would be
    // padding.
    let span = g.cg < 8;
    let rows = if span { 4 } else { 8 };
    let cg_pad = g.cg.next_multiple_of(rows);
    let blocks = if span {
        (g.taps() * g.cg).div_ceil(rows)
    } else {
        g.taps() * cg_pad / rows
    };
    let n_chunks = g.pixels().div_ceil(WEIGHT_CHUNK_GEMM);
    let part = Tensor::empty(gpu, &[n_chunks, g.o * g.cg * g.taps()])?;
    let mut params = g.params(g.pixels());
    params.chunk = WEIGHT_CHUNK_GEMM as u32;
    params.n_chunks = n_chunks as u32;
    params.og_pad = og_pad as u32;
    params.cg_pad = cg_pad as u32;
    // Eight row blocks (one subgroup on lavapipe) per workgroup: few wasted blocks.
    let wg = gpu.info().subgroup_max_size.max(8);
    let aligned = (g.oh * g.ow).is_multiple_of(4);
    // dy4 is read only when aligned; a small dy cannot be bound as vec4s.
    let dy4 = if aligned {
        dy.clone()
    } else {
        Tensor::zeros(gpu, &[4])?
    };
    let grid = [
        check_dim(g, blocks.div_ceil(wg as usize))?,
        check_dim(g, n_chunks)?,
        check_dim(g, g.p.groups * og_pad / (32 * h))?,
    ];
    gpu.launch(Launch {
        kernel,
        entry: "main",
        constants: &[
            ("WG", wg as f64),
            ("H", h as f64),
            ("R", rows as f64),
            ("ALIGNED", aligned as u32 as f64),
            ("SPAN", span as u32 as f64),
        ],
        params: bytemuck::bytes_of(&params),
        args: &[
            Arg::R(dy.buf()),
            Arg::R(dy4.buf()),
            Arg::R(x.buf()),
            Arg::W(part.buf()),
        ],
        workgroups: grid,
    })?;
    Ok(part)
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

    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // y = conv(x, w) + b  =>  dx = conv^T(dy, w), dw = corr(dy, x), db = sum(dy).
        let dx = if needs[0] {
            Some(conv2d_backward_data(
                g,
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
                g,
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
                Some(conv2d_backward_bias(g)?)
            } else {
                None
            });
        }
        Ok(out)
    }
}
