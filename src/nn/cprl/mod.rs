//! The CPRL model (docs/METHOD.md section 1): a CNN backbone with SortMask after chosen
//! stages, the CPR channel gate on its pooled features, the quality head on the
//! causal part and the adversary head on the rest.
//!
//! ```text
//! x in [0,1]^(B x 3 x H x W) -> (x - mean) / std (ImageNet, fixed)
//!   -> per stage: conv 3x3 stride 2 -> norm -> ReLU [-> conv 3x3 -> norm -> ReLU ...]
//!                 [-> SortMask]
//!   -> global average pool: z [B, C] (>= 0)
//!   -> key k = z or |z * w_c|; k' = (k - mean_c k) / (std_c k + 1e-6) per sample
//!   -> CPR gate ranked by k': m, c = z * m, n = z * (1 - m)
//!   -> score = h(c) = sigmoid(fc2(relu(fc1(c)))) in [0, 1]     [B]
//!      adv   = h_n(n), the same shape                          [B]
//! ```
//!
//! The baseline (`gate: None`, no SortMask) is the same backbone and head on c = z.
//! Attacks work on the [0,1] pixel scale: the normalisation is inside the model, so
//! input gradients are with respect to the [0,1] image.
//!
//! Everything is composed from the ops in `crate::ops` (each records its backward),
//! and `reference::cprl_model` is its f64 twin, which `tests/model_cprl.rs` holds it to.

pub mod config;

use std::sync::Arc;

pub use config::{CprlConfig, GateSettings, KeyKind, NormKind, PRESETS, SortMaskSettings};

use super::{BatchNorm2d, Conv2d, GroupNorm2d, Linear, Module, prefixed};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::ops::conv2d::Conv2dParams;
use crate::ops::elementwise as ew;
use crate::ops::gate::rank_gate_affine;
use crate::ops::gate::{GateConfig, GateKey, cpr_gate};
use crate::ops::pool::global_avg_pool;
use crate::ops::reduce;
use crate::ops::softrank;
use crate::ops::sortmask::{SortMaskConfig, SortMaskVersion, sortmask, sortmask_apply, sortmask_deviation};
use crate::tensor::Tensor;

/// ImageNet channel means and standard deviations (torchvision's), applied inside the
/// model to images in [0, 1].
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Added to the per-sample standard deviation of the gate key (docs/METHOD.md section 1,
/// "The CPR gate").
pub const KEY_STD_EPS: f32 = 1e-6;
/// Added to the key's variance under the square root, so that the gradient of a
/// constant key (a sample whose channels are all equal, e.g. all dead) stays finite;
/// it moves std_c k by under 1e-6 once std_c k is past 1e-6.
pub const KEY_VAR_EPS: f32 = 1e-12;

/// The normalisation after a convolution, with the ReLU that follows it.
pub enum Norm {
    /// Batch norm with the ReLU fused.
    Batch(BatchNorm2d),
    /// Group norm, then a ReLU.
    Group(GroupNorm2d),
}

/// How batch norm runs in a forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Running statistics; every output of a sample depends on that sample alone.
    Eval,
    /// Batch statistics, and the running ones move towards them (a training step).
    Train,
    /// Batch statistics, running ones left alone: the extra forwards of a training
    /// step (the intervention search), which must not count twice in the running
    /// statistics but should see the model as the training forward does.
    TrainFrozen,
}

impl Pass {
    fn from_training(training: bool) -> Pass {
        if training { Pass::Train } else { Pass::Eval }
    }
}

impl Norm {
    pub fn forward(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        self.forward_pass(x, Pass::from_training(training))
    }

    pub fn forward_pass(&self, x: &Tensor, pass: Pass) -> Result<Tensor> {
        match self {
            Norm::Batch(n) if pass == Pass::TrainFrozen => {
                // Momentum 0: running = 1 * running + 0 * batch, bit for bit unchanged.
                let opts = crate::ops::norm::BatchNorm {
                    momentum: 0.0,
                    ..n.opts
                };
                crate::ops::norm::batch_norm(
                    x,
                    &n.gamma,
                    &n.beta,
                    &n.running_mean,
                    &n.running_var,
                    true,
                    &opts,
                )
            }
            Norm::Batch(n) => n.forward(x, pass != Pass::Eval),
            Norm::Group(n) => ew::relu(&n.forward(x)?),
        }
    }
}

