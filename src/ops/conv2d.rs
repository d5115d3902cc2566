//! 2-D convolution (cross-correlation, as in every DL framework): `conv2d(x, w, bias)`
//! with stride, zero padding and dilation per axis and channel groups (depthwise when
//! groups == C), bias fused into the forward. Its backward has three passes, each with
//! its own kernels: backward-data (dx), backward-weight (dw) and the bias gradient (db).
//!
//! Shapes: x [N, C, H, W], w [O, C/groups, KH, KW], bias [O], y [N, O, OH, OW] with
//! OH = `Conv2dParams::out_h(H, KH)`, OW = `out_w(W, KW)` (the reference uses the same).
//!
//! Versions, per pass (`shaders/conv2d_<pass>_vN.wgsl`):
//! - forward V1 direct: one output per invocation, the port of the reference.
//! - backward_data V1: one input element per invocation, gathering over (o, kh, kw).
//! - backward_weight V1: one (chunk of output pixels, weight element) per invocation;
//!   the chunks are added in a fixed order by `ops::reduce`.
//!
//! Bench: `NODEVICE_SELECT=1 cargo bench --bench kernels -- conv2d` (every version of
//! every pass on the three convs of the small CNN).
//!
//! The loop cap: llvmpipe stops any loop after 65,535 iterations per invocation. The
//! per-output reductions (Cg*KH*KW forward, Og*KH*KW backward-data) are limited to
//! [`MAX_TAPS`]; backward-weight reduces over N*OH*OW (400k for the CNN's first layer)
//! and always works in chunks of [`WEIGHT_CHUNK`] pixels, summed in a second pass.
//! The bias gradient is `reduce::sum_axes` over (N, OH, OW), chunked the same way.

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d};
use crate::kernel;
use crate::ops::reduce;
use crate::tensor::Tensor;

static FORWARD_V1: Kernel = kernel!("conv2d_forward_v1");
static BACKWARD_DATA_V1: Kernel = kernel!("conv2d_backward_data_v1");
static BACKWARD_WEIGHT_V1: Kernel = kernel!("conv2d_backward_weight_v1");

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
            self.o * self.cg * self.kh * self.kw * self.pixels().div_ceil(WEIGHT_CHUNK),
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

/// Forward kernel versions (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conv2dForward {
    /// The fastest applicable version (see the module header).
    #[default]
    Auto,
    V1,
}

/// Backward-data kernel versions (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conv2dBackwardData {
    #[default]
    Auto,
    V1,
}

/// Backward-weight kernel versions (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conv2dBackwardWeight {
    #[default]
    Auto,
    V1,
}

/// The kernel version of each pass; the default chooses every pass automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Conv2dVersions {
    pub forward: Conv2dForward,
    pub backward_data: Conv2dBackwardData,
    pub backward_weight: Conv2dBackwardWeight,
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
    let y = Tensor::empty(x.gpu(), &g.y_shape())?;
    match version {
        Conv2dForward::Auto | Conv2dForward::V1 => forward_v1(&g, x, w, bias, &y)?,
    }
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
    let dx = Tensor::empty(dy.gpu(), &g.x_shape())?;
    match version {
        Conv2dBackwardData::Auto | Conv2dBackwardData::V1 => backward_data_v1(&g, dy, w, &dx)?,
    }
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
    let part = match version {
        Conv2dBackwardWeight::Auto | Conv2dBackwardWeight::V1 => backward_weight_v1(&g, dy, x)?,
    };
    sum_chunks(&part, &g.w_shape())
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

/// Partial weight gradients [n_chunks, O, Cg, KH, KW].
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
