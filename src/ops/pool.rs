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
//! - `pool_global_avg_forward_v1`: scalar chunked row sums; a plane longer than one
//!   chunk takes a second pass over its chunk sums (fixed order). `_v2`: the first
//!   pass with vec4 loads, for H*W % 4 == 0 (`Auto` picks it then: same work, a
//!   quarter of the loads).
//! - `pool_global_avg_backward_v1` (scalar) / `_v2` (vec4 stores, H*W % 4 == 0; `Auto`).
//!
//! Bench: `cargo bench --bench kernels -- pool`.

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d};
use crate::kernel;
use crate::tensor::Tensor;

static AVG_FORWARD_V1: Kernel = kernel!("pool_avg2d_forward_v1");
static AVG_BACKWARD_V1: Kernel = kernel!("pool_avg2d_backward_v1");
static MAX_FORWARD_V1: Kernel = kernel!("pool_max2d_forward_v1");
static MAX_BACKWARD_V1: Kernel = kernel!("pool_max2d_backward_v1");
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

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
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
        }
    }
}

fn launch_flat(
    kernel: &'static Kernel,
    n: usize,
    params: &Pool2dUniform,
    args: &[Arg],
    gpu: &crate::Gpu,
) -> Result<()> {
    gpu.launch(Launch {
        kernel,
        entry: "main",
        constants: &[("WG", WG as f64)],
        params: bytemuck::bytes_of(params),
        args,
        workgroups: grid_1d((n as u64).div_ceil(WG as u64)),
    })
}

/// Average pooling of x [N, C, H, W] -> [N, C, OH, OW].
pub fn avg_pool2d(x: &Tensor, p: &Pool2d) -> Result<Tensor> {
    let out_shape = p.output_shape("avg_pool2d", x.shape())?;
    let y = Tensor::empty(x.gpu(), &out_shape)?;
    let u = Pool2dUniform::new(y.numel(), x.shape(), p);
    launch_flat(
        &AVG_FORWARD_V1,
        y.numel(),
        &u,
        &[Arg::R(x.buf()), Arg::W(y.buf())],
        x.gpu(),
    )?;
    let (shape, p) = (x.shape().to_vec(), *p);
    Ok(autograd::record(y, &[x], move || AvgPoolBackward { shape, p }))
}

struct AvgPoolBackward {
    shape: Vec<usize>,
    p: Pool2d,
}

impl Backward for AvgPoolBackward {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let dx = Tensor::empty(g.gpu(), &self.shape)?;
        let u = Pool2dUniform::new(dx.numel(), &self.shape, &self.p);
        launch_flat(
            &AVG_BACKWARD_V1,
            dx.numel(),
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
    let out_shape = p.output_shape("max_pool2d", x.shape())?;
    let y = Tensor::empty(x.gpu(), &out_shape)?;
    let idx = Tensor::empty(x.gpu(), &out_shape)?;
    let u = Pool2dUniform::new(y.numel(), x.shape(), p);
    launch_flat(
        &MAX_FORWARD_V1,
        y.numel(),
        &u,
        &[Arg::R(x.buf()), Arg::W(y.buf()), Arg::W(idx.buf())],
        x.gpu(),
    )?;
    let saved = idx.clone();
    let (shape, p) = (x.shape().to_vec(), *p);
    let y = autograd::record(y, &[x], move || MaxPoolBackward { shape, p, idx: saved });
    Ok((y, idx))
}

struct MaxPoolBackward {
    shape: Vec<usize>,
    p: Pool2d,
    idx: Tensor,
}

impl Backward for MaxPoolBackward {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let dx = Tensor::empty(g.gpu(), &self.shape)?;
        let u = Pool2dUniform::new(dx.numel(), &self.shape, &self.p);
        launch_flat(
            &MAX_BACKWARD_V1,
            dx.numel(),
            &u,
            &[Arg::R(g.buf()), Arg::R(self.idx.buf()), Arg::W(dx.buf())],
            g.gpu(),
        )?;
        Ok(vec![Some(dx)])
    }
}

/// Which global-pool kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum GlobalPoolVersion {
    /// V2 when H*W % 4 == 0, else V1.
    #[default]
    Auto,
    V1,
    V2,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RowSumParams {
    rows: u32,
    len: u32,
    chunk: u32,
    n_chunks: u32,
    scale: f32,
    _pad: [u32; 3],
}

fn global_v2(op: &'static str, version: GlobalPoolVersion, shape: &[usize]) -> Result<bool> {
    let fits = (shape[2] * shape[3]).is_multiple_of(4);
    match version {
        GlobalPoolVersion::Auto => Ok(fits),
        GlobalPoolVersion::V1 => Ok(false),
        GlobalPoolVersion::V2 if fits => Ok(true),
        GlobalPoolVersion::V2 => Err(Error::shape(
            op,
            format!("{shape:?}: V2 needs H*W divisible by 4"),
        )),
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
    let v2 = global_v2(OP, version, &shape)?;
    let gpu = x.gpu();
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
        params: bytemuck::bytes_of(&p),
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
            params: bytemuck::bytes_of(&p),
            args: &[Arg::R(partial.buf()), Arg::W(y.buf())],
            workgroups: grid_1d((rows as u64).div_ceil(WG_ROWS as u64)),
        })?;
    }
    Ok(autograd::record(y, &[x], move || GlobalAvgPoolBackward {
        shape,
        v2,
    }))
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BroadcastParams {
    n: u32,
    len: u32,
    scale: f32,
    _pad: u32,
}

struct GlobalAvgPoolBackward {
    shape: Vec<usize>,
    v2: bool,
}

impl Backward for GlobalAvgPoolBackward {
    fn name(&self) -> &'static str {
        "global_avg_pool"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let dx = Tensor::empty(g.gpu(), &self.shape)?;
        let hw = self.shape[2] * self.shape[3];
        let lanes = if self.v2 { 4 } else { 1 };
        let n = dx.numel() / lanes;
        let p = BroadcastParams {
            n: n as u32,
            len: (hw / lanes) as u32,
            scale: 1.0 / hw.max(1) as f32,
            _pad: 0,
        };
        g.gpu().launch(Launch {
            kernel: if self.v2 {
                &GLOBAL_BACKWARD_V2
            } else {
                &GLOBAL_BACKWARD_V1
            },
            entry: "main",
            constants: &[("WG", WG as f64)],
            params: bytemuck::bytes_of(&p),
            args: &[Arg::R(g.buf()), Arg::W(dx.buf())],
            workgroups: grid_1d((n as u64).div_ceil(WG as u64)),
        })?;
        Ok(vec![Some(dx)])
    }
}
