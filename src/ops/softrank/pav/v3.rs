//! PAV V3 and V4: one workgroup per row, for GPUs, and their launch shapes (see the
//! module header of `pav`).

use std::sync::Arc;

use super::{Saved, SoftRankCall};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Gpu, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::softrank::Regularization;
use crate::tensor::Tensor;

static FORWARD_V3: Kernel = kernel!("softrank_pav_forward_v3");
static BACKWARD_V3: Kernel = kernel!("softrank_pav_backward_v3");
static FORWARD_V4: Kernel = kernel!("softrank_pav_forward_v4");

/// Most threads per v3 workgroup.
pub(super) const V3_MAX_WG: usize = 1024;
/// Longest v3 rows.
pub(super) const V3_MAX_N: usize = 4096;
/// Most sorted positions a v3 thread owns (`CMAX` in its shaders).
pub(super) const V3_MAX_C: usize = 16;

/// The two v3 kernels: their launch shapes differ (the backward keeps six WG-sized
/// arrays of scan aggregates in workgroup memory, the forward one).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum V3Kernel {
    Forward,
    Backward,
}

/// The v3 launch shape for rows of n: (SH, WG, C) with SH = WG * C >= n the row's size
/// in workgroup memory and C the sorted positions each thread owns. Both kernels take
/// the widest workgroup (smallest C, from 4) that the adapter's limits and workgroup
/// memory allow: on GPUs they are bound by the latency of workgroup memory, which more
/// threads per row hide, and by C-sized private arrays, which live in slow local memory
/// (benches/NOTES.md, Soft rank, PAV: C = 16 -> 4 took the forward from 440 to 171 us on an
/// H100).
/// Workgroup memory: 8 SH bytes for l2, 12 SH for kl, plus 4 WG for the forward and
/// 24 WG for the backward (its scan aggregates). None when n > 4096 or nothing fits
/// (lavapipe's 32 KiB holds rows up to 2048; GPUs' 48 KiB rows of 4096).
pub(super) fn v3_shape(
    gpu: &Gpu,
    n: usize,
    reg: Regularization,
    k: V3Kernel,
) -> Option<(usize, usize, usize)> {
    // The largest rows the tests run (adapters with more workgroup memory could go on).
    if n > V3_MAX_N {
        return None;
    }
    let sh = n.next_power_of_two().max(64);
    let l = gpu.limits();
    let max_wg = l
        .max_compute_invocations_per_workgroup
        .min(l.max_compute_workgroup_size_x) as usize;
    let per_pos = match reg {
        Regularization::L2 => 8,
        Regularization::Kl => 12,
    };
    let per_wg = match k {
        V3Kernel::Forward => 4,
        V3Kernel::Backward => 24,
    };
    let fits = |wg: usize| {
        let c = sh / wg;
        let bytes = per_pos * sh + per_wg * wg;
        (wg.is_power_of_two()
            && (64..=sh.min(V3_MAX_WG)).contains(&wg)
            && c <= V3_MAX_C
            && wg <= max_wg
            && bytes <= l.max_compute_workgroup_storage_size as usize)
            .then_some((sh, wg, c))
    };
    // A test may force the workgroup another adapter would pick (gpu::LaunchOverride).
    if let Some(wg) = crate::gpu::launch_override::current().pav_v3_wg {
        return fits(wg);
    }
    [4, 8, 16]
        .into_iter()
        .find_map(|target_c| fits((sh / target_c).clamp(64, V3_MAX_WG)))
}

/// The v3 kernels with their private arrays sized C (`CMAX`, a WGSL const: function-scope
/// arrays cannot take an override size), by kernel and C = 1, 2, 4, 8, 16. Arrays sized
/// for 16 with C = 4 in use end up in local memory on GPUs, sized exactly they stay in
/// registers. The C = 16 kernels are the hand-written sources; tools/shaders.py makes
/// the others from them (`_c1` .. `_c8`).
static SIZED: [(V3Kernel, usize, &Kernel); 10] = [
    (V3Kernel::Forward, 1, &kernel!("softrank_pav_forward_v3_c1")),
    (V3Kernel::Forward, 2, &kernel!("softrank_pav_forward_v3_c2")),
    (V3Kernel::Forward, 4, &kernel!("softrank_pav_forward_v3_c4")),
    (V3Kernel::Forward, 8, &kernel!("softrank_pav_forward_v3_c8")),
    (V3Kernel::Forward, 16, &FORWARD_V3),
    (V3Kernel::Backward, 1, &kernel!("softrank_pav_backward_v3_c1")),
    (V3Kernel::Backward, 2, &kernel!("softrank_pav_backward_v3_c2")),
    (V3Kernel::Backward, 4, &kernel!("softrank_pav_backward_v3_c4")),
    (V3Kernel::Backward, 8, &kernel!("softrank_pav_backward_v3_c8")),
    (V3Kernel::Backward, 16, &BACKWARD_V3),
];

/// The v3 kernel `k` with private arrays of C positions (a power of two up to 16, as
/// [`v3_shape`] picks).
pub(super) fn v3_kernel(k: V3Kernel, c: usize) -> Result<&'static Kernel> {
    SIZED
        .iter()
        .find(|&&(kk, cc, _)| kk == k && cc == c)
        .map(|&(_, _, kernel)| kernel)
        .ok_or_else(|| Error::Invalid(format!("no PAV v3 kernel with {c} positions per thread")))
}

