//! Normalisation over NCHW tensors: batch norm (training: batch statistics and an
//! in-place update of the running ones; eval: the running ones), with an optional
//! fused ReLU, and group norm. Both take a per-channel affine gamma/beta.
//!
//! Each forward is three passes: partial statistics, a per-channel (or per-group)
//! finalize that turns them into `y = x * scale + shift` coefficients, and the apply
//! pass. Each backward is three too: partial sums of g' and g' * xhat, a finalize that
//! gives the parameter gradients and `dx = scale * g' + a * x + b` coefficients, and
//! the apply pass (the ReLU mask is recomputed from x with the forward's fma). Partial
//! statistics are (count, mean, M2) triples, each over a short run with its first value
//! as shift, combined in a fixed order with Chan's formula: stable, deterministic, and
//! no invocation loops near llvmpipe's 65,535-iteration cap at any supported size.
//!
//! Versions ([`NormVersion`]), for the four bulk passes:
//! - V1 `norm_{stats,apply,backward_sums,backward_apply}_v1`: the naive port, one flat
//!   index (divisions per element), scalar loads, any shape.
//! - V2 `norm_*_v2`: planes on the grid (no per-lane division), vec4 loads; needs
//!   H*W % 4 == 0. Two launch shapes of the same kernels:
//!   `V2` 64-lane workgroups, neighbouring lanes on neighbouring vec4s, at most 4
//!   vec4s per apply lane (what a GPU wants);
//!   `V2Narrow` 8-lane workgroups, one SIMD row of lavapipe, each lane walking up to
//!   128 vec4s (whole planes in the reductions): 1.5x faster than `V2` on lavapipe,
//!   at the speed of a vec4 elementwise pass per tensor access.
//!   A statistics pass whose partial count per set would pass 16384 (batch > 256
//!   with `V2`, or group norm with many channels per group) runs V1.
//! - `Auto` (default): `V2Narrow` on CPU adapters and `V2` on others when H*W % 4 == 0
//!   and H*W >= 128 (smaller planes leave most lanes idle), else V1. The choice is by
//!   adapter type rather than `tune::choose`: the winner did not depend on the shape,
//!   and timed picks on a busy 2-core machine were unreliable (+-30% run to run).
//!
//! Shared kernels, one version: `batch_norm_finalize_v1` (entries `train`, `eval`),
//! `batch_norm_backward_finalize_v1`, `group_norm_finalize_v1`,
//! `group_norm_plane_sums_v1`, `group_norm_backward_finalize_v1`.
//!
//! Bench: `cargo bench --bench kernels -- norm`.

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Gpu, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::reduce;
use crate::tensor::Tensor;

static STATS_V1: Kernel = kernel!("norm_stats_v1");
static STATS_V2: Kernel = kernel!("norm_stats_v2");
static APPLY_V1: Kernel = kernel!("norm_apply_v1");
static APPLY_V2: Kernel = kernel!("norm_apply_v2");
static BACKWARD_SUMS_V1: Kernel = kernel!("norm_backward_sums_v1");
static BACKWARD_SUMS_V2: Kernel = kernel!("norm_backward_sums_v2");
static BACKWARD_APPLY_V1: Kernel = kernel!("norm_backward_apply_v1");
static BACKWARD_APPLY_V2: Kernel = kernel!("norm_backward_apply_v2");
static BN_FINALIZE: Kernel = kernel!("batch_norm_finalize_v1");
static BN_BACKWARD_FINALIZE: Kernel = kernel!("batch_norm_backward_finalize_v1");
static GN_FINALIZE: Kernel = kernel!("group_norm_finalize_v1");
static GN_PLANE_SUMS: Kernel = kernel!("group_norm_plane_sums_v1");
static GN_BACKWARD_FINALIZE: Kernel = kernel!("group_norm_backward_finalize_v1");

/// Workgroup size of the flat (V1) passes.
const WG_FLAT: u32 = 256;
/// Workgroup size of the finalizes (one invocation per channel or group).
const WG_FINALIZE: u32 = 64;
/// Most partials one finalize invocation combines (its loop trip count).
const MAX_PARTS: usize = 16384;
/// Fewest elements per V1 statistics chunk.
const FLAT_CHUNK: usize = 1024;
/// Most vec4s one V2 statistics lane reads.
const MAX_STATS_STEPS: usize = 4096;
/// Smallest plane `Auto` runs with V2.
const AUTO_V2_MIN_HW: usize = 128;

