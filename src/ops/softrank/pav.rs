//! Soft ranks by projection onto the permutahedron (Blondel et al. 2020), the
//! operator of torchsort 0.1.10: sort each row, solve an isotonic regression by
//! pool-adjacent-violators (PAV) on the sorted scaled keys against `(n, .., 1)`,
//! un-permute. The maths, and the backward through the block structure, are in
//! `reference/softrank/pav.rs`.
//!
//! Versions (forward and backward come in pairs; all save the same state: the
//! permutation with block starts flagged, and the ranks). Bench for all:
//! `NODEVICE_SELECT=1 cargo bench --bench kernels -- softrank.pav`.
//! - V1 `softrank_pav_{forward,backward}_v1`: the naive port, many dispatches: merge
//!   sort passes with one invocation per element (binary search for its place), PAV
//!   with one invocation per row over chunks of sorted positions, output and backward
//!   with one invocation per element. Any n (every loop is bounded).
//! - V2 `softrank_pav_{sort,isotonic,backward}_v2`: for CPU drivers, one row per SIMD
//!   lane: runs of 64 sorted by a register network, 16-way merge passes, the last merge
//!   fused with PAV and the un-permute (one row per invocation), backward one row per
//!   invocation; every loop walks positions in step across lanes and touches memory in
//!   vec4s where it can. n <= 16384.
//! - V3 `softrank_pav_{forward,backward}_v3`: for GPUs, one workgroup per row: bitonic
//!   sort in workgroup memory, PAV per thread chunk then stitched, block starts by a
//!   scan, coalesced stores; backward by segmented scans. n <= 4096, where the
//!   adapter's workgroup memory holds the row (8 bytes per position for l2, 12 for kl).
//! - V4 `softrank_pav_forward_v4` + V3's backward: V3 with the bitonic sort kept in
//!   registers, partners within a subgroup reached by `subgroupShuffleXor`, only the
//!   long strides through workgroup memory (15 barrier stages instead of 55 at n = 4096).
//!   Needs subgroups of a fixed size (not GL). n <= 4096.
//!
//! `PavVersion::Auto` measures V2, V3 and V4 where they accept the shape (V1 only when
//! none does) with `ops::tune::choose`, keyed on (bucketed B, bucketed n,
//! regularisation); lavapipe gets V2. Measurements: `benches/NOTES.md` (Soft rank, PAV).

use std::sync::{Arc, Mutex};

use super::{Order, Regularization};
use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Buf, Gpu, Kernel, Launch, grid_1d, shader_source, uniform};
use crate::kernel;
use crate::ops::tune;
use crate::tensor::Tensor;

static FORWARD_V1: Kernel = kernel!("softrank_pav_forward_v1");
static BACKWARD_V1: Kernel = kernel!("softrank_pav_backward_v1");
static SORT_V2: Kernel = kernel!("softrank_pav_sort_v2");
static ISOTONIC_V2: Kernel = kernel!("softrank_pav_isotonic_v2");
static BACKWARD_V2: Kernel = kernel!("softrank_pav_backward_v2");
static FORWARD_V3: Kernel = kernel!("softrank_pav_forward_v3");
static BACKWARD_V3: Kernel = kernel!("softrank_pav_backward_v3");
static FORWARD_V4: Kernel = kernel!("softrank_pav_forward_v4");

/// Sorted positions one sequential v1 dispatch walks per row: the isotonic loop runs
/// at most 3 iterations per position, under llvmpipe's cap of 65,535.
const V1_CHUNK: usize = 16384;
/// Workgroup size of the v1 kernels.
const V1_WG: u32 = 64;
/// Largest row length: bit 31 of a saved permutation entry flags a block start.
pub const MAX_N: usize = 1 << 30;

/// Kernel versions of the PAV soft ranks (see the module header); `Auto` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PavVersion {
    /// The default: the fastest version for the shape on this adapter (measured once,
    /// cached).
    #[default]
    Auto,
    /// The naive port of the reference: merge passes, per-row PAV in chunks,
    /// per-element output. Any n.
    V1,
    /// Runs sorted by a register network, 16-way merges, PAV and backward one row per
    /// invocation (CPU drivers). n <= 16384.
    V2,
    /// One workgroup per row, everything in workgroup memory and parallel (GPUs).
    /// n <= 4096 where the adapter's workgroup memory holds the row (see `v3_shape`).
    V3,
    /// V3 with the sort in registers and subgroup shuffles (GPUs with a fixed subgroup
    /// size); the backward is V3's. n <= 4096 (see `v4_shape`).
    V4,
}

