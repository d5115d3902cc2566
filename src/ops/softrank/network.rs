//! Soft ranks through relaxed sorting networks (Petersen et al., "Differentiable
//! Sorting Networks", ICML 2021; "Monotonic Differentiable Sorting Networks", ICLR
//! 2022): odd-even transposition (n layers) or bitonic (any n), logistic or Cauchy
//! swaps with steepness `beta = 1 / strength`, along the rows of a [B, n] tensor.
//!
//! Construction (the f64 spec, with the derivation, is `reference/softrank/network.rs`):
//! a comparator (lo, hi) moves `alpha a + (1 - alpha) b` to lo and
//! `(1 - alpha) a + alpha b` to hi with `alpha = f(beta (b - a))`. Each layer is a
//! symmetric linear map L_l, so the soft ranks `r = P^T (1..n) = L_1 ... L_m (1..n)` are
//! the output positions carried back through the layers in reverse order, mixing with
//! each comparator's alpha; no n x n matrix is formed. Bitonic for any n drops every
//! comparator of the next-power-of-two network (all-ascending form) whose hi wire is
//! >= n, which is exact (+inf padding would never move).
//!
//! Memory: the reverse walk needs the alphas of every layer. Layers are cut into
//! segments; a forward `sweep` stores the wire values at each segment start, and each
//! `segment` dispatch (last to first) recomputes its layers from that checkpoint,
//! keeping their `d = b - a`, then walks them backwards. Scratch per row is
//! `nseg * n + seg * pairs` floats (twice that in the backward, which also carries g);
//! rows are processed in chunks that keep the scratch under 64 MiB. Bitonic rows up to
//! n = 4096 fit in one segment (the sweep is then only a load).
//!
//! The backward (same scheme, `softrank_network_backward_v1.wgsl`) carries g forward
//! with the values, then walks back with the rank vector and the adjoint of the values:
//! it recomputes everything from x and saves nothing else.
//!
//! Versions:
//! - V1 (`softrank_network_{forward,backward}_v1.wgsl`): one workgroup per row, its
//!   lanes sharing each layer's comparators, storageBarrier between layers, state in a
//!   storage scratch buffer. 32 lanes on CPU adapters (a barrier there costs per lane),
//!   up to 256 elsewhere.
//! - V2 (`..._v2.wgsl`): one invocation per row walking every comparator itself, no
//!   barriers, rows interleaved in the scratch so neighbouring lanes touch neighbouring
//!   words. Its plan refuses rows too long for the loop budget (bitonic: above about
//!   12,000 forward, 7,000 backward); Auto then keeps V1.
//! - Auto (default): `ops::tune::choose` between them (V1 first), measured on at most
//!   256 rows and keyed on (kind, pass, bucketed n, bucketed rows). On lavapipe V2 won
//!   at many short rows and V1 at long rows (benches/NOTES.md, pairwise and network soft ranks).
//!
//! Every invocation loops at most 50,000 times per dispatch under the plan's accounting
//! (llvmpipe stops at 65,535): the sweep is split into several dispatches when needed
//! (odd-even n = 4096 has 4096 layers), and segments are shortened.
//!
//! Bench: `cargo bench --bench kernels -- softrank.network`.

use super::{NetworkKind, Order, Relaxation};
use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Gpu, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::tensor::Tensor;

static FORWARD_V1: Kernel = kernel!("softrank_network_forward_v1");
static BACKWARD_V1: Kernel = kernel!("softrank_network_backward_v1");
static FORWARD_V2: Kernel = kernel!("softrank_network_forward_v2");
static BACKWARD_V2: Kernel = kernel!("softrank_network_backward_v2");

/// Loop iterations one invocation may run in a dispatch (llvmpipe stops at 65,535).
const LOOP_BUDGET: usize = 50_000;
/// Scratch bytes one chunk of rows may use.
const SCRATCH_BUDGET: u64 = 64 << 20;
/// A segment holds all layers when its d values take at most this many floats per row.
const ONE_SEGMENT_FLOATS: usize = 1 << 19;

