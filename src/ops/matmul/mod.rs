//! Matrix products: batched `matmul` (with transpose flags, so that backward never
//! materialises a transpose), `linear` (bias fused into the GEMM epilogue), and the
//! tape-free [`gemm`] entry that other op families call (conv2d's im2col path: e.g.
//! `gemm(w [Cout, C*KH*KW], cols [N, C*KH*KW, OH*OW], false, false, Bias::Rows(b),
//! Some(&[N, Cout, OH, OW]))` broadcasts the weight over the images and adds the bias
//! per output channel; the conv records its own backward, built from `gemm` calls with
//! transpose flags).
//!
//! Versions (each `shaders/matmul_vN.wgsl`):
//! - `V1` naive: one output per invocation, the port of the reference.
//! - `V2` register-blocked: 16x8 outputs per invocation, vec4 loads where rows are a
//!   multiple of 4 long; the best style on CPU drivers without subgroups (llvmpipe GL).
//! - `V3` workgroup-memory tiled: 64x64 tile per 256 invocations (4x4 each), K in steps
//!   of 16 through 8 KiB of workgroup memory: the real-GPU style (slow on CPU drivers).
//! - `V4` subgroup broadcast: each lane loads an eighth of a 32-row A panel and
//!   `subgroupBroadcast`s it to the others (lanes 0..7 are the sources, so any subgroup
//!   size >= 8 works: 8 on lavapipe, 32 on NVIDIA); 32x8 outputs per lane (32x4 on GPUs,
//!   and where 4 columns per lane of one subgroup already cover N). The lavapipe
//!   winner. Needs subgroups of 8 lanes or more.
//! - `matmul_reduce_v1`: the second pass of split-K (below).
//!
//! Bench: `NODEVICE_SELECT=1 cargo bench --bench kernels -- matmul` (every version;
//! `benches/NOTES.md` (Matmul) records what was tried).
//!
//! `MatmulVersion::Auto` (the default) asks `ops::tune::choose` to time V4 (where it
//! runs), V2 and V3 once per key on the adapter: bucketed (M, N, K, batch), the
//! transposes, and what else changes a candidate's code (vec4 views, bias, split-K;
//! `MatmulTuneKey`).
//! With tuning off (`CPRL_TUNE=off`) it takes V4 on CPU adapters with subgroups, V2 on
//! other CPU adapters, V3 on GPUs. Every version computes the same sums up to f32
//! rounding (tolerance in tests/matmul.rs).
//!
//! Split-K: llvmpipe stops any loop after 65,535 iterations per invocation, and the
//! conv weight gradient has K = batch * OH * OW (400k and more). Whenever K exceeds a
//! version's `max_chunk`, or the output has few tiles, K is cut into chunks: each
//! chunk's product goes to a scratch tensor `[splits, batch, M, N]`, and
//! `matmul_reduce_v1` adds the chunks in order plus the bias. The chunking depends only
//! on the shapes and the version, so results are bitwise reproducible.

mod tune_key;

use tune_key::tune_key;

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Gpu, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::{reduce, tune};
use crate::tensor::Tensor;

static MATMUL_V1: Kernel = kernel!("matmul_v1");
static MATMUL_V2: Kernel = kernel!("matmul_v2");
static MATMUL_V3: Kernel = kernel!("matmul_v3");
static MATMUL_V4: Kernel = kernel!("matmul_v4");
static MATMUL_REDUCE_V1: Kernel = kernel!("matmul_reduce_v1");

/// Kernel versions of the GEMM (see the module header); `Auto` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatmulVersion {
    /// The default: chosen by measurement among V4 (where subgroups fit), V2 and V3.
    #[default]
    Auto,
    /// The naive port of the reference: one output per invocation.
    V1,
    /// Register-blocked, 16x8 outputs per invocation (CPU drivers without subgroups).
    V2,
    /// Workgroup-memory tiled, 64x64 per workgroup (real GPUs).
    V3,
    /// Subgroup broadcast of A panels (lavapipe); needs subgroups of 8 lanes or more.
    V4,
}

/// The shape of one (batched) GEMM, `C[b] = op(A[b]) op(B[b])`.
///
/// Storage: A is `[batch_a, m, k]` (`[batch_a, k, m]` when `trans_a`), B is
/// `[batch_b, k, n]` (`[batch_b, n, k]` when `trans_b`), C is `[batch, m, n]`, all
/// row-major; `batch_a` is `batch` when `batched_a`, else 1 (broadcast), same for B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmDims {
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub batched_a: bool,
    pub batched_b: bool,
}

