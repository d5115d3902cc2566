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
//!   256 rows and keyed on (kind, pass, relaxation, bucketed n, bucketed rows, and per
//!   candidate its workgroup and whether it runs in one segment: `NetworkTuneKey`). On
//!   lavapipe V2 won at many short rows and V1 at long rows (benches/NOTES.md, pairwise
//!   and network soft ranks).
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
    plan_for(PlanAdapter::of(gpu), version, kind, n, rows, k, opts)
}

/// What a plan reads of the adapter: whether it is a CPU driver (V1's lanes per row)
/// and its largest binding (the scratch budget). Plain values, so that the tuning
/// key's tests run without a device.
#[derive(Clone, Copy, Debug)]
struct PlanAdapter {
    is_cpu: bool,
    max_binding_bytes: u64,
}

impl PlanAdapter {
    fn of(gpu: &Gpu) -> Self {
        PlanAdapter {
            is_cpu: gpu.is_cpu(),
            max_binding_bytes: gpu.max_binding_bytes(),
        }
    }
}

fn plan_for(
    ad: PlanAdapter,
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
        _ if ad.is_cpu => 32,
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
    let budget = SCRATCH_BUDGET.min(ad.max_binding_bytes);
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

/// The candidates of a version choice, V1 first: the plans of the versions that run
/// `rows` rows of `n` (`grad`: the backward) under the caller's overrides.
fn candidate_plans(
    ad: PlanAdapter,
    kind: NetworkKind,
    n: usize,
    rows: usize,
    grad: bool,
    opts: &NetworkOptions,
) -> Vec<NetworkPlan> {
    let k = if grad { 2 } else { 1 };
    [NetworkVersion::V1, NetworkVersion::V2]
        .into_iter()
        .filter_map(|v| plan_for(ad, v, kind, n, rows, k, opts).ok())
        .collect()
}

/// The tuning key of a version choice: the network, the pass and the relaxation, the
/// sizes bucketed to powers of two, and every property the buckets do not determine
/// that changes a candidate's code path. Two calls that share a key share the
/// measured choice, so they must meet the same code. (Keys gained `relax`, the plans
/// and the overrides: entries of an older on-disk cache no longer match and are
/// measured again.)
#[derive(Clone, Debug, PartialEq, Eq)]
struct NetworkTuneKey {
    /// Odd-even or bitonic (the KIND constant, and the layers and pairs).
    kind: NetworkKind,
    /// The backward: other kernels, and twice the state per row.
    grad: bool,
    /// Logistic or Cauchy swaps (the RELAX constant).
    relax: Relaxation,
    /// Bucketed n.
    n: usize,
    /// Bucketed rows measured on (at most TUNE_ROWS).
    rows: usize,
    /// Per candidate, in order: its version, workgroup (the WG constant: V1's lanes per
    /// row follow the comparators per layer on GPUs, rounded up to a power of two from
    /// 32 to 256) and whether all its layers fit one segment (the sweep is then only a
    /// load; from the layers, pairs and state per row, and the loop cap, exact n rather
    /// than its bucket). How many segments, rows per chunk and sweep dispatches there
    /// are otherwise only partitions the work.
    plans: Vec<(NetworkVersion, u32, bool)>,
    /// The caller's overrides (seg, rows per chunk, sweep step, wg) where any is set:
    /// they change the plans measured, so they get entries of their own.
    overrides: Option<[Option<usize>; 4]>,
}

impl std::fmt::Display for NetworkTuneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pass = if self.grad { "bwd" } else { "fwd" };
        write!(
            f,
            "{:?},{pass},{:?},n={},rows={}",
            self.kind, self.relax, self.n, self.rows
        )?;
        for (v, wg, one) in &self.plans {
            write!(f, ",{v:?}:wg{wg}:one_seg{}", *one as u8)?;
        }
        if let Some([seg, chunk, step, wg]) = self.overrides {
            write!(f, ",seg={seg:?},chunk={chunk:?},step={step:?},wg={wg:?}")?;
        }
        Ok(())
    }
}

