//! Forward pass: y = conv2d(x, w) + bias, versions V1 to V6 (see the module header).

use super::geometry::{Geom, WG, check_dim, check_taps, small_channels_fit, small_constants};
use super::tiles::{PackMode, gemm_wg, pack_weight, tile_halves, tile_pixels, vec4_view};
use super::tune_key::{candidates, forward_key, small_first};
use super::{Conv2dForward, Conv2dParams, need_subgroups};
use crate::error::Result;
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::tune;
use crate::tensor::Tensor;

static FORWARD_V1: Kernel = kernel!("conv2d_forward_v1");
static FORWARD_V2: Kernel = kernel!("conv2d_forward_v2");
static FORWARD_V3: Kernel = kernel!("conv2d_forward_v3");
static FORWARD_V4: Kernel = kernel!("conv2d_forward_v4");
static FORWARD_V5: Kernel = kernel!("conv2d_forward_v5");
static FORWARD_V6: Kernel = kernel!("conv2d_forward_v6");

/// The forward kernel alone (nothing recorded): `y = conv2d(x, w) + bias`.
pub fn conv2d_forward(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    p: &Conv2dParams,
    version: Conv2dForward,
) -> Result<Tensor> {
    let geo = Geom::new(p, x.shape(), w.shape())?;
    if let Some(b) = bias {
        b.expect_shape("conv2d bias", &[geo.o])?;
    }
    check_taps("conv2d forward", &geo, geo.cg)?;
    geo.check_u32("conv2d")?;
    let gpu = x.gpu();
    let y = Tensor::empty(gpu, &geo.y_shape())?;
    let run = |v: Conv2dForward, y: &Tensor| {
        if v.needs_subgroups() {
            need_subgroups(gpu, &format!("conv2d forward {v:?}"))?;
        }
        let small = small_channels_fit(&geo);
        match v {
            Conv2dForward::V1 => forward_v1(&geo, x, w, bias, y),
            Conv2dForward::V2 => forward_gemm(&geo, &FORWARD_V2, x, w, bias, y),
            Conv2dForward::V3 => forward_v3(&geo, x, w, bias, y),
            Conv2dForward::V4 => forward_gemm(&geo, &FORWARD_V4, x, w, bias, y),
            Conv2dForward::V5 if small => forward_small(&geo, &FORWARD_V5, x, w, bias, y),
            Conv2dForward::V5 => forward_gemm(&geo, &FORWARD_V2, x, w, bias, y),
            Conv2dForward::V6 if small => forward_small(&geo, &FORWARD_V6, x, w, bias, y),
            Conv2dForward::V6 => forward_gemm(&geo, &FORWARD_V4, x, w, bias, y),
            Conv2dForward::Auto => unreachable!("resolved below"),
        }
    };
    let version = match version {
        Conv2dForward::Auto => {
            use Conv2dForward as F;
            let mut cands = candidates(gpu, geo.og, F::V1, F::V2, Some(F::V3), F::V4);
            small_first(gpu, &geo, &mut cands, F::V1, F::V5, F::V6);
            // Tuning runs write a scratch output (allocated only while measuring).
            tune::choose(
                gpu,
                "conv2d.forward",
                &forward_key(&geo).to_string(),
                &cands,
                |v| run(v, &Tensor::empty(gpu, &geo.y_shape())?),
            )?
        }
        v => v,
    };
    run(version, &y)?;
    Ok(y)
}