impl GemmDims {
    /// Offset of `op(A)[bat, i, kk]` in A's storage.
    pub fn a_index(&self, bat: usize, i: usize, kk: usize) -> usize {
        let base = if self.batched_a { bat * self.m * self.k } else { 0 };
        base + if self.trans_a {
            kk * self.m + i
        } else {
            i * self.k + kk
        }
    }
    /// Offset of `op(B)[bat, kk, j]` in B's storage.
    pub fn b_index(&self, bat: usize, kk: usize, j: usize) -> usize {
        let base = if self.batched_b { bat * self.k * self.n } else { 0 };
        base + if self.trans_b {
            j * self.k + kk
        } else {
            kk * self.n + j
        }
    }
    /// Multiply-adds counted as two flops.
    pub fn flops(&self) -> f64 {
        2.0 * (self.batch * self.m * self.n * self.k) as f64
    }

    /// The GEMM of `matmul_t(a, b, trans_a, trans_b)` and the output shape: the last two
    /// dims are the matrices, leading dims the batch (equal on both sides, or absent on
    /// one side, which is then broadcast).
    pub fn of_shapes(
        op: &'static str,
        a: &[usize],
        b: &[usize],
        trans_a: bool,
        trans_b: bool,
    ) -> Result<(GemmDims, Vec<usize>)> {
        if a.len() < 2 || b.len() < 2 {
            return Err(Error::shapes(
                op,
                a,
                b,
                "both operands need at least 2 dimensions",
            ));
        }
        let (ra, rb) = (a.len(), b.len());
        let (m, ka) = if trans_a {
            (a[ra - 1], a[ra - 2])
        } else {
            (a[ra - 2], a[ra - 1])
        };
        let (kb, n) = if trans_b {
            (b[rb - 1], b[rb - 2])
        } else {
            (b[rb - 2], b[rb - 1])
        };
        if ka != kb {
            return Err(Error::shapes(
                op,
                a,
                b,
                format!("inner dimensions differ: {ka} vs {kb} (trans_a {trans_a}, trans_b {trans_b})"),
            ));
        }
        let (ba, bb) = (&a[..ra - 2], &b[..rb - 2]);
        let lead = match (ba.is_empty(), bb.is_empty()) {
            (_, true) => ba,
            (true, false) => bb,
            (false, false) if ba == bb => ba,
            _ => {
                return Err(Error::shapes(
                    op,
                    a,
                    b,
                    "batch dimensions must be equal, or absent on one side",
                ));
            }
        };
        let mut out = lead.to_vec();
        out.extend([m, n]);
        let d = GemmDims {
            batch: lead.iter().product(),
            m,
            n,
            k: ka,
            trans_a,
            trans_b,
            batched_a: !ba.is_empty(),
            batched_b: !bb.is_empty(),
        };
        Ok((d, out))
    }
}

/// A bias fused into the GEMM epilogue.
#[derive(Clone, Copy)]
pub enum Bias<'a> {
    None,
    /// `[n]`, added to every row (`linear`).
    Cols(&'a Tensor),
    /// `[m]`, added to every column (a conv weight `[Cout, K]` times im2col columns).
    Rows(&'a Tensor),
}

impl Bias<'_> {
    fn code(&self) -> u32 {
        match self {
            Bias::None => 0,
            Bias::Cols(_) => 1,
            Bias::Rows(_) => 2,
        }
    }
    fn tensor(&self) -> Option<&Tensor> {
        match *self {
            Bias::None => None,
            Bias::Cols(t) | Bias::Rows(t) => Some(t),
        }
    }
}

crate::uniform! {
    /// Mirrors `Params` in every `matmul_vN.wgsl`.
    struct Params {
        m: u32,
        n: u32,
        k: u32,
        batch: u32,
        stride_a: u32,
        stride_b: u32,
        splits: u32,
        k_chunk: u32,
        tiles_n: u32,
        tiles_m: u32,
        batch_base: u32,
        _pad: u32,
    }
}

crate::uniform! {
    /// Mirrors `Params` in `matmul_reduce_v1.wgsl`.
    struct ReduceParams {
        total: u32,
        splits: u32,
        m: u32,
        n: u32,
    }
}