/// The tuning key of `rows` rows of `n` whose candidates plan as `plans`.
fn tune_key(
    kind: NetworkKind,
    relax: Relaxation,
    n: usize,
    rows: usize,
    grad: bool,
    opts: &NetworkOptions,
    plans: &[NetworkPlan],
) -> NetworkTuneKey {
    let overrides = [
        opts.seg,
        opts.rows_per_chunk,
        opts.sweep_step,
        opts.wg.map(|w| w as usize),
    ];
    NetworkTuneKey {
        kind,
        grad,
        relax,
        n: crate::ops::tune::bucket(n),
        rows: crate::ops::tune::bucket(rows),
        plans: plans.iter().map(|p| (p.version, p.wg, p.nseg == 1)).collect(),
        overrides: overrides.iter().any(Option::is_some).then_some(overrides),
    }
}

/// The faster of V1 and V2 for this shape, measured once per [`NetworkTuneKey`] on at
/// most TUNE_ROWS rows.
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
    let plans = candidate_plans(PlanAdapter::of(gpu), kind, n, sub, g.is_some(), opts);
    let cands: Vec<NetworkVersion> = plans.iter().map(|p| p.version).collect();
    if cands.is_empty() {
        return Ok(NetworkVersion::V1);
    }
    let key = tune_key(kind, relax, n, sub, g.is_some(), opts, &plans).to_string();
    crate::ops::tune::choose(gpu, "softrank_network", &key, &cands, |v| {
        let plan = plans.iter().find(|p| p.version == v).expect("a candidate's plan");
        let tmp = Tensor::empty(gpu, x.shape())?;
        dispatch(x, g, &tmp, sub, plan, kind, relax, strength, order)
    })
}