/// Kernel versions of the bulk passes of the norms (see the module header); `Auto` is
/// the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum NormVersion {
    /// The default: `V2Narrow` on CPU adapters and `V2` elsewhere when H*W % 4 == 0 and
    /// H*W >= 128, else V1.
    #[default]
    Auto,
    /// The naive port of the reference: one flat index per element, scalar loads, any shape.
    V1,
    /// The `*_v2` kernels in 64-lane workgroups, lanes on neighbouring vec4s, a few
    /// vec4s each: the shape a GPU wants.
    V2,
    /// The `*_v2` kernels in 8-lane workgroups (one SIMD row of lavapipe), each lane
    /// walking long runs of its plane: lavapipe's fastest.
    V2Narrow,
}

/// Batch-norm settings (torch's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNorm {
    pub eps: f32,
    /// Weight of the batch statistics in the running ones.
    pub momentum: f32,
    /// Apply a ReLU to the output, in the same pass (and its mask in the backward).
    pub relu: bool,
    pub version: NormVersion,
}

impl Default for BatchNorm {
    fn default() -> Self {
        BatchNorm {
            eps: 1e-5,
            momentum: 0.1,
            relu: false,
            version: NormVersion::Auto,
        }
    }
}

/// Group-norm settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupNorm {
    /// Number of groups; divides C.
    pub groups: usize,
    pub eps: f32,
    pub version: NormVersion,
}

impl GroupNorm {
    #[must_use]
    pub fn new(groups: usize) -> GroupNorm {
        GroupNorm {
            groups,
            eps: 1e-5,
            version: NormVersion::Auto,
        }
    }
}

/// [N, C, H, W] (or [N, C]) as (N, C, H*W).
#[derive(Debug, Clone, Copy)]
struct Geo {
    n: usize,
    c: usize,
    hw: usize,
}

impl Geo {
    fn of(op: &'static str, shape: &[usize]) -> Result<Geo> {
        if shape.len() != 2 && shape.len() != 4 {
            return Err(Error::shape(
                op,
                format!("input {shape:?} is neither [N, C] nor [N, C, H, W]"),
            ));
        }
        Ok(Geo {
            n: shape[0],
            c: shape[1],
            hw: shape[2..].iter().product(),
        })
    }
    fn planes(&self) -> usize {
        self.n * self.c
    }
}

/// The elements one statistic covers.
#[derive(Debug, Clone, Copy)]
enum Grouping {
    /// A channel over the batch (batch norm).
    Channels,
    /// C/G consecutive channels of one sample (group norm's forward).
    Groups(usize),
    /// One plane (group norm's backward sums).
    Planes,
}

impl Grouping {
    /// Planes per set; in V2 each plane brings `slots` partials.
    fn planes_per_set(self, geo: &Geo) -> usize {
        match self {
            Grouping::Channels => geo.n,
            Grouping::Groups(cg) => cg,
            Grouping::Planes => 1,
        }
    }
    /// V2 MODE: 0 orders partials channel-major and reads coefficients per channel;
    /// 1 keeps plane order and reads them per plane.
    fn mode(self) -> f64 {
        match self {
            Grouping::Channels => 0.0,
            _ => 1.0,
        }
    }
}

crate::uniform! {
    struct FlatSetParams {
        n_sets: u32,
        runs: u32,
        run_len: u32,
        run_stride: u32,
        set_stride: u32,
        chunk: u32,
        n_chunks: u32,
        _pad: u32,
    }
}

impl FlatSetParams {
    fn new(geo: &Geo, grouping: Grouping) -> FlatSetParams {
        let (n_sets, runs, run_len, run_stride, set_stride) = match grouping {
            Grouping::Channels => (geo.c, geo.n, geo.hw, geo.c * geo.hw, geo.hw),
            Grouping::Groups(cg) => (geo.planes() / cg, 1, cg * geo.hw, 0, cg * geo.hw),
            Grouping::Planes => (geo.planes(), 1, geo.hw, 0, geo.hw),
        };
        let len = runs * run_len;
        let chunk = FLAT_CHUNK.max(len.div_ceil(MAX_PARTS));
        FlatSetParams {
            n_sets: n_sets as u32,
            runs: runs as u32,
            run_len: run_len as u32,
            run_stride: run_stride as u32,
            set_stride: set_stride as u32,
            chunk: chunk as u32,
            n_chunks: len.div_ceil(chunk).max(1) as u32,
            _pad: 0,
        }
    }
    fn threads(&self) -> u64 {
        self.n_sets as u64 * self.n_chunks as u64
    }
}

