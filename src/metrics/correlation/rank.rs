//! Rank correlations: Spearman's SROCC and Kendall's tau-b (KROCC).

use std::cmp::Ordering;

use super::domain::{Metric, why_undefined};
use super::linear::pearson_unchecked;

/// Spearman's rank-order correlation (SROCC): Pearson's r of the ranks,
///
/// `srocc = plcc(rank(pred), rank(mos))`,
///
/// with tied values given the average of the ranks they span (`rankdata(method =
/// "average")`), which is what `scipy.stats.spearmanr` does. With ties the textbook
/// shortcut `1 - 6 sum(d^2) / (n (n^2 - 1))` is wrong, so it is not used.
/// NaN where [`why_undefined`]`(Metric::Srocc, ..)` gives a reason: n < 2, lengths that
/// differ, a non-finite value or a constant input. O(n log n).
pub fn srocc(pred: &[f64], mos: &[f64]) -> f64 {
    if why_undefined(Metric::Srocc, pred, mos).is_some() {
        return f64::NAN;
    }
    srocc_unchecked(pred, mos)
}

/// Kendall's tau-b (KROCC), with ties handled as `scipy.stats.kendalltau`
/// (`variant = "b"`, its default):
///
/// `tau_b = (P - Q) / (sqrt(n0 - n1) sqrt(n0 - n2))`
///
/// where P and Q count the concordant and discordant pairs, `n0 = n (n - 1) / 2`, and
/// `n1`, `n2` count the pairs tied in `pred` and in `mos` (a pair tied in both counts
/// in both and in neither P nor Q). Tau-b rather than tau-a because IQA data is full
/// of ties (MOS on a coarse scale, quantised predictions), and tau-b is what scipy
/// and pyiqa report. The result is clipped to [-1, 1] as scipy does.
///
/// O(n log n), by Knight's method (scipy's too): sort the pairs by (pred, mos), then
/// the discordant pairs are the inversions of `mos` in that order, counted by a merge
/// sort. NaN where [`why_undefined`]`(Metric::Krocc, ..)` gives a reason.
pub fn krocc(pred: &[f64], mos: &[f64]) -> f64 {
    if why_undefined(Metric::Krocc, pred, mos).is_some() {
        return f64::NAN;
    }
    kendall_tau_b_unchecked(pred, mos)
}

/// The rank of each value (1 for the smallest), tied values getting the average of
/// the ranks they span, as `scipy.stats.rankdata(method = "average")`.
///
/// Meant for finite values; a NaN does not panic but gets an arbitrary rank.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| cmp(x[a], x[b]));
    let mut ranks = vec![0.0; x.len()];
    for run in equal_runs(&order, |a, b| x[a] == x[b]) {
        // Positions start..end (0-based) hold ranks start+1..=end; their mean:
        let rank = (run.start + 1 + run.end) as f64 / 2.0;
        for &i in &order[run] {
            ranks[i] = rank;
        }
    }
    ranks
}

pub(crate) fn srocc_unchecked(pred: &[f64], mos: &[f64]) -> f64 {
    pearson_unchecked(&average_ranks(pred), &average_ranks(mos))
}

pub(crate) fn kendall_tau_b_unchecked(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as u64;
    let total = n * (n - 1) / 2;

    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| cmp(x[a], x[b]).then(cmp(y[a], y[b])));
    let x_ties = tied_pairs(&order, |a, b| x[a] == x[b]);
    let joint_ties = tied_pairs(&order, |a, b| x[a] == x[b] && y[a] == y[b]);

    // Within a run of equal x the y are ascending, so every inversion of y in this
    // order is a pair with x strictly ascending and y strictly descending.
    let mut ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();
    let discordant = sort_counting_inversions(&mut ys);
    let y_ties = tied_pairs(&ys, |a, b| a == b);

    // P - Q = total - x_ties - y_ties + joint_ties - 2 Q, as every pair is exactly one
    // of: concordant, discordant, tied in x only, tied in y only, tied in both.
    let p_minus_q =
        total as f64 - x_ties as f64 - y_ties as f64 + joint_ties as f64 - 2.0 * discordant as f64;
    let tau = p_minus_q / ((total - x_ties) as f64).sqrt() / ((total - y_ties) as f64).sqrt();
    tau.clamp(-1.0, 1.0)
}

/// Order for finite values; -0.0 and 0.0 compare equal, as they do in scipy.
fn cmp(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// The index ranges of maximal runs of neighbours that `same` says are equal.
fn equal_runs<T: Copy>(items: &[T], same: impl Fn(T, T) -> bool) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=items.len() {
        if i == items.len() || !same(items[start], items[i]) {
            runs.push(start..i);
            start = i;
        }
    }
    runs
}

/// Number of pairs inside the runs of equal neighbours: `sum t (t - 1) / 2`.
fn tied_pairs<T: Copy>(sorted: &[T], same: impl Fn(T, T) -> bool) -> u64 {
    equal_runs(sorted, same)
        .into_iter()
        .map(|r| {
            let t = r.len() as u64;
            t * (t - 1) / 2
        })
        .sum()
}

/// Sorts `v` ascending (stable bottom-up merge sort) and returns the number of
/// strict inversions, the pairs `i < j` with `v[i] > v[j]`; equal values are not
/// inversions because the merge takes from the left run on equality.
fn sort_counting_inversions(v: &mut [f64]) -> u64 {
    let mut buf = v.to_vec();
    let mut inversions = 0;
    let mut width = 1;
    while width < v.len() {
        for start in (0..v.len()).step_by(2 * width) {
            let mid = (start + width).min(v.len());
            let end = (start + 2 * width).min(v.len());
            inversions += merge_counting(&v[start..mid], &v[mid..end], &mut buf[start..end]);
        }
        v.copy_from_slice(&buf);
        width *= 2;
    }
    inversions
}

/// Merges two sorted runs into `out`; each element taken from `right` jumps over
/// the elements still waiting in `left`, all greater than it.
fn merge_counting(left: &[f64], right: &[f64], out: &mut [f64]) -> u64 {
    let (mut i, mut j, mut inversions) = (0, 0, 0);
    for slot in out.iter_mut() {
        if j == right.len() || (i < left.len() && left[i] <= right[j]) {
            *slot = left[i];
            i += 1;
        } else {
            *slot = right[j];
            j += 1;
            inversions += (left.len() - i) as u64;
        }
    }
    inversions
}
