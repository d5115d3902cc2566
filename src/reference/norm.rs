//! f64 reference of `ops::norm`.
//!
//! Shapes: x, y, g, dx [N, C, H, W] (or [N, C]: H = W = 1), row-major, passed with
//! `shape`; gamma, beta, running_mean, running_var, dgamma, dbeta [C]. Group norm:
//! groups G divides C; its saved mean and rstd are [N, G].

/// Splits [N, C, H, W] or [N, C] into (N, C, H * W).
pub fn ncs(shape: &[usize]) -> (usize, usize, usize) {
    assert!(
        shape.len() == 2 || shape.len() == 4,
        "norm reference takes [N, C] or [N, C, H, W], got {shape:?}"
    );
    (shape[0], shape[1], shape[2..].iter().product())
}

/// What the batch-norm forward saves for its backward.
#[derive(Debug, Clone)]
pub struct BatchNormSaved {
    /// The output (after the ReLU when fused): the ReLU backward reads its mask.
    pub y: Vec<f64>,
    /// Per channel: the statistics used to normalise (batch ones in training, running
    /// ones in eval); `var` is biased.
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub rstd: Vec<f64>,
}

/// Batch norm. Training: batch statistics (biased variance) normalise, and the
/// running statistics move by `momentum` towards the batch mean and the unbiased
/// batch variance (as torch). Eval: the running statistics normalise.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward_ref(
    x: &[f64],
    shape: &[usize],
    gamma: &[f64],
    beta: &[f64],
    running_mean: &mut [f64],
    running_var: &mut [f64],
    training: bool,
    eps: f64,
    momentum: f64,
    relu: bool,
) -> BatchNormSaved {
    let (n, c, s) = ncs(shape);
    let m = (n * s) as f64;
    let mut mean = vec![0.0; c];
    let mut var = vec![0.0; c];
    for ch in 0..c {
        if training {
            let mut sum = 0.0;
            for b in 0..n {
                for i in 0..s {
                    sum += x[(b * c + ch) * s + i];
                }
            }
            let mu = sum / m;
            let mut sq = 0.0;
            for b in 0..n {
                for i in 0..s {
                    let d = x[(b * c + ch) * s + i] - mu;
                    sq += d * d;
                }
            }
            mean[ch] = mu;
            var[ch] = sq / m;
            running_mean[ch] = (1.0 - momentum) * running_mean[ch] + momentum * mu;
            running_var[ch] = (1.0 - momentum) * running_var[ch] + momentum * sq / (m - 1.0);
        } else {
            mean[ch] = running_mean[ch];
            var[ch] = running_var[ch];
        }
    }
    let rstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let mut y = vec![0.0; x.len()];
    for b in 0..n {
        for ch in 0..c {
            for i in 0..s {
                let k = (b * c + ch) * s + i;
                // y = gamma * (x - mean) * rstd + beta, then max(y, 0) when fused
                let v = gamma[ch] * (x[k] - mean[ch]) * rstd[ch] + beta[ch];
                y[k] = if relu { v.max(0.0) } else { v };
            }
        }
    }
    BatchNormSaved { y, mean, var, rstd }
}

/// Backward of `batch_norm_forward_ref`: `dx`, `dgamma`, `dbeta` += the gradients of
/// `sum(g * y)`. In training the statistics depend on x, and the full backward
/// through them is taken; in eval they are constants. With the ReLU fused, g passes
/// where `saved.y > 0` (torch's choice at 0).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward_ref(
    x: &[f64],
    shape: &[usize],
    gamma: &[f64],
    saved: &BatchNormSaved,
    training: bool,
    relu: bool,
    g: &[f64],
    dx: &mut [f64],
    dgamma: &mut [f64],
    dbeta: &mut [f64],
) {
    let (n, c, s) = ncs(shape);
    let m = (n * s) as f64;
    // y = max(u, 0): du = g where y > 0
    let du = |k: usize| if relu && saved.y[k] <= 0.0 { 0.0 } else { g[k] };
    for ch in 0..c {
        let (mu, r) = (saved.mean[ch], saved.rstd[ch]);
        // u = gamma * xhat + beta: dgamma = sum du * xhat, dbeta = sum du
        let mut s1 = 0.0;
        let mut s2 = 0.0;
        for b in 0..n {
            for i in 0..s {
                let k = (b * c + ch) * s + i;
                s1 += du(k);
                s2 += du(k) * (x[k] - mu) * r;
            }
        }
        dbeta[ch] += s1;
        dgamma[ch] += s2;
        for b in 0..n {
            for i in 0..s {
                let k = (b * c + ch) * s + i;
                let xhat = (x[k] - mu) * r;
                // xhat = (x - mean) * rstd, with mean and rstd functions of x in training:
                // dx = gamma * rstd * (du - mean(du) - xhat * mean(du * xhat))
                dx[k] += if training {
                    gamma[ch] * r * (du(k) - s1 / m - xhat * s2 / m)
                } else {
                    gamma[ch] * r * du(k)
                };
            }
        }
    }
}

