//! Optimisers (SGD, Adam, AdamW) updating parameters in place, and global-norm
//! gradient clipping. One fused kernel per parameter tensor and step.
//!
//! Versions:
//! - `optim_sgd_v1`: the whole SGD update (weight decay, momentum, Nesterov) in one
//!   pass; entries per element and per vec4.
//! - `optim_adam_v1`: the whole Adam/AdamW update in one pass; entries per element
//!   and per vec4.
//! - `optim_clip_norm_v1`: tile sums of squares per gradient, one workgroup adding
//!   the tiles, then an in-place scale; per element or per vec4.
//!
//! [`OptimVersion::V1`] runs the per-element entries, [`OptimVersion::V1Vec4`] the vec4
//! ones; `Auto` (the default) takes the vec4 entries when the element count divides by
//! 4, else the per-element ones. Bench: `cargo bench --bench kernels -- optim`.
//!
//! Semantics are torch.optim's, for one parameter group (see `reference::optim`, which
//! quotes the torch lines):
//! - SGD: `d = g + wd p`; with momentum, the buffer starts as a copy of `d` on the
//!   first step (no dampening) and is `momentum buf + (1 - dampening) d` afterwards;
//!   Nesterov uses `d + momentum buf`, plain momentum uses `buf`; `p -= lr d`.
//!   Nesterov needs momentum > 0 and dampening 0 (torch refuses it otherwise).
//! - Adam: the step count t rises first; `m = lerp(m, g, 1 - beta1)`,
//!   `v = beta2 v + (1 - beta2) g^2`, `p -= lr / (1 - beta1^t) * m / (sqrt(v) /
//!   sqrt(1 - beta2^t) + eps)`. Weight decay adds `wd p` to g (Adam, coupled) or
//!   multiplies p by `1 - lr wd` first (AdamW, `decoupled`). amsgrad, maximize and
//!   several parameter groups are not offered.
//!
//! State is keyed by the parameter tensor's id and allocated at the first step that
//! sees the parameter, so later steps allocate no buffers. A parameter re-created
//! from a checkpoint has a new id: carry the state over with `state_dict` and
//! `load_state_dict`, which address parameters by their position in the list.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use crate::autograd::Grads;
use crate::error::{Error, Result};
use crate::gpu::{Arg, Buf, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::fill;
use crate::tensor::Tensor;

static SGD_V1: Kernel = kernel!("optim_sgd_v1");
static ADAM_V1: Kernel = kernel!("optim_adam_v1");
static CLIP_NORM_V1: Kernel = kernel!("optim_clip_norm_v1");
const WG: u32 = 256;
/// Elements per lane in the first pass of the norm.
const K: u32 = 64;
/// Elements one workgroup of the norm's first pass adds.
const TILE: usize = (WG * K) as usize;

/// Kernel versions of the optimisers and the gradient clipping (see the module header);
/// `Auto` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptimVersion {
    /// The default: `V1Vec4` when the element count divides by 4, else `V1`.
    #[default]
    Auto,
    /// The naive port of the reference: the per-element entries of the `_v1` kernels,
    /// one element per invocation, any size.
    V1,
    /// The vec4 entries of the same `_v1` kernels, one vec4 per invocation; an error
    /// when the count does not divide by 4.
    V1Vec4,
}

impl OptimVersion {
    /// Whether a tensor of `n` elements takes the vec4 entries.
    fn vec4(self, op: &'static str, n: usize) -> Result<bool> {
        match self {
            OptimVersion::Auto => Ok(n.is_multiple_of(4)),
            OptimVersion::V1 => Ok(false),
            OptimVersion::V1Vec4 if !n.is_multiple_of(4) => Err(Error::shape(
                op,
                format!("the vec4 kernel needs a count divisible by 4, got {n}"),
            )),
            OptimVersion::V1Vec4 => Ok(true),
        }
    }
}

/// Named state tensors as host vectors, `"{position}.{field}"`, for checkpoints.
pub type StateDict = Vec<(String, Vec<f32>)>;