crate::uniform! {
    struct PlaneSumParams {
        hw4: u32,
        planes: u32,
        c: u32,
        n: u32,
        steps: u32,
        slots: u32,
        _pad: [u32; 2],
    }
}

impl PlaneSumParams {
    fn new(geo: &Geo, steps: usize, slots: usize) -> Self {
        PlaneSumParams {
            hw4: (geo.hw / 4) as u32,
            planes: geo.planes() as u32,
            c: geo.c as u32,
            n: geo.n as u32,
            steps: steps as u32,
            slots: slots as u32,
            _pad: [0; 2],
        }
    }
}

/// Launch shape of the plane-grid (V2) kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lanes {
    /// Workgroup size.
    wg: u32,
    /// Most vec4s one apply lane handles.
    apply_steps: usize,
}

impl Lanes {
    /// Reduction layout: (vec4s per lane, workgroups per plane, partials per plane).
    fn sums(self, hw4: usize) -> (usize, usize, usize) {
        let wg = self.wg as usize;
        let steps = hw4.div_ceil(wg).clamp(1, MAX_STATS_STEPS);
        let nx = hw4.div_ceil(wg * steps).max(1);
        (steps, nx, nx * wg)
    }
    /// Apply layout: (vec4s per lane, workgroups per plane).
    fn apply(self, hw4: usize) -> (usize, usize) {
        let wg = self.wg as usize;
        let steps = hw4.div_ceil(wg).clamp(1, self.apply_steps);
        (steps, hw4.div_ceil(wg * steps))
    }
}

/// 64-lane workgroups, lanes on neighbouring vec4s, a few vec4s each.
const WIDE: Lanes = Lanes {
    wg: 64,
    apply_steps: 4,
};
/// 8-lane workgroups (one SIMD row of lavapipe), each lane walking long runs.
const NARROW: Lanes = Lanes {
    wg: 8,
    apply_steps: 128,
};

crate::uniform! {
    struct PlaneApplyParams {
        hw4: u32,
        planes: u32,
        c: u32,
        steps: u32,
    }
}

crate::uniform! {
    struct FlatApplyParams {
        total: u32,
        hw: u32,
        c: u32,
        _pad: u32,
    }
}

/// Workgroups of a plane-grid pass: x per plane, planes over y then z.
fn plane_grid(nx: usize, planes: usize) -> [u32; 3] {
    const MAX: usize = 65535;
    [nx as u32, planes.min(MAX) as u32, planes.div_ceil(MAX) as u32]
}

/// The launch shape of the V2 kernels for the bulk passes, or None for V1.
fn lanes(
    op: &'static str,
    version: NormVersion,
    shape: &[usize],
    geo: &Geo,
    gpu: &Gpu,
) -> Result<Option<Lanes>> {
    let fits = geo.hw.is_multiple_of(4) && geo.hw > 0;
    let need_fit = |l: Lanes| {
        if fits {
            Ok(Some(l))
        } else {
            Err(Error::shape(
                op,
                format!("{shape:?}: the V2 kernels need H*W divisible by 4"),
            ))
        }
    };
    match version {
        NormVersion::Auto if fits && geo.hw >= AUTO_V2_MIN_HW => {
            Ok(Some(if gpu.is_cpu() { NARROW } else { WIDE }))
        }
        NormVersion::Auto | NormVersion::V1 => Ok(None),
        NormVersion::V2 => need_fit(WIDE),
        NormVersion::V2Narrow => need_fit(NARROW),
    }
}

