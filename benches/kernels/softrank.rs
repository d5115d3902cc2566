//! PAV soft rank rows: every version, forward and forward + backward, over
//! B in {1, 64, 256, 2048} x n in {64, 256, 1024, 2048, 3136, 4096} (`--quick`: B = 256,
//! n in {256, 1024, 4096}). Each version is validated against the f64 reference first.
//!
//! Bytes per run (memory-bound op, no FLOP count): forward reads x and writes the ranks
//! and the saved permutation (12 B per element); forward + backward also reads g, the
//! permutation and the ranks and writes dx (28 B per element). The `ms` column is the
//! time of the whole sequence of dispatches; elements/s is printed in the variant name
//! column of the JSON line's shape (`B x n`), and as `Melem/s` below the table.

use cprl::Tensor;
use cprl::ops::softrank::pav::{self, PavVersion};
use cprl::ops::softrank::{Order, Regularization};
use cprl::reference::softrank::pav as r;

use crate::harness::{Case, Harness, Validation, check, rand};

/// Versions benchmarked (every concrete one).
fn versions() -> Vec<PavVersion> {
    PavVersion::ALL.to_vec()
}

pub fn bench(h: &mut Harness) {
    if !h.wants("softrank.pav") {
        return;
    }
    let (bs, ns): (&[usize], &[usize]) = if h.quick {
        (&[256], &[256, 1024, 4096])
    } else {
        (&[1, 64, 256, 2048], &[64, 256, 1024, 2048, 3136, 4096])
    };
    let reg = Regularization::L2;
    let strength = 1.0f32;
    let order = Order::Ascending;
    for &n in ns {
        for &b in bs {
            let gpu = h.gpu.clone();
            let xv = rand(11, b * n);
            let gv = rand(12, b * n);
            let x = Tensor::from_slice(&gpu, &xv, &[b, n]).unwrap();
            let g = Tensor::from_slice(&gpu, &gv, &[b, n]).unwrap();
            let x64: Vec<f64> = xv.iter().map(|&v| v as f64).collect();
            let g64: Vec<f64> = gv.iter().map(|&v| v as f64).collect();
            let want = r::soft_rank_pav_ref(&x64, b, n, reg, strength as f64, order);
            for v in versions() {
                if !v.supports(&gpu, n, reg) {
                    continue;
                }
                for with_backward in [false, true] {
                    let pass = if with_backward { "fwd+bwd" } else { "fwd" };
                    let case = Case {
                        op: if with_backward {
                            "softrank.pav.l2.fwd+bwd"
                        } else {
                            "softrank.pav.l2.fwd"
                        },
                        shape: format!("B={b} n={n}"),
                        variant: format!("{v:?}"),
                        flops: 0.0,
                        // fwd: x in, ranks and permutation out; bwd: g, perm, ranks in, dx out.
                        bytes: if with_backward { 28.0 } else { 12.0 } * (b * n) as f64,
                    };
                    let validate = || -> Validation {
                        let run = pav::run_version(&x, with_backward.then_some(&g), reg, strength, order, v)
                            .map_err(|e| e.to_string())?;
                        let ranks = run.ranks.to_vec().map_err(|e| e.to_string())?;
                        check(&ranks, &want.ranks, 2e-5 * (1.0 + n as f64 / 256.0), 1e-5)
                            .map_err(|e| format!("{pass} ranks: {e}"))?;
                        if let Some(dx) = &run.dx {
                            let perm = run.saved_perm().map_err(|e| e.to_string())?;
                            let dx_want = backward_on_saved(&perm, &ranks, &g64, b, n, reg, strength, order);
                            check(&dx.to_vec().map_err(|e| e.to_string())?, &dx_want, 1e-4, 1e-4)
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
                        || {
                            pav::run_version(&x, with_backward.then_some(&g), reg, strength, order, v)
                                .map(drop)
                        },
                        Some(&mut cpu),
                    );
                }
            }
        }
    }
}

/// The reference backward on the block structure the kernel saved (the backward is
/// discontinuous at near-ties of block values, which f32 may decide otherwise).
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
