//! Pooling over NCHW planes: average and max pooling (kernel, stride, padding; floor
//! mode, as torch's default) and global average pooling ([N, C, H, W] -> [N, C]).
//!
//! Versions:
//! - `pool_avg2d_forward_v1`, `pool_max2d_forward_v1`: the naive ports, one output per
//!   invocation. Max pooling keeps the first maximum of its window in row-major order
//!   and saves its plane index `iy * W + ix` (as f32) for the backward.
//! - `pool_avg2d_backward_v1`, `pool_max2d_backward_v1`: one input element per
//!   invocation gathering from the outputs whose windows hold it (deterministic, no
//!   atomics).
//! - `pool_{avg,max}2d_forward_v2`, `pool_avg2d_backward_v2`: the same work, a
//!   workgroup per block of rows of one plane, lanes striding along the columns: no
//!   lane divides to find its position, and each lane does a long run of work.
//! - `pool_max2d_backward_v2`: a phased scatter instead of a gather: dx is zeroed,
//!   then one dispatch per phase (ceil(kh/sh) * ceil(kw/sw) of them, in order) adds
//!   each output's g at its argmax; outputs of one phase have disjoint windows, so no
//!   atomics are needed and the order is fixed (deterministic). About 4 memory
//!   operations per output instead of ~8 per input: 4x faster on lavapipe.
//! - `pool_global_avg_forward_v1`: scalar chunked row sums; a plane longer than one
//!   chunk takes a second pass over its chunk sums (fixed order). `_v2`: the first
//!   pass with vec4 loads, for H*W % 4 == 0 (same work, a quarter of the loads).
//! - `pool_global_avg_backward_v1`: one element per invocation, flat index. `_v2`
//!   (H*W % 4 == 0): planes on the grid (no division per lane), vec4 stores.
//!
//! The version enums ([`Pool2dVersion`], [`GlobalPoolVersion`]) launch the `_v2`
//! kernels in two shapes: `V2` 64-lane workgroups (GPUs), `V2Narrow` 8-lane ones (one
//! SIMD row of lavapipe, each lane walking a long run: as in `ops::norm`, the fastest
//! there). `Auto` takes `V2Narrow` on CPU adapters and `V2` elsewhere, and V1 where V2
//! does not apply (H*W % 4 != 0 for the global pool; a row of work near llvmpipe's
//! loop cap for the 2-D pools).
//!
//! Bench: `cargo bench --bench kernels -- pool`.

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::tensor::Tensor;

static AVG_FORWARD_V1: Kernel = kernel!("pool_avg2d_forward_v1");
static AVG_BACKWARD_V1: Kernel = kernel!("pool_avg2d_backward_v1");
static MAX_FORWARD_V1: Kernel = kernel!("pool_max2d_forward_v1");
static MAX_BACKWARD_V1: Kernel = kernel!("pool_max2d_backward_v1");
static AVG_FORWARD_V2: Kernel = kernel!("pool_avg2d_forward_v2");
static AVG_BACKWARD_V2: Kernel = kernel!("pool_avg2d_backward_v2");
static MAX_FORWARD_V2: Kernel = kernel!("pool_max2d_forward_v2");
static MAX_BACKWARD_V2: Kernel = kernel!("pool_max2d_backward_v2");
static GLOBAL_FORWARD_V1: Kernel = kernel!("pool_global_avg_forward_v1");
static GLOBAL_FORWARD_V2: Kernel = kernel!("pool_global_avg_forward_v2");
static GLOBAL_BACKWARD_V1: Kernel = kernel!("pool_global_avg_backward_v1");
static GLOBAL_BACKWARD_V2: Kernel = kernel!("pool_global_avg_backward_v2");

const WG: u32 = 256;
/// Workgroup size of the global-pool sums (one invocation per plane chunk).
const WG_ROWS: u32 = 64;
/// Loop iterations of one global-pool invocation (elements in V1, vec4s in V2).
const GLOBAL_CHUNK: usize = 1024;
/// Largest window, so that no invocation loops past llvmpipe's cap.
const MAX_WINDOW: usize = 16384;

