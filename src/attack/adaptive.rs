//! Adaptive attacks: the gradient from a surrogate, the loss and the verdict from the
//! real model, and per crop the worst case over surrogates and restarts.
//!
//! A model can look robust because its gradient is useless rather than because its
//! score is stable: a sharp sigmoid in the CPR gate or SortMask saturates (the soft
//! mask's gradient vanishes), or a soft rank smooths the function the attack climbs.
//! Each [`Surrogate`] is the trained model (the same weights, shared, not copied,
//! see [`Cprl::with_settings`]) run under other settings, which only shapes the
//! gradient: every attack step follows the surrogate's gradient, while the clean score
//! s0, the reflection target 1 - s0 and every score reported come from the real model
//! ([`super::attack_with`]). [`worst_case`] keeps for each crop the adversarial crop
//! that did best on the attack's own loss as the real model scores it.
//!
//! No EOT (expectation over transformation): the model in eval mode has no
//! randomness (no dropout, running batch-norm statistics, deterministic ranks), so the
//! expectation of its gradient is the gradient itself. Randomness sits in PGD's start
//! instead, and [`Adaptive::restarts`] draws several.

use std::time::Instant;

use indicatif::ProgressBar;

use super::run::{AttackScores, CropSink, Tally, for_each_batch};
use super::{AttackConfig, Defense, Goal, attack_defended, defended_scores};
use crate::data::Dataset;
use crate::data::rng::SplitMix64;
use crate::error::{Error, Result};
use crate::infer::PredictConfig;
use crate::nn::{Cprl, CprlConfig};
use crate::tensor::Tensor;

/// A model whose gradient an attack follows, with the name a table shows.
pub struct Surrogate {
    pub name: String,
    pub model: Cprl,
}

impl Surrogate {
    /// `model` run under the settings `edit` leaves (weights shared), named `name`.
    pub fn edited(model: &Cprl, name: &str, edit: impl FnOnce(&mut CprlConfig)) -> Result<Surrogate> {
        Ok(Surrogate {
            name: name.to_string(),
            model: model.with_settings(edit)?,
        })
    }
}

/// The surrogates a reviewer asks for, in this order, each only where it changes the
/// model: "as trained"; "straight-through" (hard gate and hard SortMask forward, soft
/// backward); "gate temperature x0.25" and "x4" (sharper, softer); "rank strength
/// x0.25" and "x4" (the gate's and SortMask's soft ranks); "sortmask temperature
/// x0.25" and "x4". A baseline without gate or SortMask gets "as trained" alone.
pub fn standard_surrogates(model: &Cprl) -> Result<Vec<Surrogate>> {
    let gated = model.config.gate.is_some();
    let masked = !model.config.sortmask_after.is_empty();
    let mut v = vec![Surrogate::edited(model, "as trained", |_| {})?];
    if gated || masked {
        v.push(Surrogate::edited(model, "straight-through", |c| {
            if let Some(g) = &mut c.gate {
                g.straight_through = true;
            }
            c.sortmask.straight_through = masked;
        })?);
    }
    for f in [0.25f32, 4.0] {
        if gated {
            v.push(Surrogate::edited(
                model,
                &format!("gate temperature x{f}"),
                |c| {
                    if let Some(g) = &mut c.gate {
                        g.temperature *= f;
                    }
                },
            )?);
        }
    }
    for f in [0.25f32, 4.0] {
        if gated || masked {
            v.push(Surrogate::edited(model, &format!("rank strength x{f}"), |c| {
                scale_rank_strength(c, f)
            })?);
        }
    }
    for f in [0.25f32, 4.0] {
        if masked {
            v.push(Surrogate::edited(
                model,
                &format!("sortmask temperature x{f}"),
                |c| c.sortmask.temperature *= f,
            )?);
        }
    }
    Ok(v)
}

/// Multiplies the soft-rank strengths by `f`: the gate's (1 / C by default) and
/// SortMask's. SortMask's default is 1 / (H W) at each stage, so the explicit value
/// is taken at the first SortMask stage at the config's crop (every preset has one
/// SortMask stage; with several, the others get the first one's scaled strength).
fn scale_rank_strength(c: &mut CprlConfig, f: f32) {
    let channels = c.channels();
    if let Some(g) = &mut c.gate {
        g.strength = Some(g.strength_for(channels) * f);
    }
    if let Some(&first) = c.sortmask_after.first() {
        let (h, w) = c.stage_sizes(c.crop, c.crop)[first];
        c.sortmask.strength = Some(c.sortmask.op_config(h * w).strength * f);
    }
}