impl PavVersion {
    /// Every concrete version; with tuning off (`CPRL_TUNE=off`) `Auto` takes the first
    /// that accepts the shape.
    pub const ALL: [PavVersion; 4] = [PavVersion::V2, PavVersion::V3, PavVersion::V4, PavVersion::V1];

    /// Whether this version runs rows of length `n` with regularisation `reg` on `gpu`.
    pub fn supports(self, gpu: &Gpu, n: usize, reg: Regularization) -> bool {
        match self {
            PavVersion::Auto => true,
            PavVersion::V1 => n <= MAX_N,
            PavVersion::V2 => n <= V2_MAX_N,
            PavVersion::V3 => {
                v3_shape(gpu, n, reg, V3Kernel::Forward).is_some()
                    && v3_shape(gpu, n, reg, V3Kernel::Backward).is_some()
            }
            PavVersion::V4 => {
                v4_shape(gpu, n, reg).is_some() && v3_shape(gpu, n, reg, V3Kernel::Backward).is_some()
            }
        }
    }
}

/// Soft ranks of each row of `x` ([B, n]) by permutahedron projection, the version
/// chosen by measurement.
pub fn soft_rank_pav(x: &Tensor, reg: Regularization, strength: f32, order: Order) -> Result<Tensor> {
    soft_rank_pav_with(x, reg, strength, order, PavVersion::Auto)
}

/// `sign / strength`, the factor applied to x before the projection.
fn scale_of(strength: f32, order: Order) -> f32 {
    match order {
        Order::Ascending => 1.0 / strength,
        Order::Descending => -1.0 / strength,
    }
}

/// Soft ranks with a given version.
pub fn soft_rank_pav_with(
    x: &Tensor,
    reg: Regularization,
    strength: f32,
    order: Order,
    version: PavVersion,
) -> Result<Tensor> {
    if x.dims() != 2 {
        return Err(Error::shape(
            "soft_rank_pav",
            format!("{:?} is not [B, n]", x.shape()),
        ));
    }
    if !(strength > 0.0 && strength.is_finite()) {
        return Err(Error::Invalid(format!(
            "soft_rank_pav: strength must be positive and finite, got {strength}"
        )));
    }
    let (b, n) = (x.shape()[0], x.shape()[1]);
    if n > MAX_N {
        return Err(Error::shape(
            "soft_rank_pav",
            format!("rows of {n} values are longer than {MAX_N}"),
        ));
    }
    let gpu = x.gpu().clone();
    let scale = scale_of(strength, order);
    let job = SoftRankCall { b, n, reg, scale };
    let version = match version {
        PavVersion::Auto => choose(&gpu, x, &job)?,
        v if !v.supports(&gpu, n, reg) => {
            return Err(Error::shape(
                "soft_rank_pav",
                format!("{v:?} does not run rows of {n} values"),
            ));
        }
        v => v,
    };
    let (ranks, saved) = forward(&gpu, x, &job, version)?;
    let saved_ranks = ranks.detach();
    Ok(autograd::record(ranks, &[x], move || PavBackward {
        job,
        version,
        saved,
        ranks: saved_ranks,
    }))
}

/// The sizes and settings of one call.
#[derive(Debug, Clone, Copy)]
struct SoftRankCall {
    b: usize,
    n: usize,
    reg: Regularization,
    scale: f32,
}

impl SoftRankCall {
    /// Words of the v3/v4 kernels' `MM` array (`MSZ`), each PAV block's largest key for
    /// kl's log-sum-exp: one per position for kl, a single unused word for l2.
    fn block_max_words(&self, sh: usize) -> usize {
        match self.reg {
            Regularization::L2 => 1,
            Regularization::Kl => sh,
        }
    }
    fn reg_code(&self) -> f64 {
        match self.reg {
            Regularization::L2 => 0.0,
            Regularization::Kl => 1.0,
        }
    }
    fn elems(&self) -> u64 {
        (self.b * self.n) as u64
    }
}