/// Kernel versions of the sorting-network soft ranks (see the module header); `Auto`
/// is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkVersion {
    /// The default: chosen by measurement between V1 and V2.
    #[default]
    Auto,
    /// The naive port of the reference: one workgroup per row, lanes sharing each layer.
    V1,
    /// One invocation per row walking every comparator, no barriers; rows of bounded length.
    V2,
}

/// Overrides of the automatic plan, for tests (to reach multi-segment, multi-chunk and
/// split-sweep paths on small rows) and for the benchmark.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetworkOptions {
    pub version: NetworkVersion,
    /// Layers per segment.
    pub seg: Option<usize>,
    /// Rows per chunk.
    pub rows_per_chunk: Option<usize>,
    /// Layers per sweep dispatch.
    pub sweep_step: Option<usize>,
    /// Workgroup size (1..=256): lanes per row in V1, rows per workgroup in V2.
    pub wg: Option<u32>,
}

/// (layers, comparator slots per layer) of the network for rows of n.
pub fn network_size(kind: NetworkKind, n: usize) -> (usize, usize) {
    match kind {
        NetworkKind::OddEven => (n, n / 2),
        NetworkKind::Bitonic => {
            let big = n.max(1).next_power_of_two();
            let lg = big.trailing_zeros() as usize;
            (lg * (lg + 1) / 2, big / 2)
        }
    }
}

/// How one call is cut into dispatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkPlan {
    /// The concrete version (never Auto).
    pub version: NetworkVersion,
    pub layers: usize,
    pub pairs: usize,
    pub seg: usize,
    pub nseg: usize,
    /// Scratch floats per row, and the offsets of the checkpoints and the d values.
    pub stride: usize,
    pub off_ck: usize,
    pub off_d: usize,
    pub rows_per_chunk: usize,
    pub sweep_step: usize,
    pub wg: u32,
    /// Loop iterations of one invocation in the longest sweep and segment dispatch.
    pub sweep_loops: usize,
    pub segment_loops: usize,
}

/// Loop iterations per invocation: (per layer, per copy of a row's k * n floats).
fn loop_costs(version: NetworkVersion, pairs: usize, kn: usize, wg: usize) -> (usize, usize) {
    let lanes = if version == NetworkVersion::V2 { 1 } else { wg };
    (1 + pairs.div_ceil(lanes).max(1), kn.div_ceil(lanes) + 1)
}

/// The plan for `rows` rows of `n`; `grad` for the backward (twice the state). `Auto`
/// plans V1 here: the run resolves it by measurement (see the module header).
pub fn network_plan(
    gpu: &Gpu,
    kind: NetworkKind,
    n: usize,
    rows: usize,
    grad: bool,
    opts: &NetworkOptions,
) -> Result<NetworkPlan> {
    let k = if grad { 2 } else { 1 };
    let version = match opts.version {
        NetworkVersion::Auto => NetworkVersion::V1,
        v => v,
    };
    plan_for(gpu, version, kind, n, rows, k, opts)
}

