//! The loss terms of the training objective (docs/METHOD.md section 2, "The objective"),
//! each a function of device tensors that records on the tape. The trainer weighs and
//! adds them.
//!
//! ```text
//! L_suff   = mean |y_hat - y| + lambda_plcc (1 - PLCC(y_hat, y))
//! L_rank   = sum_{(i,j) in P} relu(margin - (y_hat_i - y_hat_j)) / |P|,  i known better than j
//! L_srcc   = 1 - PLCC(softrank(y_hat), rank(y))                          (a differentiable Spearman)
//! L_spread = relu(floor Var(y) - Var(y_hat)) / Var(y)
//! L_inv    = mean (y_hat(x') - y_hat(x))^2 + mean ||c(x') - c(x)||^2 / C  (the clean side detached)
//! L_adv    = mean (h_n(n) - y)^2; the backbone maximises min(L_adv, Var(y))
//! ```

use crate::data::Sample;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::metrics::correlation::{average_ranks, variance_population};
use crate::ops::softrank::{Method, Regularization};
use crate::tensor::Tensor;
use std::sync::Arc;

/// Pairs (i, j) of a batch where image i is known to be better than image j: the
/// same photo under the same distortion at a lower level, or the photo's pristine
/// crop (level 0) against any of its distorted versions. Nothing else is certain:
/// across photos or distortions only the labels order images, and they are weak.
pub fn known_pairs(samples: &[&Sample]) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (i, a) in samples.iter().enumerate() {
        for (j, b) in samples.iter().enumerate() {
            if i != j && known_better(a, b) {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

fn known_better(a: &Sample, b: &Sample) -> bool {
    let (Some(ra), Some(rb)) = (&a.reference, &b.reference) else {
        return false;
    };
    let (Some(la), Some(lb)) = (a.level, b.level) else {
        return false;
    };
    if ra != rb || la >= lb {
        return false;
    }
    la == 0 || (a.distortion.is_some() && a.distortion == b.distortion)
}

/// A [B, B] weight matrix with 1 / |pairs| at each (i, j) of `pairs` (all zero when
/// there are none).
pub fn pair_weights(gpu: &Arc<Gpu>, b: usize, pairs: &[(usize, usize)]) -> Result<Tensor> {
    let mut w = vec![0.0f32; b * b];
    let each = 1.0 / pairs.len().max(1) as f32;
    for &(i, j) in pairs {
        w[i * b + j] = each;
    }
    Tensor::from_slice(gpu, &w, &[b, b])
}

/// L_rank: the mean over weighted pairs of relu(margin - (s_i - s_j)); `s` is [B],
/// `weights` from [`pair_weights`].
pub fn rank_margin(s: &Tensor, weights: &Tensor, margin: f32) -> Result<Tensor> {
    let b = s.dim(0);
    let d = s.reshape(&[b, 1])?.sub(&s.reshape(&[1, b])?)?;
    d.affine(-1.0, margin)?.relu()?.mul(weights)?.sum()
}

/// L_srcc: 1 - PLCC between the soft ranks of `s` ([B]; PAV with l2, `strength` on
/// the score scale) and `label_ranks` ([B], the labels' ranks, a constant).
pub fn soft_spearman(s: &Tensor, label_ranks: &Tensor, strength: f32) -> Result<Tensor> {
    let b = s.dim(0);
    let r = s
        .reshape(&[1, b])?
        .soft_rank(Method::Pav(Regularization::L2), strength)?;
    r.reshape(&[b])?.plcc_loss(label_ranks)
}

/// Population variance of a host vector (the labels' Var(y)).
pub fn variance(v: &[f32]) -> f32 {
    variance_population(&f64s(v)) as f32
}

/// Average ranks (1-based, ties sharing their mean rank) of host values, as the soft
/// Spearman's target.
pub fn label_ranks(v: &[f32]) -> Vec<f32> {
    average_ranks(&f64s(v)).into_iter().map(|r| r as f32).collect()
}

pub fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// The batch variance of `s` ([B]) as a scalar tensor.
pub fn batch_variance(s: &Tensor) -> Result<Tensor> {
    s.sub(&s.mean()?)?.square()?.mean()
}

/// L_spread: relu(floor * var_y - Var(s)) / var_y; 0 while the scores spread at least
/// `floor` times as much as the labels (in variance).
pub fn spread_floor(s: &Tensor, var_y: f32, floor: f32) -> Result<Tensor> {
    let v = var_y.max(1e-8);
    batch_variance(s)?.affine(-1.0 / v, floor)?.relu()
}

/// L_inv: mean (s' - s)^2 + mean over images of ||c' - c||^2 / C, with the clean side
/// (`s`, `c`) a fixed target.
pub fn invariance(s_int: &Tensor, s: &Tensor, c_int: &Tensor, c: &Tensor) -> Result<Tensor> {
    let score = s_int.sub(&s.detach())?.square()?.mean()?;
    let feat = c_int.sub(&c.detach())?.square()?.mean()?;
    score.add(&feat)
}

/// NT's penalty mean(dl^2) / 2 with dl = (s_shift - s) / h per image: the squared
/// finite-difference slope of the score along sign(df/dx), about ||df/dx||_1^2 / 2.
/// Both scores keep their gradients (the penalty flattens the model around x, as in
/// Liu et al. 2024, where neither side is detached).
pub fn finite_difference_penalty(s_shift: &Tensor, s: &Tensor, h: f32) -> Result<Tensor> {
    s_shift.sub(s)?.scale(1.0 / h)?.square()?.mean()?.scale(0.5)
}

/// min(l, cap) = cap - relu(cap - l), with l's gradient where l < cap and none above:
/// the backbone maximises the adversary's loss only up to what predicting the mean
/// gives, so the game cannot diverge.
pub fn capped(l: &Tensor, cap: f32) -> Result<Tensor> {
    l.affine(-1.0, cap)?.relu()?.affine(-1.0, cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(r: &str, d: &str, level: u32) -> Sample {
        Sample {
            reference: Some(r.into()),
            distortion: Some(d.into()),
            level: Some(level),
            ..Sample::new("x.png", 0.5)
        }
    }

    #[test]
    fn known_pairs_follow_levels_within_photo_and_distortion() {
        let s = [
            sample("a", "jpeg", 1),
            sample("a", "jpeg", 3),
            sample("a", "awgn", 2),
            sample("b", "jpeg", 2),
            sample("a", "pristine", 0),
        ];
        let refs: Vec<&Sample> = s.iter().collect();
        let pairs = known_pairs(&refs);
        assert_eq!(pairs, vec![(0, 1), (4, 0), (4, 1), (4, 2)]);
    }

    #[test]
    fn label_ranks_share_ties() {
        assert_eq!(label_ranks(&[0.3, 0.1, 0.3, 0.9]), vec![2.5, 1.0, 2.5, 4.0]);
    }
}
