//! Adversarial attacks on a quality model, batched on the device: FGSM, I-FGSM, PGD
//! with a random start, MI-FGSM, the score reflection attack, and the attacks of
//! Korhonen and You (2022) and Zhang et al. (2022), under an L_inf or L_2 budget on
//! the [0, 1] pixel scale (docs/METHOD.md section 3, "Attacks").
//!
//! Every attack minimises a per-image loss of the eval-mode score s = h(c(x')). The
//! signed-gradient attacks step x' <- clip_[0,1](x + clip_eps(x' - alpha * dir - x)),
//! where dir is sign(grad) (sign of the momentum for MI-FGSM) under L_inf, and
//! grad / ||grad|| per image under L_2 (then the perturbation is scaled back into the
//! ball), in one fused kernel ([`crate::ops::attack_step`]). The losses, with s0 the
//! clean score (a constant):
//! - [`Goal::Midpoint`] (the untargeted IQA convention, L_mid of Liu et al. 2024):
//!   s if s0 > 0.5, else -s: a score above the midpoint is pushed down, one below up;
//! - [`Goal::Reflect`] (the paper's score reflection): (s - (1 - s0))^2;
//! - [`Goal::Up`] (the MSU benchmark's 1 - s): every score pushed up;
//! - [`Goal::Away`] (Zhang et al.): -(s - s0)^2 - lambda SSIM(x, x'), the score moved
//!   either way while SSIM keeps the image close.
//!
//! [`Method::Korhonen`] and [`Method::Perceptual`] take Adam steps (learning rate
//! alpha) on the image instead of signed ones, then project onto the ball; Korhonen's
//! gradient is first multiplied by the image's spatial-activity map
//! ([`activity`]), so the changes hide in texture.
//!
//! Budgets: under L_inf, eps bounds every |x' - x|; under L_2 it bounds the root mean
//! square of x' - x over a crop's 3 H W values, ||x' - x||_2 <= eps sqrt(3 H W), and
//! alpha is scaled alike. Either way the crop's PSNR is at least 20 log10(1 / eps), so
//! the same eps means the same distortion energy in both norms.
//!
//! The loss is summed over the batch and the model runs in eval mode, where no
//! operation mixes samples, so each image's gradient is its own; only the random
//! starts depend on the batch (drawn per batch from the seed and the batch's number).
//! Input gradients come from `autograd::backward_to`, which skips every
//! weight-gradient kernel.
//!
//! [`attack_with`] takes each step's gradient from a surrogate model and everything
//! else from the real one, and [`attack_defended`] attacks a model behind an input
//! purification with BPDA; [`adaptive`] builds the surrogates and keeps the worst case.

pub mod activity;
pub mod adaptive;
pub mod purify;
pub mod run;
pub mod ssim;

use crate::autograd::{self, no_grad};
use crate::data::rng::SplitMix64;
use crate::error::{Error, Result};
use crate::nn::Cprl;
use crate::ops::attack_step::{NORM_FLOOR, l2_norms, l2_step, linf_step};
use crate::tensor::Tensor;
pub use purify::Defense;

/// What the attack pushes the score towards.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Across the midpoint 0.5 (down if above it, up if below).
    Midpoint,
    /// To 1 - s0: a good image made to score bad and the reverse.
    Reflect,
    /// Up (the MSU benchmark's loss 1 - s).
    Up,
    /// Away from s0 either way, `ssim_weight` times the SSIM to the clean image
    /// rewarded (Zhang et al. 2022: maximise (s - s0)^2 + lambda SSIM).
    Away { ssim_weight: f32 },
}

/// The norm of the budget (see the module header for what eps means in each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    #[default]
    Linf,
    L2,
}