/// Partial statistics (count, mean, M2) of x per set: [sets, parts, 4], and `parts`.
fn stats(x: &Tensor, geo: &Geo, grouping: Grouping, lanes: Option<Lanes>) -> Result<(Tensor, usize)> {
    let gpu = x.gpu();
    if let Some(l) = lanes
        && let (steps, nx, slots) = l.sums(geo.hw / 4)
        && grouping.planes_per_set(geo) * slots <= MAX_PARTS
    {
        let parts = Tensor::empty(gpu, &[geo.planes() * slots, 4])?;
        let p = PlaneSumParams::new(geo, steps, slots);
        gpu.launch(Launch {
            kernel: &STATS_V2,
            entry: "main",
            constants: &[("WG", l.wg as f64), ("MODE", grouping.mode())],
            params: uniform(&p),
            args: &[Arg::R(x.buf()), Arg::W(parts.buf())],
            workgroups: plane_grid(nx, geo.planes()),
        })?;
        return Ok((parts, grouping.planes_per_set(geo) * slots));
    }
    let p = FlatSetParams::new(geo, grouping);
    let parts = Tensor::empty(gpu, &[p.threads() as usize, 4])?;
    gpu.launch(Launch {
        kernel: &STATS_V1,
        entry: "main",
        constants: &[("WG", WG_FLAT as f64)],
        params: uniform(&p),
        args: &[Arg::R(x.buf()), Arg::W(parts.buf())],
        workgroups: grid_1d(p.threads().div_ceil(WG_FLAT as u64)),
    })?;
    Ok((parts, p.n_chunks as usize))
}

/// Partial (sum g', sum g' * xhat) per set: [sets, parts, 2], and `parts`.
fn backward_sums(
    x: &Tensor,
    g: &Tensor,
    coef: &Tensor,
    geo: &Geo,
    grouping: Grouping,
    relu: bool,
    lanes: Option<Lanes>,
) -> Result<(Tensor, usize)> {
    let gpu = x.gpu();
    let relu = if relu { 1.0 } else { 0.0 };
    if let Some(l) = lanes
        && let (steps, nx, slots) = l.sums(geo.hw / 4)
        && grouping.planes_per_set(geo) * slots <= MAX_PARTS
    {
        let parts = Tensor::empty(gpu, &[geo.planes() * slots, 2])?;
        let p = PlaneSumParams::new(geo, steps, slots);
        gpu.launch(Launch {
            kernel: &BACKWARD_SUMS_V2,
            entry: "main",
            constants: &[("WG", l.wg as f64), ("MODE", grouping.mode()), ("RELU", relu)],
            params: uniform(&p),
            args: &[
                Arg::R(x.buf()),
                Arg::R(g.buf()),
                Arg::R(coef.buf()),
                Arg::W(parts.buf()),
            ],
            workgroups: plane_grid(nx, geo.planes()),
        })?;
        return Ok((parts, grouping.planes_per_set(geo) * slots));
    }
    let p = FlatSetParams::new(geo, grouping);
    let parts = Tensor::empty(gpu, &[p.threads() as usize, 2])?;
    gpu.launch(Launch {
        kernel: &BACKWARD_SUMS_V1,
        entry: "main",
        constants: &[("WG", WG_FLAT as f64), ("RELU", relu)],
        params: uniform(&p),
        args: &[
            Arg::R(x.buf()),
            Arg::R(g.buf()),
            Arg::R(coef.buf()),
            Arg::W(parts.buf()),
        ],
        workgroups: grid_1d(p.threads().div_ceil(WG_FLAT as u64)),
    })?;
    Ok((parts, p.n_chunks as usize))
}

