//! Backward-weight pass: dw from dy and x, versions V1, V2, V4 (see the module header),
//! each writing partial sums per chunk of output pixels that `sum_chunks` adds in order.

use super::geometry::{Geom, WG, check_dim};
use super::tiles::{tile_halves, vec4_view};
use super::tune_key::{candidates, tune_key};
use super::{Conv2dBackwardWeight, Conv2dParams, WEIGHT_CHUNK, need_subgroups};
use crate::autograd;
use crate::error::Result;
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::{reduce, tune};
use crate::tensor::Tensor;

static BACKWARD_WEIGHT_V1: Kernel = kernel!("conv2d_backward_weight_v1");
static BACKWARD_WEIGHT_V2: Kernel = kernel!("conv2d_backward_weight_v2");
static BACKWARD_WEIGHT_V4: Kernel = kernel!("conv2d_backward_weight_v4");

/// The backward-weight kernels alone: dw [O, C/groups, KH, KW] from dy and x.
pub fn conv2d_backward_weight(
    dy: &Tensor,
    x: &Tensor,
    w_shape: &[usize],
    p: &Conv2dParams,
    version: Conv2dBackwardWeight,
) -> Result<Tensor> {
    let geo = Geom::new(p, x.shape(), w_shape)?;
    dy.expect_shape("conv2d backward-weight dy", &geo.y_shape())?;
    geo.check_u32("conv2d")?;
    let gpu = dy.gpu();
    let run = |v: Conv2dBackwardWeight| {
        if v.needs_subgroups() {
            need_subgroups(gpu, &format!("conv2d backward-weight {v:?}"))?;
        }
        match v {
            Conv2dBackwardWeight::V1 => backward_weight_v1(&geo, dy, x),
            Conv2dBackwardWeight::V2 => backward_weight_gemm(&geo, &BACKWARD_WEIGHT_V2, dy, x),
            Conv2dBackwardWeight::V4 => backward_weight_gemm(&geo, &BACKWARD_WEIGHT_V4, dy, x),
            Conv2dBackwardWeight::Auto => unreachable!("resolved below"),
        }
    };
    let version = match version {
        Conv2dBackwardWeight::Auto => {
            use Conv2dBackwardWeight as B;
            let cands = candidates(gpu, geo.og, B::V1, B::V2, None, B::V4);
            tune::choose(
                gpu,
                "conv2d.backward_weight",
                &tune_key(&geo).to_string(),
                &cands,
                |v| run(v).map(drop),
            )?
        }
        v => v,
    };
    sum_chunks(&run(version)?, &geo.w_shape())
}

/// Adds partial weight gradients [n_chunks, ...w_shape] over the chunks, in order.
fn sum_chunks(part: &Tensor, w_shape: &[usize]) -> Result<Tensor> {
    let _no_grad = autograd::no_grad();
    let n_chunks = part.shape()[0];
    if n_chunks == 1 {
        return part.reshape(w_shape);
    }
    reduce::sum_axes(part, &[0], false)?.reshape(w_shape)
}

/// Partial weight gradients [n_chunks, O, Cg, KH, KW] (V1: one weight element per
/// invocation).
fn backward_weight_v1(geo: &Geom, dy: &Tensor, x: &Tensor) -> Result<Tensor> {
    let n_chunks = geo.pixels().div_ceil(WEIGHT_CHUNK);
    let nw = geo.o * geo.cg * geo.taps();
    let part = Tensor::empty(dy.gpu(), &[n_chunks, nw])?;
    let total = n_chunks * nw;
    let mut params = geo.params(total);
    params.chunk = WEIGHT_CHUNK as u32;
    params.n_chunks = n_chunks as u32;
    dy.gpu().launch(Launch {
        kernel: &BACKWARD_WEIGHT_V1,
        entry: "main",
        constants: &[("WG", WG as f64)],
        params: uniform(&params),
        args: &[Arg::R(dy.buf()), Arg::R(x.buf()), Arg::W(part.buf())],
        workgroups: grid_1d((total as u64).div_ceil(WG as u64)),
    })?;
    Ok(part)
}

/// Output pixels per chunk of the register-blocked backward-weight (a multiple of 4).
pub(super) const WEIGHT_CHUNK_GEMM: usize = 1024;

/// Partial weight gradients [n_chunks, O, Cg, KH, KW] (V2 or V4: R rows of (tap, input
/// channel) x (32 or 64) output channels per invocation, per chunk of output pixels).
fn backward_weight_gemm(geo: &Geom, kernel: &'static Kernel, dy: &Tensor, x: &Tensor) -> Result<Tensor> {
    let gpu = dy.gpu();
    let halves = tile_halves(geo.og);
    let og_pad = geo.og.next_multiple_of(32 * halves);
    // Rows per invocation: R input channels of one tap, R = 8; with fewer than 8 channels
    // (the CNN's first layer) 4 rows taken across taps (SPAN), else most rows would be
    // padding.
    let span = geo.cg < 8;
    let rows = if span { 4 } else { 8 };
    let cg_pad = geo.cg.next_multiple_of(rows);
    let blocks = if span {
        (geo.taps() * geo.cg).div_ceil(rows)
    } else {
        geo.taps() * cg_pad / rows
    };
    let n_chunks = geo.pixels().div_ceil(WEIGHT_CHUNK_GEMM);
    let part = Tensor::empty(gpu, &[n_chunks, geo.o * geo.cg * geo.taps()])?;
    let mut params = geo.params(geo.pixels());
    params.chunk = WEIGHT_CHUNK_GEMM as u32;
    params.n_chunks = n_chunks as u32;
    params.og_pad = og_pad as u32;
    params.cg_pad = cg_pad as u32;
    // Eight row blocks (one subgroup on lavapipe) per workgroup: few wasted blocks.
    let wg = gpu.launch_lanes().max(8);
    let aligned = (geo.oh * geo.ow).is_multiple_of(4);
    let dy4 = vec4_view(dy, aligned)?;
    let grid = [
        check_dim(geo, blocks.div_ceil(wg as usize))?,
        check_dim(geo, n_chunks)?,
        check_dim(geo, geo.p.groups * og_pad / (32 * halves))?,
    ];
    gpu.launch(Launch {
        kernel,
        entry: "main",
        constants: &[
            ("WG", wg as f64),
            ("H", halves as f64),
            ("R", rows as f64),
            ("ALIGNED", aligned as u32 as f64),
            ("SPAN", span as u32 as f64),
        ],
        params: uniform(&params),
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
