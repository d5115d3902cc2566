//! The training configuration: the objective's terms (each a switch, so that an
//! ablation is one flag away), the optimiser and its schedule, the batches.
//!
//! In JSON every field may be left out (the defaults below fill it) and an unknown
//! field is an error that names it. A weight of 0 switches its term off.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The objective of docs/METHOD.md section 2 (see [`super::objective`] for each term).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectiveConfig {
    /// Weight of mean |y_hat - y| (the sufficiency regression).
    pub l1: f32,
    /// lambda_plcc: weight of 1 - PLCC(y_hat, y) over the batch.
    pub plcc: f32,
    /// Weight of the margin loss over pairs of known order: one photo under one
    /// distortion, the lower level must score higher.
    pub rank: f32,
    /// The margin of that loss, on the [0, 1] score scale.
    pub rank_margin: f32,
    /// Weight of 1 - Spearman(y_hat, y) over the batch, the ranks of y_hat by the
    /// soft rank (PAV, l2) so that it has a gradient.
    pub spearman: f32,
    /// Soft-rank strength of that term, on the score scale: pairs of scores closer
    /// than about this pool into one rank (and share a gradient).
    pub spearman_strength: f32,
    /// Weight of the spread floor: relu(floor * Var(y) - Var(y_hat)) / Var(y) over the
    /// batch. Why: L1 fits the median and PLCC is blind to scale, so without it the
    /// scores may collapse into a narrow band while SROCC survives (docs/METHOD.md,
    /// "Scores can collapse while the ranking survives").
    pub spread: f32,
    /// The floor, as a share of the labels' variance in the batch.
    pub spread_floor: f32,
    /// lambda_inv: weight of the invariance loss under PGD interventions (needs the gate
    /// for its feature term; on the baseline only the score term counts).
    pub invariance: f32,
    /// lambda_nec: weight of the adversary's loss, which the backbone maximises (capped at
    /// Var(y)); needs the gate.
    pub necessity: f32,
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        ObjectiveConfig {
            l1: 1.0,
            plcc: 0.5,
            rank: 1.0,
            rank_margin: 0.02,
            spearman: 0.5,
            spearman_strength: 0.02,
            spread: 1.0,
            spread_floor: 0.25,
            invariance: 1.0,
            necessity: 0.1,
        }
    }
}

/// The PGD search for intervention images x' = x + delta.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InterventionConfig {
    /// ||delta||_inf bound on the [0, 1] pixel scale, in units of 1/255.
    pub eps_255: f32,
    /// PGD steps (after the random start).
    pub steps: u32,
    /// Share of each batch (its first images) that gets an intervention image: the
    /// cost of a step grows with it.
    pub share: f32,
}

impl Default for InterventionConfig {
    fn default() -> Self {
        InterventionConfig {
            eps_255: 4.0,
            steps: 3,
            share: 1.0,
        }
    }
}

impl InterventionConfig {
    /// eps on the [0, 1] scale.
    pub fn eps(&self) -> f32 {
        self.eps_255 / 255.0
    }

    /// The PGD step: 2.5 eps / K (Madry et al.), at most eps.
    pub fn alpha(&self) -> f32 {
        (2.5 * self.eps() / self.steps.max(1) as f32).min(self.eps())
    }

    /// Images of a batch of `b` that get an intervention image (at least 2 when any,
    /// so batch norm has statistics during the search).
    pub fn count(&self, b: usize) -> usize {
        if self.share <= 0.0 {
            return 0;
        }
        ((self.share * b as f32).ceil() as usize).clamp(2.min(b), b)
    }
}

/// A defence trained beside the objective on the baseline's backbone, so that CPRL is
/// compared with the defences people already use on the same data (docs/METHOD.md
/// section 3, "Defences").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DefenseKind {
    /// No defence beyond the objective (CPRL's own interventions are configured apart).
    #[default]
    None,
    /// Adversarial training: each step also fits FGSM images (uniform random start in
    /// the eps ball, one signed step that raises the regression loss, as in the fast
    /// adversarial training that Chistyakova et al. 2024 use for IQA models).
    At,
    /// Norm regularisation training (Liu et al. CVPR 2024): with v = sign(df/dx) per
    /// image, dl = (f(x + h v) - f(x)) / h, a finite-difference estimate of ||df/dx||_1,
    /// and the loss gains weight * mean(dl^2) / 2.
    Nt,
}