/// What every optimiser offers to the trainer.
pub trait Optimizer {
    /// Updates every parameter that has a gradient in `grads`, in place; the others
    /// are skipped. Shapes are checked before anything is updated.
    fn step(&mut self, params: &[Tensor], grads: &Grads) -> Result<()>;
    /// The learning rate the next step uses.
    fn lr(&self) -> f64;
    /// Sets the learning rate (for schedules).
    fn set_lr(&mut self, lr: f64);
    /// Resets every state to its fresh value (zero moments, step 0), keeping the buffers.
    fn zero_state(&mut self) -> Result<()>;
    /// The state of `params`, by position in the list, as host vectors. Parameters
    /// that were never updated have no entries.
    fn state_dict(&self, params: &[Tensor]) -> Result<StateDict>;
    /// Replaces the state of `params` with `state` (from `state_dict` with the same
    /// parameter order); parameters without entries start fresh.
    fn load_state_dict(&mut self, params: &[Tensor], state: &[(String, Vec<f32>)]) -> Result<()>;
}

/// Hyper-parameters of `torch.optim.SGD`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
}

impl SgdConfig {
    /// Plain SGD: no momentum, no weight decay.
    #[must_use]
    pub fn new(lr: f64) -> SgdConfig {
        SgdConfig {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }

    /// torch's checks: non-negative values, Nesterov only with momentum and no dampening.
    pub fn validate(&self) -> Result<()> {
        let vals = [self.lr, self.momentum, self.dampening, self.weight_decay];
        if vals.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(Error::Invalid(format!(
                "sgd: lr, momentum, dampening and weight_decay must be finite and >= 0, got {self:?}"
            )));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::Invalid(format!(
                "sgd: Nesterov momentum requires a momentum and zero dampening, got {self:?}"
            )));
        }
        Ok(())
    }
}

/// Hyper-parameters of `torch.optim.Adam` (and `AdamW` when `decoupled`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// AdamW: decay the parameter (`p *= 1 - lr wd`) instead of adding `wd p` to g.
    pub decoupled: bool,
}

impl AdamConfig {
    /// torch's Adam defaults: betas (0.9, 0.999), eps 1e-8, no weight decay.
    #[must_use]
    pub fn adam(lr: f64) -> AdamConfig {
        AdamConfig {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        }
    }

    /// torch's AdamW: Adam's defaults with decoupled weight decay `wd` (torch: 1e-2).
    #[must_use]
    pub fn adamw(lr: f64, weight_decay: f64) -> AdamConfig {
        AdamConfig {
            weight_decay,
            decoupled: true,
            ..AdamConfig::adam(lr)
        }
    }

    /// torch's checks: lr, eps, weight decay >= 0, betas in [0, 1).
    pub fn validate(&self) -> Result<()> {
        let ok = [self.lr, self.eps, self.weight_decay]
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0)
            && (0.0..1.0).contains(&self.beta1)
            && (0.0..1.0).contains(&self.beta2);
        if !ok {
            return Err(Error::Invalid(format!(
                "adam: need lr, eps, weight_decay >= 0 and betas in [0, 1), got {self:?}"
            )));
        }
        Ok(())
    }
}

/// The non-empty parameters that have a gradient, with it and whether they take the
/// vec4 entries; errors on a shape mismatch, a parameter listed twice or a size the
/// version cannot take, before anything is dispatched.
fn with_grads<'a>(
    op: &'static str,
    params: &'a [Tensor],
    grads: &'a Grads,
    version: OptimVersion,
) -> Result<Vec<(&'a Tensor, &'a Tensor, bool)>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, p) in params.iter().enumerate() {
        if !seen.insert(p.id()) {
            return Err(Error::Invalid(format!(
                "{op}: parameter {i} ({p:?}) is listed twice"
            )));
        }
        let Some(g) = grads.get(p) else { continue };
        if g.shape() != p.shape() {
            return Err(Error::shapes(
                op,
                p.shape(),
                g.shape(),
                format!("parameter {i} vs its gradient"),
            ));
        }
        if p.numel() > 0 {
            out.push((p, g, version.vec4(op, p.numel())?));
        }
    }
    Ok(out)
}

/// `"{i}.{field}"` split into the position and the field.
fn parse_key<'k>(op: &'static str, key: &'k str, n_params: usize) -> Result<(usize, &'k str)> {
    let bad = || Error::Invalid(format!("{op}: state entry {key:?} is not \"<position>.<field>\""));
    let (i, field) = key.split_once('.').ok_or_else(bad)?;
    let i: usize = i.parse().map_err(|_| bad())?;
    if i >= n_params {
        return Err(Error::Invalid(format!(
            "{op}: state entry {key:?} names parameter {i}, but only {n_params} were given"
        )));
    }
    Ok((i, field))
}

/// Uploads one state vector for parameter `p`, checking its length.
fn upload(op: &'static str, key: &str, p: &Tensor, values: &[f32]) -> Result<Tensor> {
    if values.len() != p.numel() {
        return Err(Error::shape(
            op,
            format!(
                "state entry {key:?} holds {} values for a parameter of shape {:?}",
                values.len(),
                p.shape()
            ),
        ));
    }
    Tensor::from_slice(p.gpu(), values, p.shape())
}