impl Module for Norm {
    fn params(&self) -> Vec<(String, Tensor)> {
        match self {
            Norm::Batch(n) => n.params(),
            Norm::Group(n) => n.params(),
        }
    }
    fn buffers(&self) -> Vec<(String, Tensor)> {
        match self {
            Norm::Batch(n) => n.buffers(),
            Norm::Group(n) => n.buffers(),
        }
    }
}

/// One backbone stage: its convolutions (the first with stride 2), each followed by a
/// norm and a ReLU.
pub struct Stage {
    pub convs: Vec<Conv2d>,
    pub norms: Vec<Norm>,
}

/// The heads: C -> hidden -> 1 with a ReLU between and a sigmoid at the end.
pub struct Head {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl Head {
    fn new(gpu: &Arc<Gpu>, c: usize, hidden: usize, seed: u64) -> Result<Head> {
        Ok(Head {
            fc1: Linear::new(gpu, c, hidden, true, seed)?,
            fc2: Linear::new(gpu, hidden, 1, true, seed.wrapping_add(2))?,
        })
    }

    /// Scores [B] in [0, 1] from features [B, C].
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = ew::relu(&self.fc1.forward(x)?)?;
        let s = ew::sigmoid(&self.fc2.forward(&h)?)?;
        s.reshape(&[x.dim(0)])
    }
}

impl Module for Head {
    fn params(&self) -> Vec<(String, Tensor)> {
        let mut v = prefixed("fc1", self.fc1.params());
        v.extend(prefixed("fc2", self.fc2.params()));
        v
    }
}

/// What one forward gives.
pub struct CprlOutput {
    /// h(c): predicted quality in [0, 1], higher = better. [B]
    pub score: Tensor,
    /// Pooled features (>= 0). [B, C]
    pub z: Tensor,
    /// CPR, z * m (z itself for the baseline). [B, C]
    pub c: Tensor,
    /// N-CPR, z * (1 - m); `None` for the baseline. [B, C]
    pub n: Option<Tensor>,
    /// The gate m in (0, 1); `None` for the baseline. [B, C]
    pub m: Option<Tensor>,
    /// h_n(n): the adversary head's prediction from N-CPR; `None` for the baseline. [B]
    pub adv: Option<Tensor>,
}

/// The CPRL model (see the module header).
pub struct Cprl {
    pub config: CprlConfig,
    pub stages: Vec<Stage>,
    pub head: Head,
    /// h_n; present exactly when the gate is on.
    pub adversary: Option<Head>,
    /// 1 / std and -mean / std per input channel, [1, 3, 1, 1].
    input_scale: Tensor,
    input_shift: Tensor,
}

impl Cprl {
    /// Builds the model (after validating `config`); `seed` fixes the initialisation
    /// (torch's defaults: uniform on +-1/sqrt(fan_in); norms gamma 1, beta 0).
    pub fn new(gpu: &Arc<Gpu>, config: &CprlConfig, seed: u64) -> Result<Cprl> {
        config.validate()?;
        let mut stages = Vec::new();
        let mut cin = 3;
        for (i, &w) in config.stages.iter().enumerate() {
            let mut convs = Vec::new();
            let mut norms = Vec::new();
            for j in 0..config.convs_per_stage {
                let (inp, stride) = if j == 0 { (cin, 2) } else { (w, 1) };
                let s = seed.wrapping_add(100 * i as u64 + 10 * j as u64);
                convs.push(Conv2d::new(
                    gpu,
                    inp,
                    w,
                    3,
                    Conv2dParams::new(stride, 1),
                    false,
                    s,
                )?);
                norms.push(match config.norm {
                    NormKind::BatchNorm => Norm::Batch(BatchNorm2d::new(gpu, w, true)?),
                    NormKind::GroupNorm { groups } => Norm::Group(GroupNorm2d::new(gpu, w, groups)?),
                });
            }
            stages.push(Stage { convs, norms });
            cin = w;
        }
        let c = config.channels();
        let head = Head::new(gpu, c, config.head_hidden, seed.wrapping_add(10_000))?;
        let adversary = match config.gate {
            Some(_) => Some(Head::new(gpu, c, config.head_hidden, seed.wrapping_add(20_000))?),
            None => None,
        };
        let scale: Vec<f32> = IMAGENET_STD.iter().map(|s| 1.0 / s).collect();
        let shift: Vec<f32> = IMAGENET_MEAN
            .iter()
            .zip(&IMAGENET_STD)
            .map(|(m, s)| -m / s)
            .collect();
        Ok(Cprl {
            config: config.clone(),
            stages,
            head,
            adversary,
            input_scale: Tensor::from_slice(gpu, &scale, &[1, 3, 1, 1])?,
            input_shift: Tensor::from_slice(gpu, &shift, &[1, 3, 1, 1])?,
        })
    }

