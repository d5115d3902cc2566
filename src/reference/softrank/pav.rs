//! f64 reference of `ops::softrank::pav`: soft ranks by projection onto the
//! permutahedron (Blondel et al. 2020, "Fast Differentiable Sorting and Ranking"),
//! the operator of torchsort 0.1.10 and google-research fast-soft-sort.
//!
//! Shapes: `x` is [b, n] row-major; every row is ranked on its own.
//!
//! Per row, with `scale = sign / strength` (sign -1 for descending ranks):
//! 1. `theta = x * scale`; sort it in decreasing order: `s[k] = theta[perm[k]]`.
//! 2. The rank vector `w = (n, n-1, .., 1)`. Solve the decreasing isotonic problem by
//!    pool-adjacent-violators: blocks of consecutive sorted positions, each with one
//!    dual value `v_B`, strictly decreasing from block to block.
//!    - l2: `v_B = mean_B(s - w)`; soft rank `r[perm[k]] = s[k] - v_B`.
//!    - kl: `v_B = logsumexp_B(s) - log(sum_B w)`; `r[perm[k]] = exp(s[k] - v_B)`,
//!      i.e. `sum_B(w) * softmax_B(s)[k]`.
//! 3. Backward (vector-Jacobian product for a cotangent `g` of the ranks):
//!    - l2: `dtheta_i = g_i - mean_{B(i)} g`;
//!    - kl: with `u = g * r`: `dtheta_i = u_i - r_i / sum_B(w) * sum_{B(i)} u`;
//!    - `dx = dtheta * scale`.
//!
//! Ties in x always fall into one block (`s[k] = s[k+1]` makes `k, k+1` violators), so
//! the order in which the sort puts tied values does not change any result.

use crate::ops::softrank::{Order, Regularization};

/// What the forward of one row saves for its backward.
#[derive(Debug, Clone, PartialEq)]
pub struct PavRow {
    /// `perm[k]`: the index (within the row) of the k-th largest scaled value.
    pub perm: Vec<usize>,
    /// Sorted position where each block starts, in increasing order (`starts[0] == 0`).
    pub starts: Vec<usize>,
    /// The dual value `v_B` of each block.
    pub values: Vec<f64>,
}

impl PavRow {
    /// The sorted-position range of block `j`.
    pub fn block(&self, j: usize) -> std::ops::Range<usize> {
        let end = self.starts.get(j + 1).copied().unwrap_or(self.perm.len());
        self.starts[j]..end
    }
}

/// The forward result: soft ranks [b, n] and, per row, what the backward needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PavForward {
    pub ranks: Vec<f64>,
    pub rows: Vec<PavRow>,
}

/// `sign / strength`: the factor applied to x before the projection.
pub fn scale_of(strength: f64, order: Order) -> f64 {
    match order {
        Order::Ascending => 1.0 / strength,
        Order::Descending => -1.0 / strength,
    }
}

/// Sum of the rank vector `w_k = n - k` over sorted positions `[a, e)`.
pub fn w_sum(n: usize, a: usize, e: usize) -> f64 {
    let len = (e - a) as f64;
    len * (n as f64) - (a + e - 1) as f64 * len / 2.0
}

/// Soft ranks of each row of `x` ([b, n]).
pub fn soft_rank_pav_ref(
    x: &[f64],
    b: usize,
    n: usize,
    reg: Regularization,
    strength: f64,
    order: Order,
) -> PavForward {
    assert_eq!(x.len(), b * n, "x is not [{b}, {n}]");
    let scale = scale_of(strength, order);
    let mut ranks = vec![0.0; b * n];
    let mut rows = Vec::with_capacity(b);
    for (row_x, row_r) in x.chunks(n.max(1)).zip(ranks.chunks_mut(n.max(1))).take(b) {
        let theta: Vec<f64> = row_x.iter().map(|&v| v * scale).collect();
        let mut perm: Vec<usize> = (0..n).collect();
        // Decreasing order; ties in any order (they end up in one block).
        perm.sort_by(|&i, &j| theta[j].total_cmp(&theta[i]));
        let s: Vec<f64> = perm.iter().map(|&i| theta[i]).collect();
        let (starts, values) = isotonic(&s, n, reg);
        let row = PavRow { perm, starts, values };
        for j in 0..row.starts.len() {
            let v = row.values[j];
            for k in row.block(j) {
                row_r[row.perm[k]] = match reg {
                    Regularization::L2 => s[k] - v,
                    Regularization::Kl => (s[k] - v).exp(),
                };
            }
        }
        rows.push(row);
    }
    PavForward { ranks, rows }
}