/// How one version covers the output: a workgroup computes a `tile_m x tile_n` block
/// (V1: `wg` consecutive elements of the flattened M x N), and one invocation loops
/// over at most `max_chunk` values of K.
struct Spec {
    kernel: &'static Kernel,
    wg: u32,
    tile_m: usize,
    tile_n: usize,
    /// Largest K chunk whose loop stays under llvmpipe's 65,535 iterations.
    max_chunk: usize,
    /// Chunks are a multiple of this (the kernel's K step).
    k_align: usize,
}

/// What launch shapes read of the adapter: the subgroup size workgroups are built on
/// ([`Gpu::launch_lanes`]) and whether shape choices take their CPU-driver branch
/// ([`Gpu::launch_as_cpu`]); a test may force either. Plain values, so that the
/// tuning key's tests run without a device.
#[derive(Clone, Copy, Debug)]
struct LaunchAdapter {
    lanes: u32,
    cpu: bool,
}

impl LaunchAdapter {
    fn of(gpu: &Gpu) -> Self {
        LaunchAdapter {
            lanes: gpu.launch_lanes(),
            cpu: gpu.launch_as_cpu(),
        }
    }
}

/// V4 takes 8 columns per lane on CPU drivers unless one subgroup's worth of 4 covers
/// N. GPUs get 4 (32 x 8 accumulators would not fit a GPU thread's registers).
fn v4_wide(ad: LaunchAdapter, n: usize) -> bool {
    ad.cpu && n > 4 * v4_wg(ad) as usize
}

/// V4's workgroup: one subgroup (8 lanes on lavapipe: the least padding for thin N),
/// at least 8 lanes (the broadcast sources).
fn v4_wg(ad: LaunchAdapter) -> u32 {
    8.max(ad.lanes)
}

fn spec(ad: LaunchAdapter, v: MatmulVersion, d: &GemmDims) -> Spec {
    match v {
        MatmulVersion::V1 | MatmulVersion::Auto => Spec {
            kernel: &MATMUL_V1,
            wg: 64,
            tile_m: 0,
            tile_n: 0,
            // one iteration per k
            max_chunk: 32768,
            k_align: 1,
        },
        MatmulVersion::V2 => Spec {
            kernel: &MATMUL_V2,
            wg: 64,
            tile_m: 128,
            tile_n: 64,
            // one iteration per 4 k
            max_chunk: 131072,
            k_align: 4,
        },
        MatmulVersion::V3 => Spec {
            kernel: &MATMUL_V3,
            wg: 256,
            tile_m: 64,
            tile_n: 64,
            // 1 + 16 + 8 iterations (outer, compute, copy loops) per 16 k
            max_chunk: 32768,
            k_align: 16,
        },
        MatmulVersion::V4 => {
            let wg = v4_wg(ad);
            Spec {
                kernel: &MATMUL_V4,
                wg,
                tile_m: 32,
                tile_n: if v4_wide(ad, d.n) { 8 } else { 4 } * wg as usize,
                // one iteration per 4 k
                max_chunk: 131072,
                k_align: 4,
            }
        }
    }
}

/// Whether `v` can run on this device (V4 needs subgroups of 8 lanes or more).
pub fn version_available(gpu: &Gpu, v: MatmulVersion) -> bool {
    match v {
        MatmulVersion::V4 => {
            let i = gpu.info();
            gpu.has_subgroups() && i.subgroup_min_size >= 8 && i.subgroup_max_size <= 128
        }
        _ => true,
    }
}

/// The versions `Auto` picks from, the default (used when tuning is off) first.
fn candidates(gpu: &Gpu) -> Vec<MatmulVersion> {
    candidates_for(gpu.is_cpu(), version_available(gpu, MatmulVersion::V4))
}

/// [`candidates`] on a CPU driver or a GPU (`is_cpu`), with or without V4.
fn candidates_for(is_cpu: bool, v4: bool) -> Vec<MatmulVersion> {
    let mut c = Vec::new();
    if is_cpu {
        if v4 {
            c.push(MatmulVersion::V4);
        }
        c.extend([MatmulVersion::V2, MatmulVersion::V3]);
    } else {
        c.push(MatmulVersion::V3);
        if v4 {
            c.push(MatmulVersion::V4);
        }
        c.push(MatmulVersion::V2);
    }
    c
}