/// Window geometry of a 2-D pooling: `[rows, columns]` each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pool2d {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Implicit padding on both sides; at most half the kernel (as torch).
    pub padding: [usize; 2],
    /// Average pooling divides by the whole window, padding included (torch's default),
    /// rather than by its in-bounds part.
    pub count_include_pad: bool,
}

impl Pool2d {
    /// A square window.
    #[must_use]
    pub fn square(kernel: usize, stride: usize, padding: usize) -> Pool2d {
        Pool2d {
            kernel: [kernel; 2],
            stride: [stride; 2],
            padding: [padding; 2],
            count_include_pad: true,
        }
    }
    /// Output rows for `h` input rows (floor mode).
    pub fn out_h(&self, h: usize) -> usize {
        (h + 2 * self.padding[0] - self.kernel[0]) / self.stride[0] + 1
    }
    /// Output columns for `w` input columns.
    pub fn out_w(&self, w: usize) -> usize {
        (w + 2 * self.padding[1] - self.kernel[1]) / self.stride[1] + 1
    }

    /// Outputs whose windows can hold one input: what a gathering backward visits.
    pub fn gather_window(&self) -> usize {
        self.kernel[0].div_ceil(self.stride[0]) * self.kernel[1].div_ceil(self.stride[1])
    }

    /// Checks the geometry against an input shape; returns the output shape.
    pub fn output_shape(&self, op: &'static str, shape: &[usize]) -> Result<Vec<usize>> {
        if shape.len() != 4 {
            return Err(Error::shape(op, format!("input {shape:?} is not [N, C, H, W]")));
        }
        let bad = |why: String| Err(Error::shape(op, format!("input {shape:?}, {self:?}: {why}")));
        for d in 0..2 {
            let (k, s, p, size) = (self.kernel[d], self.stride[d], self.padding[d], shape[2 + d]);
            if k == 0 || s == 0 {
                return bad("kernel and stride must be positive".into());
            }
            if 2 * p > k {
                return bad("padding must be at most half the kernel".into());
            }
            if size + 2 * p < k {
                return bad("the padded input is smaller than the kernel".into());
            }
        }
        if self.kernel[0] * self.kernel[1] > MAX_WINDOW {
            return bad(format!("windows above {MAX_WINDOW} elements are not supported"));
        }
        if shape[2] * shape[3] >= 1 << 24 {
            return bad("planes of 2^24 elements or more are not supported".into());
        }
        Ok(vec![
            shape[0],
            shape[1],
            self.out_h(shape[2]),
            self.out_w(shape[3]),
        ])
    }
}

crate::uniform! {
    struct Pool2dUniform {
        /// Outputs (forward) or inputs (backward) the dispatch covers.
        n: u32,
        h: u32,
        w: u32,
        oh: u32,
        ow: u32,
        kh: u32,
        kw: u32,
        sh: u32,
        sw: u32,
        ph: u32,
        pw: u32,
        include_pad: u32,
        /// N*C (V2's grid guard).
        planes: u32,
        /// The phase of max pooling's V2 backward.
        phase_y: u32,
        phase_x: u32,
        _pad: u32,
    }
}

impl Pool2dUniform {
    fn new(n: usize, in_shape: &[usize], p: &Pool2d) -> Pool2dUniform {
        let (h, w) = (in_shape[2], in_shape[3]);
        Pool2dUniform {
            n: n as u32,
            h: h as u32,
            w: w as u32,
            oh: p.out_h(h) as u32,
            ow: p.out_w(w) as u32,
            kh: p.kernel[0] as u32,
            kw: p.kernel[1] as u32,
            sh: p.stride[0] as u32,
            sw: p.stride[1] as u32,
            ph: p.padding[0] as u32,
            pw: p.padding[1] as u32,
            include_pad: p.count_include_pad as u32,
            planes: (in_shape[0] * in_shape[1]) as u32,
            phase_y: 0,
            phase_x: 0,
            _pad: 0,
        }
    }
}