impl Norm {
    /// `linf` or `l2`.
    pub fn parse(text: &str) -> Result<Norm> {
        match text {
            "linf" => Ok(Norm::Linf),
            "l2" => Ok(Norm::L2),
            _ => Err(Error::Invalid(format!("unknown norm {text:?}; known: linf, l2"))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Norm::Linf => "linf",
            Norm::L2 => "l2",
        }
    }
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
    /// Korhonen and You 2022: Adam on the image (learning rate alpha) from the clean
    /// image, each gradient multiplied by the spatial-activity map.
    Korhonen,
    /// Zhang et al. 2022: Adam on the image (learning rate alpha) from the clean image
    /// nudged by -1/255 or 0 per pixel at random (their start: at x' = x both the
    /// squared score change and SSIM have a zero gradient).
    Perceptual,
}

impl Method {
    /// Whether the attack starts from a random point (so restarts differ).
    pub fn random_start(self) -> bool {
        matches!(self, Method::RandomStart | Method::Perceptual)
    }
}

/// One attack: its name, goal, method and budget.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AttackConfig {
    pub name: String,
    pub goal: Goal,
    pub method: Method,
    /// Budget on the [0, 1] pixel scale, in `norm` (see the module header).
    pub eps: f32,
    pub norm: Norm,
    pub steps: u32,
    /// Step size (Adam's learning rate for Korhonen and perceptual).
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
    (
        "korhonen",
        "Korhonen and You 2022: K Adam steps (lr alpha, default 0.005) masked by spatial activity, score up",
    ),
    (
        "perceptual",
        "Zhang et al. 2022: K Adam steps (lr alpha, default 0.005) on (s - s0)^2 + SSIM, score moved either way",
    ),
];

/// Adam's learning rate in Korhonen and You's and in Zhang et al.'s attacks (on the
/// [0, 1] scale), the default alpha of `korhonen` and `perceptual`.
pub const ADAM_LR: f32 = 0.005;

/// The weight lambda of SSIM in the perceptual attack's loss -(s - s0)^2 - lambda SSIM,
/// on the unit score scale. Zhang et al. sweep lambda; at 1, a loss of 0.01 in SSIM
/// costs as much as moving the score by 0.1 gains, so the attack moves scores far
/// only where the image barely changes. The eps ball bounds it as well.
pub const SSIM_WEIGHT: f32 = 1.0;