fn workgroups(n: usize, vec4: bool) -> (u32, [u32; 3]) {
    let units = if vec4 { n / 4 } else { n } as u32;
    (units, grid_1d(units.div_ceil(WG) as u64))
}

crate::uniform! {
    struct SgdParams {
        n: u32,
        first: u32,
        nesterov: u32,
        _pad: u32,
        lr: f32,
        momentum: f32,
        one_minus_dampening: f32,
        weight_decay: f32,
    }
}

struct SgdState {
    buf: Tensor,
    /// False until a step has written the buffer (the first step copies d into it).
    started: bool,
}

/// `torch.optim.SGD` over one parameter group.
pub struct Sgd {
    pub cfg: SgdConfig,
    pub version: OptimVersion,
    state: HashMap<u64, SgdState>,
}

impl Sgd {
    #[must_use]
    pub fn new(cfg: SgdConfig) -> Sgd {
        Sgd {
            cfg,
            version: OptimVersion::Auto,
            state: HashMap::new(),
        }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &[Tensor], grads: &Grads) -> Result<()> {
        self.cfg.validate()?;
        let c = self.cfg;
        for (p, g, vec4) in with_grads("sgd", params, grads, self.version)? {
            let n = p.numel();
            let (units, wgs) = workgroups(n, vec4);
            let mut u = SgdParams {
                n: units,
                first: 0,
                nesterov: c.nesterov as u32,
                _pad: 0,
                lr: c.lr as f32,
                momentum: c.momentum as f32,
                one_minus_dampening: (1.0 - c.dampening) as f32,
                weight_decay: c.weight_decay as f32,
            };
            let launch = |entry, u: &SgdParams, args: &[Arg]| {
                p.gpu().launch(Launch {
                    kernel: &SGD_V1,
                    entry,
                    constants: &[("WG", WG as f64)],
                    params: uniform(u),
                    args,
                    workgroups: wgs,
                })
            };
            if c.momentum == 0.0 {
                let entry = if vec4 { "plain4" } else { "plain" };
                launch(entry, &u, &[Arg::W(p.buf()), Arg::R(g.buf())])?;
                continue;
            }
            let st = match self.state.entry(p.id()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(SgdState {
                    buf: Tensor::empty(p.gpu(), p.shape())?,
                    started: false,
                }),
            };
            u.first = (!st.started) as u32;
            let entry = if vec4 { "momentum4" } else { "momentum" };
            launch(
                entry,
                &u,
                &[Arg::W(p.buf()), Arg::R(g.buf()), Arg::W(st.buf.buf())],
            )?;
            st.started = true;
        }
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn zero_state(&mut self) -> Result<()> {
        // The next step copies the gradient into the buffer, as a fresh one does.
        for st in self.state.values_mut() {
            st.started = false;
        }
        Ok(())
    }

    fn state_dict(&self, params: &[Tensor]) -> Result<StateDict> {
        let mut out = Vec::new();
        for (i, p) in params.iter().enumerate() {
            if let Some(st) = self.state.get(&p.id()).filter(|s| s.started) {
                out.push((format!("{i}.momentum_buffer"), st.buf.to_vec()?));
            }
        }
        Ok(out)
    }

    fn load_state_dict(&mut self, params: &[Tensor], state: &[(String, Vec<f32>)]) -> Result<()> {
        let mut fresh = HashMap::new();
        for (key, values) in state {
            let (i, field) = parse_key("sgd", key, params.len())?;
            if field != "momentum_buffer" {
                return Err(Error::Invalid(format!("sgd: unknown state entry {key:?}")));
            }
            let p = &params[i];
            let buf = upload("sgd", key, p, values)?;
            fresh.insert(p.id(), SgdState { buf, started: true });
        }
        for p in params {
            self.state.remove(&p.id());
        }
        self.state.extend(fresh);
        Ok(())
    }
}

crate::uniform! {
    struct AdamParams {
        n: u32,
        decoupled: u32,
        weight_decay: f32,
        decay: f32,
        beta2: f32,
        one_minus_beta1: f32,
        one_minus_beta2: f32,
        eps: f32,
        step_size: f32,
        bc2_sqrt: f32,
        _pad: [u32; 2],
    }
}

struct AdamState {
    m: Tensor,
    v: Tensor,
    /// Steps taken (torch's `step`).
    step: u64,
}

/// `torch.optim.Adam` / `torch.optim.AdamW` over one parameter group.
pub struct Adam {
    pub cfg: AdamConfig,
    pub version: OptimVersion,
    state: HashMap<u64, AdamState>,
}

impl Adam {
    #[must_use]
    pub fn new(cfg: AdamConfig) -> Adam {
        Adam {
            cfg,
            version: OptimVersion::Auto,
            state: HashMap::new(),
        }
    }