/// The forward apply (`ins` = [x]) or backward apply (`ins` = [x, g]) pass: one output
/// shaped as x from coefficients per channel (`per_plane` false) or per plane.
fn apply(
    ins: &[&Tensor],
    coef: &Tensor,
    geo: &Geo,
    per_plane: bool,
    relu: bool,
    lanes: Option<Lanes>,
) -> Result<Tensor> {
    let x = ins[0];
    let gpu = x.gpu();
    let out = Tensor::empty(gpu, x.shape())?;
    let backward = ins.len() == 2;
    let mut args: Vec<Arg> = ins.iter().map(|t| Arg::R(t.buf())).collect();
    args.push(Arg::R(coef.buf()));
    args.push(Arg::W(out.buf()));
    let mode = if per_plane { 1.0 } else { 0.0 };
    let relu = if relu { 1.0 } else { 0.0 };
    if let Some(l) = lanes {
        let hw4 = geo.hw / 4;
        let (steps, nx) = l.apply(hw4);
        let p = PlaneApplyParams {
            hw4: hw4 as u32,
            planes: geo.planes() as u32,
            c: geo.c as u32,
            steps: steps as u32,
        };
        gpu.launch(Launch {
            kernel: if backward { &BACKWARD_APPLY_V2 } else { &APPLY_V2 },
            entry: "main",
            constants: &[("WG", l.wg as f64), ("MODE", mode), ("RELU", relu)],
            params: uniform(&p),
            args: &args,
            workgroups: plane_grid(nx, geo.planes()),
        })?;
    } else {
        let total = x.numel();
        let p = FlatApplyParams {
            total: total as u32,
            hw: geo.hw.max(1) as u32,
            c: geo.c.max(1) as u32,
            _pad: 0,
        };
        gpu.launch(Launch {
            kernel: if backward { &BACKWARD_APPLY_V1 } else { &APPLY_V1 },
            entry: "main",
            constants: &[("WG", WG_FLAT as f64), ("MODE", mode), ("RELU", relu)],
            params: uniform(&p),
            args: &args,
            workgroups: grid_1d((total as u64).div_ceil(WG_FLAT as u64)),
        })?;
    }
    Ok(out)
}

fn check_param(op: &'static str, what: &str, t: &Tensor, c: usize) -> Result<()> {
    if t.shape() != [c] {
        return Err(Error::shapes(op, t.shape(), &[c], format!("{what} must be [C]")));
    }
    Ok(())
}

crate::uniform! {
    struct BnFinalizeParams {
        c: u32,
        parts: u32,
        count: f32,
        eps: f32,
        momentum: f32,
        unbias: f32,
        _pad: [u32; 2],
    }
}

/// Batch norm over the channels of x ([N, C, H, W] or [N, C]), with affine `gamma`,
/// `beta` ([C]). Training normalises with the batch mean and biased variance and moves
/// `running_mean` and `running_var` in place (`r = (1 - momentum) * r + momentum *
/// batch`, the variance unbiased, as torch); eval normalises with them. `opts.relu`
/// fuses a ReLU. The backward in training goes through the batch statistics.
pub fn batch_norm(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    training: bool,
    opts: &BatchNorm,
) -> Result<Tensor> {
    const OP: &str = "batch_norm";
    let geo = Geo::of(OP, x.shape())?;
    check_param(OP, "gamma", gamma, geo.c)?;
    check_param(OP, "beta", beta, geo.c)?;
    check_param(OP, "running_mean", running_mean, geo.c)?;
    check_param(OP, "running_var", running_var, geo.c)?;
    let count = geo.n * geo.hw;
    if training && count < 2 {
        return Err(Error::shape(
            OP,
            format!("{:?}: training needs more than one value per channel", x.shape()),
        ));
    }
    let lanes = lanes(OP, opts.version, x.shape(), &geo, x.gpu())?;
    let gpu = x.gpu();
    let coef = Tensor::empty(gpu, &[geo.c, 4])?;
    let mut p = BnFinalizeParams {
        c: geo.c as u32,
        parts: 0,
        count: count as f32,
        eps: opts.eps,
        momentum: opts.momentum,
        unbias: count as f32 / (count as f32 - 1.0),
        _pad: [0; 2],
    };
    let grid = grid_1d((geo.c as u64).div_ceil(WG_FINALIZE as u64));
    let base_args = [
        Arg::R(gamma.buf()),
        Arg::R(beta.buf()),
        Arg::W(running_mean.buf()),
        Arg::W(running_var.buf()),
        Arg::W(coef.buf()),
    ];
    if training {
        let (parts, n_parts) = stats(x, &geo, Grouping::Channels, lanes)?;
        p.parts = n_parts as u32;
        let mut args = base_args.to_vec();
        args.push(Arg::R(parts.buf()));
        gpu.launch(Launch {
            kernel: &BN_FINALIZE,
            entry: "train",
            constants: &[("WG", WG_FINALIZE as f64)],
            params: uniform(&p),
            args: &args,
            workgroups: grid,
        })?;
    } else {
        gpu.launch(Launch {
            kernel: &BN_FINALIZE,
            entry: "eval",
            constants: &[("WG", WG_FINALIZE as f64)],
            params: uniform(&p),
            args: &base_args,
            workgroups: grid,
        })?;
    }
    let y = apply(&[x], &coef, &geo, false, opts.relu, lanes)?;
    Ok(autograd::record(y, &[x, gamma, beta], || BatchNormBackward {
        x: x.clone(),
        coef,
        geo,
        training,
        relu: opts.relu,
        lanes,
    }))
}

