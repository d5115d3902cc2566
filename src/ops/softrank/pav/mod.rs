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
//! regularisation, n % 4 == 0: `PavTuneKey`); lavapipe gets V2. Measurements:
//! `benches/NOTES.md` (Soft rank, PAV).

use std::sync::Arc;

use super::{Order, Regularization};
use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Buf, Gpu};
use crate::ops::tune;
use crate::tensor::Tensor;

mod v1;
mod v2;
mod v3;

use v1::{backward_v1, forward_v1};
use v2::{V2_MAX_N, backward_v2, forward_v2, reads_x4};
use v3::{V3Kernel, backward_v3, forward_v3, forward_v4, v3_shape, v4_shape};

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

/// The tuning key of an automatic choice: bucketed sizes, and every property the
/// buckets do not determine that changes a candidate's code path. Two calls that share
/// a key share the measured choice, so they must meet the same code. (`x4` was added
/// to the key string: entries of an older on-disk cache no longer match and are
/// measured again.)
///
/// The rest is determined by the buckets: V3's and V4's shapes follow n rounded up to
/// a power of two, V1's merge passes log2 of it, V2's merge passes and isotonic entry
/// its rows padded to runs of 64 (the unit tests check this).
#[derive(Clone, Debug, PartialEq, Eq)]
struct PavTuneKey {
    /// Bucketed B.
    b: usize,
    /// Bucketed n.
    n: usize,
    /// The REG constant of every kernel (and kl's extra buffers).
    reg: Regularization,
    /// n % 4 == 0: V2's sort reads x as vec4s (`v2::reads_x4`).
    x4: bool,
}

impl std::fmt::Display for PavTuneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b={},n={},{:?},x4={}", self.b, self.n, self.reg, self.x4 as u8)
    }
}

/// The tuning key of rows [b, n] under `reg`.
fn tune_key(b: usize, n: usize, reg: Regularization) -> PavTuneKey {
    PavTuneKey {
        b: tune::bucket(b),
        n: tune::bucket(n),
        reg,
        x4: reads_x4(n),
    }
}

/// Measures the versions that accept the shape (forward + backward) and returns the
/// fastest; cached per adapter and [`PavTuneKey`].
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
    let key = tune_key(job.b, job.n, job.reg).to_string();
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

#[cfg(test)]
mod tests {
    use super::v1::V1_CHUNK;
    use super::v2::{V2_RUN, isotonic_entry, padded_row};
    use super::v3::V3_MAX_N;
    use super::*;
    use crate::ops::tune::KeyGrid;

    /// Everything the code of each version depends on for rows of n under `reg`, beyond
    /// the adapter: V1's merge passes; V2's limit, vec4 reads, merge passes (as the
    /// sort runs them) and isotonic entry; V3's and V4's limit and the power of two
    /// their launch shapes (`v3_shape`, `v4_shape`) read n through. The row count only
    /// sizes grids.
    fn paths(n: usize, reg: Regularization) -> String {
        let v1_passes = (0..).take_while(|p| 1usize << p < n).count();
        let npad = padded_row(n);
        let mut width = V2_RUN;
        let mut v2_passes = 0;
        while 16 * width < npad {
            width *= 16;
            v2_passes += 1;
        }
        format!(
            "{reg:?} v1 passes{v1_passes} chunked{} | v2 {} x4{} passes{v2_passes} {} | v3 {} sh{}",
            n > V1_CHUNK,
            n <= V2_MAX_N,
            reads_x4(n),
            isotonic_entry(width, npad),
            n <= V3_MAX_N,
            n.next_power_of_two(),
        )
    }

    /// Over rows around the bucket edges (1..9, 31..33, .., 4095..4097, 16383/16384)
    /// and row counts 1..65, both regularisations: two shapes with the same key always
    /// run the same code in every version.
    #[test]
    fn shapes_that_share_a_key_share_code_paths() {
        let mut ns: Vec<usize> = (1..=9).collect();
        for edge in [32, 64, 128, 256, 512, 1024, 2048, 4096] {
            ns.extend([edge - 1, edge, edge + 1]);
        }
        ns.extend([100, 300, 724, 725, 3000, 16383, 16384]);
        let mut grid = KeyGrid::new();
        for &n in &ns {
            for b in [1, 3, 4, 5, 63, 64, 65] {
                for reg in [Regularization::L2, Regularization::Kl] {
                    let key = tune_key(b, n, reg).to_string();
                    let now = paths(n, reg);
                    grid.add(key, now, format!("[{b}, {n}] {reg:?}"));
                }
            }
        }
        grid.assert_merged(grid.shapes() / 3);
    }

    #[test]
    fn rows_read_as_vec4s_get_their_own_key() {
        let l2 = Regularization::L2;
        // 1023 and 1024 share the bucket 1024; only 1024 is read as vec4s by V2's sort.
        assert_ne!(tune_key(64, 1023, l2), tune_key(64, 1024, l2));
        assert_eq!(tune_key(64, 1021, l2), tune_key(64, 1023, l2));
        assert_eq!(tune_key(64, 1020, l2), tune_key(64, 1024, l2));
        assert_ne!(tune_key(64, 1024, l2), tune_key(64, 1024, Regularization::Kl));
    }
}