    /// The model on images `x` ([B, 3, H, W], values in [0, 1]). `training` selects
    /// batch statistics in batch norm (and moves the running ones); in eval every
    /// output of a sample depends on that sample alone.
    pub fn forward(&self, x: &Tensor, training: bool) -> Result<CprlOutput> {
        self.forward_pass(x, Pass::from_training(training))
    }

    /// [`Cprl::forward`] with batch norm run as `pass` says.
    pub fn forward_pass(&self, x: &Tensor, pass: Pass) -> Result<CprlOutput> {
        let z = global_avg_pool(
            self.stage_outputs_pass(x, pass)?
                .last()
                .expect("a validated config has stages"),
        )?;
        match &self.config.gate {
            None => Ok(CprlOutput {
                score: self.head.forward(&z)?,
                c: z.clone(),
                z,
                n: None,
                m: None,
                adv: None,
            }),
            Some(g) => {
                let (c, n, m) = self.gate(&z, g)?;
                let adversary = self.adversary.as_ref().expect("a gated model has an adversary");
                Ok(CprlOutput {
                    score: self.head.forward(&c)?,
                    adv: Some(adversary.forward(&n)?),
                    z,
                    c,
                    n: Some(n),
                    m: Some(m),
                })
            }
        }
    }

    /// The backbone and SortMask up to the pooled features z ([B, C]).
    pub fn features(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        let maps = self.stage_outputs(x, training)?;
        global_avg_pool(maps.last().expect("a validated config has stages"))
    }

    /// Each stage's output feature maps, [B, width, H_i, W_i] (after SortMask where it
    /// applies).
    pub fn stage_outputs(&self, x: &Tensor, training: bool) -> Result<Vec<Tensor>> {
        self.stage_outputs_pass(x, Pass::from_training(training))
    }

    /// [`Cprl::stage_outputs`] with batch norm run as `pass` says.
    pub fn stage_outputs_pass(&self, x: &Tensor, pass: Pass) -> Result<Vec<Tensor>> {
        if x.dims() != 4 || x.dim(1) != 3 {
            return Err(Error::shape(
                "cprl",
                format!("images must be [B, 3, H, W], got {:?}", x.shape()),
            ));
        }
        let mut h = ew::add(&ew::mul(x, &self.input_scale)?, &self.input_shift)?;
        let mut maps = Vec::new();
        for (i, stage) in self.stages.iter().enumerate() {
            for (conv, norm) in stage.convs.iter().zip(&stage.norms) {
                h = norm.forward_pass(&conv.forward(&h)?, pass)?;
            }
            if self.config.sortmask_after.contains(&i) {
                let cfg = self.config.sortmask.op_config(h.dim(2) * h.dim(3));
                h = if self.config.sortmask.straight_through {
                    sortmask_straight_through(&h, &cfg)?
                } else {
                    sortmask(&h, &cfg)?
                };
            }
            maps.push(h.clone());
        }
        Ok(maps)
    }