    /// Steps taken for `param` (0 before its first update).
    pub fn steps(&self, param: &Tensor) -> u64 {
        self.state.get(&param.id()).map_or(0, |s| s.step)
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &[Tensor], grads: &Grads) -> Result<()> {
        self.cfg.validate()?;
        let c = self.cfg;
        for (p, g, vec4) in with_grads("adam", params, grads, self.version)? {
            let n = p.numel();
            let st = match self.state.entry(p.id()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(AdamState {
                    m: Tensor::zeros(p.gpu(), p.shape())?,
                    v: Tensor::zeros(p.gpu(), p.shape())?,
                    step: 0,
                }),
            };
            st.step += 1;
            let t = st.step.min(i32::MAX as u64) as i32;
            let bc1 = 1.0 - c.beta1.powi(t);
            let bc2 = 1.0 - c.beta2.powi(t);
            let (units, wgs) = workgroups(n, vec4);
            let u = AdamParams {
                n: units,
                decoupled: c.decoupled as u32,
                weight_decay: c.weight_decay as f32,
                decay: (1.0 - c.lr * c.weight_decay) as f32,
                beta2: c.beta2 as f32,
                one_minus_beta1: (1.0 - c.beta1) as f32,
                one_minus_beta2: (1.0 - c.beta2) as f32,
                eps: c.eps as f32,
                step_size: (c.lr / bc1) as f32,
                bc2_sqrt: bc2.sqrt() as f32,
                _pad: [0; 2],
            };
            p.gpu().launch(Launch {
                kernel: &ADAM_V1,
                entry: if vec4 { "main4" } else { "main" },
                constants: &[("WG", WG as f64)],
                params: uniform(&u),
                args: &[
                    Arg::W(p.buf()),
                    Arg::R(g.buf()),
                    Arg::W(st.m.buf()),
                    Arg::W(st.v.buf()),
                ],
                workgroups: wgs,
            })?;
        }
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn zero_state(&mut self) -> Result<()> {
        for st in self.state.values_mut() {
            fill::fill(&st.m, 0.0)?;
            fill::fill(&st.v, 0.0)?;
            st.step = 0;
        }
        Ok(())
    }

    /// Entries `{i}.step` (one value, exact up to 2^24 steps, as torch keeps it in
    /// f32), `{i}.exp_avg` and `{i}.exp_avg_sq`.
    fn state_dict(&self, params: &[Tensor]) -> Result<StateDict> {
        let mut out = Vec::new();
        for (i, p) in params.iter().enumerate() {
            if let Some(st) = self.state.get(&p.id()) {
                out.push((format!("{i}.step"), vec![st.step as f32]));
                out.push((format!("{i}.exp_avg"), st.m.to_vec()?));
                out.push((format!("{i}.exp_avg_sq"), st.v.to_vec()?));
            }
        }
        Ok(out)
    }

    fn load_state_dict(&mut self, params: &[Tensor], state: &[(String, Vec<f32>)]) -> Result<()> {
        type Parts = (Option<u64>, Option<Tensor>, Option<Tensor>);
        let mut parts: HashMap<usize, Parts> = HashMap::new();
        for (key, values) in state {
            let (i, field) = parse_key("adam", key, params.len())?;
            let e = parts.entry(i).or_default();
            match field {
                "step" => {
                    let ok = values.len() == 1 && values[0] >= 0.0 && values[0].fract() == 0.0;
                    if !ok {
                        return Err(Error::Invalid(format!(
                            "adam: state entry {key:?} must hold one whole number, got {values:?}"
                        )));
                    }
                    e.0 = Some(values[0] as u64);
                }
                "exp_avg" => e.1 = Some(upload("adam", key, &params[i], values)?),
                "exp_avg_sq" => e.2 = Some(upload("adam", key, &params[i], values)?),
                _ => return Err(Error::Invalid(format!("adam: unknown state entry {key:?}"))),
            }
        }
        let mut fresh = HashMap::new();
        for (i, e) in parts {
            let (Some(step), Some(m), Some(v)) = e else {
                return Err(Error::Invalid(format!(
                    "adam: parameter {i} needs all of {i}.step, {i}.exp_avg and {i}.exp_avg_sq"
                )));
            };
            fresh.insert(params[i].id(), AdamState { m, v, step });
        }
        for p in params {
            self.state.remove(&p.id());
        }
        self.state.extend(fresh);
        Ok(())
    }
}

crate::uniform! {
    struct ClipParams {
        n: u32,
        offset: u32,
        n_parts: u32,
        max_norm: f32,
    }
}

/// `torch.nn.utils.clip_grad_norm_(params, max_norm)` with the L2 norm: the norm of
/// all gradients of `params` together (added in parameter order, so the result is
/// deterministic), and every gradient scaled in place by
/// `min(1, max_norm / (norm + 1e-6))` (unchanged when the norm is below `max_norm`).
/// Returns the norm before clipping as a scalar device tensor, so a training step
/// need not wait for it (`.item()` reads it). Parameters without a gradient are
/// skipped; with none at all the norm is 0 (an empty `params` is an error).
///
/// A gradient buffer shared by several parameters (the tape hands `a` and `b` of
/// `a + b` the same tensor) counts once per parameter in the norm, as in torch, and
/// is scaled once. Anything else sharing a gradient's buffer (e.g. the seed passed to
/// `backward_with`, when a leaf's gradient is that seed) is scaled with it.
pub fn clip_grad_norm(params: &[Tensor], grads: &mut Grads, max_norm: f32) -> Result<Tensor> {
    clip_grad_norm_with(params, grads, max_norm, OptimVersion::Auto)
}

/// [`clip_grad_norm`] with a choice of kernel entries (the sums and the scale).
pub fn clip_grad_norm_with(
    params: &[Tensor],
    grads: &mut Grads,
    max_norm: f32,
    version: OptimVersion,
) -> Result<Tensor> {
    if !(max_norm >= 0.0 && max_norm.is_finite()) {
        return Err(Error::Invalid(format!(
            "clip_grad_norm: max_norm must be finite and >= 0, got {max_norm}"
        )));
    }
    let list = with_grads("clip_grad_norm", params, grads, version)?;
    let Some(first) = params.first() else {
        return Err(Error::Invalid("clip_grad_norm: no parameters given".into()));
    };
    let gpu = first.gpu().clone();
    if list.is_empty() {
        return Tensor::zeros(&gpu, &[]);
    }
    let n_parts: usize = list.iter().map(|(_, g, _)| g.numel().div_ceil(TILE)).sum();
    let parts = Tensor::empty(&gpu, &[n_parts])?;
    let norm = Tensor::empty(&gpu, &[])?;
    let constants = [("WG", WG as f64), ("K", K as f64)];
    let mut offset = 0;
    for &(_, g, vec4) in &list {
        let tiles = g.numel().div_ceil(TILE);
        let u = ClipParams {
            n: g.numel() as u32,
            offset: offset as u32,
            n_parts: n_parts as u32,
            max_norm,
        };
        gpu.launch(Launch {
            kernel: &CLIP_NORM_V1,
            entry: if vec4 { "partial4" } else { "partial" },
            constants: &constants,
            params: uniform(&u),
            args: &[Arg::R(g.buf()), Arg::W(parts.buf())],
            workgroups: grid_1d(tiles as u64),
        })?;
        offset += tiles;
    }
    let u = ClipParams {
        n: 0,
        offset: 0,
        n_parts: n_parts as u32,
        max_norm,
    };
    gpu.launch(Launch {
        kernel: &CLIP_NORM_V1,
        entry: "finish",
        constants: &constants,
        params: uniform(&u),
        args: &[Arg::R(parts.buf()), Arg::W(norm.buf())],
        workgroups: [1, 1, 1],
    })?;
    let mut scaled: HashSet<*const Buf> = HashSet::new();
    for &(_, g, vec4) in &list {
        if !scaled.insert(g.buf() as *const Buf) {
            continue;
        }
        let (units, wgs) = workgroups(g.numel(), vec4);
        let u = ClipParams {
            n: units,
            offset: 0,
            n_parts: n_parts as u32,
            max_norm,
        };
        gpu.launch(Launch {
            kernel: &CLIP_NORM_V1,
            entry: if vec4 { "scale4" } else { "scale" },
            constants: &constants,
            params: uniform(&u),
            args: &[Arg::W(g.buf()), Arg::R(norm.buf())],
            workgroups: wgs,
        })?;
    }
    Ok(norm)
}
