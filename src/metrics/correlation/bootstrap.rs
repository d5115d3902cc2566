//! A seeded percentile-bootstrap interval for SROCC.

use super::domain::{Metric, why_undefined};

/// Resamples of [`srocc_ci`] unless told otherwise.
pub const DEFAULT_RESAMPLES: usize = 1000;

/// The result of [`srocc_ci`]: a 95% interval and what it rests on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SroccInterval {
    /// The 2.5th and 97.5th percentiles of the resampled SROCCs; NaN where the
    /// interval is undefined.
    pub low: f64,
    pub high: f64,
    /// Resamples drawn.
    pub resamples: usize,
    /// Resamples whose SROCC was undefined (a constant side, likely only for small n)
    /// and were left out of the percentiles.
    pub undefined: usize,
}

impl SroccInterval {
    /// `(low, high)`, or `None` where undefined.
    pub fn interval(&self) -> Option<(f64, f64)> {
        (self.low.is_finite() && self.high.is_finite()).then_some((self.low, self.high))
    }
}

/// A 95% percentile-bootstrap interval for SROCC, deterministic for a given `seed`.
///
/// Method: draw `resamples` bootstrap samples, each n pairs `(pred[i], mos[i])` drawn
/// with replacement (pairs, not the two sides separately, so the dependence being
/// measured is kept); compute each sample's SROCC (duplicated pairs are ties and get
/// average ranks); the interval is the 2.5th and 97.5th percentiles of those values,
/// with numpy's default linear interpolation between order statistics. Samples whose
/// SROCC is undefined (every drawn `pred` or every drawn `mos` equal) are left out and
/// counted; if more than half are, the interval is NaN. The interval is the plain
/// percentile one, not BCa: simple to state and to reproduce, at the price of some
/// under-coverage for small n and for SROCC near ±1.
///
/// Indices come from SplitMix64 seeded with `seed`, so the interval depends only on
/// the inputs, `resamples` and `seed`. Each resample costs O(n), not O(n log n): the
/// inputs are sorted once and a resample's average ranks are read off that order.
/// NaN where SROCC itself is undefined, or for `resamples == 0`.
pub fn srocc_ci(pred: &[f64], mos: &[f64], resamples: usize, seed: u64) -> SroccInterval {
    let mut out = SroccInterval {
        low: f64::NAN,
        high: f64::NAN,
        resamples,
        undefined: 0,
    };
    if resamples == 0 || why_undefined(Metric::Srocc, pred, mos).is_some() {
        return out;
    }
    let (pred_groups, mos_groups) = (TieGroups::new(pred), TieGroups::new(mos));
    let mut rng = SplitMix64::new(seed);
    let mut counts = vec![0_u32; pred.len()];
    let (mut pred_ranks, mut mos_ranks) = (vec![0.0; pred.len()], vec![0.0; pred.len()]);
    let mut values = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        counts.fill(0);
        for _ in 0..pred.len() {
            counts[rng.below(pred.len())] += 1;
        }
        let spread = pred_groups
            .ranks(&counts, &mut pred_ranks)
            .min(mos_groups.ranks(&counts, &mut mos_ranks));
        if spread < 2 {
            out.undefined += 1;
        } else {
            values.push(weighted_rank_pearson(&counts, &pred_ranks, &mos_ranks));
        }
    }
    if 2 * values.len() < resamples {
        return out;
    }
    values.sort_by(f64::total_cmp);
    out.low = percentile(&values, 2.5);
    out.high = percentile(&values, 97.5);
    out
}

/// One side's values sorted once, as runs of equal values (indices into the side).
///
/// A bootstrap sample is a multiset of the original pairs: pair i drawn `counts[i]`
/// times. Its average ranks follow from the original order without sorting again:
/// walking the runs in order, a run whose members were drawn t times in all, after p
/// drawn values, spans ranks p+1..=p+t, so each of its members gets `p + (t + 1) / 2`.
/// That makes a resample O(n) instead of O(n log n).
struct TieGroups {
    order: Vec<usize>,
    runs: Vec<std::ops::Range<usize>>,
}

