//! Backward-data pass: dx from dy and w, versions V1, V2, V4, V5, V6 (see the module
//! header).

use super::geometry::{Geom, WG, check_dim, check_taps, small_channels_fit, small_constants};
use super::tiles::{PackMode, gemm_wg, pack_weight, tile_halves, tile_pixels, vec4_view};
use super::tune_key::{backward_data_key, candidates, small_first};
use super::{Conv2dBackwardData, Conv2dParams, need_subgroups};
use crate::error::Result;
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::tune;
use crate::tensor::Tensor;

static BACKWARD_DATA_V1: Kernel = kernel!("conv2d_backward_data_v1");
static BACKWARD_DATA_V2: Kernel = kernel!("conv2d_backward_data_v2");
static BACKWARD_DATA_V4: Kernel = kernel!("conv2d_backward_data_v4");
static BACKWARD_DATA_V5: Kernel = kernel!("conv2d_backward_data_v5");
static BACKWARD_DATA_V6: Kernel = kernel!("conv2d_backward_data_v6");

/// The backward-data kernel alone: dx [N, C, H, W] from dy [N, O, OH, OW] and w.
pub fn conv2d_backward_data(
    dy: &Tensor,
    w: &Tensor,
    x_shape: &[usize],
    p: &Conv2dParams,
    version: Conv2dBackwardData,
) -> Result<Tensor> {
    let geo = Geom::new(p, x_shape, w.shape())?;
    dy.expect_shape("conv2d backward-data dy", &geo.y_shape())?;
    check_taps("conv2d backward-data", &geo, geo.og)?;
    geo.check_u32("conv2d")?;
    let gpu = dy.gpu();
    let dx = Tensor::empty(gpu, &geo.x_shape())?;
    let run = |v: Conv2dBackwardData, dx: &Tensor| {
        if v.needs_subgroups() {
            need_subgroups(gpu, &format!("conv2d backward-data {v:?}"))?;
        }
        let small = small_channels_fit(&geo);
        match v {
            Conv2dBackwardData::V1 => backward_data_v1(&geo, dy, w, dx),
            Conv2dBackwardData::V2 => backward_data_gemm(&geo, &BACKWARD_DATA_V2, dy, w, dx),
            Conv2dBackwardData::V4 => backward_data_gemm(&geo, &BACKWARD_DATA_V4, dy, w, dx),
            Conv2dBackwardData::V5 if small => backward_data_small(&geo, &BACKWARD_DATA_V5, dy, w, dx),
            Conv2dBackwardData::V5 => backward_data_gemm(&geo, &BACKWARD_DATA_V2, dy, w, dx),
            Conv2dBackwardData::V6 if small => backward_data_small(&geo, &BACKWARD_DATA_V6, dy, w, dx),
            Conv2dBackwardData::V6 => backward_data_gemm(&geo, &BACKWARD_DATA_V4, dy, w, dx),
            Conv2dBackwardData::Auto => unreachable!("resolved below"),
        }
    };
    let version = match version {
        Conv2dBackwardData::Auto => {
            use Conv2dBackwardData as B;
            let mut cands = candidates(gpu, geo.cg, B::V1, B::V2, None, B::V4);
            small_first(gpu, &geo, &mut cands, B::V1, B::V5, B::V6);
            tune::choose(
                gpu,
                "conv2d.backward_data",
                &backward_data_key(&geo).to_string(),
                &cands,
                |v| run(v, &Tensor::empty(gpu, &geo.x_shape())?),
            )?
        }
        v => v,
    };
    run(version, &dx)?;
    Ok(dx)
}

fn backward_data_v1(geo: &Geom, dy: &Tensor, w: &Tensor, dx: &Tensor) -> Result<()> {
    let total = dx.numel();
    dy.gpu().launch(Launch {
        kernel: &BACKWARD_DATA_V1,
        entry: "main",
        constants: &[("WG", WG as f64)],
        params: uniform(&geo.params(total)),
        args: &[Arg::R(dy.buf()), Arg::R(w.buf()), Arg::W(dx.buf())],
        workgroups: grid_1d((total as u64).div_ceil(WG as u64)),
    })
}

