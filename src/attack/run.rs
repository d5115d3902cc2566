//! An attack over a dataset: every image's clean and attacked score, scored as
//! [`crate::infer::predict`] scores (the eval crop grid, the mean over crops), and the
//! figures a robustness table reports.
//!
//! Each crop of the grid is attacked on its own, with its own perturbation within
//! eps. Where the grid tiles the image without overlap (the synthetic set's 256-pixel
//! images at the demo's 128-pixel crop, two crops per side) that is one perturbed
//! image; where crops overlap it is at least as strong as one image's attack.
//!
//! Besides the correlations, [`Robustness`] carries the two per-image robustness
//! figures IQA robustness papers report ([`r_robustness`], [`msu_robustness_score`]),
//! and [`trapezoid_mean`] condenses a sweep over eps into one number.

use indicatif::ProgressBar;
use serde::Serialize;

use super::{AttackConfig, Norm, attack, scores};
use crate::data::{Dataset, Loader, Mode};
use crate::error::{Error, Result};
use crate::infer::PredictConfig;
use crate::metrics::correlation::{Correlations, EvalOptions, evaluate, std_population};
use crate::nn::Cprl;
use crate::tensor::Tensor;

/// Per image, in the given order: NaN where the image was skipped.
#[derive(Clone, Debug, Default)]
pub struct AttackScores {
    pub clean: Vec<f64>,
    pub attacked: Vec<f64>,
    /// The largest |x' - x| over every attacked pixel (checked, not assumed).
    pub max_linf: f64,
    /// The largest root mean square of x' - x over one crop's values (the L_2
    /// budget's measure, see [`crate::attack`]).
    pub max_rms: f64,
    /// Attacked crops per second (forward, input gradients and updates included).
    pub crops_per_s: f64,
}

/// One batch of crops as attacked, handed to the sink of [`attack_dataset_with`] so a
/// caller can keep the adversarial images (`cprl attack --save-adv`).
#[derive(Clone, Debug)]
pub struct AttackedCrops {
    /// Position in the attacked `indices` of each crop's image.
    pub images: Vec<usize>,
    /// Each crop's number within its image, in the eval grid's order.
    pub crop_no: Vec<usize>,
    /// `[n, 3, h, w]` of `clean` and `adversarial`.
    pub shape: [usize; 4],
    /// The crops before and after the attack, planar RGB in [0, 1].
    pub clean: Vec<f32>,
    pub adversarial: Vec<f32>,
}

impl AttackScores {
    /// The check, on the attacked images themselves, that no crop moved further than
    /// `eps` in `norm` (an error here is a bug in an attack, not bad input). The L_2
    /// measure is summed in f32 on the device side's values, so it gets a relative
    /// slack of 1e-5 besides the 1e-6 both get.
    pub fn check_budget(&self, eps: f32, norm: Norm) -> Result<()> {
        let (used, slack, what) = match norm {
            Norm::Linf => (self.max_linf, 1e-6, "a pixel moved by"),
            Norm::L2 => (
                self.max_rms,
                1e-6 + 1e-5 * f64::from(eps),
                "a crop moved by an RMS of",
            ),
        };
        if used > f64::from(eps) + slack {
            return Err(Error::Invalid(format!(
                "internal error: {what} {used} > eps {eps}"
            )));
        }
        Ok(())
    }

    /// Takes in one batch's perturbations `d` (x' - x, crops of `per_crop` values).
    pub fn observe(&mut self, d: &[f32], per_crop: usize) {
        self.max_linf = d.iter().fold(self.max_linf, |m, v| m.max(f64::from(v.abs())));
        for crop in d.chunks(per_crop.max(1)) {
            let ms = crop.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / crop.len() as f64;
            self.max_rms = self.max_rms.max(ms.sqrt());
        }
    }
}

/// Where [`attack_dataset_with`] sends each batch of attacked crops.
pub type CropSink<'a> = &'a mut dyn FnMut(AttackedCrops) -> Result<()>;

/// Attacks the samples `indices` of `ds`.
pub fn attack_dataset(
    model: &Cprl,
    ds: &Dataset,
    indices: &[usize],
    pcfg: &PredictConfig,
    acfg: &AttackConfig,
    progress: Option<&ProgressBar>,
) -> Result<AttackScores> {
    attack_dataset_with(model, ds, indices, pcfg, acfg, progress, None)
}