/// (splits, k_chunk) for a GEMM: enough chunks to keep every loop under the cap, and
/// more when the output alone would leave the device idle.
fn plan_split(d: &GemmDims, s: &Spec, tiles: usize) -> (usize, usize) {
    let k = d.k.max(1);
    let mut splits = k.div_ceil(s.max_chunk);
    // Few output tiles: cut K into chunks of about 2048. More workgroups to share out,
    // and the chunk's panels of A and B stay in cache while the tiles sharing them
    // run (on lavapipe, 288x64x100352 went from 36 to 44-47 GFLOP/s). The partial sums
    // stay under 64 MiB and the chunk count under the grid's 65535.
    let groups = tiles * d.batch;
    if groups < 64 && k >= 4096 {
        let budget = (1 << 24) / (d.batch * d.m * d.n).max(1);
        splits = splits.max((k / 2048).min(budget).min(65535 / d.batch));
    }
    let chunk = k.div_ceil(splits).next_multiple_of(s.k_align);
    (k.div_ceil(chunk), chunk)
}

/// (tiles_m, tiles_n, workgroups) covering the output of one batch entry and K chunk.
fn tiling(d: &GemmDims, s: &Spec) -> (usize, usize, usize) {
    if s.tile_m == 0 {
        (1, 1, (d.m * d.n).div_ceil(s.wg as usize))
    } else {
        let (tm, tn) = (d.m.div_ceil(s.tile_m), d.n.div_ceil(s.tile_n));
        (tm, tn, tm * tn)
    }
}

/// (splits, k_chunk) of a launch: [`plan_split`] over its tiles, one chunk when K = 0.
/// More than one split means a scratch tensor, BIAS 0 in the GEMM and the reduce pass.
fn split(d: &GemmDims, s: &Spec) -> (usize, usize) {
    if d.k == 0 {
        (1, 1)
    } else {
        plan_split(d, s, tiling(d, s).2)
    }
}

/// The vec4 views [VA, VB, VC]: the rows of A, B and C (as stored) hold a multiple of 4
/// values, so V2 and V4 may read (write) them as vec4s.
fn vec4_views(d: &GemmDims) -> [bool; 3] {
    let nonempty = d.k > 0;
    let va = nonempty
        && if d.trans_a {
            d.m.is_multiple_of(4)
        } else {
            d.k.is_multiple_of(4)
        };
    let vb = nonempty
        && if d.trans_b {
            d.k.is_multiple_of(4)
        } else {
            d.n.is_multiple_of(4)
        };
    [va, vb, d.n.is_multiple_of(4)]
}

/// Whether version `v` reads through the vec4 views (V2 and V4; V1 and V3 do not).
fn reads_views(v: MatmulVersion) -> bool {
    matches!(v, MatmulVersion::V2 | MatmulVersion::V4)
}

/// The pipeline constants of a launch of `v` with spec `s`, bias code `bias` and
/// `splits` K chunks (the GEMM adds the bias only when it writes C itself). V1 and V3
/// take the first 4, V2 the first 7, V4 all 8.
fn constants(
    ad: LaunchAdapter,
    v: MatmulVersion,
    s: &Spec,
    d: &GemmDims,
    bias: u32,
    splits: usize,
) -> Vec<(&'static str, f64)> {
    let [va, vb, vc] = vec4_views(d);
    let all = [
        ("WG", s.wg as f64),
        ("TA", d.trans_a as u32 as f64),
        ("TB", d.trans_b as u32 as f64),
        ("BIAS", if splits > 1 { 0.0 } else { bias as f64 }),
        ("VA", va as u32 as f64),
        ("VB", vb as u32 as f64),
        ("VC", vc as u32 as f64),
        ("WIDE", v4_wide(ad, d.n) as u32 as f64),
    ];
    let count = match v {
        MatmulVersion::V4 => 8,
        MatmulVersion::V2 => 7,
        _ => 4,
    };
    all[..count].to_vec()
}

fn u32_of(what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Invalid(format!("matmul: {what} = {v} does not fit in 32 bits")))
}