/// The version `PavVersion::Auto` runs for rows shaped like `x` ([B, n]) on its adapter
/// (measured on first use for the bucketed shape, then cached).
pub fn auto_version(x: &Tensor, reg: Regularization) -> Result<PavVersion> {
    if x.dims() != 2 {
        return Err(Error::shape(
            "soft_rank_pav",
            format!("{:?} is not [B, n]", x.shape()),
        ));
    }
    let _ng = autograd::no_grad();
    let job = SoftRankCall {
        b: x.shape()[0],
        n: x.shape()[1],
        reg,
        scale: 1.0,
    };
    choose(x.gpu(), x, &job)
}

/// Measures the versions that accept the shape (forward + backward) and returns the
/// fastest; cached per adapter and (bucketed B, bucketed n, regularisation).
fn choose(gpu: &Arc<Gpu>, x: &Tensor, job: &SoftRankCall) -> Result<PavVersion> {
    // The naive v1 only when nothing else runs the shape (it is never the fastest, and
    // measuring it would slow the first call down).
    let mut candidates: Vec<PavVersion> = PavVersion::ALL
        .into_iter()
        .filter(|&v| v != PavVersion::V1 && v.supports(gpu, job.n, job.reg))
        .collect();
    if candidates.is_empty() {
        candidates.push(PavVersion::V1);
    }
    if candidates.len() == 1 {
        return Ok(candidates[0]);
    }
    let key = format!(
        "b={},n={},{:?}",
        tune::bucket(job.b),
        tune::bucket(job.n),
        job.reg
    );
    let g = Tensor::ones(gpu, x.shape())?;
    tune::choose(gpu, "softrank_pav", &key, &candidates, |v| {
        let (ranks, saved) = forward(gpu, x, job, v)?;
        backward(gpu, &g, &saved, &ranks, job, v).map(drop)
    })
}

/// What a forward saves for its backward: the permutation (entry k of a row: the
/// index of the k-th largest key, bit 31 set where a block starts), rows `stride` apart.
struct Saved {
    perm: Arc<Buf>,
    stride: usize,
}

/// Runs the forward kernels: the ranks and the saved permutation.
fn forward(gpu: &Arc<Gpu>, x: &Tensor, job: &SoftRankCall, version: PavVersion) -> Result<(Tensor, Saved)> {
    match version {
        PavVersion::V1 | PavVersion::Auto => forward_v1(gpu, x, job),
        PavVersion::V2 => forward_v2(gpu, x, job),
        PavVersion::V3 => forward_v3(gpu, x, job),
        PavVersion::V4 => forward_v4(gpu, x, job),
    }
}

/// Runs the backward kernels: dx for the cotangent `g` of the ranks.
fn backward(
    gpu: &Arc<Gpu>,
    g: &Tensor,
    saved: &Saved,
    ranks: &Tensor,
    job: &SoftRankCall,
    version: PavVersion,
) -> Result<Tensor> {
    match version {
        PavVersion::V1 | PavVersion::Auto => backward_v1(gpu, g, &saved.perm, ranks, job),
        PavVersion::V2 => backward_v2(gpu, g, saved, ranks, job),
        PavVersion::V3 | PavVersion::V4 => backward_v3(gpu, g, saved, ranks, job),
    }
}

crate::uniform! {
    struct ForwardV1Params {
        b: u32,
        n: u32,
        width: u32,
        c0: u32,
        c1: u32,
        scale: f32,
        _pad: [u32; 2],
    }
}

