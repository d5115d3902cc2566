//! The CPRL model's configuration: what it is built from, its presets, and the checks
//! that reject a configuration before any tensor is made.
//!
//! In JSON every field may be left out (the `demo` preset fills it) and an unknown
//! field is an error that names it:
//!
//! ```json
//! { "crop": 128, "stages": [16, 32, 64, 128], "convs_per_stage": 1,
//!   "norm": "batch_norm", "sortmask_after": [1],
//!   "sortmask": { "quantile": 0.5, "temperature": 0.05, "method": {"pav": "l2"}, "strength": null },
//!   "gate": { "rho": 0.25, "temperature": 0.05, "key": "z", "standardize": true,
//!             "method": {"pav": "l2"}, "strength": null },
//!   "head_hidden": 64 }
//! ```
//!
//! `"norm": {"group_norm": {"groups": 8}}` picks group norm; `"gate": null` turns the
//! gate (and the adversary head) off.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ops::softrank::{Method, Regularization};
use crate::ops::sortmask::SortMaskConfig;

/// The normalisation after each convolution (a ReLU follows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum NormKind {
    /// Batch norm (batch statistics in training, running ones in eval).
    BatchNorm,
    /// Group norm with `groups` groups (must divide every stage's width): per-sample
    /// statistics, the same in training and eval.
    GroupNorm { groups: usize },
}

/// What the CPR gate ranks the channels by (before the per-sample standardisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// k = z.
    Z,
    /// k = |z * w_c|, w_c the L2 norm of the head's first-layer weights on channel c
    /// (the channels the head reads most rank highest). The key's gradient reaches the
    /// head's weights through w_c.
    HeadWeighted,
}

/// The CPR gate's settings (docs/METHOD.md section 1, "The CPR gate").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateSettings {
    /// Share of channels treated as causal, in (0, 1): about rho * C channels get m > 0.5.
    pub rho: f32,
    /// Mask temperature T > 0.
    pub temperature: f32,
    pub key: KeyKind,
    /// Standardise the key per sample, k' = (k - mean_c k) / (std_c k + 1e-6), before
    /// ranking (on by default; off only to reproduce the collapsed gate of raw keys).
    pub standardize: bool,
    /// Soft-rank method (PAV, torchsort's operator, by default).
    pub method: Method,
    /// Soft-rank strength; `None` (the default) is 1 / C.
    ///
    /// Why 1 / C: C standardised keys span about 5 units (+-2.5 for a bell-shaped
    /// spread), so neighbours lie about 5 / C apart, and about 3 / C near the 75th
    /// percentile where a rho = 0.25 gate switches. PAV pools two neighbours into one
    /// rank when their gap is under the strength; at 1 / C most neighbours stay apart
    /// (ranks near the hard ones, so m > 0.5 on about rho * C channels), while close
    /// pairs pool and give the key a gradient. At strength ~5 / C and above most of
    /// the row pools, and at torchsort's default 1 on raw z (spread ~0.3) all of it:
    /// every rank is (C + 1) / 2, u = 0.5, m = sigmoid(-0.25 / T) = 0.007 and the gate
    /// passes nothing (docs/METHOD.md, "Scale decides whether the gate exists"; checked by
    /// `tests/model_cprl.rs`).
    pub strength: Option<f32>,
    /// Straight-through gate, for attack surrogates only (off by default, and left out
    /// of the JSON when off, so a checkpoint's model is unchanged): the forward uses the
    /// hard mask 1[m > 0.5] and the backward the soft m, m_st = m + stopgrad(m_hard - m).
    /// An attack through it sees the hard-gated model's score with a usable gradient,
    /// so a gate cannot pass an attack by a saturated sigmoid hiding the gradient.
    #[serde(skip_serializing_if = "is_false")]
    pub straight_through: bool,
}

impl Default for GateSettings {
    fn default() -> Self {
        GateSettings {
            rho: 0.25,
            temperature: 0.05,
            key: KeyKind::Z,
            standardize: true,
            method: Method::Pav(Regularization::L2),
            strength: None,
            straight_through: false,
        }
    }
}

/// For `skip_serializing_if`: surrogate-only switches are written only when on.
fn is_false(b: &bool) -> bool {
    !*b
}

impl GateSettings {
    /// The strength the rank runs with on C channels.
    pub fn strength_for(&self, channels: usize) -> f32 {
        self.strength.unwrap_or(1.0 / channels.max(1) as f32)
    }
}

