//! Sum and mean reductions over any set of axes, in a fixed (deterministic) order.
//!
//! Versions:
//! - `reduce_sum_v1`: one invocation per (kept element, chunk of CHUNK reduced
//!   elements); passes repeat over the partial sums until one chunk is left. The
//!   order of every addition depends only on the shapes, so results are bitwise
//!   reproducible, and no invocation loops past llvmpipe's 65,535-iteration cap.
//!
//! Bench: `cargo bench --bench kernels -- reduce`.

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::elementwise;
use crate::shape::{MAX_RANK, strides};
use crate::tensor::Tensor;

static REDUCE_SUM_V1: Kernel = kernel!("reduce_sum_v1");
const WG: u32 = 256;
/// Reduced elements one invocation adds up.
pub const CHUNK: usize = 1024;

crate::uniform! {
    struct Params {
        n_out: u32,
        n_red: u32,
        chunk: u32,
        n_chunks: u32,
        kept_rank: u32,
        red_rank: u32,
        _pad: [u32; 2],
        kept_shape: [u32; MAX_RANK],
        kept_stride: [u32; MAX_RANK],
        red_shape: [u32; MAX_RANK],
        red_stride: [u32; MAX_RANK],
    }
}

fn pack(v: impl IntoIterator<Item = usize>) -> [u32; MAX_RANK] {
    let mut out = [0u32; MAX_RANK];
    for (o, x) in out.iter_mut().zip(v) {
        *o = x as u32;
    }
    out
}

/// Raw sums of `x` over `axes` (sorted, unique), result shaped as the kept dims.
fn sum_kernel(x: &Tensor, axes: &[usize]) -> Result<Tensor> {
    let shape = x.shape();
    if shape.len() > MAX_RANK {
        return Err(Error::shape(
            "sum",
            format!("rank of {shape:?} is above {MAX_RANK}"),
        ));
    }
    let st = strides(shape);
    let kept: Vec<usize> = (0..shape.len()).filter(|d| !axes.contains(d)).collect();
    let out_shape: Vec<usize> = kept.iter().map(|&d| shape[d]).collect();
    let n_out: usize = out_shape.iter().product();
    let n_red: usize = axes.iter().map(|&d| shape[d]).product();
    let gpu = x.gpu();
    let mut p = Params {
        n_out: n_out as u32,
        n_red: n_red as u32,
        chunk: CHUNK as u32,
        n_chunks: n_red.div_ceil(CHUNK).max(1) as u32,
        kept_rank: kept.len() as u32,
        red_rank: axes.len() as u32,
        _pad: [0; 2],
        kept_shape: pack(kept.iter().map(|&d| shape[d])),
        kept_stride: pack(kept.iter().map(|&d| st[d])),
        red_shape: pack(axes.iter().map(|&d| shape[d])),
        red_stride: pack(axes.iter().map(|&d| st[d])),
    };
    let mut src = x.clone();
    loop {
        let n_chunks = p.n_chunks as usize;
        let out = Tensor::empty(gpu, &[n_out * n_chunks])?;
        let threads = (n_out * n_chunks) as u64;
        if threads > 0 {
            gpu.launch(Launch {
                kernel: &REDUCE_SUM_V1,
                entry: "main",
                constants: &[("WG", WG as f64)],
                params: uniform(&p),
                args: &[Arg::R(src.buf()), Arg::W(out.buf())],
                workgroups: grid_1d(threads.div_ceil(WG as u64)),
            })?;
        }
        if n_chunks <= 1 {
            return out.detach().reshape(&out_shape);
        }
        // Next pass: partials laid out [n_out, n_chunks], reduce the last axis.
        p = Params {
            n_out: n_out as u32,
            n_red: n_chunks as u32,
            chunk: CHUNK as u32,
            n_chunks: n_chunks.div_ceil(CHUNK) as u32,
            kept_rank: 1,
            red_rank: 1,
            _pad: [0; 2],
            kept_shape: pack([n_out]),
            kept_stride: pack([n_chunks]),
            red_shape: pack([n_chunks]),
            red_stride: pack([1]),
        };
        src = out;
    }
}