/// The settings of an adaptive attack: the surrogates, random restarts per surrogate
/// and the defence in front of the model.
pub struct Adaptive {
    pub surrogates: Vec<Surrogate>,
    /// Attacks per surrogate with different random starts (restart 0 is the plain
    /// attack's start); only a random-start method ([`Method::RandomStart`]) differs
    /// between restarts, so the others run once. At least 1.
    pub restarts: u32,
    pub defense: Defense,
}

impl Adaptive {
    /// [`standard_surrogates`], one start each, no defence.
    pub fn standard(model: &Cprl) -> Result<Adaptive> {
        Ok(Adaptive {
            surrogates: standard_surrogates(model)?,
            restarts: 1,
            defense: Defense::None,
        })
    }

    /// The starts each surrogate gets under `cfg` (see [`Adaptive::restarts`]).
    fn starts(&self, cfg: &AttackConfig) -> u32 {
        if cfg.method.random_start() {
            self.restarts.max(1)
        } else {
            1
        }
    }
}

/// Per crop, the attack's own loss as a number to minimise, from the real model's
/// attacked scores `s` and clean ones `s0`: Reflect |s - (1 - s0)|; Midpoint s where
/// s0 >= 0.5 (the attack's sign convention), else -s (how far across); Up -s; Away
/// -|s - s0| (the SSIM term is left out: every candidate lies within the same ball).
pub fn crop_loss(goal: Goal, s: &[f32], s0: &[f32]) -> Vec<f32> {
    s.iter()
        .zip(s0)
        .map(|(&s, &s0)| match goal {
            Goal::Reflect => (s - (1.0 - s0)).abs(),
            Goal::Midpoint if s0 >= 0.5 => s,
            Goal::Midpoint => -s,
            Goal::Up => -s,
            Goal::Away { .. } => -(s - s0).abs(),
        })
        .collect()
}

/// Adversarial crops with the real model's view of them.
pub struct Candidate {
    /// [B, 3, H, W].
    pub images: Tensor,
    /// The real (defended) model's scores, per crop.
    pub scores: Vec<f32>,
    /// [`crop_loss`] of those scores.
    pub loss: Vec<f32>,
}

impl Candidate {
    /// Scores `images` with the defended `target` and takes the loss against `s0`.
    pub fn judge(
        target: &Cprl,
        defense: Defense,
        goal: Goal,
        images: Tensor,
        s0: &[f32],
    ) -> Result<Candidate> {
        let scores = defended_scores(target, defense, &images)?.to_vec()?;
        let loss = crop_loss(goal, &scores, s0);
        Ok(Candidate { images, scores, loss })
    }

    /// Per crop the better of `self` and `other` (lower loss; `self` on a tie, so an
    /// earlier surrogate keeps a crop a later one only matches). The images are
    /// blended with a 0/1 mask, a*(1-k) + b*k, which is exact.
    pub fn better(self, other: &Candidate) -> Result<Candidate> {
        let take: Vec<bool> = self.loss.iter().zip(&other.loss).map(|(a, b)| b < a).collect();
        if !take.iter().any(|&t| t) {
            return Ok(self);
        }
        let b = take.len();
        let k: Vec<f32> = take.iter().map(|&t| if t { 1.0 } else { 0.0 }).collect();
        let k = Tensor::from_slice(self.images.gpu(), &k, &[b, 1, 1, 1])?;
        let images = self
            .images
            .mul(&k.affine(-1.0, 1.0)?)?
            .add(&other.images.mul(&k)?)?;
        let pick = |a: &[f32], o: &[f32]| -> Vec<f32> {
            take.iter()
                .enumerate()
                .map(|(i, &t)| if t { o[i] } else { a[i] })
                .collect()
        };
        Ok(Candidate {
            images,
            scores: pick(&self.scores, &other.scores),
            loss: pick(&self.loss, &other.loss),
        })
    }
}

/// The attack config for restart `k`: restart 0 is `cfg` itself, the others another
/// seed drawn from it, so every restart has its own random start.
pub fn restart_config(cfg: &AttackConfig, k: u32) -> AttackConfig {
    let mut c = cfg.clone();
    if k > 0 {
        c.seed = SplitMix64::stream(cfg.seed, &[0x5253_5452, u64::from(k)]).next_u64();
    }
    c
}