impl AttackConfig {
    /// The attack `name` (see [`ATTACKS`]) at L_inf budget `eps` (pixel scale), with
    /// K = `steps` and step `alpha` (default eps / 4, for the Adam attacks [`ADAM_LR`])
    /// where it takes several steps. [`AttackConfig::with_norm`] changes the norm.
    pub fn named(name: &str, eps: f32, steps: u32, alpha: Option<f32>, seed: u64) -> Result<AttackConfig> {
        let lr = alpha.unwrap_or(ADAM_LR);
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
            "korhonen" => (Goal::Up, Method::Korhonen, steps, lr),
            "perceptual" => (
                Goal::Away {
                    ssim_weight: SSIM_WEIGHT,
                },
                Method::Perceptual,
                steps,
                lr,
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
            norm: Norm::Linf,
            steps,
            alpha,
            seed,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// This attack with its budget (and step) in `norm`.
    #[must_use]
    pub fn with_norm(self, norm: Norm) -> AttackConfig {
        AttackConfig { norm, ..self }
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

/// The attack's loss on the scores, summed over the batch, of scores `s` given the
/// clean `s0` (the SSIM part of [`Goal::Away`] is [`fidelity_gradient`]'s).
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
        Goal::Away { .. } => s.sub(s0)?.square()?.scale(-1.0)?.sum(),
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

/// The gradient of the attack's score loss with respect to the purified images `xp`
/// (what `grad` scores), which BPDA applies to the unpurified ones: purification
/// counts as the identity in the backward.
pub fn input_gradient(grad: &Cprl, xp: &Tensor, goal: Goal, s0: &Tensor) -> Result<Tensor> {
    let xv = xp.detach().requires_grad_();
    let s = grad.forward(&xv, false)?.score;
    let l = loss(goal, &s, s0)?;
    Ok(autograd::backward_to(&l, &[&xv])?.of(&xv)?.clone())
}

/// The gradient of -`weight` * SSIM(x, xa), summed over the batch, with respect to the
/// current images `xa` (the fidelity term of [`Goal::Away`], on the unpurified images).
pub fn fidelity_gradient(ssim: &ssim::Ssim, x: &Tensor, xa: &Tensor, weight: f32) -> Result<Tensor> {
    let xv = xa.detach().requires_grad_();
    let l = ssim.of(&x.detach(), &xv)?.sum()?.scale(-weight)?;
    Ok(autograd::backward_to(&l, &[&xv])?.of(&xv)?.clone())
}

/// The scores `model` gives `x` behind `defense` (what an attack on the defended model
/// is judged by).
pub fn defended_scores(model: &Cprl, defense: Defense, x: &Tensor) -> Result<Tensor> {
    scores(model, &defense.purify(x)?)
}

/// eps and alpha of `cfg` as the update kernels take them: under L_2 the root mean
/// square budgets become norms over a crop's values (Adam's learning rate is not a
/// step length and is not scaled).
fn kernel_budget(cfg: &AttackConfig, x: &Tensor) -> (f32, f32) {
    let per_image = x.numel() / x.shape().first().copied().unwrap_or(1).max(1);
    let adam = matches!(cfg.method, Method::Korhonen | Method::Perceptual);
    match cfg.norm {
        Norm::Linf => (cfg.eps, cfg.alpha),
        Norm::L2 => {
            let root = (per_image as f32).sqrt();
            (cfg.eps * root, if adam { cfg.alpha } else { cfg.alpha * root })
        }
    }
}

/// A step of length `alpha` against direction `d` in the attack's norm, projected
/// onto the ball of radius `eps` around `x` and clamped to [0, 1] (one fused kernel
/// under L_inf). With alpha 0 this is the projection alone.
fn step(norm: Norm, x: &Tensor, xa: &Tensor, d: &Tensor, alpha: f32, eps: f32) -> Result<Tensor> {
    match norm {
        Norm::Linf => linf_step(x, xa, d, alpha, eps),
        Norm::L2 => l2_step(x, xa, d, alpha, eps),
    }
}

/// Where the attack starts: the clean images, a uniform point in the ball (PGD; under
/// L_2 torchattacks' `PGDL2` start, a Gaussian direction at a uniform radius), or the
/// perceptual attack's nudge, projected into the ball and [0, 1].
fn start(cfg: &AttackConfig, x: &Tensor, eps: f32, batch_no: u64) -> Result<Tensor> {
    let _g = no_grad();
    let seed = SplitMix64::stream(cfg.seed, &[0x4154_4b00, batch_no]).next_u64();
    let gpu = x.gpu();
    let noise = match (cfg.method, cfg.norm) {
        (Method::RandomStart, Norm::Linf) => Tensor::uniform(gpu, x.shape(), seed, -eps, eps)?,
        (Method::RandomStart, Norm::L2) => {
            let mut b = vec![1; x.shape().len()];
            b[0] = x.shape()[0];
            let dir = Tensor::normal(gpu, x.shape(), seed, 0.0, 1.0)?;
            let radius = Tensor::uniform(gpu, &b, seed ^ 0x5244_4955, 0.0, eps)?;
            let norm = l2_norms(&dir, true)?.affine(1.0, NORM_FLOOR)?;
            dir.mul(&radius.div(&norm)?)?
        }
        // -1/255 where u < 0, else 0.
        (Method::Perceptual, _) => Tensor::uniform(gpu, x.shape(), seed, -1.0, 1.0)?
            .sign()?
            .affine(0.5 / 255.0, -0.5 / 255.0)?,
        _ => return Ok(x.detach()),
    };
    step(cfg.norm, x, &x.add(&noise)?, x, 0.0, eps)
}

/// Adam's state for the image (torch's `Adam` with betas 0.9, 0.999 and eps 1e-8).
struct Adam {
    m: Tensor,
    v: Tensor,
    t: i32,
}

impl Adam {
    const B1: f32 = 0.9;
    const B2: f32 = 0.999;
    const EPS: f32 = 1e-8;

    fn new(x: &Tensor) -> Result<Adam> {
        Ok(Adam {
            m: Tensor::zeros(x.gpu(), x.shape())?,
            v: Tensor::zeros(x.gpu(), x.shape())?,
            t: 0,
        })
    }

    /// The next update `lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)` for
    /// gradient `g` (to subtract from the image).
    fn update(&mut self, g: &Tensor, lr: f32) -> Result<Tensor> {
        self.t += 1;
        self.m = self.m.scale(Self::B1)?.add(&g.scale(1.0 - Self::B1)?)?;
        self.v = self.v.scale(Self::B2)?.add(&g.square()?.scale(1.0 - Self::B2)?)?;
        let (c1, c2) = (1.0 - Self::B1.powi(self.t), 1.0 - Self::B2.powi(self.t));
        let denom = self.v.sqrt()?.affine(1.0 / c2.sqrt(), Self::EPS)?;
        self.m.scale(lr / c1)?.div(&denom)
    }
}

/// How the direction of each step follows from the gradients so far.
enum Direction {
    Gradient,
    Momentum {
        decay: f32,
        normalise: bool,
        acc: Option<Tensor>,
    },
    Adam(Adam),
}

impl Direction {
    fn new(cfg: &AttackConfig, x: &Tensor) -> Result<Direction> {
        Ok(match cfg.method {
            Method::Momentum { decay } => Direction::Momentum {
                decay,
                normalise: true,
                acc: None,
            },
            Method::RawMomentum { decay } => Direction::Momentum {
                decay,
                normalise: false,
                acc: None,
            },
            Method::Korhonen | Method::Perceptual => Direction::Adam(Adam::new(x)?),
            Method::Iterative | Method::RandomStart => Direction::Gradient,
        })
    }

    /// The next images from the current `xa` and this step's gradient `g`.
    fn next(
        &mut self,
        cfg: &AttackConfig,
        x: &Tensor,
        xa: &Tensor,
        g: Tensor,
        budget: (f32, f32),
    ) -> Result<Tensor> {
        let (eps, alpha) = budget;
        match self {
            Direction::Gradient => step(cfg.norm, x, xa, &g, alpha, eps),
            Direction::Momentum {
                decay,
                normalise,
                acc,
            } => {
                let gn = if *normalise {
                    // g / mean|g| per image (+ a floor so a zero gradient stays zero).
                    let norm = g.abs()?.mean_axes(&[1, 2, 3], true)?.affine(1.0, 1e-12)?;
                    g.div(&norm)?
                } else {
                    g
                };
                let sum = match acc.take() {
                    Some(m) => m.scale(*decay)?.add(&gn)?,
                    None => gn,
                };
                let out = step(cfg.norm, x, xa, &sum, alpha, eps);
                *acc = Some(sum);
                out
            }
            Direction::Adam(adam) => {
                let moved = xa.sub(&adam.update(&g, alpha)?)?;
                step(cfg.norm, x, &moved, x, 0.0, eps)
            }
        }
    }
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
    let budget = kernel_budget(cfg, x);
    let mask = match cfg.method {
        Method::Korhonen => Some(activity::activity_maps(x)?),
        _ => None,
    };
    // The fidelity term's SSIM, its window uploaded once for every step.
    let fidelity = match cfg.goal {
        Goal::Away { ssim_weight } if ssim_weight != 0.0 => {
            Some((ssim::Ssim::new(x.gpu(), x.shape()[1])?, ssim_weight))
        }
        _ => None,
    };
    let mut xa = start(cfg, x, budget.0, batch_no)?;
    let mut direction = Direction::new(cfg, x)?;
    for _ in 0..cfg.steps {
        let mut g = input_gradient(grad, &defense.purify(&xa)?, cfg.goal, &s0)?;
        if let Some((ssim, weight)) = &fidelity {
            g = g.add(&fidelity_gradient(ssim, x, &xa, *weight)?)?;
        }
        let _g = no_grad();
        if let Some(m) = &mask {
            g = g.mul(m)?;
        }
        xa = direction.next(cfg, x, &xa, g, budget)?;
    }
    Ok(xa.detach())
}