fn forward_v1(gpu: &Arc<Gpu>, x: &Tensor, job: &SoftRankCall) -> Result<(Tensor, Saved)> {
    let (b, n) = (job.b, job.n);
    let out = Tensor::empty(gpu, &[b, n])?;
    let perm = gpu.alloc(4 * job.elems(), "soft rank permutation")?;
    let saved = |perm| Saved {
        perm: Arc::new(perm),
        stride: n,
    };
    if b * n == 0 {
        return Ok((out, saved(perm)));
    }
    let mut src = gpu.alloc(8 * job.elems(), "soft rank sort buffer")?;
    let mut dst = gpu.alloc(8 * job.elems(), "soft rank sort buffer")?;
    let stack = gpu.alloc(8 * job.elems(), "soft rank block stack")?;
    let count = gpu.alloc(4 * b as u64, "soft rank block counts")?;
    let constants = [("WG", V1_WG as f64), ("REG", job.reg_code())];
    let mut params = ForwardV1Params {
        b: b as u32,
        n: n as u32,
        width: 1,
        c0: 0,
        c1: 0,
        scale: job.scale,
        _pad: [0; 2],
    };
    let per_elem = grid_1d(job.elems().div_ceil(V1_WG as u64));
    let per_row = grid_1d((b as u64).div_ceil(V1_WG as u64));
    let launch = |entry: &'static str, p: &ForwardV1Params, src: &Buf, dst: &Buf, wg: [u32; 3]| {
        gpu.launch(Launch {
            kernel: &FORWARD_V1,
            entry,
            constants: &constants,
            params: uniform(p),
            args: &[
                Arg::R(x.buf()),
                Arg::W(src),
                Arg::W(dst),
                Arg::W(&stack),
                Arg::W(&count),
                Arg::W(out.buf()),
                Arg::W(&perm),
            ],
            workgroups: wg,
        })
    };
    launch("init", &params, &src, &dst, per_elem)?;
    while (params.width as usize) < n {
        launch("merge", &params, &src, &dst, per_elem)?;
        std::mem::swap(&mut src, &mut dst);
        params.width *= 2;
    }
    for c0 in (0..n).step_by(V1_CHUNK) {
        params.c0 = c0 as u32;
        params.c1 = (c0 + V1_CHUNK).min(n) as u32;
        launch("isotonic", &params, &src, &dst, per_row)?;
    }
    launch("output", &params, &src, &dst, per_elem)?;
    Ok((out, saved(perm)))
}

/// Longest row of v2: its isotonic kernel runs up to 2.75 n loop iterations per row,
/// under llvmpipe's cap of 65,535.
const V2_MAX_N: usize = 16384;
/// Run length v2 sorts in registers (`R` in softrank_pav_sort_v2.wgsl); pair buffers
/// have rows of n rounded up to it.
const V2_RUN: usize = 64;

/// Workgroup size of the one-row-per-invocation kernels: one SIMD vector of lavapipe
/// (8 lanes of 32 bits) on CPU drivers, so that few rows still spread over the cores;
/// 64 elsewhere.
fn row_wg(gpu: &Gpu) -> u32 {
    if gpu.launch_as_cpu() { 8 } else { 64 }
}

crate::uniform! {
    struct SortV2Params {
        b: u32,
        n: u32,
        npad: u32,
        width: u32,
        scale: f32,
        _pad: [u32; 3],
    }
}

crate::uniform! {
    struct RowV2Params {
        b: u32,
        n: u32,
        npad: u32,
        scale: f32,
    }
}

/// Sorts every row of `x * scale` decreasingly into runs of (key, index) pairs with the
/// v2 kernels, until at most 16 runs are left; returns the buffer holding the runs, a free
/// one of the same size, and the run length.
fn sort_v2(gpu: &Arc<Gpu>, x: &Tensor, job: &SoftRankCall, npad: usize) -> Result<(Buf, Buf, usize)> {
    let b = job.b;
    let bytes = 8 * (b * npad) as u64;
    let mut src = gpu.alloc(bytes, "soft rank sort buffer")?;
    let mut dst = gpu.alloc(bytes, "soft rank sort buffer")?;
    let wg = row_wg(gpu);
    let mut p = SortV2Params {
        b: b as u32,
        n: job.n as u32,
        npad: npad as u32,
        width: V2_RUN as u32,
        scale: job.scale,
        _pad: [0; 3],
    };
    // The shader reads x as vec4s when n % 4 == 0; otherwise it never touches binding 2,
    // which then gets a stand-in (a vec4 array binding must hold at least 16 bytes).
    let stand_in;
    let x4 = if job.n.is_multiple_of(4) {
        x.buf()
    } else {
        stand_in = gpu.alloc(16, "soft rank unused binding")?;
        &stand_in
    };
    let launch = |entry: &'static str, p: &SortV2Params, src: &Buf, dst: &Buf, threads: usize| {
        gpu.launch(Launch {
            kernel: &SORT_V2,
            entry,
            constants: &[("WG", wg as f64)],
            params: uniform(p),
            args: &[Arg::R(x.buf()), Arg::R(x4), Arg::W(src), Arg::W(dst)],
            workgroups: grid_1d((threads as u64).div_ceil(wg as u64)),
        })
    };
    // `runs` writes dst (binding 4); it reads no pairs.
    launch("runs", &p, &src, &dst, b * (npad / V2_RUN))?;
    std::mem::swap(&mut src, &mut dst);
    // 16-way passes until at most 16 runs are left (the isotonic kernel merges those):
    // a pass costs more than a wider tournament (NOTES.md, Soft rank, PAV).
    let fan = 16;
    while 16 * (p.width as usize) < npad {
        let groups = npad.div_ceil(fan * p.width as usize);
        launch("merge16", &p, &src, &dst, b * groups)?;
        std::mem::swap(&mut src, &mut dst);
        p.width *= fan as u32;
    }
    Ok((src, dst, p.width as usize))
}