fn plan_for(
    gpu: &Gpu,
    version: NetworkVersion,
    kind: NetworkKind,
    n: usize,
    rows: usize,
    k: usize,
    opts: &NetworkOptions,
) -> Result<NetworkPlan> {
    let (layers, pairs) = network_size(kind, n);
    // V1: lanes share a row, 32 lanes on CPU drivers (a barrier costs per lane there),
    // up to 256 elsewhere. V2: rows per workgroup.
    let wg = opts.wg.unwrap_or(match version {
        NetworkVersion::V2 => 64,
        _ if gpu.is_cpu() => 32,
        _ => pairs.max(1).next_power_of_two().clamp(32, 256) as u32,
    });
    if !(1..=256).contains(&wg) {
        return Err(Error::Invalid(format!(
            "soft_rank (network): workgroup size {wg} is outside 1..=256"
        )));
    }
    let (per_layer, copy) = loop_costs(version, pairs, k * n, wg as usize);
    // A segment dispatch: copy in, initialise v (and p), write out, then two walks over
    // its layers with a stage lookup (<= 18) each.
    let seg_fixed = 2 * copy + 2;
    let too_long = || {
        Error::Invalid(format!(
            "soft_rank (network): rows of {n} are too long for {version:?} under the loop cap"
        ))
    };
    if seg_fixed + 2 * per_layer + 18 > LOOP_BUDGET {
        return Err(too_long());
    }
    let seg_cap = (LOOP_BUDGET - seg_fixed) / (2 * per_layer + 18);
    let seg_mem = if layers * pairs * k <= ONE_SEGMENT_FLOATS {
        layers
    } else {
        ((layers * n) as f64 / pairs.max(1) as f64).sqrt().ceil() as usize
    };
    let seg = opts.seg.unwrap_or(seg_mem.min(seg_cap)).clamp(1, layers.max(1));
    let nseg = layers.div_ceil(seg).max(1);
    // A sweep dispatch of L layers: the load, L layers, and a checkpoint copy every seg.
    let sweep_fixed = 2 * copy + 18;
    if sweep_fixed + per_layer + copy > LOOP_BUDGET {
        return Err(too_long());
    }
    let sweep_auto =
        ((LOOP_BUDGET - sweep_fixed) as f64 / (per_layer as f64 + copy as f64 / seg as f64)) as usize;
    let sweep_step = opts.sweep_step.unwrap_or(sweep_auto).max(1);
    let sweep_loops = sweep_fixed + sweep_step * per_layer + sweep_step.div_ceil(seg) * copy;
    let segment_loops = seg_fixed + seg * (2 * per_layer + 18);
    let off_ck = 2 * k * n;
    let off_d = off_ck + nseg * k * n;
    let stride = off_d + seg * k * pairs;
    let budget = SCRATCH_BUDGET.min(gpu.max_binding_bytes());
    let row_bytes = stride as u64 * 4;
    if row_bytes > budget {
        return Err(Error::TooLarge {
            what: format!("soft_rank (network) scratch for one row of {n}"),
            bytes: row_bytes,
            limit: budget,
        });
    }
    let fit = (budget / row_bytes) as usize;
    let rows_per_chunk = opts.rows_per_chunk.unwrap_or(fit).clamp(1, fit).min(rows.max(1));
    Ok(NetworkPlan {
        version,
        layers,
        pairs,
        seg,
        nseg,
        stride,
        off_ck,
        off_d,
        rows_per_chunk,
        sweep_step,
        wg,
        sweep_loops,
        segment_loops,
    })
}

crate::uniform! {
    struct Params {
        rows: u32,
        row0: u32,
        n: u32,
        pairs: u32,
        layers: u32,
        seg: u32,
        l0: u32,
        l1: u32,
        stride: u32,
        off_ck: u32,
        off_d: u32,
        beta: f32,
        sign: f32,
        _pad: [u32; 3],
    }
}

fn check(op: &'static str, x: &Tensor, strength: f32) -> Result<(usize, usize)> {
    if !(strength > 0.0 && strength.is_finite()) {
        return Err(Error::Invalid(format!(
            "{op}: strength must be positive and finite, got {strength}"
        )));
    }
    if x.dims() != 2 {
        return Err(Error::shape(
            op,
            format!("expected [rows, n], got {:?}", x.shape()),
        ));
    }
    Ok((x.dim(0), x.dim(1)))
}