/// `batch_norm` followed by a ReLU, both in one pass (and one backward).
pub fn batch_norm_relu(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    training: bool,
) -> Result<Tensor> {
    let opts = BatchNorm {
        relu: true,
        ..BatchNorm::default()
    };
    batch_norm(x, gamma, beta, running_mean, running_var, training, &opts)
}

crate::uniform! {
    struct BnBackwardFinalizeParams {
        c: u32,
        parts: u32,
        count: f32,
        _pad: u32,
    }
}

struct BatchNormBackward {
    x: Tensor,
    /// Per channel (scale, shift, mean, rstd) of the forward.
    coef: Tensor,
    geo: Geo,
    training: bool,
    relu: bool,
    lanes: Option<Lanes>,
}

impl Backward for BatchNormBackward {
    fn name(&self) -> &'static str {
        "batch_norm"
    }
    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let geo = &self.geo;
        let gpu = g.gpu();
        let (parts, n_parts) = backward_sums(
            &self.x,
            g,
            &self.coef,
            geo,
            Grouping::Channels,
            self.relu,
            self.lanes,
        )?;
        let dgamma = Tensor::empty(gpu, &[geo.c])?;
        let dbeta = Tensor::empty(gpu, &[geo.c])?;
        let bcoef = Tensor::empty(gpu, &[geo.c, 4])?;
        let p = BnBackwardFinalizeParams {
            c: geo.c as u32,
            parts: n_parts as u32,
            count: (geo.n * geo.hw) as f32,
            _pad: 0,
        };
        gpu.launch(Launch {
            kernel: &BN_BACKWARD_FINALIZE,
            entry: "main",
            constants: &[
                ("WG", WG_FINALIZE as f64),
                ("TRAIN", if self.training { 1.0 } else { 0.0 }),
            ],
            params: uniform(&p),
            args: &[
                Arg::R(parts.buf()),
                Arg::R(self.coef.buf()),
                Arg::W(dgamma.buf()),
                Arg::W(dbeta.buf()),
                Arg::W(bcoef.buf()),
            ],
            workgroups: grid_1d((geo.c as u64).div_ceil(WG_FINALIZE as u64)),
        })?;
        let dx = if needs[0] {
            Some(apply(&[&self.x, g], &bcoef, geo, false, self.relu, self.lanes)?)
        } else {
            None
        };
        Ok(vec![dx, needs[1].then_some(dgamma), needs[2].then_some(dbeta)])
    }
}

crate::uniform! {
    struct GnFinalizeParams {
        sets: u32,
        parts: u32,
        cg: u32,
        c: u32,
        count: f32,
        eps: f32,
        _pad: [u32; 2],
    }
}

/// Group norm of x ([N, C, H, W] or [N, C]): each sample's channels split into
/// `opts.groups` groups, each normalised by its own mean and biased variance, then
/// scaled and shifted per channel by `gamma`, `beta` ([C]).
pub fn group_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, opts: &GroupNorm) -> Result<Tensor> {
    const OP: &str = "group_norm";
    let geo = Geo::of(OP, x.shape())?;
    check_param(OP, "gamma", gamma, geo.c)?;
    check_param(OP, "beta", beta, geo.c)?;
    if opts.groups == 0 || !geo.c.is_multiple_of(opts.groups) {
        return Err(Error::shape(
            OP,
            format!(
                "{} groups do not divide the {} channels of {:?}",
                opts.groups,
                geo.c,
                x.shape()
            ),
        ));
    }
    let cg = geo.c / opts.groups;
    // The finalizes loop over a group's channels (under llvmpipe's loop cap).
    if cg > MAX_PARTS {
        return Err(Error::shape(
            OP,
            format!(
                "{:?} with {} groups: at most {MAX_PARTS} channels per group",
                x.shape(),
                opts.groups
            ),
        ));
    }
    let lanes = lanes(OP, opts.version, x.shape(), &geo, x.gpu())?;
    let gpu = x.gpu();
    let coef = Tensor::empty(gpu, &[geo.planes(), 4])?;
    let sets = geo.n * opts.groups;
    let (parts, n_parts) = stats(x, &geo, Grouping::Groups(cg), lanes)?;
    let p = GnFinalizeParams {
        sets: sets as u32,
        parts: n_parts as u32,
        cg: cg as u32,
        c: geo.c as u32,
        count: (cg * geo.hw) as f32,
        eps: opts.eps,
        _pad: [0; 2],
    };
    gpu.launch(Launch {
        kernel: &GN_FINALIZE,
        entry: "main",
        constants: &[("WG", WG_FINALIZE as f64)],
        params: uniform(&p),
        args: &[
            Arg::R(parts.buf()),
            Arg::R(gamma.buf()),
            Arg::R(beta.buf()),
            Arg::W(coef.buf()),
        ],
        workgroups: grid_1d((sets as u64).div_ceil(WG_FINALIZE as u64)),
    })?;
    let y = apply(&[x], &coef, &geo, true, false, lanes)?;
    Ok(autograd::record(y, &[x, gamma, beta], || GroupNormBackward {
        x: x.clone(),
        gamma: gamma.clone(),
        coef,
        geo,
        cg,
        lanes,
    }))
}