/// [`attack_dataset`], also handing every batch's clean and adversarial crops to
/// `sink` when one is given. Without a sink nothing more is read back from the
/// device than the plain attack reads, so the default path is not slowed.
pub fn attack_dataset_with(
    model: &Cprl,
    ds: &Dataset,
    indices: &[usize],
    pcfg: &PredictConfig,
    acfg: &AttackConfig,
    progress: Option<&ProgressBar>,
    mut sink: Option<CropSink>,
) -> Result<AttackScores> {
    let mut tally = Tally::new(indices.len());
    for_each_batch(model, ds, indices, pcfg, acfg, progress, |b, samples, x| {
        let t0 = std::time::Instant::now();
        let xa = attack(model, x, acfg, b)?;
        let s0 = scores(model, x)?.to_vec()?;
        let sa = scores(model, &xa)?.to_vec()?;
        let seconds = t0.elapsed().as_secs_f64();
        tally.add(samples, (&s0, &sa), (x, &xa), seconds, sink.as_deref_mut())
    })?;
    Ok(tally.finish())
}

/// The batches of an attack over the samples `indices` of `ds`: the settings checked,
/// the evaluation crop grid loaded batch by batch onto `model`'s device, `f` called
/// with each batch's number, the image index of each crop and the crops, and the
/// progress moved on.
pub(crate) fn for_each_batch(
    model: &Cprl,
    ds: &Dataset,
    indices: &[usize],
    pcfg: &PredictConfig,
    acfg: &AttackConfig,
    progress: Option<&ProgressBar>,
    mut f: impl FnMut(u64, &[usize], &Tensor) -> Result<()>,
) -> Result<()> {
    acfg.validate()?;
    if pcfg.crop == 0 || pcfg.batch == 0 {
        return Err(Error::Invalid("attack: crop and batch must be positive".into()));
    }
    let gpu = model.head.fc1.weight.gpu().clone();
    let mode = Mode::Eval {
        max_per_side: pcfg.max_per_side,
    };
    let loader = Loader::new(ds, indices, pcfg.loader_config(), mode);
    if let Some(p) = progress {
        p.set_length(indices.len() as u64);
    }
    for (b, batch) in loader.epoch(0).enumerate() {
        let x = batch.to_device(&gpu)?.images;
        f(b as u64, &batch.samples, &x)?;
        if let (Some(p), Some(&last)) = (progress, batch.samples.last()) {
            p.set_position(last as u64 + 1);
        }
    }
    Ok(())
}

/// Per-image sums of crop scores over a dataset's batches, for [`AttackScores`].
pub(crate) struct Tally {
    clean: Vec<f64>,
    attacked: Vec<f64>,
    counts: Vec<usize>,
    moved: AttackScores,
    seconds: f64,
    crops: usize,
}

impl Tally {
    pub(crate) fn new(n: usize) -> Tally {
        Tally {
            clean: vec![0.0; n],
            attacked: vec![0.0; n],
            counts: vec![0; n],
            moved: AttackScores::default(),
            seconds: 0.0,
            crops: 0,
        }
    }

