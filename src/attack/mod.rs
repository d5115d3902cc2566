//! Adversarial attacks on a quality model, batched on the device: FGSM, I-FGSM, PGD
//! with a random start, MI-FGSM, and the score reflection attack, under an L_inf
//! budget on the [0, 1] pixel scale (docs/METHOD.md section 3, "Attacks").
//!
//! Every attack minimises a per-image loss of the eval-mode score s = h(c(x')) by
//! signed-gradient steps, x' <- clip_[0,1](x + clip_eps(x' - alpha * dir - x)), where
//! dir is sign(grad) (sign of the momentum for MI-FGSM). The losses, with s0 the clean
//! score (a constant):
//! - [`Goal::Midpoint`] (the untargeted IQA convention, L_mid of Liu et al. 2024):
//!   s if s0 > 0.5, else -s: a score above the midpoint is pushed down, one below up;
//! - [`Goal::Reflect`] (the paper's score reflection): (s - (1 - s0))^2;
//! - [`Goal::Up`] (the MSU benchmark's 1 - s): every score pushed up.
//!
//! The loss is summed over the batch and the model runs in eval mode, where no
//! operation mixes samples, so each image's gradient is its own; only PGD's random
//! start depends on the batch (it is drawn per batch from the seed and the batch's
//! number). Input gradients come from `autograd::backward_to`, which skips every
//! weight-gradient kernel.
//!
//! [`attack_with`] takes each step's gradient from a surrogate model and everything
//! else from the real one, and [`attack_defended`] attacks a model behind an input
//! purification with BPDA; [`adaptive`] builds the surrogates and keeps the worst case.

pub mod adaptive;
pub mod purify;
pub mod run;

use crate::autograd::{self, no_grad};
use crate::data::rng::SplitMix64;
use crate::error::{Error, Result};
use crate::nn::Cprl;
use crate::tensor::Tensor;
pub use purify::Defense;

/// What the attack pushes the score towards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Across the midpoint 0.5 (down if above it, up if below).
    Midpoint,
    /// To 1 - s0: a good image made to score bad and the reverse.
    Reflect,
    /// Up (the MSU benchmark's loss 1 - s).
    Up,
}

/// How the steps are taken.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Signed-gradient steps from the clean image (FGSM is one step of size eps).
    Iterative,
    /// Signed-gradient steps from a uniform random start in the eps ball.
    RandomStart,
    /// MI-FGSM: the sign of an accumulated gradient, each step's gradient divided by
    /// its image's mean |g| (decay mu).
    Momentum { decay: f32 },
    /// The MSU benchmark's AMI-FGSM: the sign of the accumulated raw gradients
    /// (decay mu), with no per-image normalisation.
    RawMomentum { decay: f32 },
}

/// One attack: its name, goal, method and budget.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AttackConfig {
    pub name: String,
    pub goal: Goal,
    pub method: Method,
    /// L_inf budget on the [0, 1] pixel scale.
    pub eps: f32,
    pub steps: u32,
    /// Step size.
    pub alpha: f32,
    pub seed: u64,
}

/// The attacks [`AttackConfig::named`] knows, with what each does.
pub const ATTACKS: &[(&str, &str)] = &[
    ("fgsm", "one step of eps, across the midpoint"),
    (
        "ifgsm",
        "K steps of alpha from the clean image, across the midpoint",
    ),
    ("pgd", "K steps of alpha from a random start, across the midpoint"),
    ("mifgsm", "I-FGSM with momentum 1, across the midpoint"),
    ("reflect", "score reflection: PGD towards 1 - s0"),
    ("msu-fgsm", "MSU benchmark: one step of eps, score up"),
    ("msu-ifgsm", "MSU benchmark: K steps of alpha, score up"),
    (
        "msu-amifgsm",
        "MSU benchmark's AMI-FGSM: K steps of eps / K by raw-gradient momentum 1, score up",
    ),
];

impl AttackConfig {
    /// The attack `name` (see [`ATTACKS`]) at budget `eps` (pixel scale), with K =
    /// `steps` and step `alpha` (default eps / 4) where it takes several steps.
    pub fn named(name: &str, eps: f32, steps: u32, alpha: Option<f32>, seed: u64) -> Result<AttackConfig> {
        let alpha = alpha.unwrap_or(eps / 4.0);
        let (goal, method, steps, alpha) = match name {
            "fgsm" => (Goal::Midpoint, Method::Iterative, 1, eps),
            "ifgsm" => (Goal::Midpoint, Method::Iterative, steps, alpha),
            "pgd" => (Goal::Midpoint, Method::RandomStart, steps, alpha),
            "mifgsm" => (Goal::Midpoint, Method::Momentum { decay: 1.0 }, steps, alpha),
            "reflect" => (Goal::Reflect, Method::RandomStart, steps, alpha),
            "msu-fgsm" => (Goal::Up, Method::Iterative, 1, eps),
            "msu-ifgsm" => (Goal::Up, Method::Iterative, steps, alpha),
            "msu-amifgsm" => (
                Goal::Up,
                Method::RawMomentum { decay: 1.0 },
                steps,
                eps / steps.max(1) as f32,
            ),
            _ => {
                let known: Vec<&str> = ATTACKS.iter().map(|(n, _)| *n).collect();
                return Err(Error::Invalid(format!(
                    "unknown attack {name:?}; known: {}",
                    known.join(", ")
                )));
            }
        };
        let cfg = AttackConfig {
            name: name.to_string(),
            goal,
            method,
            eps,
            steps,
            alpha,
            seed,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Rejects a budget or step that is negative or not finite, and zero steps.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Invalid(format!("attack {}: {what}", self.name)));
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return bad(format!("eps = {} must be finite and >= 0", self.eps));
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return bad(format!("alpha = {} must be finite and >= 0", self.alpha));
        }
        if self.steps == 0 {
            return bad("steps must be at least 1".into());
        }
        Ok(())
    }
}