pub(super) fn v3_checked_shape(gpu: &Gpu, job: &SoftRankCall, k: V3Kernel) -> Result<(usize, usize, usize)> {
    v3_shape(gpu, job.n, job.reg, k).ok_or_else(|| {
        Error::shape(
            "soft_rank_pav",
            format!("V3 does not run rows of {} values on this adapter", job.n),
        )
    })
}

pub(super) fn v3_positions_per_thread(gpu: &Gpu, job: &SoftRankCall, k: V3Kernel) -> Result<usize> {
    Ok(v3_checked_shape(gpu, job, k)?.2)
}

pub(super) fn v3_constants(gpu: &Gpu, job: &SoftRankCall, k: V3Kernel) -> Result<[(&'static str, f64); 5]> {
    let (sh, wg, c) = v3_checked_shape(gpu, job, k)?;
    Ok([
        ("WG", wg as f64),
        ("C", c as f64),
        ("SH", sh as f64),
        ("MSZ", job.block_max_words(sh) as f64),
        ("REG", job.reg_code()),
    ])
}

crate::uniform! {
    struct V3Params {
        b: u32,
        n: u32,
        scale: f32,
        _pad: u32,
    }
}

pub(super) fn forward_v3(gpu: &Arc<Gpu>, x: &Tensor, job: &SoftRankCall) -> Result<(Tensor, Saved)> {
    let kernel = v3_kernel(
        V3Kernel::Forward,
        v3_positions_per_thread(gpu, job, V3Kernel::Forward)?,
    )?;
    row_forward(gpu, x, job, kernel, &v3_constants(gpu, job, V3Kernel::Forward)?)
}

/// Launches a one-workgroup-per-row forward (v3, v4): x in; ranks and the saved
/// permutation out.
pub(super) fn row_forward(
    gpu: &Arc<Gpu>,
    x: &Tensor,
    job: &SoftRankCall,
    kernel: &'static Kernel,
    constants: &[(&'static str, f64)],
) -> Result<(Tensor, Saved)> {
    let (b, n) = (job.b, job.n);
    let out = Tensor::empty(gpu, &[b, n])?;
    let perm = gpu.alloc(4 * job.elems(), "soft rank permutation")?;
    if b * n > 0 {
        let p = V3Params {
            b: b as u32,
            n: n as u32,
            scale: job.scale,
            _pad: 0,
        };
        gpu.launch(Launch {
            kernel,
            entry: "main",
            constants,
            params: uniform(&p),
            args: &[Arg::R(x.buf()), Arg::W(out.buf()), Arg::W(&perm)],
            workgroups: grid_1d(b as u64),
        })?;
    }
    Ok((
        out,
        Saved {
            perm: Arc::new(perm),
            stride: n,
        },
    ))
}

/// The v4 forward's launch shape: (SH, WG, SG) with WG = SH / 4 threads of 4 positions,
/// SH >= n and SH >= 4 SG (a workgroup holds whole subgroups). Needs a fixed subgroup
/// size (shuffles by lane arithmetic), 1024 threads for rows of 4096, and 8 SH + 4 WG
/// bytes of workgroup memory for l2, 12 SH + 4 WG for kl.
pub(super) fn v4_shape(gpu: &Gpu, n: usize, reg: Regularization) -> Option<(usize, usize, usize)> {
    let sg = gpu.fixed_subgroup_size()? as usize;
    if n > V3_MAX_N || !sg.is_power_of_two() {
        return None;
    }
    let sh = n.next_power_of_two().max(256).max(4 * sg);
    let wg = sh / 4;
    let l = gpu.limits();
    let per_pos = match reg {
        Regularization::L2 => 8,
        Regularization::Kl => 12,
    };
    let fits = wg <= l.max_compute_invocations_per_workgroup as usize
        && wg <= l.max_compute_workgroup_size_x as usize
        && per_pos * sh + 4 * wg <= l.max_compute_workgroup_storage_size as usize;
    fits.then_some((sh, wg, sg))
}

pub(super) fn forward_v4(gpu: &Arc<Gpu>, x: &Tensor, job: &SoftRankCall) -> Result<(Tensor, Saved)> {
    let (sh, wg, sg) = v4_shape(gpu, job.n, job.reg).ok_or_else(|| {
        Error::shape(
            "soft_rank_pav",
            format!("V4 does not run rows of {} values on this adapter", job.n),
        )
    })?;
    let constants = [
        ("WG", wg as f64),
        ("SH", sh as f64),
        ("SG", sg as f64),
        ("MSZ", job.block_max_words(sh) as f64),
        ("REG", job.reg_code()),
    ];
    row_forward(gpu, x, job, &FORWARD_V4, &constants)
}

pub(super) fn backward_v3(
    gpu: &Arc<Gpu>,
    g: &Tensor,
    saved: &Saved,
    ranks: &Tensor,
    job: &SoftRankCall,
) -> Result<Tensor> {
    let (b, n) = (job.b, job.n);
    let dx = Tensor::empty(gpu, &[b, n])?;
    if b * n > 0 {
        let p = V3Params {
            b: b as u32,
            n: n as u32,
            scale: job.scale,
            _pad: 0,
        };
        gpu.launch(Launch {
            kernel: v3_kernel(
                V3Kernel::Backward,
                v3_positions_per_thread(gpu, job, V3Kernel::Backward)?,
            )?,
            entry: "main",
            constants: &v3_constants(gpu, job, V3Kernel::Backward)?,
            params: uniform(&p),
            args: &[
                Arg::R(g.buf()),
                Arg::R(ranks.buf()),
                Arg::R(&saved.perm),
                Arg::W(dx.buf()),
            ],
            workgroups: grid_1d(b as u64),
        })?;
    }
    Ok(dx)
}