fn normalise_axes(op: &'static str, shape: &[usize], axes: &[usize]) -> Result<Vec<usize>> {
    let mut a = axes.to_vec();
    a.sort_unstable();
    a.dedup();
    if let Some(&bad) = a.iter().find(|&&d| d >= shape.len()) {
        return Err(Error::shape(op, format!("axis {bad} out of range for {shape:?}")));
    }
    Ok(a)
}

/// Sum over `axes`; `keepdim` keeps them as size 1.
pub fn sum_axes(x: &Tensor, axes: &[usize], keepdim: bool) -> Result<Tensor> {
    let axes = normalise_axes("sum", x.shape(), axes)?;
    let raw = sum_kernel(x, &axes)?;
    let shape = reduced_shape(x.shape(), &axes, keepdim);
    let out = raw.reshape(&shape)?;
    let from = x.shape().to_vec();
    Ok(autograd::record(out, &[x], move || SumBackward {
        from,
        axes,
        scale: 1.0,
    }))
}

/// Mean over `axes`.
pub fn mean_axes(x: &Tensor, axes: &[usize], keepdim: bool) -> Result<Tensor> {
    let axes = normalise_axes("mean", x.shape(), axes)?;
    let count: usize = axes.iter().map(|&d| x.shape()[d]).product();
    let s = 1.0 / count.max(1) as f32;
    let raw = {
        let _g = autograd::no_grad();
        elementwise::scale(&sum_kernel(x, &axes)?, s)?
    };
    let out = raw.reshape(&reduced_shape(x.shape(), &axes, keepdim))?;
    let from = x.shape().to_vec();
    Ok(autograd::record(out, &[x], move || SumBackward {
        from,
        axes,
        scale: s,
    }))
}

/// Sum of all elements, as a scalar (shape `[]`).
pub fn sum(x: &Tensor) -> Result<Tensor> {
    let all: Vec<usize> = (0..x.dims()).collect();
    sum_axes(x, &all, false)
}

/// Mean of all elements, as a scalar.
pub fn mean(x: &Tensor) -> Result<Tensor> {
    let all: Vec<usize> = (0..x.dims()).collect();
    mean_axes(x, &all, false)
}

/// Sums `x` down to `shape`, the inverse of broadcasting `shape` up to `x.shape()`
/// (the backward of every broadcasting op).
pub fn sum_to(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if x.shape() == shape {
        return Ok(x.clone());
    }
    let xs = x.shape();
    if shape.len() > xs.len() {
        return Err(Error::shapes("sum_to", xs, shape, "target has more dimensions"));
    }
    let off = xs.len() - shape.len();
    let mut axes: Vec<usize> = (0..off).collect();
    for (i, &d) in shape.iter().enumerate() {
        if d == xs[off + i] {
            continue;
        }
        if d != 1 {
            return Err(Error::shapes(
                "sum_to",
                xs,
                shape,
                "not a broadcast of the target",
            ));
        }
        axes.push(off + i);
    }
    sum_axes(x, &axes, false)?.reshape(shape)
}

fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(d, &s)| match (axes.contains(&d), keepdim) {
            (false, _) => Some(s),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

struct SumBackward {
    from: Vec<usize>,
    axes: Vec<usize>,
    scale: f32,
}

impl Backward for SumBackward {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // out = scale * sum_axes(x)  =>  dx = scale * expand(g with axes kept as 1).
        let kept = g.reshape(&reduced_shape(&self.from, &self.axes, true))?;
        let mut dx = elementwise::expand(&kept, &self.from)?;
        if self.scale != 1.0 {
            dx = elementwise::scale(&dx, self.scale)?;
        }
        Ok(vec![Some(dx)])
    }
}