/// The pipeline constants of every kernel of a plan.
fn constants(plan: &NetworkPlan, kind: NetworkKind, relax: Relaxation) -> [(&'static str, f64); 3] {
    [
        ("WG", plan.wg as f64),
        ("KIND", (kind == NetworkKind::Bitonic) as u32 as f64),
        ("RELAX", (relax == Relaxation::Cauchy) as u32 as f64),
    ]
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
    let constants = constants(plan, kind, relax);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::tune::KeyGrid;

    /// Adapters as plans see them: a CPU driver and GPUs, with bindings above and below
    /// the 64 MiB scratch budget.
    const ADAPTERS: [PlanAdapter; 3] = [
        PlanAdapter {
            is_cpu: true,
            max_binding_bytes: 1 << 31,
        },
        PlanAdapter {
            is_cpu: false,
            max_binding_bytes: 1 << 31,
        },
        PlanAdapter {
            is_cpu: false,
            max_binding_bytes: 1 << 25,
        },
    ];

    /// What each version runs for the shape: the kernel, its constants and whether the
    /// sweep is only a load (one segment), or that it does not run the shape.
    fn paths(
        ad: PlanAdapter,
        kind: NetworkKind,
        relax: Relaxation,
        n: usize,
        rows: usize,
        grad: bool,
        opts: &NetworkOptions,
    ) -> Vec<String> {
        [NetworkVersion::V1, NetworkVersion::V2]
            .into_iter()
            .map(
                |v| match plan_for(ad, v, kind, n, rows, if grad { 2 } else { 1 }, opts) {
                    Ok(p) => format!(
                        "{v:?} grad{grad} {:?} one_seg{}",
                        constants(&p, kind, relax),
                        p.nseg == 1
                    ),
                    Err(_) => format!("{v:?} does not run"),
                },
            )
            .collect()
    }

    fn key(
        ad: PlanAdapter,
        kind: NetworkKind,
        relax: Relaxation,
        n: usize,
        rows: usize,
        grad: bool,
        opts: &NetworkOptions,
    ) -> NetworkTuneKey {
        let plans = candidate_plans(ad, kind, n, rows, grad, opts);
        tune_key(kind, relax, n, rows, grad, opts, &plans)
    }

    /// Over rows around the bucket edges (31..33, .., 4095..4097, odd lengths, the
    /// one-segment edge 724/725, V2's limits near 7,000 and 12,000), both networks and
    /// relaxations, forward and backward, a few row counts and overrides, on three
    /// adapters: two calls with the same key always run the same code in each version.
    #[test]
    fn shapes_that_share_a_key_share_code_paths() {
        let mut ns: Vec<usize> = vec![
            1, 2, 3, 5, 7, 100, 300, 724, 725, 1000, 3000, 6000, 7000, 8000, 12000,
        ];
        for edge in [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192] {
            ns.extend([edge - 1, edge, edge + 1]);
        }
        let overrides = [
            NetworkOptions::default(),
            NetworkOptions {
                seg: Some(3),
                ..Default::default()
            },
            NetworkOptions {
                wg: Some(64),
                rows_per_chunk: Some(2),
                ..Default::default()
            },
        ];
        let mut grid = KeyGrid::new();
        for (a, &ad) in ADAPTERS.iter().enumerate() {
            for &n in &ns {
                for kind in [NetworkKind::OddEven, NetworkKind::Bitonic] {
                    for relax in [Relaxation::Logistic, Relaxation::Cauchy] {
                        for grad in [false, true] {
                            for rows in [1, 3, 64, 256] {
                                for (o, opts) in overrides.iter().enumerate() {
                                    let key =
                                        format!("adapter{a} {}", key(ad, kind, relax, n, rows, grad, opts));
                                    let now = paths(ad, kind, relax, n, rows, grad, opts);
                                    let what =
                                        format!("{kind:?} {relax:?} grad{grad} [{rows}, {n}] overrides{o}");
                                    grid.add(key, now, what);
                                }
                            }
                        }
                    }
                }
            }
        }
        grid.assert_merged(grid.shapes() / 4);
    }

    /// The pairs the review found sharing a key while running other code.
    #[test]
    fn relaxation_workgroup_segments_and_overrides_get_their_own_keys() {
        let [cpu, gpu, _] = ADAPTERS;
        let (odd, logistic, none) = (
            NetworkKind::OddEven,
            Relaxation::Logistic,
            NetworkOptions::default(),
        );
        // The relaxation is a constant of every kernel.
        assert_ne!(
            key(cpu, odd, logistic, 100, 64, false, &none),
            key(cpu, odd, Relaxation::Cauchy, 100, 64, false, &none)
        );
        // Odd-even backward on a CPU driver: n = 724 keeps every layer in one segment
        // (724 * 362 * 2 floats fit 2^19), n = 725 does not.
        let one_seg = |n| {
            plan_for(cpu, NetworkVersion::V1, odd, n, 64, 2, &none)
                .unwrap()
                .nseg
                == 1
        };
        assert!(one_seg(724) && !one_seg(725));
        assert_ne!(
            key(cpu, odd, logistic, 724, 64, true, &none),
            key(cpu, odd, logistic, 725, 64, true, &none)
        );
        // Odd-even on a GPU: V1 runs 128 lanes for n = 257 (128 pairs), 256 for n = 300.
        let wg = |n| {
            plan_for(gpu, NetworkVersion::V1, odd, n, 64, 1, &none)
                .unwrap()
                .wg
        };
        assert_eq!((wg(257), wg(300)), (128, 256));
        assert_ne!(
            key(gpu, odd, logistic, 257, 64, false, &none),
            key(gpu, odd, logistic, 300, 64, false, &none)
        );
        // A caller's overrides get entries of their own, even where the plans agree.
        let chunked = NetworkOptions {
            rows_per_chunk: Some(2),
            ..Default::default()
        };
        assert_ne!(
            key(cpu, odd, logistic, 100, 64, false, &none),
            key(cpu, odd, logistic, 100, 64, false, &chunked)
        );
        // Nearby shapes with the same code still share one.
        assert_eq!(
            key(cpu, odd, logistic, 300, 64, false, &none),
            key(cpu, odd, logistic, 500, 40, false, &none)
        );
    }
}
