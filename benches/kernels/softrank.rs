//! PAV soft rank rows: every version, forward and forward + backward, l2, strength 1,
//! over B in {1, 64, 256, 2048} x n in {64, 256, 1024, 2048, 3136, 4096} (`--quick`:
//! B = 256, n in {256, 1024, 4096}), and kl at B = 256, n in {256, 1024, 4096} (the
//! rows `tools/peers/bench.py` times torchsort on). Each version is validated against the f64
//! reference first (ranks; dx against the reference backward on the block structure
//! the kernel saved, since f32 and f64 may split a near-tie of block values differently).
//!
//! Bytes per run (the op is memory-bound, so no FLOP count): the forward reads x and
//! writes the ranks and the saved permutation (12 B per element); forward + backward
//! also reads g, the permutation and the ranks and writes dx (28 B per element).
//! Elements per second: B n / time (the Gelem/s column, `elems_per_s` in JSON).
//! The naive v1, and v3 on CPU drivers, run only where B n <= 2^18 (elsewhere one
//! row takes seconds).

use cprl::Tensor;
use cprl::ops::softrank::pav::{self, PavVersion};
use cprl::ops::softrank::{Order, Regularization};
use cprl::reference::softrank::pav as r;

use crate::harness::{Case, Harness, Validation, check, rand};

pub fn bench(h: &mut Harness) {
    // Rows are named softrank.pav.{l2,kl}.{fwd,fwd+bwd}: a filter may name either.
    let (l2, kl) = (h.wants("softrank.pav.l2"), h.wants("softrank.pav.kl"));
    if !(l2 || kl) {
        return;
    }
    let (bs, ns): (&[usize], &[usize]) = if h.quick {
        (&[256], &[256, 1024, 4096])
    } else {
        (&[1, 64, 256, 2048], &[64, 256, 1024, 2048, 3136, 4096])
    };
    for &n in ns.iter().filter(|_| l2) {
        for &b in bs {
            for wide in [false, true] {
                rows(h, b, n, wide, Regularization::L2);
            }
        }
    }
    for n in [256, 1024, 4096].into_iter().filter(|_| kl) {
        for wide in [false, true] {
            rows(h, 256, n, wide, Regularization::Kl);
        }
    }
}

/// One (B, n) of every version. Values in [-1, 1) pool each row into one block at
/// strength 1 (the sort order then barely matters to the result); `wide` spreads them
/// over [-n/2, n/2), where blocks are short and every phase of the kernels does work.
fn rows(h: &mut Harness, b: usize, n: usize, wide: bool, reg: Regularization) {
    let strength = 1.0f32;
    let order = Order::Ascending;
    let gpu = h.gpu.clone();
    let spread = if wide { n as f32 / 2.0 } else { 1.0 };
    let xv: Vec<f32> = rand(11, b * n).into_iter().map(|v| v * spread).collect();
    let gv = rand(12, b * n);
    let x = Tensor::from_slice(&gpu, &xv, &[b, n]).unwrap();
    let g = Tensor::from_slice(&gpu, &gv, &[b, n]).unwrap();
    let x64: Vec<f64> = xv.iter().map(|&v| v as f64).collect();
    let g64: Vec<f64> = gv.iter().map(|&v| v as f64).collect();
    let want = r::soft_rank_pav_ref(&x64, b, n, reg, strength as f64, order);
    for v in PavVersion::ALL {
        let slow_here = v == PavVersion::V1 || (matches!(v, PavVersion::V3 | PavVersion::V4) && gpu.is_cpu());
        if !v.supports(&gpu, n, reg) || (slow_here && b * n > 1 << 18) {
            continue;
        }
        for with_backward in [false, true] {
            let case = Case {
                op: match (reg, with_backward) {
                    (Regularization::L2, true) => "softrank.pav.l2.fwd+bwd",
                    (Regularization::L2, false) => "softrank.pav.l2.fwd",
                    (Regularization::Kl, true) => "softrank.pav.kl.fwd+bwd",
                    (Regularization::Kl, false) => "softrank.pav.kl.fwd",
                },
                shape: format!("B={b} n={n}{}", if wide { " wide" } else { "" }),
                variant: format!("{v:?}"),
                flops: 0.0,
                // fwd: x in, ranks and permutation out; bwd: g, perm, ranks in, dx out.
                bytes: if with_backward { 28.0 } else { 12.0 } * (b * n) as f64,
                elems: (b * n) as f64,
            };
            let validate = || -> Validation {
                let run = pav::run_version(&x, with_backward.then_some(&g), reg, strength, order, v)
                    .map_err(|e| e.to_string())?;
                let ranks = run.ranks.to_vec().map_err(|e| e.to_string())?;
                // The tests' tolerance: keys reach |x / strength| = spread.
                let tol = r::tolerance::ranks(n, f64::from(spread / strength));
                check(&ranks, &want.ranks, tol).map_err(|e| format!("ranks: {e}"))?;
                if let Some(dx) = &run.dx {
                    let perm = run.saved_perm().map_err(|e| e.to_string())?;
                    let dx_want = backward_on_saved(&perm, &ranks, &g64, b, n, reg, strength, order);
                    let tol = r::tolerance::backward(&dx_want);
                    check(&dx.to_vec().map_err(|e| e.to_string())?, &dx_want, tol)
                        .map_err(|e| format!("dx: {e}"))?;
                }
                Ok(())
            };
            let mut cpu = || {
                let f = r::soft_rank_pav_ref(&x64, b, n, reg, strength as f64, order);
                if with_backward {
                    let mut dx = vec![0.0; b * n];
                    r::soft_rank_pav_backward_ref(&f, &g64, n, reg, strength as f64, order, &mut dx);
                    std::hint::black_box(dx);
                }
                std::hint::black_box(f);
            };
            h.run(
                case,
                validate,
                || pav::run_version(&x, with_backward.then_some(&g), reg, strength, order, v).map(drop),
                Some(&mut cpu),
            );
        }
    }
}

/// The reference backward on the block structure the kernel saved.
#[allow(clippy::too_many_arguments)]
fn backward_on_saved(
    perm: &[u32],
    ranks: &[f32],
    g: &[f64],
    b: usize,
    n: usize,
    reg: Regularization,
    strength: f32,
    order: Order,
) -> Vec<f64> {
    let rows = perm
        .chunks(n)
        .map(|row| r::PavRow {
            perm: row.iter().map(|&e| (e & !pav::BLOCK_START) as usize).collect(),
            starts: (0..n).filter(|&k| row[k] & pav::BLOCK_START != 0).collect(),
            values: Vec::new(),
        })
        .collect();
    let fwd = r::PavForward {
        ranks: ranks.iter().map(|&v| v as f64).collect(),
        rows,
    };
    let mut dx = vec![0.0; b * n];
    r::soft_rank_pav_backward_ref(&fwd, g, n, reg, strength as f64, order, &mut dx);
    dx
}