/// SortMask's settings (`ops::sortmask`), applied after each stage listed in
/// [`CprlConfig::sortmask_after`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SortMaskSettings {
    /// q_s: share of positions (the smallest deviations) pulled to the channel mean.
    pub quantile: f32,
    /// T_s > 0.
    pub temperature: f32,
    pub method: Method,
    /// Soft-rank strength; `None` (the default) is 1 / (H W) at the stage's H x W.
    ///
    /// Why: after norm + ReLU the deviations |F - mean| of a channel are of order 1, so
    /// n = H W of them lie about 1 / n apart; the same rule as the gate's key keeps
    /// the ranks near the hard ones. A fixed strength of 1 pools every row of
    /// thousands of positions into one block (u = 0.5 everywhere), and SortMask
    /// degrades to `mean + (F - mean) * sigmoid((0.5 - q_s) / T_s)`, a uniform shrink.
    pub strength: Option<f32>,
    /// Straight-through SortMask, for attack surrogates only (off by default and left
    /// out of the JSON when off): the forward uses the hard gate 1[u > q_s] on each
    /// position, the backward the soft SortMask's, out = soft + stopgrad(hard - soft)
    /// (so the forward equals the hard one up to rounding).
    #[serde(skip_serializing_if = "is_false")]
    pub straight_through: bool,
}

impl Default for SortMaskSettings {
    fn default() -> Self {
        SortMaskSettings {
            quantile: 0.5,
            temperature: 0.05,
            method: Method::Pav(Regularization::L2),
            strength: None,
            straight_through: false,
        }
    }
}

impl SortMaskSettings {
    /// The op's configuration for rows of `positions` (H W) values.
    pub fn op_config(&self, positions: usize) -> SortMaskConfig {
        SortMaskConfig {
            quantile: self.quantile,
            temperature: self.temperature,
            method: self.method,
            strength: self.strength.unwrap_or(1.0 / positions.max(1) as f32),
        }
    }
}

/// The CPRL model: backbone, SortMask, CPR gate, head and adversary head
/// (see [`super::Cprl`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CprlConfig {
    /// Side of the square crops the model is trained and evaluated on (the data layer
    /// cuts them; [`CprlConfig::forward_flops`] counts at this size). The model itself
    /// takes any H x W.
    pub crop: usize,
    /// Width (channels) of each stage; a stage halves H and W. C = the last width.
    pub stages: Vec<usize>,
    /// 3x3 convolutions per stage: the first with stride 2, the others stride 1; each
    /// followed by the norm and a ReLU.
    pub convs_per_stage: usize,
    pub norm: NormKind,
    /// Stages (0-based) whose output goes through SortMask; empty turns SortMask off.
    pub sortmask_after: Vec<usize>,
    pub sortmask: SortMaskSettings,
    /// The CPR gate and the adversary head; `None` is the baseline (c = z).
    pub gate: Option<GateSettings>,
    /// Hidden width of the head and of the adversary head (C -> hidden -> 1).
    pub head_hidden: usize,
}

impl Default for CprlConfig {
    /// The `demo` preset.
    fn default() -> Self {
        CprlConfig::demo()
    }
}

/// The names [`CprlConfig::preset`] knows.
pub const PRESETS: &[&str] = &["demo", "full", "baseline-demo", "baseline-full", "tiny"];

impl CprlConfig {
    /// For CPU drivers and quick runs: 128-pixel crops, four stages of one conv
    /// (16, 32, 64, 128 channels), batch norm, SortMask after stage 1 (32 channels
    /// at 32 x 32), the gate on C = 128, head 128 -> 64 -> 1. About 32 MFLOP per
    /// image forward (three times that with the backward). A CPRL training step of
    /// the demo (interventions on a quarter of the batch included) at batch 32 takes
    /// 0.40 s on lavapipe (idle 2-core Xeon; the baseline 0.19 s), so the demo's 4
    /// epochs of 2142 crops take about 2 minutes for CPRL (`benches/NOTES.md`,
    /// "Training"). Measure the bare step with `cargo bench --bench kernels -- cprl`.
    pub fn demo() -> CprlConfig {
        CprlConfig {
            crop: 128,
            stages: vec![16, 32, 64, 128],
            convs_per_stage: 1,
            norm: NormKind::BatchNorm,
            sortmask_after: vec![1],
            sortmask: SortMaskSettings::default(),
            gate: Some(GateSettings::default()),
            head_hidden: 64,
        }
    }

    /// What a GPU user trains: 224-pixel crops, four stages of two convs (32, 64, 128,
    /// 256 channels; a VGG/ResNet-like depth of 8 convolutions), batch norm, SortMask
    /// after stage 1 (64 channels at 56 x 56), the gate on C = 256, head 256 -> 128 -> 1.
    /// About 1.29 GFLOP per image forward (ResNet-18: 3.6).
    pub fn full() -> CprlConfig {
        CprlConfig {
            crop: 224,
            stages: vec![32, 64, 128, 256],
            convs_per_stage: 2,
            head_hidden: 128,
            ..CprlConfig::demo()
        }
    }

    /// A few channels on 16-pixel crops, for tests and smoke runs: stages (4, 8), one
    /// conv each, SortMask after stage 0, C = 8, head 8 -> 8 -> 1.
    pub fn tiny() -> CprlConfig {
        CprlConfig {
            crop: 16,
            stages: vec![4, 8],
            convs_per_stage: 1,
            sortmask_after: vec![0],
            head_hidden: 8,
            ..CprlConfig::demo()
        }
    }

    /// The same backbone and head with the gate, the adversary and SortMask off
    /// (c = z): the plain model CPRL is compared against.
    #[must_use]
    pub fn baseline(mut self) -> CprlConfig {
        self.gate = None;
        self.sortmask_after.clear();
        self
    }