/// How the label of an adversarial training image is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AtLabel {
    /// The clean image's label.
    #[default]
    Keep,
    /// Lowered by the perturbation's visibility (Chistyakova et al. 2024):
    /// clamp(y - penalty * (1 - SSIM(x, x')), 0, 1) on the unit scale.
    Ssim,
}

/// Settings of the defence of [`DefenseKind`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefenseConfig {
    pub kind: DefenseKind,
    /// Share of each batch (its first images) that gets an adversarial or shifted
    /// image; at least 2 images when any.
    pub share: f32,
    /// AT: the L_inf budget and the FGSM step, in units of 1/255 (4 and 5, as
    /// Chistyakova et al. 2024).
    pub at_eps_255: f32,
    pub at_step_255: f32,
    /// AT: weight of L1(f(x'), y') beside the clean objective.
    pub at_weight: f32,
    pub at_label: AtLabel,
    /// AT with `ssim` labels: how far 1 - SSIM lowers the label.
    pub at_penalty: f32,
    /// NT: weight of mean(dl^2) / 2 and the finite-difference step h on the [0, 1]
    /// pixel scale.
    ///
    /// Why not the paper's w = 0.001, h = 0.01: those are on HyperIQA's scales (scores
    /// 0-100, ImageNet-normalised inputs, std about 0.226). On ours (scores 0-1, pixels
    /// 0-1) the same h is 0.01 * 0.226 ~ 0.0023; df/dx, and so dl, is 100 * 0.226 = 22.6
    /// times smaller, and L1 100 times smaller, so the paper's balance between L1 and
    /// the penalty is w = 0.001 * 22.6^2 / 100 ~ 0.005 here.
    pub nt_weight: f32,
    pub nt_h: f32,
}

impl Default for DefenseConfig {
    fn default() -> Self {
        DefenseConfig {
            kind: DefenseKind::None,
            share: 1.0,
            at_eps_255: 4.0,
            at_step_255: 5.0,
            at_weight: 1.0,
            at_label: AtLabel::Keep,
            at_penalty: 1.0,
            nt_weight: 0.005,
            nt_h: 0.0023,
        }
    }
}

impl DefenseConfig {
    /// Images of a batch of `b` that get a second image (as [`InterventionConfig::count`]).
    pub fn count(&self, b: usize) -> usize {
        if self.kind == DefenseKind::None || self.share <= 0.0 {
            return 0;
        }
        ((self.share * b as f32).ceil() as usize).clamp(2.min(b), b)
    }
}

/// Everything `cprl train` needs beside the model configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: u32,
    /// Stop after this many steps even if epochs remain (0 = no limit).
    pub max_steps: u64,
    pub batch: usize,
    /// Images of one group (photo and distortion) placed together in a batch, so the
    /// rank loss has pairs; 1 = plain shuffling.
    pub group_run: usize,
    /// Peak learning rate of AdamW.
    pub lr: f64,
    pub weight_decay: f64,
    /// Learning rate of the adversary head (plain Adam).
    pub adversary_lr: f64,
    /// Linear warm-up steps from lr / 100 to lr, then a cosine to lr * `final_lr_ratio`.
    pub warmup_steps: u64,
    pub final_lr_ratio: f64,
    /// Global L2 norm the gradients are clipped to (0 = off).
    pub clip_grad_norm: f32,
    /// Mirror training crops left-right at random.
    pub flip: bool,
    pub objective: ObjectiveConfig,
    pub interventions: InterventionConfig,
    /// A defence other than CPRL's (adversarial or norm-regularisation training).
    pub defense: DefenseConfig,
    /// Validate (and keep the best checkpoint) every this many epochs; 0 = never.
    pub validate_every: u32,
    /// Grid crops per side when validating (see `infer::PredictConfig`).
    pub val_crops_per_side: u32,
    /// Write `last.safetensors` every this many steps (and at each epoch's end); 0 =
    /// only at epochs' ends.
    pub checkpoint_every: u64,
    /// Log a metrics line every this many steps.
    pub log_every: u64,
    /// Background decoding threads.
    pub workers: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            max_steps: 0,
            batch: 32,
            group_run: 4,
            lr: 2e-3,
            weight_decay: 1e-4,
            adversary_lr: 2e-3,
            warmup_steps: 50,
            final_lr_ratio: 0.02,
            clip_grad_norm: 5.0,
            flip: true,
            objective: ObjectiveConfig::default(),
            interventions: InterventionConfig::default(),
            defense: DefenseConfig::default(),
            validate_every: 1,
            val_crops_per_side: 2,
            checkpoint_every: 100,
            log_every: 10,
            workers: 1,
        }
    }
}