/// What the group-norm forward saves: the output, and the mean and rstd per (n, group).
#[derive(Debug, Clone)]
pub struct GroupNormSaved {
    pub y: Vec<f64>,
    pub mean: Vec<f64>,
    pub rstd: Vec<f64>,
}

/// Group norm: each sample's channels split into `groups` groups of C / G channels;
/// each group is normalised by its own mean and biased variance, then scaled and
/// shifted per channel.
pub fn group_norm_forward_ref(
    x: &[f64],
    shape: &[usize],
    groups: usize,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> GroupNormSaved {
    let (n, c, s) = ncs(shape);
    assert!(c % groups == 0, "groups {groups} must divide C = {c}");
    let cg = c / groups;
    let len = cg * s;
    let mut mean = vec![0.0; n * groups];
    let mut rstd = vec![0.0; n * groups];
    let mut y = vec![0.0; x.len()];
    for set in 0..n * groups {
        // The group's elements are contiguous: channels set*cg .. (set+1)*cg of sample set/G.
        let block = &x[set * len..(set + 1) * len];
        let mu = block.iter().sum::<f64>() / len as f64;
        let var = block.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / len as f64;
        let r = 1.0 / (var + eps).sqrt();
        mean[set] = mu;
        rstd[set] = r;
        for (j, &v) in block.iter().enumerate() {
            let ch = (set % groups) * cg + j / s;
            // y = gamma * (x - mean) * rstd + beta
            y[set * len + j] = gamma[ch] * (v - mu) * r + beta[ch];
        }
    }
    GroupNormSaved { y, mean, rstd }
}

/// Backward of `group_norm_forward_ref` (through the group statistics).
#[allow(clippy::too_many_arguments)]
pub fn group_norm_backward_ref(
    x: &[f64],
    shape: &[usize],
    groups: usize,
    gamma: &[f64],
    saved: &GroupNormSaved,
    g: &[f64],
    dx: &mut [f64],
    dgamma: &mut [f64],
    dbeta: &mut [f64],
) {
    let (n, c, s) = ncs(shape);
    let cg = c / groups;
    let len = cg * s;
    for set in 0..n * groups {
        let (mu, r) = (saved.mean[set], saved.rstd[set]);
        let ch = |j: usize| (set % groups) * cg + j / s;
        // y = gamma_c * xhat + beta_c: h = dL/dxhat = gamma_c * g
        let mut t1 = 0.0;
        let mut t2 = 0.0;
        for j in 0..len {
            let k = set * len + j;
            let xhat = (x[k] - mu) * r;
            let h = gamma[ch(j)] * g[k];
            t1 += h;
            t2 += h * xhat;
            dgamma[ch(j)] += g[k] * xhat;
            dbeta[ch(j)] += g[k];
        }
        for j in 0..len {
            let k = set * len + j;
            let xhat = (x[k] - mu) * r;
            // xhat = (x - mean) * rstd over the group: dx = rstd * (h - mean(h) - xhat * mean(h * xhat))
            dx[k] += r * (gamma[ch(j)] * g[k] - t1 / len as f64 - xhat * t2 / len as f64);
        }
    }
}

/// Tolerances of the f32 kernels against this reference, used by the tests and the
/// benchmark alike.
pub mod tolerance {
    use crate::reference::Tolerance;

    /// y: f32 statistics over up to 401,408 values (partials combined pairwise-ish),
    /// then one fma; |y| <= ~4.
    pub const Y: Tolerance = Tolerance::new(2e-5, 1e-4);
    /// dx: per-channel sums over m values divided by m, plus one rounding per term.
    pub const DX: Tolerance = Tolerance::new(2e-5, 1e-4);

    /// dgamma and dbeta: sums of `m` terms of size ~1 in f32, 4 m ulps of 6e-8 with a
    /// floor of 1e-5.
    pub fn sum(m: usize) -> Tolerance {
        Tolerance::new((4.0 * m as f64 * 6e-8).max(1e-5), 1e-4)
    }
}