    /// The CPR gate on z ([B, C]) under settings `g` (`forward` passes the config's;
    /// others serve ablations and diagnostics), with this model's head for the
    /// head-weighted key: (c, n, m), each [B, C].
    pub fn gate(&self, z: &Tensor, g: &GateSettings) -> Result<(Tensor, Tensor, Tensor)> {
        let key = match g.key {
            KeyKind::Z => z.clone(),
            KeyKind::HeadWeighted => ew::abs(&ew::mul(z, &self.head_channel_norms()?)?)?,
        };
        let key = if g.standardize {
            standardize_per_sample(&key)?
        } else {
            key
        };
        let cfg = GateConfig {
            rho: g.rho,
            temperature: g.temperature,
            method: g.method,
            strength: g.strength_for(z.dim(1)),
            key: GateKey::Given(key),
        };
        let (c, n, m) = cpr_gate(z, &cfg)?;
        if !g.straight_through {
            return Ok((c, n, m));
        }
        // m + (m_hard - m) is m_hard exactly: m_hard - m is exact for m in [0.5, 1]
        // (Sterbenz) and -m below, so the sum rounds to 1 or 0 with no error.
        let m_st = ew::add(&m, &ew::sub(&step(&ew::affine(&m, 1.0, -0.5)?)?, &m)?.detach())?;
        let c = ew::mul(z, &m_st)?;
        let n = ew::mul(z, &ew::affine(&m_st, -1.0, 1.0)?)?;
        Ok((c, n, m_st))
    }

    /// A model that shares this one's weights and running statistics (the same device
    /// buffers, nothing copied) but runs under the settings `edit` leaves in a copy of
    /// its configuration: an attack surrogate of the trained model (another gate or
    /// SortMask temperature, a straight-through gate). The edit may change settings
    /// only: the stages, convolutions, norm, head width and whether there is a gate
    /// must stay, since they decide which weights exist.
    pub fn with_settings(&self, edit: impl FnOnce(&mut CprlConfig)) -> Result<Cprl> {
        let mut config = self.config.clone();
        edit(&mut config);
        config.validate()?;
        let old = &self.config;
        if config.stages != old.stages
            || config.convs_per_stage != old.convs_per_stage
            || config.norm != old.norm
            || config.head_hidden != old.head_hidden
            || config.gate.is_some() != old.gate.is_some()
        {
            return Err(Error::Invalid(
                "with_settings: stages, convs_per_stage, norm, head_hidden and the gate's presence \
                 fix the weights and cannot change"
                    .into(),
            ));
        }
        Ok(Cprl {
            config,
            stages: self.stages.iter().map(Stage::shared).collect(),
            head: self.head.shared(),
            adversary: self.adversary.as_ref().map(Head::shared),
            input_scale: self.input_scale.clone(),
            input_shift: self.input_shift.clone(),
        })
    }

    /// w_c: the L2 norm of the head's first-layer weights on each input channel. [C]
    pub fn head_channel_norms(&self) -> Result<Tensor> {
        ew::sqrt(&reduce::sum_axes(
            &ew::square(&self.head.fc1.weight)?,
            &[0],
            false,
        )?)
    }

    /// Number of trainable values.
    pub fn param_count(&self) -> usize {
        self.params().iter().map(|(_, t)| t.numel()).sum()
    }
}

/// k' = (k - mean_c k) / (std_c k + 1e-6) for each row of k ([B, C]), std the
/// population one (computed as sqrt(var + 1e-12), see [`KEY_VAR_EPS`]); recorded on
/// the tape.
pub fn standardize_per_sample(k: &Tensor) -> Result<Tensor> {
    let d = ew::sub(k, &reduce::mean_axes(k, &[1], true)?)?;
    let var = reduce::mean_axes(&ew::square(&d)?, &[1], true)?;
    let std = ew::sqrt(&ew::affine(&var, 1.0, KEY_VAR_EPS)?)?;
    ew::div(&d, &ew::affine(&std, 1.0, KEY_STD_EPS)?)
}

/// 1[t > 0] elementwise (0 at t = 0), not recorded: sign, then 2 s - 1 and sign again
/// send {-1, 0, 1} to {-1, -1, 1}, and (s + 1) / 2 to {0, 0, 1}, all exact.
fn step(t: &Tensor) -> Result<Tensor> {
    let _g = crate::autograd::no_grad();
    let s = ew::sign(&ew::affine(&ew::sign(t)?, 2.0, -1.0)?)?;
    ew::affine(&s, 0.5, 0.5)
}