impl TrainConfig {
    /// Reads a configuration from JSON (missing fields from the defaults), validated.
    pub fn from_json(text: &str) -> Result<TrainConfig> {
        let cfg: TrainConfig =
            serde_json::from_str(text).map_err(|e| Error::Invalid(format!("training config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every field; the error names the field and the value.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Invalid(format!("training config: {msg}")));
        if self.batch < 2 {
            return bad(format!(
                "batch must be at least 2 (batch norm and PLCC need two images), got {}",
                self.batch
            ));
        }
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        for (name, v) in [
            ("lr", self.lr),
            ("weight_decay", self.weight_decay),
            ("adversary_lr", self.adversary_lr),
            ("final_lr_ratio", self.final_lr_ratio),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{name} must be a finite number >= 0, got {v}"));
            }
        }
        let o = &self.objective;
        for (name, v) in [
            ("objective.l1", o.l1),
            ("objective.plcc", o.plcc),
            ("objective.rank", o.rank),
            ("objective.rank_margin", o.rank_margin),
            ("objective.spearman", o.spearman),
            ("objective.spread", o.spread),
            ("objective.spread_floor", o.spread_floor),
            ("objective.invariance", o.invariance),
            ("objective.necessity", o.necessity),
            ("clip_grad_norm", self.clip_grad_norm),
            ("interventions.eps_255", self.interventions.eps_255),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{name} must be a finite number >= 0, got {v}"));
            }
        }
        if !(o.spearman_strength > 0.0 && o.spearman_strength.is_finite()) {
            return bad(format!(
                "objective.spearman_strength must be positive, got {}",
                o.spearman_strength
            ));
        }
        if !(0.0..=1.0).contains(&self.interventions.share) {
            return bad(format!(
                "interventions.share must be in [0, 1], got {}",
                self.interventions.share
            ));
        }
        self.validate_defense()?;
        if self.objective.invariance > 0.0 && self.interventions.steps == 0 {
            return bad("interventions.steps is 0 while objective.invariance is on".into());
        }
        if self.log_every == 0 {
            return bad("log_every must be at least 1".into());
        }
        Ok(())
    }

    /// Checks the defence's settings; a defence and CPRL's interventions each want the
    /// second half of the step's forward, so at most one of them is on.
    fn validate_defense(&self) -> Result<()> {
        let d = &self.defense;
        let bad = |msg: String| Err(Error::Invalid(format!("training config: defense.{msg}")));
        if !(0.0..=1.0).contains(&d.share) {
            return bad(format!("share must be in [0, 1], got {}", d.share));
        }
        for (name, v) in [
            ("at_eps_255", d.at_eps_255),
            ("at_step_255", d.at_step_255),
            ("at_weight", d.at_weight),
            ("at_penalty", d.at_penalty),
            ("nt_weight", d.nt_weight),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{name} must be a finite number >= 0, got {v}"));
            }
        }
        if !(d.nt_h.is_finite() && d.nt_h > 0.0) {
            return bad(format!("nt_h must be positive, got {}", d.nt_h));
        }
        if d.kind != DefenseKind::None && self.objective.invariance > 0.0 {
            return bad(format!(
                "kind = {:?} needs objective.invariance = 0 (a defence replaces CPRL's interventions)",
                d.kind
            ));
        }
        Ok(())
    }