/// `restarts` attacks of `x` (see [`Adaptive::restarts`]) against `target` behind
/// `defense` with `grad`'s gradient, the best per crop kept; `s0` are the defended
/// target's clean scores of `x`.
pub fn attack_restarts(
    target: &Cprl,
    grad: &Cprl,
    adaptive: &Adaptive,
    x: &Tensor,
    cfg: &AttackConfig,
    batch_no: u64,
    s0: &[f32],
) -> Result<Candidate> {
    let mut best: Option<Candidate> = None;
    for k in 0..adaptive.starts(cfg) {
        let xa = attack_defended(
            target,
            grad,
            adaptive.defense,
            x,
            &restart_config(cfg, k),
            batch_no,
        )?;
        let cand = Candidate::judge(target, adaptive.defense, cfg.goal, xa, s0)?;
        best = Some(match best {
            None => cand,
            Some(b) => b.better(&cand)?,
        });
    }
    Ok(best.expect("at least one start"))
}

/// One batch's adaptive attack: each surrogate's best over its restarts, and per crop
/// the best of those.
pub struct WorstCase {
    /// The defended model's clean scores, per crop.
    pub clean: Vec<f32>,
    pub worst: Candidate,
    /// In the order of [`Adaptive::surrogates`].
    pub per_surrogate: Vec<Candidate>,
    /// Seconds each surrogate's attacks took.
    pub seconds: Vec<f64>,
}

/// Attacks `x` ([B, 3, H, W]) with every surrogate of `adaptive` against `model`
/// (behind the defence) and keeps per crop the strongest result.
pub fn worst_case(
    model: &Cprl,
    x: &Tensor,
    cfg: &AttackConfig,
    adaptive: &Adaptive,
    batch_no: u64,
) -> Result<WorstCase> {
    cfg.validate()?;
    if adaptive.surrogates.is_empty() {
        return Err(Error::Invalid("adaptive attack: no surrogates".into()));
    }
    let s0 = defended_scores(model, adaptive.defense, x)?.to_vec()?;
    let (mut per_surrogate, mut seconds) = (Vec::new(), Vec::new());
    for s in &adaptive.surrogates {
        let t0 = Instant::now();
        per_surrogate.push(attack_restarts(model, &s.model, adaptive, x, cfg, batch_no, &s0)?);
        seconds.push(t0.elapsed().as_secs_f64());
    }
    let mut worst = clone_candidate(&per_surrogate[0]);
    for c in &per_surrogate[1..] {
        worst = worst.better(c)?;
    }
    Ok(WorstCase {
        clean: s0,
        worst,
        per_surrogate,
        seconds,
    })
}

/// A candidate with the same images (a shared device buffer) and numbers.
fn clone_candidate(c: &Candidate) -> Candidate {
    Candidate {
        images: c.images.clone(),
        scores: c.scores.clone(),
        loss: c.loss.clone(),
    }
}

/// [`super::run::attack_dataset`] as an adaptive attack: every crop of the samples
/// `indices` of `ds` attacked through each surrogate of `adaptive` (with its
/// restarts), scored by the defended `model`. Gives the worst case per crop (its rate
/// counts every surrogate's time) and each surrogate's own scores by name, so a table
/// can show which surrogate was strongest. `sink`, when given, gets every batch's
/// clean and worst-case crops.
#[allow(clippy::too_many_arguments)]
pub fn attack_dataset_worst(
    model: &Cprl,
    ds: &Dataset,
    indices: &[usize],
    pcfg: &PredictConfig,
    acfg: &AttackConfig,
    adaptive: &Adaptive,
    progress: Option<&ProgressBar>,
    mut sink: Option<CropSink>,
) -> Result<(AttackScores, Vec<(String, AttackScores)>)> {
    let n = indices.len();
    let mut worst = Tally::new(n);
    let mut each: Vec<Tally> = adaptive.surrogates.iter().map(|_| Tally::new(n)).collect();
    for_each_batch(model, ds, indices, pcfg, acfg, progress, |b, samples, x| {
        let wc = worst_case(model, x, acfg, adaptive, b)?;
        let total: f64 = wc.seconds.iter().sum();
        let sink = sink.as_deref_mut();
        worst.add(
            samples,
            (&wc.clean, &wc.worst.scores),
            (x, &wc.worst.images),
            total,
            sink,
        )?;
        for ((t, c), &sec) in each.iter_mut().zip(&wc.per_surrogate).zip(&wc.seconds) {
            t.add(samples, (&wc.clean, &c.scores), (x, &c.images), sec, None)?;
        }
        Ok(())
    })?;
    let named = adaptive
        .surrogates
        .iter()
        .zip(&each)
        .map(|(s, t)| (s.name.clone(), t.finish()))
        .collect();
    Ok((worst.finish(), named))
}
