//! Pairwise soft ranks: `r_i = 1 + sum_{j != i} sigmoid((x_i - x_j) / tau)`,
//! `tau = strength`, along the rows of a [B, n] tensor; O(n^2) per row.
//! Descending ranks `-x` (equal to `n + 1 - r`). Backward, analytic and O(n^2):
//! `dx_k = (s / tau) sum_j sigmoid'(s (x_k - x_j) / tau) (g_k - g_j)`, s = +-1 the order.
//!
//! Versions (forward and backward alike, `softrank_pairwise_{forward,backward}_vN.wgsl`):
//! - V1: one invocation per element, the row streamed from storage (the naive port).
//! - V2: one invocation per 8 consecutive elements held in registers: one load per
//!   8 sigmoids. The fast one on CPU drivers.
//! - V3: one workgroup per 256 elements, the row streamed through workgroup memory in
//!   tiles. The usual GPU style.
//!
//! `Auto` (the default) asks `ops::tune::choose` between V2 and V3, measured on the
//! leading rows (at most 2^26 sigmoid terms: rows are independent) and keyed on the
//! bucketed (rows measured, n); with tuning off it takes V2 on CPU adapters and V3
//! elsewhere.
//! Every version adds an element's terms in the same order (j = 0, 1, ..), so the
//! choice never changes the result (the tests saw bitwise-equal outputs).
//! Rows up to n = 32768 (the per-invocation loop stays under llvmpipe's cap).
//!
//! Bench: `cargo bench --bench kernels -- softrank.pairwise`.

use super::Order;
use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::tune;
use crate::tensor::Tensor;

static FORWARD_V1: Kernel = kernel!("softrank_pairwise_forward_v1");
static FORWARD_V2: Kernel = kernel!("softrank_pairwise_forward_v2");
static FORWARD_V3: Kernel = kernel!("softrank_pairwise_forward_v3");
static BACKWARD_V1: Kernel = kernel!("softrank_pairwise_backward_v1");
static BACKWARD_V2: Kernel = kernel!("softrank_pairwise_backward_v2");
static BACKWARD_V3: Kernel = kernel!("softrank_pairwise_backward_v3");

/// Longest row supported (each invocation loops over the whole row).
pub const MAX_N: usize = 32768;

/// Kernel versions of the pairwise soft ranks, both passes (see the module header);
/// `Auto` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PairwiseVersion {
    /// The default: chosen by measurement between V2 and V3.
    #[default]
    Auto,
    /// The naive port of the reference: one invocation per element, the row from storage.
    V1,
    /// 8 consecutive elements per invocation in registers (CPU drivers).
    V2,
    /// One workgroup per 256 elements, the row in workgroup-memory tiles (GPUs).
    V3,
}

crate::uniform! {
    struct Params {
        rows: u32,
        n: u32,
        k: f32,
        /// V2: tiles of 8 per row; V3: workgroups per row; V1: unused.
        per_row: u32,
    }
}

fn dims(op: &'static str, x: &Tensor) -> Result<(usize, usize)> {
    if x.dims() != 2 {
        return Err(Error::shape(
            op,
            format!("expected [rows, n], got {:?}", x.shape()),
        ));
    }
    let (rows, n) = (x.dim(0), x.dim(1));
    if n > MAX_N {
        return Err(Error::shape(
            op,
            format!(
                "rows of {n} elements are above the pairwise limit of {MAX_N}; use the PAV or network method"
            ),
        ));
    }
    Ok((rows, n))
}

fn check_strength(strength: f32) -> Result<()> {
    if !(strength > 0.0 && strength.is_finite()) {
        return Err(Error::Invalid(format!(
            "soft_rank (pairwise): strength must be positive and finite, got {strength}"
        )));
    }
    Ok(())
}

fn sign(order: Order) -> f32 {
    match order {
        Order::Ascending => 1.0,
        Order::Descending => -1.0,
    }
}

/// Sigmoid terms the version choice is measured on (the leading rows stand for all).
const TUNE_TERMS: usize = 1 << 26;

/// Rows the version choice for rows of n is measured on.
fn tune_rows(rows: usize, n: usize) -> usize {
    (TUNE_TERMS / (n * n).max(1)).clamp(1, rows)
}

/// The version Auto resolves to for this shape (measured once per bucket); `run(v, rows)`
/// enqueues version v on the first `rows` rows.
fn resolve(
    x: &Tensor,
    rows: usize,
    n: usize,
    pass: &'static str,
    mut run: impl FnMut(PairwiseVersion, usize) -> Result<()>,
) -> Result<PairwiseVersion> {
    let gpu = x.gpu();
    let cands = if gpu.is_cpu() {
        [PairwiseVersion::V2, PairwiseVersion::V3]
    } else {
        [PairwiseVersion::V3, PairwiseVersion::V2]
    };
    let sub = tune_rows(rows, n);
    let key = format!("rows={},n={}", tune::bucket(sub), tune::bucket(n));
    tune::choose(gpu, pass, &key, &cands, |v| run(v, sub))
}