    /// The baseline's configuration with defence `kind` on (its other settings as they
    /// are).
    #[must_use]
    pub fn with_defense(mut self, kind: DefenseKind) -> TrainConfig {
        self = self.for_baseline();
        self.defense.kind = kind;
        self
    }

    /// For `cprl demo` and quick runs on a CPU driver.
    pub fn demo() -> TrainConfig {
        TrainConfig {
            epochs: 4,
            interventions: InterventionConfig {
                steps: 1,
                share: 0.25,
                ..InterventionConfig::default()
            },
            defense: DefenseConfig {
                share: 0.25,
                ..DefenseConfig::default()
            },
            ..TrainConfig::default()
        }
    }

    /// A configuration by name: `default` or `demo`.
    pub fn preset(name: &str) -> Result<TrainConfig> {
        match name {
            "default" => Ok(TrainConfig::default()),
            "demo" => Ok(TrainConfig::demo()),
            _ => Err(Error::Invalid(format!(
                "unknown training preset {name:?}; known: default, demo"
            ))),
        }
    }

    /// Turns the terms a model cannot have off: the adversary and the gate's feature
    /// invariance need the gate, and a baseline is trained without any minimax.
    #[must_use]
    pub fn for_baseline(mut self) -> TrainConfig {
        self.objective.invariance = 0.0;
        self.objective.necessity = 0.0;
        self
    }
}

/// The learning rate at `step` (0-based) of `total`: linear warm-up from lr / 100,
/// then a half cosine down to lr * final_lr_ratio.
pub fn learning_rate(cfg: &TrainConfig, step: u64, total: u64) -> f64 {
    let w = cfg.warmup_steps.min(total.saturating_sub(1));
    if step < w {
        let t = (step + 1) as f64 / w as f64;
        return cfg.lr * (0.01 + 0.99 * t);
    }
    let span = total.saturating_sub(w).max(1) as f64;
    let t = ((step - w) as f64 / span).min(1.0);
    let lo = cfg.lr * cfg.final_lr_ratio;
    lo + (cfg.lr - lo) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_the_floor() {
        let cfg = TrainConfig {
            lr: 1.0,
            warmup_steps: 10,
            final_lr_ratio: 0.1,
            ..TrainConfig::default()
        };
        assert!((learning_rate(&cfg, 0, 100) - 0.109).abs() < 1e-12);
        assert!((learning_rate(&cfg, 9, 100) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&cfg, 10, 100) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&cfg, 55, 100) - 0.55).abs() < 1e-12);
        assert!((learning_rate(&cfg, 100, 100) - 0.1).abs() < 1e-12);
        let lrs: Vec<f64> = (10..100).map(|s| learning_rate(&cfg, s, 100)).collect();
        assert!(lrs.windows(2).all(|w| w[1] <= w[0]));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = TrainConfig::from_json(r#"{"epochz": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("epochz"), "{e}");
        let e = TrainConfig::from_json(r#"{"objective": {"rank": -1}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("objective.rank"), "{e}");
        let e = TrainConfig::from_json(r#"{"batch": 1}"#).unwrap_err().to_string();
        assert!(e.contains("batch"), "{e}");
        let e = TrainConfig::from_json(r#"{"interventions": {"share": 2}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("interventions.share"), "{e}");
    }

    #[test]
    fn intervention_count_covers_the_share() {
        let i = InterventionConfig {
            share: 0.25,
            ..InterventionConfig::default()
        };
        assert_eq!(i.count(32), 8);
        assert_eq!(i.count(4), 2);
        assert_eq!(i.count(1), 1);
        let none = InterventionConfig { share: 0.0, ..i };
        assert_eq!(none.count(32), 0);
    }
}