fn forward_v2(gpu: &Arc<Gpu>, x: &Tensor, job: &SoftRankCall) -> Result<(Tensor, Saved)> {
    let (b, n) = (job.b, job.n);
    let npad = n.next_multiple_of(V2_RUN).max(V2_RUN);
    let out = Tensor::empty(gpu, &[b, n])?;
    let perm = gpu.alloc(4 * (b * npad) as u64, "soft rank permutation")?;
    if b * n > 0 {
        // Runs of `width` (at most 4 per row) in `runs`; the isotonic kernel merges them
        // into `merged` as it goes.
        let (runs, merged, width) = sort_v2(gpu, x, job, npad)?;
        let stack = gpu.alloc(8 * (b * npad) as u64, "soft rank block stack")?;
        let wg = row_wg(gpu);
        let p = SortV2Params {
            b: b as u32,
            n: n as u32,
            npad: npad as u32,
            width: width as u32,
            scale: job.scale,
            _pad: [0; 3],
        };
        gpu.launch(Launch {
            kernel: &ISOTONIC_V2,
            entry: if 4 * width >= npad { "main4" } else { "main16" },
            constants: &[("WG", wg as f64), ("REG", job.reg_code())],
            params: uniform(&p),
            args: &[
                Arg::R(&runs),
                Arg::W(&merged),
                Arg::W(&merged),
                Arg::W(&stack),
                Arg::W(out.buf()),
                Arg::W(&perm),
            ],
            workgroups: grid_1d((b as u64).div_ceil(wg as u64)),
        })?;
    }
    Ok((
        out,
        Saved {
            perm: Arc::new(perm),
            stride: npad,
        },
    ))
}

fn backward_v2(
    gpu: &Arc<Gpu>,
    g: &Tensor,
    saved: &Saved,
    ranks: &Tensor,
    job: &SoftRankCall,
) -> Result<Tensor> {
    let (b, n) = (job.b, job.n);
    let dx = Tensor::empty(gpu, &[b, n])?;
    if b * n == 0 {
        return Ok(dx);
    }
    let npad = saved.stride;
    let scratch = 4 * (b * npad) as u64;
    let coef = gpu.alloc(scratch, "soft rank block coefficients")?;
    let us = gpu.alloc(scratch, "soft rank sorted cotangent")?;
    let rs = match job.reg {
        Regularization::Kl => Some(gpu.alloc(scratch, "soft rank sorted ranks")?),
        Regularization::L2 => None,
    };
    let wg = row_wg(gpu);
    let p = RowV2Params {
        b: b as u32,
        n: n as u32,
        npad: npad as u32,
        scale: job.scale,
    };
    gpu.launch(Launch {
        kernel: &BACKWARD_V2,
        entry: "main",
        constants: &[("WG", wg as f64), ("REG", job.reg_code())],
        params: uniform(&p),
        args: &[
            Arg::R(g.buf()),
            Arg::R(ranks.buf()),
            Arg::R(&saved.perm),
            Arg::W(&coef),
            Arg::W(&us),
            // l2 never touches rs4: any buffer will do.
            Arg::W(rs.as_ref().unwrap_or(&coef)),
            Arg::W(dx.buf()),
        ],
        workgroups: grid_1d((b as u64).div_ceil(wg as u64)),
    })?;
    Ok(dx)
}

/// Most threads per v3 workgroup.
const V3_MAX_WG: usize = 1024;
/// Longest v3 rows.
const V3_MAX_N: usize = 4096;
/// Most sorted positions a v3 thread owns (`CMAX` in its shaders).
const V3_MAX_C: usize = 16;