/// Enqueues one GEMM with version `v` (not Auto) into `out` (`[batch, m, n]` elements).
fn launch(a: &Tensor, b: &Tensor, d: &GemmDims, bias: Bias, v: MatmulVersion, out: &Tensor) -> Result<()> {
    let gpu = a.gpu();
    if !version_available(gpu, v) {
        return Err(Error::Invalid(format!(
            "matmul {v:?} needs subgroups of 8 to 128 lanes; {} has none",
            gpu.info().name
        )));
    }
    if d.m * d.n * d.batch == 0 {
        return Ok(());
    }
    let ad = LaunchAdapter::of(gpu);
    let s = spec(ad, v, d);
    let (tiles_m, tiles_n, groups) = tiling(d, &s);
    let (splits, chunk) = split(d, &s);
    let bias_t = bias.tensor();
    let total = d.batch * d.m * d.n;
    let part = if splits > 1 {
        Some(Tensor::empty(gpu, &[splits * total])?)
    } else {
        None
    };
    let dst = part.as_ref().unwrap_or(out);
    let mut p = Params {
        m: u32_of("m", d.m)?,
        n: u32_of("n", d.n)?,
        k: u32_of("k", d.k)?,
        batch: u32_of("batch", d.batch)?,
        stride_a: u32_of("A size", if d.batched_a { d.m * d.k } else { 0 })?,
        stride_b: u32_of("B size", if d.batched_b { d.k * d.n } else { 0 })?,
        splits: splits as u32,
        k_chunk: chunk as u32,
        tiles_n: tiles_n as u32,
        tiles_m: tiles_m as u32,
        batch_base: 0,
        _pad: 0,
    };
    u32_of("output size", splits * total)?;
    // vec4 views: rows of the operand hold a multiple of 4 values.
    let [va, vb, vc] = vec4_views(d);
    let constants = constants(ad, v, &s, d, bias.code(), splits);
    // V2 and V4 read through vec4 views where rows allow it; V1 and V3 do not.
    let views = reads_views(v);
    let bias_buf = bias_t.unwrap_or(a).buf();
    // A vec4 view that is never read still needs 16 bytes bound.
    let small = if views && (!va || !vb) {
        Some(Tensor::empty(gpu, &[4])?)
    } else {
        None
    };
    let a_view = if va { a } else { small.as_ref().unwrap_or(a) };
    let b_view = if vb { b } else { small.as_ref().unwrap_or(b) };
    // (a separate one: a buffer may not be bound read-only and writable at once)
    let small_out = if views && !vc {
        Some(Tensor::empty(gpu, &[4])?)
    } else {
        None
    };
    let out_view = small_out.as_ref().unwrap_or(dst);
    let args_views = [
        Arg::R(a.buf()),
        Arg::R(a_view.buf()),
        Arg::R(b.buf()),
        Arg::R(b_view.buf()),
        Arg::R(bias_buf),
        Arg::W(dst.buf()),
        Arg::W(out_view.buf()),
    ];
    let args_plain = [
        Arg::R(a.buf()),
        Arg::R(b.buf()),
        Arg::R(bias_buf),
        Arg::W(dst.buf()),
    ];
    let args: &[Arg] = if views { &args_views } else { &args_plain };
    // Grid z = batch entries x chunks, at most 65535 per dispatch.
    let per = (65535 / splits).max(1);
    let mut base = 0;
    while base < d.batch {
        let nb = per.min(d.batch - base);
        p.batch_base = base as u32;
        let [x, y, _] = grid_1d(groups as u64);
        gpu.launch(Launch {
            kernel: s.kernel,
            entry: "main",
            constants: &constants,
            params: uniform(&p),
            args,
            workgroups: [x, y, (nb * splits) as u32],
        })?;
        base += nb;
    }
    if let Some(part) = part {
        let rp = ReduceParams {
            total: total as u32,
            splits: splits as u32,
            m: d.m as u32,
            n: d.n as u32,
        };
        gpu.launch(Launch {
            kernel: &MATMUL_REDUCE_V1,
            entry: "main",
            constants: &[("WG", 256.0), ("BIAS", bias.code() as f64)],
            params: uniform(&rp),
            args: &[Arg::R(part.buf()), Arg::R(bias_buf), Arg::W(out.buf())],
            workgroups: grid_1d(total.div_ceil(256) as u64),
        })?;
    }
    Ok(())
}