    /// Adds one batch: the crops of `samples` (image indices), their clean and
    /// attacked `scores`, the clean and adversarial crops `images` (for the budget
    /// check, and for the sink when there is one) and the seconds the attack took.
    pub(crate) fn add(
        &mut self,
        samples: &[usize],
        scores: (&[f32], &[f32]),
        images: (&Tensor, &Tensor),
        seconds: f64,
        sink: Option<&mut (dyn FnMut(AttackedCrops) -> Result<()> + '_)>,
    ) -> Result<()> {
        let (x, xa) = images;
        self.moved
            .observe(&xa.sub(x)?.to_vec()?, x.numel() / samples.len().max(1));
        if let Some(sink) = sink {
            let crop_no = crop_numbers(samples, &self.counts);
            sink(crops_of(samples, crop_no, x, xa)?)?;
        }
        for (k, &i) in samples.iter().enumerate() {
            self.clean[i] += f64::from(scores.0[k]);
            self.attacked[i] += f64::from(scores.1[k]);
            self.counts[i] += 1;
        }
        self.crops += samples.len();
        self.seconds += seconds;
        Ok(())
    }

    /// Per-image means (NaN where no crop came) and the rate.
    pub(crate) fn finish(&self) -> AttackScores {
        let mean = |v: &[f64]| -> Vec<f64> {
            v.iter()
                .zip(&self.counts)
                .map(|(&s, &c)| if c == 0 { f64::NAN } else { s / c as f64 })
                .collect()
        };
        AttackScores {
            clean: mean(&self.clean),
            attacked: mean(&self.attacked),
            max_linf: self.moved.max_linf,
            max_rms: self.moved.max_rms,
            crops_per_s: self.crops as f64 / self.seconds.max(1e-9),
        }
    }
}

/// Each crop's number within its image: the image's crops in earlier batches
/// (`counts`) plus its crops earlier in this batch, so that two crops of one image
/// in one batch are told apart.
fn crop_numbers(samples: &[usize], counts: &[usize]) -> Vec<usize> {
    let mut next = std::collections::HashMap::new();
    samples
        .iter()
        .map(|&i| {
            let n = next.entry(i).or_insert(counts[i]);
            *n += 1;
            *n - 1
        })
        .collect()
}

/// The [`AttackedCrops`] of one batch: its crops read back from the device.
fn crops_of(samples: &[usize], crop_no: Vec<usize>, x: &Tensor, xa: &Tensor) -> Result<AttackedCrops> {
    let shape = match x.shape() {
        &[n, c, h, w] => [n, c, h, w],
        other => {
            return Err(Error::Invalid(format!(
                "attack: crops of shape {other:?}, not [n, 3, h, w]"
            )));
        }
    };
    Ok(AttackedCrops {
        images: samples.to_vec(),
        crop_no,
        shape,
        clean: x.to_vec()?,
        adversarial: xa.to_vec()?,
    })
}

/// What an attack did to a model's scores (images skipped by the loader left out).
#[derive(Clone, Debug, Serialize)]
pub struct Robustness {
    pub images: usize,
    /// Clean and attacked scores against the labels.
    pub clean: Correlations,
    pub attacked: Correlations,
    /// Mean |s' - s|.
    pub mean_abs_change: f64,
    /// The same in units of the clean scores' standard deviation: a model whose
    /// scores barely spread moves little in absolute terms and must not look robust
    /// for it.
    pub change_in_std: f64,
    /// Share of images whose score crossed 0.5.
    pub crossed_midpoint: f64,
    /// Mean |s' - (1 - s)|: what a reflection attack left to go (0 = reflected).
    pub reflection_distance: f64,
    /// The same before the attack, mean |2 s - 1|.
    pub reflection_distance_clean: f64,
    /// R robustness of Liu et al. (CVPR 2024), [`r_robustness`] with lo = 0, hi = 1:
    /// the mean log10 of how far a score could move over how far it moved (higher =
    /// more robust; 1 = moved a tenth of its room).
    pub r_robustness: f64,
    /// Images whose |s' - s| was below [`R_MIN_CHANGE`], so whose ratio in
    /// `r_robustness` was taken at that floor (a cap of log10(1 / 1e-6) = 6 each).
    pub r_unmoved: usize,
    /// The MSU benchmark's robustness score ([`msu_robustness_score`]).
    pub msu_robustness: f64,
}

/// The figures of [`Robustness`] from the scores and the labels (unit scale).
pub fn robustness(scores: &AttackScores, labels: &[f64], opts: &EvalOptions) -> Result<Robustness> {
    let keep: Vec<usize> = (0..labels.len())
        .filter(|&i| scores.clean[i].is_finite() && scores.attacked[i].is_finite())
        .collect();
    if keep.len() < 3 {
        return Err(Error::Invalid(format!(
            "attack: {} images scored, at least 3 needed for the correlations",
            keep.len()
        )));
    }
    let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let (y, s, sa) = (pick(labels), pick(&scores.clean), pick(&scores.attacked));
    let n = keep.len() as f64;
    let mean_abs_change = s.iter().zip(&sa).map(|(a, b)| (b - a).abs()).sum::<f64>() / n;
    let std = std_population(&s);
    let (r_robustness, r_unmoved) = r_robustness(&s, &sa, 0.0, 1.0);
    Ok(Robustness {
        images: keep.len(),
        clean: evaluate(&s, &y, opts),
        attacked: evaluate(&sa, &y, opts),
        mean_abs_change,
        change_in_std: mean_abs_change / std.max(1e-12),
        crossed_midpoint: s
            .iter()
            .zip(&sa)
            .filter(|(a, b)| (**a > 0.5) != (**b > 0.5))
            .count() as f64
            / n,
        reflection_distance: s.iter().zip(&sa).map(|(a, b)| (b - (1.0 - a)).abs()).sum::<f64>() / n,
        reflection_distance_clean: s.iter().map(|a| (2.0 * a - 1.0).abs()).sum::<f64>() / n,
        r_robustness,
        r_unmoved,
        msu_robustness: msu_robustness_score(&s, &sa),
    })
}

/// The floor of |s' - s| in [`r_robustness`]. The paper's ratio is infinite for an
/// image the attack did not move; a score in f32 near 1 moves in steps of about 6e-8,
/// so 1e-6 is "did not move" at the precision the scores carry. It caps an image's
/// term at log10(1 / 1e-6) = 6 on the unit scale. (The MSU benchmark adds 1e-6 to the
/// denominator instead; a floor leaves every image that did move exactly as the paper
/// defines it.)
pub const R_MIN_CHANGE: f64 = 1e-6;

/// R robustness of Liu et al., "Defense against adversarial attacks on no-reference
/// image quality models with gradient norm regularization" (CVPR 2024), after Zhang
/// et al. (NeurIPS 2022): the mean over images of
/// log10(max(s - lo, hi - s) / |s' - s|), the room a score had to move in the score
/// range [lo, hi] over how far the attack moved it. Higher is more robust; it is
/// comparable across models because it is relative to the scale. |s' - s| is floored
/// at [`R_MIN_CHANGE`]; the second value counts the images where the floor applied.
/// NaN for no images.
pub fn r_robustness(clean: &[f64], attacked: &[f64], lo: f64, hi: f64) -> (f64, usize) {
    let mut floored = 0;
    let total: f64 = clean
        .iter()
        .zip(attacked)
        .map(|(&s, &sa)| {
            let change = (sa - s).abs();
            if change < R_MIN_CHANGE {
                floored += 1;
            }
            ((s - lo).max(hi - s) / change.max(R_MIN_CHANGE)).log10()
        })
        .sum();
    (total / clean.len() as f64, floored)
}

/// The constant the MSU benchmark adds to |s' - s| in its robustness score.
pub const MSU_EPS: f64 = 1e-6;

/// The robustness score of the MSU metrics robustness benchmark (Antsiferova et al.,
/// AAAI 2024), as its code computes it (`robustness_score` in
/// msu-video-group/MSU_Metrics_Robustness_Benchmark, `score_methods.py`, averaged
/// over images by `evaluate_robustness`): both score sets are min-max scaled with
/// the clean scores' minimum and maximum (a zero range scaled by 1, as scikit-learn's
/// `MinMaxScaler` does), then the mean over images of
/// log10(max(1 - c, c) / (|c - a| + 1e-6)) for clean c and attacked a. It differs from
/// [`r_robustness`] in that scaling, which makes it depend on the set's spread (and
/// so on which images are attacked together), and in the additive 1e-6. The
/// benchmark's optional mapping of every metric to MDTVSFA's domain is not applied.
/// NaN for no images.
pub fn msu_robustness_score(clean: &[f64], attacked: &[f64]) -> f64 {
    let min = clean.iter().copied().fold(f64::INFINITY, f64::min);
    let max = clean.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = if max > min { max - min } else { 1.0 };
    let total: f64 = clean
        .iter()
        .zip(attacked)
        .map(|(&s, &sa)| {
            let (c, a) = ((s - min) / range, (sa - min) / range);
            ((1.0 - c).max(c) / ((c - a).abs() + MSU_EPS)).log10()
        })
        .sum();
    total / clean.len() as f64
}

/// The mean of a piecewise-linear curve over the x range it covers: the trapezoid
/// area under `points` (any order; sorted by x here) divided by the span of x. With
/// the first point at eps 0 (the clean value) this is the mean of a robustness
/// figure over the budgets 0 to the largest eps, one number per model and attack
/// that does not depend on which budget a table happens to show. NaN when the span
/// is not positive or a value is not finite.
pub fn trapezoid_mean(points: &[(f64, f64)]) -> f64 {
    let mut p = points.to_vec();
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (Some(first), Some(last)) = (p.first(), p.last()) else {
        return f64::NAN;
    };
    let span = last.0 - first.0;
    if p.iter().any(|q| !q.0.is_finite() || !q.1.is_finite()) || span <= 0.0 {
        return f64::NAN;
    }
    let area: f64 = p
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum();
    area / span
}

/// A crop as 8-bit values for a lossless file, kept within the budget: each value is
/// `adversarial` rounded to the nearest 1/255, then moved to the nearest step of the
/// 1/255 grid within `eps` of the `clean` value where rounding would leave the
/// budget (with a non-integer eps in 1/255 units it can: 2.5/255 rounds to 3/255).
/// Where no grid step lies within eps (a clean value off the grid, as after a
/// resize, and eps below 1/2 of 1/255) the rounded value is kept. Returns the bytes
/// and the largest |saved - clean| on the [0, 1] scale, to check against eps.
pub fn quantise_within(adversarial: &[f32], clean: &[f32], eps: f32) -> (Vec<u8>, f64) {
    // Grid steps within 1e-3 of a step of the bound count as inside it: f32 budgets
    // such as 2/255 are not exact in binary.
    const SLACK: f64 = 1e-3;
    let eps = f64::from(eps) * 255.0;
    let mut worst = 0.0f64;
    let bytes = adversarial
        .iter()
        .zip(clean)
        .map(|(&a, &c)| {
            let c = f64::from(c) * 255.0;
            let mut q = (f64::from(a) * 255.0).round().clamp(0.0, 255.0);
            let (lo, hi) = (
                (c - eps - SLACK).ceil().max(0.0),
                (c + eps + SLACK).floor().min(255.0),
            );
            if lo <= hi {
                q = q.clamp(lo, hi);
            }
            worst = worst.max((q - c).abs() / 255.0);
            q as u8
        })
        .collect();
    (bytes, worst)
}