/// The eval-mode scores of `x` ([B, 3, H, W]) without a tape.
pub fn scores(model: &Cprl, x: &Tensor) -> Result<Tensor> {
    let _g = no_grad();
    Ok(model.forward(x, false)?.score)
}

/// The attack's loss, summed over the batch, of scores `s` given the clean `s0`.
fn loss(goal: Goal, s: &Tensor, s0: &Tensor) -> Result<Tensor> {
    match goal {
        Goal::Midpoint => {
            // +1 where s0 > 0.5 (minimising s), -1 elsewhere (minimising -s).
            let dir = {
                let _g = no_grad();
                s0.affine(1.0, -0.5)?.sign()?.affine(2.0, 1.0)?.sign()?
            };
            s.mul(&dir)?.sum()
        }
        Goal::Reflect => s.sub(&s0.affine(-1.0, 1.0)?)?.square()?.sum(),
        Goal::Up => s.scale(-1.0)?.sum(),
    }
}

/// Adversarial images of `x` ([B, 3, H, W], values in [0, 1]) against `model`;
/// `batch_no` picks the random start's stream. With eps = 0 the clean images are
/// returned as they are.
pub fn attack(model: &Cprl, x: &Tensor, cfg: &AttackConfig, batch_no: u64) -> Result<Tensor> {
    attack_with(model, model, x, cfg, batch_no)
}

/// [`attack`] with each step's gradient taken from `grad` (a surrogate, e.g. a
/// [`Cprl::with_settings`] copy sharing the weights) while the clean score s0, and so
/// the loss's target, come from `target`: an adaptive attack on a defence that might
/// hide its gradient. `attack(m, ..)` is `attack_with(m, m, ..)`.
pub fn attack_with(
    target: &Cprl,
    grad: &Cprl,
    x: &Tensor,
    cfg: &AttackConfig,
    batch_no: u64,
) -> Result<Tensor> {
    attack_defended(target, grad, Defense::None, x, cfg, batch_no)
}

/// The gradient of the attack's loss with respect to the purified images `xp` (what
/// `grad` scores), which BPDA applies to the unpurified ones: purification counts as
/// the identity in the backward.
pub fn input_gradient(grad: &Cprl, xp: &Tensor, goal: Goal, s0: &Tensor) -> Result<Tensor> {
    let xv = xp.detach().requires_grad_();
    let s = grad.forward(&xv, false)?.score;
    let l = loss(goal, &s, s0)?;
    Ok(autograd::backward_to(&l, &[&xv])?.of(&xv)?.clone())
}

/// The scores `model` gives `x` behind `defense` (what an attack on the defended model
/// is judged by).
pub fn defended_scores(model: &Cprl, defense: Defense, x: &Tensor) -> Result<Tensor> {
    scores(model, &defense.purify(x)?)
}

/// [`attack_with`] against `target` behind `defense` (BPDA, see [`purify`]): s0 is
/// the defended target's clean score, and each step's gradient is `grad`'s at the
/// purified current images, applied to the unpurified ones.
pub fn attack_defended(
    target: &Cprl,
    grad: &Cprl,
    defense: Defense,
    x: &Tensor,
    cfg: &AttackConfig,
    batch_no: u64,
) -> Result<Tensor> {
    cfg.validate()?;
    if cfg.eps == 0.0 {
        return Ok(x.detach());
    }
    let s0 = defended_scores(target, defense, x)?;
    let mut xa = match cfg.method {
        Method::RandomStart => {
            let _g = no_grad();
            let seed = SplitMix64::stream(cfg.seed, &[0x4154_4b00, batch_no]).next_u64();
            let noise = Tensor::uniform(x.gpu(), x.shape(), seed, -cfg.eps, cfg.eps)?;
            x.add(&noise)?.clamp(0.0, 1.0)?
        }
        _ => x.detach(),
    };
    let mut momentum: Option<Tensor> = None;
    for _ in 0..cfg.steps {
        let g = input_gradient(grad, &defense.purify(&xa)?, cfg.goal, &s0)?;
        let _g = no_grad();
        let dir = match cfg.method {
            Method::Momentum { decay } | Method::RawMomentum { decay } => {
                let gn = if let Method::RawMomentum { .. } = cfg.method {
                    g
                } else {
                    // g / mean|g| per image (+ a floor so a zero gradient stays zero).
                    let norm = g.abs()?.mean_axes(&[1, 2, 3], true)?.affine(1.0, 1e-12)?;
                    g.div(&norm)?
                };
                let acc = match &momentum {
                    Some(m) => m.scale(decay)?.add(&gn)?,
                    None => gn,
                };
                momentum = Some(acc.clone());
                acc.sign()?
            }
            _ => g.sign()?,
        };
        let stepped = xa.detach().sub(&dir.scale(cfg.alpha)?)?;
        let delta = stepped.sub(x)?.clamp(-cfg.eps, cfg.eps)?;
        xa = x.add(&delta)?.clamp(0.0, 1.0)?;
    }
    Ok(xa.detach())
}