/// Decreasing isotonic regression of the sorted scores `s` against `w = (n, .., 1)`
/// by pool-adjacent-violators with a stack of blocks. Returns block starts and values.
fn isotonic(s: &[f64], n: usize, reg: Regularization) -> (Vec<usize>, Vec<f64>) {
    // One stack entry per block: start, and the sufficient statistics of its value.
    // l2: sum of s (the sum of w has a closed form). kl: logsumexp of s.
    let mut starts: Vec<usize> = Vec::with_capacity(n);
    let mut stat: Vec<f64> = Vec::with_capacity(n);
    let value = |start: usize, end: usize, stat: f64| -> f64 {
        let len = (end - start) as f64;
        match reg {
            Regularization::L2 => (stat - w_sum(n, start, end)) / len,
            Regularization::Kl => stat - w_sum(n, start, end).ln(),
        }
    };
    for (k, &sk) in s.iter().enumerate() {
        starts.push(k);
        stat.push(sk);
        // Pool while the block below does not stay strictly above the top block.
        while starts.len() >= 2 {
            let t = starts.len() - 1;
            let v_top = value(starts[t], k + 1, stat[t]);
            let v_below = value(starts[t - 1], starts[t], stat[t - 1]);
            if v_below > v_top {
                break;
            }
            let top = stat.pop().expect("two blocks");
            starts.pop();
            let below = stat.last_mut().expect("one block left");
            *below = match reg {
                Regularization::L2 => *below + top,
                Regularization::Kl => log_add_exp(*below, top),
            };
        }
    }
    let values = (0..starts.len())
        .map(|j| {
            let end = starts.get(j + 1).copied().unwrap_or(n);
            value(starts[j], end, stat[j])
        })
        .collect();
    (starts, values)
}

fn log_add_exp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// Backward: `dx += d(sum(ranks * g)) / dx` for the forward `fwd` of
/// `soft_rank_pav_ref(x, b, n, reg, strength, order)`.
pub fn soft_rank_pav_backward_ref(
    fwd: &PavForward,
    g: &[f64],
    n: usize,
    reg: Regularization,
    strength: f64,
    order: Order,
    dx: &mut [f64],
) {
    let scale = scale_of(strength, order);
    for (r, row) in fwd.rows.iter().enumerate() {
        let off = r * n;
        for j in 0..row.starts.len() {
            let blk = row.block(j);
            match reg {
                // r[perm[k]] = s[k] - mean_B(s - w)  =>  dtheta_i = g_i - mean_B(g)
                Regularization::L2 => {
                    let mean = blk.clone().map(|k| g[off + row.perm[k]]).sum::<f64>() / blk.len() as f64;
                    for k in blk {
                        let i = off + row.perm[k];
                        dx[i] += (g[i] - mean) * scale;
                    }
                }
                // r[perm[k]] = sum_B(w) softmax_B(s)[k]  =>  with u = g r:
                // dtheta_i = u_i - r_i / sum_B(w) * sum_B(u)
                Regularization::Kl => {
                    let wsum = w_sum(n, blk.start, blk.end);
                    let usum: f64 = blk
                        .clone()
                        .map(|k| {
                            let i = off + row.perm[k];
                            g[i] * fwd.ranks[i]
                        })
                        .sum();
                    for k in blk {
                        let i = off + row.perm[k];
                        let ri = fwd.ranks[i];
                        dx[i] += (g[i] * ri - ri / wsum * usum) * scale;
                    }
                }
            }
        }
    }
}

/// Hard ranks of each row (1 for the smallest value when ascending; ties get the
/// mean of their positions), the limit of the soft ranks as strength -> 0.
pub fn hard_rank_ref(x: &[f64], b: usize, n: usize, order: Order) -> Vec<f64> {
    let mut out = vec![0.0; b * n];
    for r in 0..b {
        let row = &x[r * n..(r + 1) * n];
        let key = |i: usize| match order {
            Order::Ascending => row[i],
            Order::Descending => -row[i],
        };
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by(|&i, &j| key(i).total_cmp(&key(j)));
        let mut k = 0;
        while k < n {
            let mut e = k + 1;
            while e < n && key(idx[e]) == key(idx[k]) {
                e += 1;
            }
            let mean = (k + 1 + e) as f64 / 2.0;
            for &i in &idx[k..e] {
                out[r * n + i] = mean;
            }
            k = e;
        }
    }
    out
}

/// How closely the f32 kernels must match this reference: one set of rules, used by
/// the tests (`tests/softrank_pav.rs`) and the benchmark's validation alike.
pub mod tolerance {
    use crate::reference::Tolerance;
    use crate::reference::tolerance::magnitude;

    /// The tolerance of the ranks of rows of `n` whose scaled keys
    /// |x / strength| reach `spread`. l2 ranks are s - v with v a mean of up to n keys
    /// and w values of size n, so rounding grows with n (2e-5 (1 + n / 256)) and with
    /// the keys' size (absolute, ~4 eps each); kl takes exponentials of key differences,
    /// whose f32 rounding is relative and grows with the keys (measured 4e-5 at keys
    /// of 2048: 1e-7 per unit of spread).
    pub fn ranks(n: usize, spread: f64) -> Tolerance {
        Tolerance::new(
            2e-5 * (1.0 + n as f64 / 256.0) + 4e-6 * spread,
            1e-5 + 1e-7 * spread,
        )
    }

    /// The tolerance of dx against the reference backward run on the
    /// block structure the kernel saved, for |g| <= 1. dx = scale (g - block mean) for
    /// l2; for kl dx_i = r_i (g_i - sum_B(g r) / sum_B(w)), a difference of two terms
    /// as large as the ranks that can cancel, so the absolute part scales with the
    /// largest |dx| (at least 1), not with the element.
    pub fn backward(want: &[f64]) -> Tolerance {
        Tolerance::new(2e-5 * magnitude(want), 1e-4)
    }
}