    /// A preset by name (one of [`PRESETS`]).
    pub fn preset(name: &str) -> Result<CprlConfig> {
        match name {
            "demo" => Ok(CprlConfig::demo()),
            "full" => Ok(CprlConfig::full()),
            "tiny" => Ok(CprlConfig::tiny()),
            "baseline-demo" => Ok(CprlConfig::demo().baseline()),
            "baseline-full" => Ok(CprlConfig::full().baseline()),
            _ => Err(Error::Invalid(format!(
                "unknown model preset {name:?}; known: {}",
                PRESETS.join(", ")
            ))),
        }
    }

    /// Reads a configuration from JSON (missing fields from `demo`) and validates it.
    pub fn from_json(text: &str) -> Result<CprlConfig> {
        let cfg: CprlConfig =
            serde_json::from_str(text).map_err(|e| Error::Invalid(format!("model config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// C: the feature width the gate and the heads see.
    pub fn channels(&self) -> usize {
        self.stages.last().copied().unwrap_or(0)
    }

    /// Checks every field; the error names the field and the value.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Invalid(format!("model config: {msg}")));
        if self.crop == 0 {
            return bad("crop must be positive".into());
        }
        if self.stages.is_empty() {
            return bad("stages is empty: the backbone needs at least one stage".into());
        }
        if let Some(i) = self.stages.iter().position(|&w| w == 0) {
            return bad(format!("stages[{i}] has width 0"));
        }
        if self.convs_per_stage == 0 {
            return bad("convs_per_stage must be at least 1".into());
        }
        if let NormKind::GroupNorm { groups } = self.norm {
            if groups == 0 {
                return bad("norm.group_norm.groups must be positive".into());
            }
            if let Some(w) = self.stages.iter().find(|&&w| w % groups != 0) {
                return bad(format!(
                    "norm.group_norm.groups = {groups} does not divide the stage width {w}"
                ));
            }
        }
        for (j, &s) in self.sortmask_after.iter().enumerate() {
            if s >= self.stages.len() {
                return bad(format!(
                    "sortmask_after[{j}] = {s} is out of range: there are {} stages (0..{})",
                    self.stages.len(),
                    self.stages.len() - 1
                ));
            }
            if self.sortmask_after[..j].contains(&s) {
                return bad(format!("sortmask_after lists stage {s} twice"));
            }
        }
        let sm = &self.sortmask;
        if !(0.0..=1.0).contains(&sm.quantile) {
            return bad(format!(
                "sortmask.quantile must be in [0, 1], got {}",
                sm.quantile
            ));
        }
        if !(sm.temperature > 0.0 && sm.temperature.is_finite()) {
            return bad(format!(
                "sortmask.temperature must be positive, got {}",
                sm.temperature
            ));
        }
        if let Some(s) = sm.strength.filter(|s| !(*s > 0.0 && s.is_finite())) {
            return bad(format!("sortmask.strength must be positive, got {s}"));
        }
        if let Some(g) = &self.gate {
            if !(g.rho > 0.0 && g.rho < 1.0) {
                return bad(format!(
                    "gate.rho must be in (0, 1) (the share of causal channels), got {}",
                    g.rho
                ));
            }
            if !(g.temperature > 0.0 && g.temperature.is_finite()) {
                return bad(format!(
                    "gate.temperature must be positive, got {}",
                    g.temperature
                ));
            }
            if let Some(s) = g.strength.filter(|s| !(*s > 0.0 && s.is_finite())) {
                return bad(format!("gate.strength must be positive, got {s}"));
            }
        }
        if self.head_hidden == 0 {
            return bad("head_hidden must be positive".into());
        }
        Ok(())
    }

    /// H and W after each stage for an input of `h` x `w` (3x3, padding 1, stride 2:
    /// ceil(h / 2)).
    pub fn stage_sizes(&self, h: usize, w: usize) -> Vec<(usize, usize)> {
        let mut s = (h, w);
        self.stages
            .iter()
            .map(|_| {
                s = (s.0.div_ceil(2), s.1.div_ceil(2));
                s
            })
            .collect()
    }

    /// Floating-point operations of one forward on a `crop` x `crop` image: the
    /// convolutions and the heads' matrix products, 2 per multiply-add (norms,
    /// SortMask, the gate and the elementwise ops are not counted: under 2% here).
    pub fn forward_flops(&self) -> f64 {
        let sizes = self.stage_sizes(self.crop, self.crop);
        let mut cin = 3;
        let mut flops = 0.0;
        for (&w, &(h, ww)) in self.stages.iter().zip(&sizes) {
            let positions = (h * ww) as f64;
            flops += 2.0 * (cin * 9 * w) as f64 * positions;
            flops += 2.0 * (w * 9 * w) as f64 * positions * (self.convs_per_stage - 1) as f64;
            cin = w;
        }
        let heads = if self.gate.is_some() { 2.0 } else { 1.0 };
        flops + heads * 2.0 * (self.channels() * self.head_hidden + self.head_hidden) as f64
    }
}