/// Backward-data V2 or V4: one launch per residue class (ih % sh, iw % sw), whose
/// pixels all receive the same taps; 16 pixels x 32 input channels or 8 x 64 per
/// invocation.
fn backward_data_gemm(
    geo: &Geom,
    kernel: &'static Kernel,
    dy: &Tensor,
    w: &Tensor,
    dx: &Tensor,
) -> Result<()> {
    let gpu = dy.gpu();
    let halves = tile_halves(geo.cg);
    let cg_pad = geo.cg.next_multiple_of(32 * halves);
    let og_pad = geo.og.next_multiple_of(4);
    let wp = pack_weight(geo, w, None, PackMode::BackwardData, og_pad, cg_pad)?;
    let wg = gemm_wg(gpu);
    let (sh, sw) = geo.p.stride;
    let tiles = check_dim(geo, geo.p.groups * cg_pad / (32 * halves))?;
    for rh in 0..sh.min(geo.h) {
        for rw in 0..sw.min(geo.w) {
            let cls_h = (geo.h - rh).div_ceil(sh);
            let cls_w = (geo.w - rw).div_ceil(sw);
            let total = geo.n * cls_h * cls_w;
            let mut params = geo.params(total);
            params.rh = rh as u32;
            params.rw = rw as u32;
            params.cls_h = cls_h as u32;
            params.cls_w = cls_w as u32;
            params.og_pad = og_pad as u32;
            params.cg_pad = cg_pad as u32;
            let (kh0, kh_step) = class_taps(rh + geo.p.padding.0, geo.p.dilation.0, sh, geo.kh);
            let (kw0, kw_step) = class_taps(rw + geo.p.padding.1, geo.p.dilation.1, sw, geo.kw);
            params.chunk = (kh0 | kw0 << 16) as u32;
            params.n_chunks = (kh_step | kw_step << 16) as u32;
            let px = tile_pixels(halves);
            let mut grid = grid_1d((total as u64).div_ceil((wg as usize * px) as u64));
            grid[2] = tiles;
            gpu.launch(Launch {
                kernel,
                entry: "main",
                constants: &[("WG", wg as f64), ("H", halves as f64), ("P", px as f64)],
                params: uniform(&params),
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

/// Whether backward-data V5 and V6 (and the forward's V5 and V6, under the same rule)
/// run their own kernels for x [N, C, H, W] and w [O, C/groups, KH, KW] (else they fall
/// back to V2 and V4; see the module header).
pub fn conv2d_backward_data_small_fits(
    p: &Conv2dParams,
    x_shape: &[usize],
    w_shape: &[usize],
) -> Result<bool> {
    Ok(small_channels_fit(&Geom::new(p, x_shape, w_shape)?))
}

/// Own dy rows and columns of one V5/V6 invocation (`QH`, `QW` of the generator): its
/// tile is SH * 2 input rows by SW * 4 input columns.
const SMALL_QH: usize = 2;
const SMALL_QW: usize = 4;

/// Whether V5/V6 read each tile's 4 own dy columns as one aligned vec4: rows of dy
/// are whole vec4s and the first own column, tc * 4 + PW / SW, is a multiple of 4.
pub(super) fn small_dy_aligned(geo: &Geom) -> bool {
    geo.ow.is_multiple_of(4) && (geo.p.padding.1 / geo.p.stride.1).is_multiple_of(4)
}

/// Backward-data V5 or V6: every input channel of a group (Cg <= 4) for a tile of
/// SH * 2 x SW * 4 input pixels per invocation, the tap pattern resolved by override
/// constants; one launch.
fn backward_data_small(
    geo: &Geom,
    kernel: &'static Kernel,
    dy: &Tensor,
    w: &Tensor,
    dx: &Tensor,
) -> Result<()> {
    let gpu = dy.gpu();
    let p = &geo.p;
    let wp = pack_weight(geo, w, None, PackMode::SmallChannels, 0, 0)?;
    let (sh, sw) = p.stride;
    let tiles_h = geo.h.div_ceil(sh * SMALL_QH);
    let tiles_w = geo.w.div_ceil(sw * SMALL_QW);
    let total = tiles_h * tiles_w;
    let mut params = geo.params(total);
    params.cls_h = tiles_h as u32;
    params.cls_w = tiles_w as u32;
    let aligned = small_dy_aligned(geo);
    let vec_store = geo.w.is_multiple_of(4);
    let dy4 = vec4_view(dy, aligned)?;
    let dx4 = vec4_view(dx, vec_store)?;
    let wg = gemm_wg(gpu);
    let mut grid = grid_1d((total as u64).div_ceil(wg as u64));
    grid[2] = check_dim(geo, geo.n * p.groups)?;
    let flag = |b: bool| b as u32 as f64;
    let mut constants = small_constants(geo, wg);
    constants.extend([
        ("PHR", (p.padding.0 % sh) as f64),
        ("PWR", (p.padding.1 % sw) as f64),
        ("ALIGNED", flag(aligned)),
        ("VEC_STORE", flag(vec_store)),
    ]);
    gpu.launch(Launch {
        kernel,
        entry: "main",
        constants: &constants,
        params: uniform(&params),
        args: &[
            Arg::R(dy.buf()),
            Arg::R(dy4.buf()),
            Arg::R(wp.buf()),
            Arg::W(dx.buf()),
            Arg::W(dx4.buf()),
        ],
        workgroups: grid,
    })
}