fn launch(
    x: &Tensor,
    g: Option<&Tensor>,
    out: &Tensor,
    rows: usize,
    n: usize,
    k: f32,
    version: PairwiseVersion,
) -> Result<()> {
    let gpu = x.gpu();
    let (kernel, wg, per_row, groups) = match (version, g.is_some()) {
        (PairwiseVersion::V1, bwd) => {
            let total = (rows * n) as u64;
            (
                if bwd { &BACKWARD_V1 } else { &FORWARD_V1 },
                256u32,
                0,
                total.div_ceil(256),
            )
        }
        (PairwiseVersion::V2, bwd) => {
            let tiles = n.div_ceil(8);
            let total = (rows * tiles) as u64;
            (
                if bwd { &BACKWARD_V2 } else { &FORWARD_V2 },
                64,
                tiles as u32,
                total.div_ceil(64),
            )
        }
        (PairwiseVersion::V3, bwd) => {
            let blocks = n.div_ceil(256);
            (
                if bwd { &BACKWARD_V3 } else { &FORWARD_V3 },
                256,
                blocks as u32,
                (rows * blocks) as u64,
            )
        }
        (PairwiseVersion::Auto, _) => unreachable!("resolved by the caller"),
    };
    let params = Params {
        rows: rows as u32,
        n: n as u32,
        k,
        per_row,
    };
    let args_f = [Arg::R(x.buf()), Arg::W(out.buf())];
    let args_b;
    let args: &[Arg] = match g {
        None => &args_f,
        Some(g) => {
            args_b = [Arg::R(x.buf()), Arg::R(g.buf()), Arg::W(out.buf())];
            &args_b
        }
    };
    gpu.launch(Launch {
        kernel,
        entry: "main",
        constants: &[("WG", wg as f64)],
        params: uniform(&params),
        args,
        workgroups: grid_1d(groups),
    })
}

/// The forward kernel alone (nothing recorded): ranks of the rows of `x` ([rows, n]).
pub fn pairwise_forward(x: &Tensor, strength: f32, order: Order, version: PairwiseVersion) -> Result<Tensor> {
    check_strength(strength)?;
    let (rows, n) = dims("soft_rank_pairwise", x)?;
    let out = Tensor::empty(x.gpu(), x.shape())?;
    if rows * n == 0 {
        return Ok(out);
    }
    let k = sign(order) / strength;
    let version = match version {
        PairwiseVersion::Auto => resolve(x, rows, n, "softrank_pairwise_forward", |v, sub| {
            let tmp = Tensor::empty(x.gpu(), x.shape())?;
            launch(x, None, &tmp, sub, n, k, v)
        })?,
        v => v,
    };
    launch(x, None, &out, rows, n, k, version)?;
    Ok(out)
}

/// The backward kernel alone: `J^T g` of the ranks at `x` (both [rows, n]).
pub fn pairwise_backward(
    x: &Tensor,
    g: &Tensor,
    strength: f32,
    order: Order,
    version: PairwiseVersion,
) -> Result<Tensor> {
    check_strength(strength)?;
    let (rows, n) = dims("soft_rank_pairwise backward", x)?;
    if g.shape() != x.shape() {
        return Err(Error::shapes(
            "soft_rank_pairwise backward",
            x.shape(),
            g.shape(),
            "input vs gradient of the ranks",
        ));
    }
    let out = Tensor::empty(x.gpu(), x.shape())?;
    if rows * n == 0 {
        return Ok(out);
    }
    let k = sign(order) / strength;
    let version = match version {
        PairwiseVersion::Auto => resolve(x, rows, n, "softrank_pairwise_backward", |v, sub| {
            let tmp = Tensor::empty(x.gpu(), x.shape())?;
            launch(x, Some(g), &tmp, sub, n, k, v)
        })?,
        v => v,
    };
    launch(x, Some(g), &out, rows, n, k, version)?;
    Ok(out)
}

/// Soft ranks of each row of `x` ([B, n]) by pairwise sigmoids, recorded for backward.
pub fn soft_rank_pairwise(x: &Tensor, strength: f32, order: Order) -> Result<Tensor> {
    soft_rank_pairwise_with(x, strength, order, PairwiseVersion::Auto)
}

/// [`soft_rank_pairwise`] with a chosen kernel version (for tests and the benchmark).
pub fn soft_rank_pairwise_with(
    x: &Tensor,
    strength: f32,
    order: Order,
    version: PairwiseVersion,
) -> Result<Tensor> {
    let out = pairwise_forward(x, strength, order, version)?;
    Ok(autograd::record(out, &[x], || PairwiseBackward {
        x: x.detach(),
        strength,
        order,
        version,
    }))
}

struct PairwiseBackward {
    x: Tensor,
    strength: f32,
    order: Order,
    version: PairwiseVersion,
}

impl Backward for PairwiseBackward {
    fn name(&self) -> &'static str {
        "soft_rank_pairwise"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(pairwise_backward(
            &self.x,
            g,
            self.strength,
            self.order,
            self.version,
        )?)])
    }
}
