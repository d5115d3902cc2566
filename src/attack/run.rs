//! An attack over a dataset: every image's clean and attacked score, scored as
//! [`crate::infer::predict`] scores (the eval crop grid, the mean over crops), and the
//! figures a robustness table reports.
//!
//! Each crop of the grid is attacked on its own, with its own perturbation within
//! eps. Where the grid tiles the image without overlap (the synthetic set's 256-pixel
//! images at the demo's 128-pixel crop, two crops per side) that is one perturbed
//! image; where crops overlap it is at least as strong as one image's attack.

use indicatif::ProgressBar;
use serde::Serialize;

use super::{AttackConfig, attack, scores};
use crate::data::{Dataset, Loader, Mode};
use crate::error::{Error, Result};
use crate::infer::PredictConfig;
use crate::metrics::correlation::{Correlations, EvalOptions, evaluate, std_population};
use crate::nn::Cprl;

/// Per image, in the given order: NaN where the image was skipped.
#[derive(Clone, Debug, Default)]
pub struct AttackScores {
    pub clean: Vec<f64>,
    pub attacked: Vec<f64>,
    /// The largest |x' - x| over every attacked pixel (checked, not assumed).
    pub max_linf: f64,
    /// Attacked crops per second (forward, input gradients and updates included).
    pub crops_per_s: f64,
}

/// Attacks the samples `indices` of `ds`.
pub fn attack_dataset(
    model: &Cprl,
    ds: &Dataset,
    indices: &[usize],
    pcfg: &PredictConfig,
    acfg: &AttackConfig,
    progress: Option<&ProgressBar>,
) -> Result<AttackScores> {
    acfg.validate()?;
    if pcfg.crop == 0 || pcfg.batch == 0 {
        return Err(Error::Invalid("attack: crop and batch must be positive".into()));
    }
    let gpu = model.head.fc1.weight.gpu().clone();
    let loader = Loader::new(
        ds,
        indices,
        pcfg.loader_config(),
        Mode::Eval {
            max_per_side: pcfg.max_per_side,
        },
    );
    if let Some(p) = progress {
        p.set_length(indices.len() as u64);
    }
    let n = indices.len();
    let (mut clean, mut attacked, mut counts) = (vec![0.0f64; n], vec![0.0f64; n], vec![0usize; n]);
    let mut max_linf = 0.0f64;
    let (mut crops, t0) = (0usize, std::time::Instant::now());
    for (b, batch) in loader.epoch(0).enumerate() {
        let x = batch.to_device(&gpu)?.images;
        let xa = attack(model, &x, acfg, b as u64)?;
        let s0 = scores(model, &x)?.to_vec()?;
        let sa = scores(model, &xa)?.to_vec()?;
        let d = xa.sub(&x)?.to_vec()?;
        max_linf = d.iter().fold(max_linf, |m, v| m.max(f64::from(v.abs())));
        for (k, &i) in batch.samples.iter().enumerate() {
            clean[i] += f64::from(s0[k]);
            attacked[i] += f64::from(sa[k]);
            counts[i] += 1;
        }
        crops += batch.samples.len();
        if let (Some(p), Some(&last)) = (progress, batch.samples.last()) {
            p.set_position(last as u64 + 1);
        }
    }
    let mean = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .zip(&counts)
            .map(|(&s, &c)| if c == 0 { f64::NAN } else { s / c as f64 })
            .collect()
    };
    Ok(AttackScores {
        clean: mean(&clean),
        attacked: mean(&attacked),
        max_linf,
        crops_per_s: crops as f64 / t0.elapsed().as_secs_f64().max(1e-9),
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
    })
}