/// Runs the forward (`g` None: writes ranks) or the backward (writes `J^T g`).
#[allow(clippy::too_many_arguments)]
fn run(
    x: &Tensor,
    g: Option<&Tensor>,
    kind: NetworkKind,
    relax: Relaxation,
    strength: f32,
    order: Order,
    opts: &NetworkOptions,
) -> Result<Tensor> {
    let op = if g.is_some() {
        "soft_rank_network backward"
    } else {
        "soft_rank_network"
    };
    let (rows, n) = check(op, x, strength)?;
    if let Some(g) = g
        && g.shape() != x.shape()
    {
        return Err(Error::shapes(
            op,
            x.shape(),
            g.shape(),
            "input vs gradient of the ranks",
        ));
    }
    let gpu = x.gpu();
    let out = Tensor::empty(gpu, x.shape())?;
    if rows * n == 0 {
        return Ok(out);
    }
    let mut opts = *opts;
    if opts.version == NetworkVersion::Auto {
        opts.version = choose_version(x, g, kind, relax, strength, order, &opts)?;
    }
    let plan = network_plan(gpu, kind, n, rows, g.is_some(), &opts)?;
    dispatch(x, g, &out, rows, &plan, kind, relax, strength, order)?;
    Ok(out)
}

/// Rows the version choice is measured on (the cost per row does not depend on the
/// row count once both cores are busy).
const TUNE_ROWS: usize = 256;

/// The faster of V1 and V2 for this shape, measured once per (kind, pass, n bucket,
/// rows bucket) on at most TUNE_ROWS rows.
#[allow(clippy::too_many_arguments)]
fn choose_version(
    x: &Tensor,
    g: Option<&Tensor>,
    kind: NetworkKind,
    relax: Relaxation,
    strength: f32,
    order: Order,
    opts: &NetworkOptions,
) -> Result<NetworkVersion> {
    let gpu = x.gpu();
    let (rows, n) = (x.dim(0), x.dim(1));
    let sub = rows.min(TUNE_ROWS);
    let mut cands = Vec::new();
    for v in [NetworkVersion::V1, NetworkVersion::V2] {
        if network_plan(
            gpu,
            kind,
            n,
            sub,
            g.is_some(),
            &NetworkOptions { version: v, ..*opts },
        )
        .is_ok()
        {
            cands.push(v);
        }
    }
    if cands.is_empty() {
        return Ok(NetworkVersion::V1);
    }
    let key = format!(
        "{kind:?},{},n={},rows={}",
        if g.is_some() { "bwd" } else { "fwd" },
        crate::ops::tune::bucket(n),
        crate::ops::tune::bucket(sub)
    );
    crate::ops::tune::choose(gpu, "softrank_network", &key, &cands, |v| {
        let plan = network_plan(
            gpu,
            kind,
            n,
            sub,
            g.is_some(),
            &NetworkOptions { version: v, ..*opts },
        )?;
        let tmp = Tensor::empty(gpu, x.shape())?;
        dispatch(x, g, &tmp, sub, &plan, kind, relax, strength, order)
    })
}

