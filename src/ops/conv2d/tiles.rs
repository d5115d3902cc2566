//! The register-blocked kernels (V2, V3, V4) share: workgroup and tile sizes, and the
//! weight repacking (`conv2d_pack_v1`) they read; every version's vec4 views.

use super::geometry::{Geom, WG};
use crate::error::Result;
use crate::gpu::{Arg, Gpu, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::tensor::Tensor;

static PACK_V1: Kernel = kernel!("conv2d_pack_v1");

/// The layout `conv2d_pack_v1` writes (its MODE override constant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PackMode {
    /// MODE 0: [G, KH*KW, cg_pad, og_pad] (output channels fastest), then G bias rows
    /// [G, og_pad] (zeros without a bias).
    Forward = 0,
    /// MODE 1: [G, KH*KW, og_pad, cg_pad] (input channels fastest), no bias.
    BackwardData = 1,
    /// MODE 2: [O, 32], each output channel's Cg*KH*KW (<= 32) weights in w's order,
    /// zero padded (backward-data V5 and V6); og_pad and cg_pad are unused.
    SmallChannels = 2,
}

/// Repacks w (and, for the forward, the bias) for the implicit-GEMM kernels
/// (`conv2d_pack_v1`), zero padded to og_pad output and cg_pad input channels.
pub(super) fn pack_weight(
    geo: &Geom,
    w: &Tensor,
    bias: Option<&Tensor>,
    mode: PackMode,
    og_pad: usize,
    cg_pad: usize,
) -> Result<Tensor> {
    let groups = geo.p.groups;
    let len = match mode {
        PackMode::Forward => (groups * geo.taps() * cg_pad + groups) * og_pad,
        PackMode::BackwardData => groups * geo.taps() * og_pad * cg_pad,
        PackMode::SmallChannels => geo.o * 32,
    };
    let out = Tensor::empty(w.gpu(), &[len])?;
    let mut params = geo.params(len);
    params.og_pad = og_pad as u32;
    params.cg_pad = cg_pad as u32;
    w.gpu().launch(Launch {
        kernel: &PACK_V1,
        entry: "main",
        constants: &[
            ("WG", WG as f64),
            ("MODE", mode as u32 as f64),
            ("HAS_BIAS", bias.is_some() as u32 as f64),
        ],
        params: uniform(&params),
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
pub(super) fn gemm_wg(gpu: &Gpu) -> u32 {
    64.max(gpu.launch_lanes())
}

/// Channel tile of the register-blocked kernels, in halves of 64: 32 * halves
/// channels, halves = 2 when the group has more than 32.
pub(super) fn tile_halves(channels: usize) -> usize {
    if channels > 32 { 2 } else { 1 }
}

/// Pixels per invocation of the register-blocked forward and backward-data kernels: 8
/// with a 64-channel tile, 16 with a 32-channel one (512 accumulators either way).
pub(super) fn tile_pixels(halves: usize) -> usize {
    if halves == 2 { 8 } else { 16 }
}

/// The tensor to bind as a vec4 view (`array<vec4<f32>>`) of `t`: `t` itself where the
/// kernel uses the view, else a 16-byte stand-in it never touches (a small tensor
/// cannot be bound as vec4s; a writable view must not alias a read-only binding). The
/// stand-in is left unfilled: no fill dispatch per call.
pub(super) fn vec4_view(t: &Tensor, used: bool) -> Result<Tensor> {
    if used {
        Ok(t.clone())
    } else {
        Tensor::empty(t.gpu(), &[4])
    }
}