/// Kernel versions of the 2-D poolings (see the module header); `Auto` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Pool2dVersion {
    /// The default: `V2Narrow` on CPU adapters, `V2` elsewhere, unless one row of work
    /// (columns / 8 lanes * window) nears llvmpipe's loop cap: then V1.
    #[default]
    Auto,
    /// The naive port of the reference: one output (or input) element per invocation.
    V1,
    /// The `_v2` kernels in 64-lane workgroups (GPUs).
    V2,
    /// The `_v2` kernels in 8-lane workgroups (one SIMD row of lavapipe).
    V2Narrow,
}

/// Workgroup size of the V2 kernels on this adapter: 8 lanes (one SIMD row of
/// lavapipe, with long runs per lane) on CPU drivers, 64 elsewhere.
fn auto_lanes(gpu: &crate::Gpu) -> usize {
    if gpu.is_cpu() { 8 } else { 64 }
}

/// The V2 workgroup size, or None for V1, for an input of `shape` and an output of `out`.
fn pool2d_lanes(
    op: &'static str,
    version: Pool2dVersion,
    shape: &[usize],
    out: &[usize],
    p: &Pool2d,
    gpu: &crate::Gpu,
) -> Result<Option<usize>> {
    // One row of the widest pass must stay far under llvmpipe's loop cap.
    let per_row = shape[3].max(out[3]).div_ceil(8) * (p.kernel[0] * p.kernel[1] + 1);
    let fits = per_row <= 32768;
    let need_fit = |wg: usize| {
        if fits {
            Ok(Some(wg))
        } else {
            Err(Error::shape(
                op,
                format!("{shape:?}: rows too wide for V2 with a {:?} window", p.kernel),
            ))
        }
    };
    match version {
        Pool2dVersion::Auto if fits => Ok(Some(auto_lanes(gpu))),
        Pool2dVersion::Auto | Pool2dVersion::V1 => Ok(None),
        Pool2dVersion::V2 => need_fit(64),
        Pool2dVersion::V2Narrow => need_fit(8),
    }
}

/// Loop iterations a V2 lane aims at (rows per workgroup follow from it).
const V2_LANE_ITERS: usize = 4096;

/// Dispatches a pooling kernel over the elements of `shape` ([N, C, rows, columns]),
/// each looping over at most `window` positions: V1 one flat index per element, V2
/// workgroups of rows (`params.n` then carries the rows per workgroup).
fn launch_pool(
    kernels: (&'static Kernel, &'static Kernel),
    lanes: Option<usize>,
    shape: &[usize],
    window: usize,
    params: &Pool2dUniform,
    args: &[Arg],
    gpu: &crate::Gpu,
) -> Result<()> {
    let n: usize = shape.iter().product();
    if n == 0 {
        return Ok(());
    }
    let mut params = *params;
    let (kernel, wg, workgroups) = if let Some(wg) = lanes {
        let per_row = shape[3].div_ceil(wg) * (window + 1);
        let rows = (V2_LANE_ITERS / per_row).clamp(1, shape[2]);
        params.n = rows as u32;
        let planes = shape[0] * shape[1];
        let grid = [
            shape[2].div_ceil(rows) as u32,
            planes.min(65535) as u32,
            planes.div_ceil(65535) as u32,
        ];
        (kernels.1, wg as u32, grid)
    } else {
        (kernels.0, WG, grid_1d((n as u64).div_ceil(WG as u64)))
    };
    gpu.launch(Launch {
        kernel,
        entry: "main",
        constants: &[("WG", wg as f64)],
        params: uniform(&params),
        args,
        workgroups,
    })
}

/// Average pooling of x [N, C, H, W] -> [N, C, OH, OW].
pub fn avg_pool2d(x: &Tensor, p: &Pool2d) -> Result<Tensor> {
    avg_pool2d_with(x, p, Pool2dVersion::Auto)
}