/// Resolves `Auto` for this GEMM (measuring on first use of its shape bucket).
fn resolve(a: &Tensor, b: &Tensor, d: &GemmDims, bias: Bias, v: MatmulVersion) -> Result<MatmulVersion> {
    if v != MatmulVersion::Auto {
        return Ok(v);
    }
    let gpu = a.gpu();
    let cands = candidates(gpu);
    if d.batch * d.m * d.n * d.k == 0 {
        // Nothing to time: zeros (or the bias) come out of any version.
        return Ok(cands[0]);
    }
    let key = tune_key(LaunchAdapter::of(gpu), &cands, d, bias.code()).to_string();
    tune::choose(gpu, "matmul", &key, &cands, |c| {
        let scratch = Tensor::empty(gpu, &[d.batch * d.m * d.n])?;
        launch(a, b, d, bias, c, &scratch)
    })
}

/// The version `Auto` runs for `gemm(a, b, trans_a, trans_b, ..)` on this adapter
/// (measured now if its shape bucket has not been yet).
pub fn auto_version(a: &Tensor, b: &Tensor, trans_a: bool, trans_b: bool) -> Result<MatmulVersion> {
    let (d, _) = GemmDims::of_shapes("gemm", a.shape(), b.shape(), trans_a, trans_b)?;
    resolve(a, b, &d, Bias::None, MatmulVersion::Auto)
}

fn check_bias(op: &'static str, d: &GemmDims, bias: Bias) -> Result<()> {
    let (t, want) = match bias {
        Bias::None => return Ok(()),
        Bias::Cols(t) => (t, d.n),
        Bias::Rows(t) => (t, d.m),
    };
    if t.shape() != [want] {
        return Err(Error::shapes(op, t.shape(), &[want], "bias length"));
    }
    Ok(())
}

/// Tape-free GEMM on tensors: `op(A) op(B) + bias`, shaped as in [`matmul_t`], then
/// given `out_shape` (same element count) when one is passed. For other op families
/// (conv2d's im2col path), which record their own backward.
pub fn gemm(
    a: &Tensor,
    b: &Tensor,
    trans_a: bool,
    trans_b: bool,
    bias: Bias,
    out_shape: Option<&[usize]>,
) -> Result<Tensor> {
    gemm_with(a, b, trans_a, trans_b, bias, out_shape, MatmulVersion::Auto)
}

/// [`gemm`] with a chosen version.
pub fn gemm_with(
    a: &Tensor,
    b: &Tensor,
    trans_a: bool,
    trans_b: bool,
    bias: Bias,
    out_shape: Option<&[usize]>,
    version: MatmulVersion,
) -> Result<Tensor> {
    let (d, shape) = GemmDims::of_shapes("gemm", a.shape(), b.shape(), trans_a, trans_b)?;
    check_bias("gemm", &d, bias)?;
    let shape = match out_shape {
        Some(s) if s.iter().product::<usize>() != shape.iter().product::<usize>() => {
            return Err(Error::shapes(
                "gemm",
                &shape,
                s,
                "out_shape holds a different count",
            ));
        }
        Some(s) => s.to_vec(),
        None => shape,
    };
    let out = Tensor::empty(a.gpu(), &shape)?;
    let v = resolve(a, b, &d, bias, version)?;
    launch(a, b, &d, bias, v, &out)?;
    Ok(out)
}

/// `a @ b`: `[..., M, K] x [..., K, N] -> [..., M, N]`, batch dims equal or absent on
/// one side (broadcast).
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    matmul_with(a, b, false, false, MatmulVersion::Auto)
}

