//! f64 reference of `ops::softrank::sort`: hard sort, argsort, top-k and hard ranks
//! along rows.
//!
//! Shapes: `x` is [rows, n]; a permutation is [rows, n] of indices into the row; top-k
//! outputs are [rows, k].
//!
//! Order: values compare by IEEE total order (`f64::total_cmp`: -0.0 before +0.0, NaNs
//! at the ends by sign); descending reverses that order. Ties (equal bits) keep their
//! input order in both directions: the lower index comes first (a stable sort).

use crate::ops::softrank::Order;
use std::cmp::Ordering;

fn cmp(a: f64, b: f64, order: Order) -> Ordering {
    match order {
        Order::Ascending => a.total_cmp(&b),
        Order::Descending => b.total_cmp(&a),
    }
}

/// Per row, the input indices in sorted order.
pub fn argsort_ref(x: &[f64], n: usize, order: Order) -> Vec<usize> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks(n.max(1)) {
        let mut idx: Vec<usize> = (0..row.len()).collect();
        idx.sort_by(|&i, &j| cmp(row[i], row[j], order).then(i.cmp(&j)));
        out.extend(idx);
    }
    out
}

/// (values, indices) of the first `k` of every sorted row: [rows, k] each.
pub fn top_k_ref(x: &[f64], n: usize, k: usize, order: Order) -> (Vec<f64>, Vec<usize>) {
    let perm = argsort_ref(x, n, order);
    let (mut vals, mut idx) = (Vec::new(), Vec::new());
    for (row, p) in x.chunks(n.max(1)).zip(perm.chunks(n.max(1))) {
        for &i in &p[..k] {
            vals.push(row[i]);
            idx.push(i);
        }
    }
    (vals, idx)
}

/// Hard ranks 1..n in the given order (ties by index, as the sort).
pub fn hard_rank_ref(x: &[f64], n: usize, order: Order) -> Vec<f64> {
    let perm = argsort_ref(x, n, order);
    let mut r = vec![0.0; x.len()];
    for (rr, p) in r.chunks_mut(n.max(1)).zip(perm.chunks(n.max(1))) {
        for (pos, &i) in p.iter().enumerate() {
            rr[i] = (pos + 1) as f64;
        }
    }
    r
}

/// Backward of the top-k (or sorted) values: `dx[idx[k]] += g[k]`, from the forward
/// line `vals[k] = x[idx[k]]`.
pub fn top_k_backward_ref(idx: &[usize], n: usize, k: usize, g: &[f64], dx: &mut [f64]) {
    for (row, (ir, gr)) in idx.chunks(k.max(1)).zip(g.chunks(k.max(1))).enumerate() {
        for (&i, &gv) in ir.iter().zip(gr) {
            dx[row * n + i] += gv;
        }
    }
}