/// Average pooling with a chosen kernel version.
pub fn avg_pool2d_with(x: &Tensor, p: &Pool2d, version: Pool2dVersion) -> Result<Tensor> {
    let out_shape = p.output_shape("avg_pool2d", x.shape())?;
    let lanes = pool2d_lanes("avg_pool2d", version, x.shape(), &out_shape, p, x.gpu())?;
    let y = Tensor::empty(x.gpu(), &out_shape)?;
    let u = Pool2dUniform::new(y.numel(), x.shape(), p);
    launch_pool(
        (&AVG_FORWARD_V1, &AVG_FORWARD_V2),
        lanes,
        &out_shape,
        p.kernel[0] * p.kernel[1],
        &u,
        &[Arg::R(x.buf()), Arg::W(y.buf())],
        x.gpu(),
    )?;
    let (shape, p) = (x.shape().to_vec(), *p);
    Ok(autograd::record(y, &[x], move || AvgPoolBackward {
        shape,
        p,
        lanes,
    }))
}

struct AvgPoolBackward {
    shape: Vec<usize>,
    p: Pool2d,
    lanes: Option<usize>,
}

impl Backward for AvgPoolBackward {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let dx = Tensor::empty(g.gpu(), &self.shape)?;
        let u = Pool2dUniform::new(dx.numel(), &self.shape, &self.p);
        launch_pool(
            (&AVG_BACKWARD_V1, &AVG_BACKWARD_V2),
            self.lanes,
            &self.shape,
            self.p.gather_window(),
            &u,
            &[Arg::R(g.buf()), Arg::W(dx.buf())],
            g.gpu(),
        )?;
        Ok(vec![Some(dx)])
    }
}

/// Max pooling of x [N, C, H, W] -> [N, C, OH, OW].
pub fn max_pool2d(x: &Tensor, p: &Pool2d) -> Result<Tensor> {
    Ok(max_pool2d_with_indices(x, p)?.0)
}

/// Max pooling, and the argmax of each output: its plane index `iy * W + ix` as an
/// f32 (ties go to the first in row-major window order; padding never wins).
pub fn max_pool2d_with_indices(x: &Tensor, p: &Pool2d) -> Result<(Tensor, Tensor)> {
    max_pool2d_with(x, p, Pool2dVersion::Auto)
}

/// Max pooling and its argmax, with a chosen kernel version.
pub fn max_pool2d_with(x: &Tensor, p: &Pool2d, version: Pool2dVersion) -> Result<(Tensor, Tensor)> {
    let out_shape = p.output_shape("max_pool2d", x.shape())?;
    let lanes = pool2d_lanes("max_pool2d", version, x.shape(), &out_shape, p, x.gpu())?;
    let y = Tensor::empty(x.gpu(), &out_shape)?;
    let idx = Tensor::empty(x.gpu(), &out_shape)?;
    let u = Pool2dUniform::new(y.numel(), x.shape(), p);
    launch_pool(
        (&MAX_FORWARD_V1, &MAX_FORWARD_V2),
        lanes,
        &out_shape,
        p.kernel[0] * p.kernel[1],
        &u,
        &[Arg::R(x.buf()), Arg::W(y.buf()), Arg::W(idx.buf())],
        x.gpu(),
    )?;
    let saved = idx.clone();
    let (shape, p) = (x.shape().to_vec(), *p);
    let y = autograd::record(y, &[x], move || MaxPoolBackward {
        shape,
        p,
        idx: saved,
        lanes,
    });
    Ok((y, idx))
}

struct MaxPoolBackward {
    shape: Vec<usize>,
    p: Pool2d,
    idx: Tensor,
    lanes: Option<usize>,
}