/// `op(a) @ op(b)` where `op` transposes the last two dims when its flag is set (the
/// storage is read transposed; nothing is copied).
pub fn matmul_t(a: &Tensor, b: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor> {
    matmul_with(a, b, trans_a, trans_b, MatmulVersion::Auto)
}

/// [`matmul_t`] with a chosen version (also used by its backward).
pub fn matmul_with(
    a: &Tensor,
    b: &Tensor,
    trans_a: bool,
    trans_b: bool,
    version: MatmulVersion,
) -> Result<Tensor> {
    let out = {
        let _g = autograd::no_grad();
        gemm_with(a, b, trans_a, trans_b, Bias::None, None, version)?
    };
    let (d, _) = GemmDims::of_shapes("matmul", a.shape(), b.shape(), trans_a, trans_b)?;
    Ok(autograd::record(out, &[a, b], || MatmulBackward {
        a: a.clone(),
        b: b.clone(),
        d,
        version,
    }))
}

struct MatmulBackward {
    a: Tensor,
    b: Tensor,
    d: GemmDims,
    version: MatmulVersion,
}

/// Sums a `[batch..., r, c]` gradient over its batch dims down to `shape` (`[r, c]`).
fn sum_batch(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let per: usize = shape.iter().product();
    let flat = g.reshape(&[g.numel() / per.max(1), per])?;
    reduce::sum_axes(&flat, &[0], false)?.reshape(shape)
}

/// The rows of a `[batch..., r, c]` tensor as one `[batch * r, c]` matrix.
fn fold(t: &Tensor) -> Result<Tensor> {
    let c = t.dim(-1);
    t.reshape(&[t.numel() / c.max(1), c])
}

impl Backward for MatmulBackward {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // C = op(A) op(B)  =>  d op(A) = G op(B)^T,  d op(B) = op(A)^T G.
        let (a, b, d, v) = (&self.a, &self.b, &self.d, self.version);
        let gemm = |x: &Tensor, y: &Tensor, tx: bool, ty: bool| gemm_with(x, y, tx, ty, Bias::None, None, v);
        let broadcast_b = d.batch > 1 && !d.batched_b;
        let da = if needs[0] {
            let full = if d.trans_a {
                // A stored [K, M]: dA = op(B) G^T
                gemm(b, g, d.trans_b, true)?
            } else {
                gemm(g, b, false, !d.trans_b)?
            };
            Some(sum_batch(&full, a.shape())?)
        } else {
            None
        };
        let db = if needs[1] {
            let full = match (d.trans_b, d.trans_a, broadcast_b) {
                // B broadcast and A stored [batch, M, K]: fold the batch into K.
                (false, false, true) => gemm(&fold(a)?, &fold(g)?, true, false)?,
                (true, false, true) => gemm(&fold(g)?, &fold(a)?, true, false)?,
                // B stored [N, K]: dB = G^T op(A)
                (true, ta, _) => gemm(g, a, true, ta)?,
                (false, ta, _) => gemm(a, g, !ta, false)?,
            };
            Some(sum_batch(&full, b.shape())?)
        } else {
            None
        };
        Ok(vec![da, db])
    }
}

/// `x w^T + bias`: x `[B, in]`, w `[out, in]`, bias `[out]` -> `[B, out]`, the bias
/// added in the GEMM epilogue.
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    linear_with(x, w, bias, MatmulVersion::Auto)
}

/// [`linear`] with a chosen version (also used by its backward).
pub fn linear_with(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, version: MatmulVersion) -> Result<Tensor> {
    if x.dims() != 2 || w.dims() != 2 || x.dim(1) != w.dim(1) {
        return Err(Error::shapes(
            "linear",
            x.shape(),
            w.shape(),
            "x [B, in] and w [out, in] expected",
        ));
    }
    let out = {
        let _g = autograd::no_grad();
        let bias = bias.map_or(Bias::None, Bias::Cols);
        gemm_with(x, w, false, true, bias, None, version).map_err(|e| rename_shape_error(e, "linear"))?
    };
    let mut inputs = vec![x, w];
    inputs.extend(bias);
    Ok(autograd::record(out, &inputs, || LinearBackward {
        x: x.clone(),
        w: w.clone(),
        has_bias: bias.is_some(),
        version,
    }))
}

fn rename_shape_error(e: Error, op: &'static str) -> Error {
    match e {
        Error::Shape { detail, .. } => Error::Shape { op, detail },
        e => e,
    }
}

struct LinearBackward {
    x: Tensor,
    w: Tensor,
    has_bias: bool,
    version: MatmulVersion,
}

impl Backward for LinearBackward {
    fn name(&self) -> &'static str {
        "linear"
    }
    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // y = x w^T + b  =>  dx = g w,  dw = g^T x,  db = sum over rows of g.
        let v = self.version;
        let dx = if needs[0] {
            Some(gemm_with(g, &self.w, false, false, Bias::None, None, v)?)
        } else {
            None
        };
        let dw = if needs[1] {
            Some(gemm_with(g, &self.x, true, false, Bias::None, None, v)?)
        } else {
            None
        };
        let mut grads = vec![dx, dw];
        if self.has_bias {
            grads.push(if needs[2] {
                Some(reduce::sum_axes(g, &[0], false)?)
            } else {
                None
            });
        }
        Ok(grads)
    }
}