/// SortMask of `f` ([B, C, H, W]) whose forward is the hard one, mu + (F - mu) *
/// 1[u > q_s], and whose gradient is the soft one's: soft + stopgrad(hard - soft).
/// The soft ranks and means are computed once and serve both.
pub fn sortmask_straight_through(f: &Tensor, cfg: &SortMaskConfig) -> Result<Tensor> {
    let s = f.shape().to_vec();
    let (rows, n) = (s[0] * s[1], s[2] * s[3]);
    let f2 = f.reshape(&[rows, n])?;
    let (d, mu) = sortmask_deviation(&f2, SortMaskVersion::Auto)?;
    let r = softrank::soft_rank(&d, cfg.method, cfg.strength)?;
    let soft = sortmask_apply(&f2, &mu, &r, cfg, SortMaskVersion::Auto)?;
    let hard = {
        let _g = crate::autograd::no_grad();
        let (a, b) = rank_gate_affine(n, cfg.quantile, cfg.temperature);
        let g = step(&ew::affine(&r, a, b)?)?;
        let mu = mu.reshape(&[rows, 1])?;
        ew::add(&mu, &ew::mul(&ew::sub(&f2, &mu)?, &g)?)?
    };
    ew::add(&soft, &ew::sub(&hard, &soft)?.detach())?.reshape(&s)
}

impl Stage {
    /// The same layers on the same tensors (see [`Cprl::with_settings`]).
    fn shared(&self) -> Stage {
        Stage {
            convs: self
                .convs
                .iter()
                .map(|c| Conv2d {
                    weight: c.weight.clone(),
                    bias: c.bias.clone(),
                    params: c.params,
                })
                .collect(),
            norms: self.norms.iter().map(Norm::shared).collect(),
        }
    }
}

impl Norm {
    /// The same norm on the same tensors (see [`Cprl::with_settings`]).
    fn shared(&self) -> Norm {
        match self {
            Norm::Batch(n) => Norm::Batch(BatchNorm2d {
                gamma: n.gamma.clone(),
                beta: n.beta.clone(),
                running_mean: n.running_mean.clone(),
                running_var: n.running_var.clone(),
                opts: n.opts,
            }),
            Norm::Group(n) => Norm::Group(GroupNorm2d {
                gamma: n.gamma.clone(),
                beta: n.beta.clone(),
                opts: n.opts,
            }),
        }
    }
}

impl Head {
    /// The same layers on the same tensors (see [`Cprl::with_settings`]).
    fn shared(&self) -> Head {
        let linear = |l: &Linear| Linear {
            weight: l.weight.clone(),
            bias: l.bias.clone(),
        };
        Head {
            fc1: linear(&self.fc1),
            fc2: linear(&self.fc2),
        }
    }
}

impl Module for Cprl {
    /// `stage{i}.conv{j}.weight`, `stage{i}.norm{j}.{gamma,beta}` per convolution in
    /// order, then `head.fc{1,2}.{weight,bias}`, then `adversary.*` when gated.
    fn params(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        for (i, stage) in self.stages.iter().enumerate() {
            for (j, (conv, norm)) in stage.convs.iter().zip(&stage.norms).enumerate() {
                v.extend(prefixed(&format!("stage{i}.conv{j}"), conv.params()));
                v.extend(prefixed(&format!("stage{i}.norm{j}"), norm.params()));
            }
        }
        v.extend(prefixed("head", self.head.params()));
        if let Some(a) = &self.adversary {
            v.extend(prefixed("adversary", a.params()));
        }
        v
    }
    /// Batch norm's running statistics, `stage{i}.norm{j}.running_{mean,var}`.
    fn buffers(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        for (i, stage) in self.stages.iter().enumerate() {
            for (j, norm) in stage.norms.iter().enumerate() {
                v.extend(prefixed(&format!("stage{i}.norm{j}"), norm.buffers()));
            }
        }
        v
    }
}