impl Backward for MaxPoolBackward {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let dx = Tensor::empty(g.gpu(), &self.shape)?;
        let u = Pool2dUniform::new(dx.numel(), &self.shape, &self.p);
        let gpu = g.gpu();
        let Some(wg) = self.lanes else {
            launch_pool(
                (&MAX_BACKWARD_V1, &MAX_BACKWARD_V1),
                None,
                &self.shape,
                self.p.gather_window(),
                &u,
                &[Arg::R(g.buf()), Arg::R(self.idx.buf()), Arg::W(dx.buf())],
                gpu,
            )?;
            return Ok(vec![Some(dx)]);
        };
        // Phased scatter: zero dx, then one dispatch per phase, in order.
        crate::ops::fill::fill(&dx, 0.0)?;
        let (oh, ow) = (u.oh as usize, u.ow as usize);
        let (py, px) = (
            self.p.kernel[0].div_ceil(self.p.stride[0]),
            self.p.kernel[1].div_ceil(self.p.stride[1]),
        );
        let planes = self.shape[0] * self.shape[1];
        for phase_y in 0..py.min(oh) {
            for phase_x in 0..px.min(ow) {
                let n_rows = (oh - phase_y).div_ceil(py);
                let n_cols = (ow - phase_x).div_ceil(px);
                let rows = (V2_LANE_ITERS / n_cols.div_ceil(wg)).clamp(1, n_rows);
                let p = Pool2dUniform {
                    n: rows as u32,
                    phase_y: phase_y as u32,
                    phase_x: phase_x as u32,
                    ..u
                };
                gpu.launch(Launch {
                    kernel: &MAX_BACKWARD_V2,
                    entry: "main",
                    constants: &[("WG", wg as f64)],
                    params: uniform(&p),
                    args: &[Arg::R(g.buf()), Arg::R(self.idx.buf()), Arg::W(dx.buf())],
                    workgroups: [
                        n_rows.div_ceil(rows) as u32,
                        planes.min(65535) as u32,
                        planes.div_ceil(65535) as u32,
                    ],
                })?;
            }
        }
        Ok(vec![Some(dx)])
    }
}

/// Kernel versions of the global average pool (see the module header); `Auto` is the
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum GlobalPoolVersion {
    /// The default: when H*W % 4 == 0, `V2Narrow` on CPU adapters and `V2` elsewhere;
    /// else V1.
    #[default]
    Auto,
    /// The naive port of the reference: scalar chunked row sums, a flat index per element.
    V1,
    /// The `_v2` kernels; the backward in 64-lane workgroups (GPUs).
    V2,
    /// The `_v2` kernels; the backward in 8-lane workgroups (one SIMD row of lavapipe).
    V2Narrow,
}

crate::uniform! {
    struct RowSumParams {
        rows: u32,
        len: u32,
        chunk: u32,
        n_chunks: u32,
        scale: f32,
        _pad: [u32; 3],
    }
}

/// The V2 backward's workgroup size, or None for V1.
fn global_lanes(
    op: &'static str,
    version: GlobalPoolVersion,
    shape: &[usize],
    gpu: &crate::Gpu,
) -> Result<Option<usize>> {
    let fits = (shape[2] * shape[3]).is_multiple_of(4);
    let need_fit = |wg: usize| {
        if fits {
            Ok(Some(wg))
        } else {
            Err(Error::shape(
                op,
                format!("{shape:?}: V2 needs H*W divisible by 4"),
            ))
        }
    };
    match version {
        GlobalPoolVersion::Auto if fits => Ok(Some(auto_lanes(gpu))),
        GlobalPoolVersion::Auto | GlobalPoolVersion::V1 => Ok(None),
        GlobalPoolVersion::V2 => need_fit(64),
        GlobalPoolVersion::V2Narrow => need_fit(8),
    }
}

/// Global average pooling: [N, C, H, W] -> [N, C], the mean of each plane.
pub fn global_avg_pool(x: &Tensor) -> Result<Tensor> {
    global_avg_pool_with(x, GlobalPoolVersion::Auto)
}