fn forward_v1(geo: &Geom, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, y: &Tensor) -> Result<()> {
    let total = y.numel();
    x.gpu().launch(Launch {
        kernel: &FORWARD_V1,
        entry: "main",
        constants: &[("WG", WG as f64), ("HAS_BIAS", bias.is_some() as u32 as f64)],
        params: uniform(&geo.params(total)),
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

/// Forward V2 or V4: 16 pixels x 32 channels or 8 x 64 per invocation.
fn forward_gemm(
    geo: &Geom,
    kernel: &'static Kernel,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    y: &Tensor,
) -> Result<()> {
    let gpu = x.gpu();
    let halves = tile_halves(geo.og);
    let og_pad = geo.og.next_multiple_of(32 * halves);
    let cg_pad = geo.cg.next_multiple_of(4);
    let wp = pack_weight(geo, w, bias, PackMode::Forward, og_pad, cg_pad)?;
    let total = geo.pixels();
    let mut params = geo.params(total);
    params.og_pad = og_pad as u32;
    params.cg_pad = cg_pad as u32;
    let wg = gemm_wg(gpu);
    let px = tile_pixels(halves);
    let mut grid = grid_1d((total as u64).div_ceil((wg as usize * px) as u64));
    grid[2] = check_dim(geo, geo.p.groups * og_pad / (32 * halves))?;
    gpu.launch(Launch {
        kernel,
        entry: "main",
        constants: &[("WG", wg as f64), ("H", halves as f64), ("P", px as f64)],
        params: uniform(&params),
        args: &[Arg::R(x.buf()), Arg::R(wp.buf()), Arg::W(y.buf())],
        workgroups: grid,
    })
}

/// Forward V3: 64 x 64 tiles through workgroup memory.
fn forward_v3(geo: &Geom, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, y: &Tensor) -> Result<()> {
    let og_pad = geo.og.next_multiple_of(64);
    let cg_pad = geo.cg.next_multiple_of(4);
    let wp = pack_weight(geo, w, bias, PackMode::Forward, og_pad, cg_pad)?;
    let total = geo.pixels();
    let mut params = geo.params(total);
    params.og_pad = og_pad as u32;
    params.cg_pad = cg_pad as u32;
    let mut grid = grid_1d((total as u64).div_ceil(64));
    grid[2] = check_dim(geo, geo.p.groups * og_pad / 64)?;
    x.gpu().launch(Launch {
        kernel: &FORWARD_V3,
        entry: "main",
        constants: &[],
        params: uniform(&params),
        args: &[Arg::R(x.buf()), Arg::R(wp.buf()), Arg::W(y.buf())],
        workgroups: grid,
    })
}

/// Output rows and columns of one V5/V6 invocation (`QH`, `QW` of the generator).
const SMALL_QH: usize = 2;
const SMALL_QW: usize = 4;

/// Forward V5 or V6: every output channel of a group for a tile of 2 x 4 output pixels
/// per invocation, the input patch of the group's (at most 4) channels loaded once, the
/// tap pattern resolved by override constants; one launch.
fn forward_small(
    geo: &Geom,
    kernel: &'static Kernel,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    y: &Tensor,
) -> Result<()> {
    let gpu = x.gpu();
    let p = &geo.p;
    let wp = pack_weight(geo, w, None, PackMode::SmallChannels, 0, 0)?;
    let tiles_h = geo.oh.div_ceil(SMALL_QH);
    let tiles_w = geo.ow.div_ceil(SMALL_QW);
    let total = tiles_h * tiles_w;
    let mut params = geo.params(total);
    params.cls_h = tiles_h as u32;
    params.cls_w = tiles_w as u32;
    let vec_store = geo.ow.is_multiple_of(4);
    let y4 = vec4_view(y, vec_store)?;
    let wg = gemm_wg(gpu);
    let mut grid = grid_1d((total as u64).div_ceil(wg as u64));
    grid[2] = check_dim(geo, geo.n * p.groups)?;
    let flag = |b: bool| b as u32 as f64;
    let mut constants = small_constants(geo, wg);
    constants.extend([("HAS_BIAS", flag(bias.is_some())), ("VEC_STORE", flag(vec_store))]);
    gpu.launch(Launch {
        kernel,
        entry: "main",
        constants: &constants,
        params: uniform(&params),
        args: &[
            Arg::R(x.buf()),
            Arg::R(wp.buf()),
            // Without a bias, the packed weights stand in for the unread binding.
            Arg::R(bias.unwrap_or(&wp).buf()),
            Arg::W(y.buf()),
            Arg::W(y4.buf()),
        ],
        workgroups: grid,
    })
}