crate::uniform! {
    struct GnPlaneSumParams {
        planes: u32,
        parts: u32,
    }
}

crate::uniform! {
    struct GnBackwardFinalizeParams {
        sets: u32,
        cg: u32,
        c: u32,
        count: f32,
    }
}

struct GroupNormBackward {
    x: Tensor,
    gamma: Tensor,
    /// Per plane (scale, shift, mean, rstd) of the forward.
    coef: Tensor,
    geo: Geo,
    cg: usize,
    lanes: Option<Lanes>,
}

impl Backward for GroupNormBackward {
    fn name(&self) -> &'static str {
        "group_norm"
    }
    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let geo = &self.geo;
        let gpu = g.gpu();
        let planes = geo.planes();
        let (parts, n_parts) =
            backward_sums(&self.x, g, &self.coef, geo, Grouping::Planes, false, self.lanes)?;
        // Per plane: a = sum g, b = sum g * xhat, shaped [N, C].
        let a = Tensor::empty(gpu, &[geo.n, geo.c])?;
        let b = Tensor::empty(gpu, &[geo.n, geo.c])?;
        gpu.launch(Launch {
            kernel: &GN_PLANE_SUMS,
            entry: "main",
            constants: &[("WG", WG_FINALIZE as f64)],
            params: uniform(&GnPlaneSumParams {
                planes: planes as u32,
                parts: n_parts as u32,
            }),
            args: &[Arg::R(parts.buf()), Arg::W(a.buf()), Arg::W(b.buf())],
            workgroups: grid_1d((planes as u64).div_ceil(WG_FINALIZE as u64)),
        })?;
        let dx = if needs[0] {
            let sets = planes / self.cg;
            let bcoef = Tensor::empty(gpu, &[planes, 4])?;
            gpu.launch(Launch {
                kernel: &GN_BACKWARD_FINALIZE,
                entry: "main",
                constants: &[("WG", WG_FINALIZE as f64)],
                params: uniform(&GnBackwardFinalizeParams {
                    sets: sets as u32,
                    cg: self.cg as u32,
                    c: geo.c as u32,
                    count: (self.cg * geo.hw) as f32,
                }),
                args: &[
                    Arg::R(a.buf()),
                    Arg::R(b.buf()),
                    Arg::R(self.gamma.buf()),
                    Arg::R(self.coef.buf()),
                    Arg::W(bcoef.buf()),
                ],
                workgroups: grid_1d((sets as u64).div_ceil(WG_FINALIZE as u64)),
            })?;
            Some(apply(&[&self.x, g], &bcoef, geo, true, false, self.lanes)?)
        } else {
            None
        };
        // dgamma_c = sum over samples of b, dbeta_c = sum over samples of a.
        let dgamma = if needs[1] {
            Some(reduce::sum_axes(&b, &[0], false)?)
        } else {
            None
        };
        let dbeta = if needs[2] {
            Some(reduce::sum_axes(&a, &[0], false)?)
        } else {
            None
        };
        Ok(vec![dx, dgamma, dbeta])
    }
}