/// The two v3 kernels: their launch shapes differ (the backward keeps six WG-sized
/// arrays of scan aggregates in workgroup memory, the forward one).
#[derive(Clone, Copy, PartialEq, Eq)]
enum V3Kernel {
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
fn v3_shape(gpu: &Gpu, n: usize, reg: Regularization, k: V3Kernel) -> Option<(usize, usize, usize)> {
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

/// The v3 kernel with its private arrays sized C (`CMAX`, a WGSL const: function-scope
/// arrays cannot take an override size). Arrays sized for 16 with C = 4 in use end up
/// in local memory on GPUs, sized exactly they stay in registers. One leaked copy of
/// the source per (kernel, C): at most five each (C = 1, 2, 4, 8, 16).
fn v3_kernel(base: &'static Kernel, c: usize) -> Result<&'static Kernel> {
    static SIZED: Mutex<Vec<(&'static str, usize, &'static Kernel)>> = Mutex::new(Vec::new());
    let mut sized = SIZED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&(_, _, k)) = sized.iter().find(|(n, cc, _)| *n == base.name && *cc == c) {
        return Ok(k);
    }
    const DECL: &str = "const CMAX: u32 = 16u;";
    // The base's source as the device layer reads it (so CPRL_SHADER_DIR reaches it).
    let source = shader_source(base)?;
    if !source.contains(DECL) {
        return Err(Error::Invalid(format!("{} lacks `{DECL}`", base.name)));
    }
    let k: &'static Kernel = Box::leak(Box::new(Kernel {
        name: Box::leak(format!("{}_c{c}", base.name).into_boxed_str()),
        source: Box::leak(
            source
                .replace(DECL, &format!("const CMAX: u32 = {c}u;"))
                .into_boxed_str(),
        ),
    }));
    sized.push((base.name, c, k));
    Ok(k)
}

fn v3_checked_shape(gpu: &Gpu, job: &SoftRankCall, k: V3Kernel) -> Result<(usize, usize, usize)> {
    v3_shape(gpu, job.n, job.reg, k).ok_or_else(|| {
        Error::shape(
            "soft_rank_pav",
            format!("V3 does not run rows of {} values on this adapter", job.n),
        )
    })
}

fn v3_positions_per_thread(gpu: &Gpu, job: &SoftRankCall, k: V3Kernel) -> Result<usize> {
    Ok(v3_checked_shape(gpu, job, k)?.2)
}