/// Global average pooling with a chosen kernel version.
pub fn global_avg_pool_with(x: &Tensor, version: GlobalPoolVersion) -> Result<Tensor> {
    const OP: &str = "global_avg_pool";
    let shape = x.shape().to_vec();
    if shape.len() != 4 {
        return Err(Error::shape(OP, format!("input {shape:?} is not [N, C, H, W]")));
    }
    let gpu = x.gpu();
    let lanes = global_lanes(OP, version, &shape, gpu)?;
    let v2 = lanes.is_some();
    let rows = shape[0] * shape[1];
    let hw = shape[2] * shape[3];
    let scale = 1.0 / hw.max(1) as f32;
    let y = Tensor::empty(gpu, &[shape[0], shape[1]])?;
    // Pass 1: chunk sums of each plane, already the mean when one chunk covers it.
    let len = if v2 { hw / 4 } else { hw };
    let n_chunks = len.div_ceil(GLOBAL_CHUNK).max(1);
    let one = n_chunks == 1;
    let partial = if one {
        y.clone()
    } else {
        Tensor::empty(gpu, &[rows * n_chunks])?
    };
    let p = RowSumParams {
        rows: rows as u32,
        len: len as u32,
        chunk: GLOBAL_CHUNK as u32,
        n_chunks: n_chunks as u32,
        scale: if one { scale } else { 1.0 },
        _pad: [0; 3],
    };
    gpu.launch(Launch {
        kernel: if v2 {
            &GLOBAL_FORWARD_V2
        } else {
            &GLOBAL_FORWARD_V1
        },
        entry: "main",
        constants: &[("WG", WG_ROWS as f64)],
        params: uniform(&p),
        args: &[Arg::R(x.buf()), Arg::W(partial.buf())],
        workgroups: grid_1d(((rows * n_chunks) as u64).div_ceil(WG_ROWS as u64)),
    })?;
    if !one {
        // Pass 2: each plane's chunk sums, in order (a binding holds at most 2^25
        // values, so n_chunks <= 2^25 / 1024 iterations).
        let p = RowSumParams {
            rows: rows as u32,
            len: n_chunks as u32,
            chunk: n_chunks as u32,
            n_chunks: 1,
            scale,
            _pad: [0; 3],
        };
        gpu.launch(Launch {
            kernel: &GLOBAL_FORWARD_V1,
            entry: "main",
            constants: &[("WG", WG_ROWS as f64)],
            params: uniform(&p),
            args: &[Arg::R(partial.buf()), Arg::W(y.buf())],
            workgroups: grid_1d((rows as u64).div_ceil(WG_ROWS as u64)),
        })?;
    }
    Ok(autograd::record(y, &[x], move || GlobalAvgPoolBackward {
        shape,
        lanes,
    }))
}

crate::uniform! {
    struct BroadcastParams {
        n: u32,
        len: u32,
        scale: f32,
        _pad: u32,
    }
}

crate::uniform! {
    struct PlaneBroadcastParams {
        hw4: u32,
        planes: u32,
        steps: u32,
        scale: f32,
    }
}

struct GlobalAvgPoolBackward {
    shape: Vec<usize>,
    lanes: Option<usize>,
}

impl Backward for GlobalAvgPoolBackward {
    fn name(&self) -> &'static str {
        "global_avg_pool"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let gpu = g.gpu();
        let dx = Tensor::empty(gpu, &self.shape)?;
        let hw = self.shape[2] * self.shape[3];
        let scale = 1.0 / hw.max(1) as f32;
        if let Some(wg) = self.lanes {
            let hw4 = hw / 4;
            let planes = self.shape[0] * self.shape[1];
            let max_steps = if wg <= 8 { 128 } else { 4 };
            let steps = hw4.div_ceil(wg).clamp(1, max_steps);
            let p = PlaneBroadcastParams {
                hw4: hw4 as u32,
                planes: planes as u32,
                steps: steps as u32,
                scale,
            };
            gpu.launch(Launch {
                kernel: &GLOBAL_BACKWARD_V2,
                entry: "main",
                constants: &[("WG", wg as f64)],
                params: uniform(&p),
                args: &[Arg::R(g.buf()), Arg::W(dx.buf())],
                workgroups: [
                    hw4.div_ceil(wg * steps) as u32,
                    planes.min(65535) as u32,
                    planes.div_ceil(65535) as u32,
                ],
            })?;
        } else {
            let p = BroadcastParams {
                n: dx.numel() as u32,
                len: hw as u32,
                scale,
                _pad: 0,
            };
            gpu.launch(Launch {
                kernel: &GLOBAL_BACKWARD_V1,
                entry: "main",
                constants: &[("WG", WG as f64)],
                params: uniform(&p),
                args: &[Arg::R(g.buf()), Arg::W(dx.buf())],
                workgroups: grid_1d((dx.numel() as u64).div_ceil(WG as u64)),
            })?;
        }
        Ok(vec![Some(dx)])
    }
}