impl TieGroups {
    fn new(values: &[f64]) -> Self {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| {
            values[a]
                .partial_cmp(&values[b])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut runs = Vec::new();
        let mut start = 0;
        for k in 1..=order.len() {
            if k == order.len() || values[order[k]] != values[order[start]] {
                runs.push(start..k);
                start = k;
            }
        }
        TieGroups { order, runs }
    }

    /// Writes the resample's average rank of every drawn index into `ranks` (undrawn
    /// indices get a value that their zero weight ignores) and returns how many
    /// distinct values were drawn (fewer than 2: a constant side).
    fn ranks(&self, counts: &[u32], ranks: &mut [f64]) -> usize {
        let (mut before, mut distinct) = (0_u64, 0);
        for run in &self.runs {
            let members = &self.order[run.clone()];
            let drawn: u64 = members.iter().map(|&i| u64::from(counts[i])).sum();
            let rank = before as f64 + (drawn + 1) as f64 / 2.0;
            for &i in members {
                ranks[i] = rank;
            }
            before += drawn;
            distinct += usize::from(drawn > 0);
        }
        distinct
    }
}

/// Pearson's r of the resample's ranks, each original pair weighted by how often it
/// was drawn. The ranks of m values average (m + 1) / 2 exactly, on both sides.
fn weighted_rank_pearson(counts: &[u32], x: &[f64], y: &[f64]) -> f64 {
    let m: u32 = counts.iter().sum();
    let centre = (f64::from(m) + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for ((&c, &xi), &yi) in counts.iter().zip(x).zip(y) {
        let (c, dx, dy) = (f64::from(c), xi - centre, yi - centre);
        sxy += c * dx * dy;
        sxx += c * dx * dx;
        syy += c * dy * dy;
    }
    // The product is at most n^6 (no overflow below n = 1e50), and sqrt(s * s) == s
    // exactly, so identical rankings give exactly 1.
    (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0)
}

/// numpy's default percentile of sorted values: linear interpolation at position
/// `q / 100 (len - 1)`.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}

/// SplitMix64 (Steele, Lea and Flood 2014): a 64-bit state advanced by a constant and
/// hashed; small, fast, and good enough to draw bootstrap indices.
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` by the multiply-shift map `(u * n) >> 64`; its bias is
    /// below n / 2^64, far under anything a bootstrap can see.
    fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::correlation::rank::srocc_unchecked;

    /// The O(n) rank shortcut gives the SROCC of the explicitly resampled pairs.
    #[test]
    fn resample_srocc_equals_srocc_of_the_materialised_resample() {
        let pred = [0.3, 0.1, 0.4, 0.1, 0.5, 0.9, 0.2, 0.6, 0.5, 0.3];
        let mos = [2.0, 1.0, 3.0, 2.0, 3.0, 5.0, 1.0, 4.0, 4.0, 2.0];
        let (gp, gm) = (TieGroups::new(&pred), TieGroups::new(&mos));
        let mut rng = SplitMix64::new(11);
        for _ in 0..200 {
            let picks: Vec<usize> = (0..pred.len()).map(|_| rng.below(pred.len())).collect();
            let mut counts = vec![0; pred.len()];
            picks.iter().for_each(|&i| counts[i] += 1);
            let (mut rp, mut rm) = (vec![0.0; pred.len()], vec![0.0; pred.len()]);
            if gp.ranks(&counts, &mut rp).min(gm.ranks(&counts, &mut rm)) < 2 {
                continue;
            }
            let p: Vec<f64> = picks.iter().map(|&i| pred[i]).collect();
            let m: Vec<f64> = picks.iter().map(|&i| mos[i]).collect();
            let want = srocc_unchecked(&p, &m);
            let got = weighted_rank_pearson(&counts, &rp, &rm);
            assert!((got - want).abs() < 1e-14, "{got} vs {want} for {picks:?}");
        }
    }
}