/// Records the dispatches for the first `rows` rows.
#[allow(clippy::too_many_arguments)]
fn dispatch(
    x: &Tensor,
    g: Option<&Tensor>,
    out: &Tensor,
    rows: usize,
    plan: &NetworkPlan,
    kind: NetworkKind,
    relax: Relaxation,
    strength: f32,
    order: Order,
) -> Result<()> {
    let gpu = x.gpu();
    let n = x.dim(1);
    let work = Tensor::empty(gpu, &[plan.rows_per_chunk * plan.stride])?;
    let kernel = match (plan.version, g.is_some()) {
        (NetworkVersion::V2, true) => &BACKWARD_V2,
        (NetworkVersion::V2, false) => &FORWARD_V2,
        (_, true) => &BACKWARD_V1,
        (_, false) => &FORWARD_V1,
    };
    let groups = |chunk: usize| match plan.version {
        NetworkVersion::V2 => chunk.div_ceil(plan.wg as usize) as u64,
        _ => chunk as u64,
    };
    let constants = [
        ("WG", plan.wg as f64),
        ("KIND", (kind == NetworkKind::Bitonic) as u32 as f64),
        ("RELAX", (relax == Relaxation::Cauchy) as u32 as f64),
    ];
    let sign = if order == Order::Ascending { 1.0 } else { -1.0 };
    let mut row0 = 0;
    while row0 < rows {
        let chunk = plan.rows_per_chunk.min(rows - row0);
        let mut p = Params {
            rows: chunk as u32,
            row0: row0 as u32,
            n: n as u32,
            pairs: plan.pairs as u32,
            layers: plan.layers as u32,
            seg: plan.seg as u32,
            l0: 0,
            l1: 0,
            stride: plan.stride as u32,
            off_ck: plan.off_ck as u32,
            off_d: plan.off_d as u32,
            beta: 1.0 / strength,
            sign,
            _pad: [0; 3],
        };
        let dispatch = |entry: &'static str, p: &Params| -> Result<()> {
            let args_f = [Arg::R(x.buf()), Arg::W(out.buf()), Arg::W(work.buf())];
            let args_b;
            let args: &[Arg] = match g {
                None => &args_f,
                Some(g) => {
                    args_b = [
                        Arg::R(x.buf()),
                        Arg::R(g.buf()),
                        Arg::W(out.buf()),
                        Arg::W(work.buf()),
                    ];
                    &args_b
                }
            };
            gpu.launch(Launch {
                kernel,
                entry,
                constants: &constants,
                params: uniform(p),
                args,
                workgroups: grid_1d(groups(chunk)),
            })
        };
        // Forward sweep to the start of the last segment, checkpointing each segment.
        let end = (plan.nseg - 1) * plan.seg;
        let mut l0 = 0;
        loop {
            let l1 = (l0 + plan.sweep_step).min(end);
            p.l0 = l0 as u32;
            p.l1 = l1 as u32;
            dispatch("sweep", &p)?;
            l0 = l1;
            if l0 >= end {
                break;
            }
        }
        for k in (0..plan.nseg).rev() {
            p.l0 = k as u32;
            dispatch("segment", &p)?;
        }
        row0 += chunk;
    }
    Ok(())
}

/// The forward kernels alone (nothing recorded): ranks of the rows of `x` ([rows, n]).
pub fn network_forward(
    x: &Tensor,
    kind: NetworkKind,
    relax: Relaxation,
    strength: f32,
    order: Order,
    opts: &NetworkOptions,
) -> Result<Tensor> {
    run(x, None, kind, relax, strength, order, opts)
}

/// The backward kernels alone: `J^T g` of the ranks at `x` (both [rows, n]).
#[allow(clippy::too_many_arguments)]
pub fn network_backward(
    x: &Tensor,
    g: &Tensor,
    kind: NetworkKind,
    relax: Relaxation,
    strength: f32,
    order: Order,
    opts: &NetworkOptions,
) -> Result<Tensor> {
    run(x, Some(g), kind, relax, strength, order, opts)
}

/// Soft ranks of each row of `x` ([B, n]) through a relaxed sorting network.
pub fn soft_rank_network(
    x: &Tensor,
    kind: NetworkKind,
    relax: Relaxation,
    strength: f32,
    order: Order,
) -> Result<Tensor> {
    soft_rank_network_with(x, kind, relax, strength, order, &NetworkOptions::default())
}

/// [`soft_rank_network`] with plan overrides (tests, benchmark).
pub fn soft_rank_network_with(
    x: &Tensor,
    kind: NetworkKind,
    relax: Relaxation,
    strength: f32,
    order: Order,
    opts: &NetworkOptions,
) -> Result<Tensor> {
    let out = network_forward(x, kind, relax, strength, order, opts)?;
    Ok(autograd::record(out, &[x], || NetworkBackward {
        x: x.detach(),
        kind,
        relax,
        strength,
        order,
        opts: *opts,
    }))
}

struct NetworkBackward {
    x: Tensor,
    kind: NetworkKind,
    relax: Relaxation,
    strength: f32,
    order: Order,
    opts: NetworkOptions,
}

impl Backward for NetworkBackward {
    fn name(&self) -> &'static str {
        "soft_rank_network"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(network_backward(
            &self.x,
            g,
            self.kind,
            self.relax,
            self.strength,
            self.order,
            &self.opts,
        )?)])
    }
}