fn v3_constants(gpu: &Gpu, job: &SoftRankCall, k: V3Kernel) -> Result<[(&'static str, f64); 5]> {
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

fn forward_v3(gpu: &Arc<Gpu>, x: &Tensor, job: &SoftRankCall) -> Result<(Tensor, Saved)> {
    let kernel = v3_kernel(&FORWARD_V3, v3_positions_per_thread(gpu, job, V3Kernel::Forward)?)?;
    row_forward(gpu, x, job, kernel, &v3_constants(gpu, job, V3Kernel::Forward)?)
}

/// Launches a one-workgroup-per-row forward (v3, v4): x in; ranks and the saved
/// permutation out.
fn row_forward(
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
fn v4_shape(gpu: &Gpu, n: usize, reg: Regularization) -> Option<(usize, usize, usize)> {
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

fn forward_v4(gpu: &Arc<Gpu>, x: &Tensor, job: &SoftRankCall) -> Result<(Tensor, Saved)> {
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

fn backward_v3(
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
                &BACKWARD_V3,
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

crate::uniform! {
    struct BackwardV1Params {
        b: u32,
        n: u32,
        c0: u32,
        c1: u32,
        scale: f32,
        _pad: [u32; 3],
    }
}

fn backward_v1(gpu: &Arc<Gpu>, g: &Tensor, perm: &Buf, ranks: &Tensor, job: &SoftRankCall) -> Result<Tensor> {
    let (b, n) = (job.b, job.n);
    let dx = Tensor::empty(gpu, &[b, n])?;
    if b * n == 0 {
        return Ok(dx);
    }
    let coef = gpu.alloc(4 * job.elems(), "soft rank block coefficients")?;
    let bstart = gpu.alloc(4 * job.elems(), "soft rank block starts")?;
    let state = gpu.alloc(8 * b as u64, "soft rank backward state")?;
    let constants = [("WG", V1_WG as f64), ("REG", job.reg_code())];
    let mut params = BackwardV1Params {
        b: b as u32,
        n: n as u32,
        c0: 0,
        c1: 0,
        scale: job.scale,
        _pad: [0; 3],
    };
    let launch = |entry: &'static str, p: &BackwardV1Params, wg: [u32; 3]| {
        gpu.launch(Launch {
            kernel: &BACKWARD_V1,
            entry,
            constants: &constants,
            params: uniform(p),
            args: &[
                Arg::R(g.buf()),
                Arg::R(perm),
                Arg::R(ranks.buf()),
                Arg::W(&coef),
                Arg::W(&bstart),
                Arg::W(&state),
                Arg::W(dx.buf()),
            ],
            workgroups: wg,
        })
    };
    for c0 in (0..n).step_by(V1_CHUNK) {
        params.c0 = c0 as u32;
        params.c1 = (c0 + V1_CHUNK).min(n) as u32;
        launch("block_sums", &params, grid_1d((b as u64).div_ceil(V1_WG as u64)))?;
    }
    launch("apply", &params, grid_1d(job.elems().div_ceil(V1_WG as u64)))?;
    Ok(dx)
}

/// What the forward saved: the permutation with block starts, and the ranks.
struct PavBackward {
    job: SoftRankCall,
    version: PavVersion,
    saved: Saved,
    ranks: Tensor,
}

impl Backward for PavBackward {
    fn name(&self) -> &'static str {
        "soft_rank_pav"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let gpu = g.gpu().clone();
        let dx = backward(&gpu, g, &self.saved, &self.ranks, &self.job, self.version)?;
        Ok(vec![Some(dx)])
    }
}

/// One run of a version without the tape (for tests and the benchmark).
pub struct PavRun {
    /// The soft ranks, [B, n].
    pub ranks: Tensor,
    /// dx for the cotangent, when one was given.
    pub dx: Option<Tensor>,
    saved: Saved,
}

impl PavRun {
    /// The saved permutation, [B, n]: entry k of a row is the index of its k-th largest
    /// scaled value, with bit 31 set where a block of the isotonic solution starts.
    pub fn saved_perm(&self) -> Result<Vec<u32>> {
        let (b, n) = (self.ranks.shape()[0], self.ranks.shape()[1]);
        let stride = self.saved.stride;
        let bytes = self.ranks.gpu().read(&self.saved.perm, 4 * (b * stride) as u64)?;
        let all: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
        Ok(all
            .chunks(stride.max(1))
            .take(b)
            .flat_map(|r| r[..n].iter().copied())
            .collect())
    }
}

/// Bit 31 of a saved permutation entry: a block starts at this sorted position.
pub const BLOCK_START: u32 = 1 << 31;

/// The forward and, when `g` is given, the backward of one version, off the tape.
pub fn run_version(
    x: &Tensor,
    g: Option<&Tensor>,
    reg: Regularization,
    strength: f32,
    order: Order,
    version: PavVersion,
) -> Result<PavRun> {
    let _ng = autograd::no_grad();
    if x.dims() != 2 || g.is_some_and(|g| g.shape() != x.shape()) {
        return Err(Error::shapes(
            "soft_rank_pav",
            x.shape(),
            g.map_or(&[][..], |g| g.shape()),
            "x must be [B, n] and g the same shape",
        ));
    }
    if !(strength > 0.0 && strength.is_finite()) {
        return Err(Error::Invalid(format!(
            "soft_rank_pav: strength must be positive and finite, got {strength}"
        )));
    }
    let gpu = x.gpu().clone();
    let job = SoftRankCall {
        b: x.shape()[0],
        n: x.shape()[1],
        reg,
        scale: scale_of(strength, order),
    };
    let version = if version == PavVersion::Auto {
        choose(&gpu, x, &job)?
    } else {
        version
    };
    if !version.supports(&gpu, job.n, job.reg) {
        return Err(Error::shape(
            "soft_rank_pav",
            format!("{version:?} does not run rows of {} values", job.n),
        ));
    }
    let (ranks, saved) = forward(&gpu, x, &job, version)?;
    let dx = match g {
        Some(g) => Some(backward(&gpu, g, &saved, &ranks, &job, version)?),
        None => None,
    };
    Ok(PavRun { ranks, dx, saved })
}
