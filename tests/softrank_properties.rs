//! Properties every soft-rank method must have, checked on the GPU through the public
//! entry `soft_rank`, as a table over methods. A method whose function still returns the
//! "not implemented yet" error is skipped, and the skip is printed.

mod common;

use common::*;
use cprl::Tensor;
use cprl::autograd;
use cprl::ops::softrank::{Method, NetworkKind, Order, Regularization, Relaxation, soft_rank_ordered};

/// A method under test and what it promises beyond the common properties.
struct Case {
    method: Method,
    /// Descending ranks are n + 1 minus ascending ones (the method treats x and -x alike;
    /// true of l2 projections and of symmetric sigmoids, not of the kl projection).
    mirrored: bool,
    /// Permuting a row permutes its ranks alike at any strength. Relaxed sorting
    /// networks are equivariant only in the hard limit: a swap's output depends on
    /// which wires the values enter.
    equivariant: bool,
    /// Exact ties get the mean of their hard ranks in the limit. A relaxed network mixes
    /// a tied pair half and half at each comparator it meets, which does not average a
    /// tie group evenly.
    averages_ties: bool,
}

const CASES: &[Case] = &[
    Case {
        method: Method::Pav(Regularization::L2),
        mirrored: true,
        equivariant: true,
        averages_ties: true,
    },
    Case {
        method: Method::Pav(Regularization::Kl),
        mirrored: false,
        equivariant: true,
        averages_ties: true,
    },
    Case {
        method: Method::Pairwise,
        mirrored: true,
        equivariant: true,
        averages_ties: true,
    },
    Case {
        method: Method::Network {
            kind: NetworkKind::OddEven,
            relaxation: Relaxation::Logistic,
        },
        mirrored: false,
        equivariant: false,
        averages_ties: false,
    },
    Case {
        method: Method::Network {
            kind: NetworkKind::Bitonic,
            relaxation: Relaxation::Cauchy,
        },
        mirrored: true,
        equivariant: false,
        averages_ties: false,
    },
];

/// Row lengths: powers of two, which every method accepts.
const NS: &[usize] = &[16, 64];
const B: usize = 3;

/// Soft ranks of `x` ([B, n]), or None (printed) when the method is not written yet.
fn ranks(method: Method, x: &[f32], n: usize, strength: f32, order: Order) -> Option<Vec<f32>> {
    let gpu = gpu();
    let t = Tensor::from_slice(&gpu, x, &[x.len() / n, n]).unwrap();
    match soft_rank_ordered(&t, method, strength, order) {
        Ok(r) => Some(r.to_vec().unwrap()),
        Err(e) if e.to_string().contains("not implemented yet") => {
            println!("{method:?}: skipped ({e})");
            None
        }
        Err(e) => panic!("{method:?} n={n}: {e}"),
    }
}

/// f32 tolerance of ranks of rows of n: sums of n terms of size up to n.
fn tol(n: usize) -> f64 {
    1e-5 * (n * n) as f64 / 16.0 + 1e-5
}

fn f64v(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

#[test]
fn soft_ranks_are_permutation_equivariant() {
    // r(x o pi) = r(x) o pi for a permutation pi of each row.
    for (ci, case) in CASES.iter().enumerate().filter(|(_, c)| c.equivariant) {
        for &n in NS {
            let x = rand_vec(10 + ci as u64, B * n);
            let Some(r) = ranks(case.method, &x, n, 0.3, Order::Ascending) else {
                break;
            };
            // pi: a rotation by 5 and a reflection of each row (distinct for n >= 16).
            let pi: Vec<usize> = (0..n).map(|i| (n - 1 - (i + 5) % n) % n).collect();
            let xp: Vec<f32> = (0..B * n).map(|k| x[(k / n) * n + pi[k % n]]).collect();
            let want: Vec<f64> = (0..B * n).map(|k| r[(k / n) * n + pi[k % n]] as f64).collect();
            let rp = ranks(case.method, &xp, n, 0.3, Order::Ascending).unwrap();
            assert_close(
                &format!("{:?} n={n} permuted", case.method),
                &rp,
                &want,
                tol(n),
                1e-5,
            );
        }
    }
}

#[test]
fn soft_ranks_ignore_a_constant_added_to_a_row() {
    for (ci, case) in CASES.iter().enumerate() {
        for &n in NS {
            let x = rand_vec(20 + ci as u64, B * n);
            let Some(r) = ranks(case.method, &x, n, 0.3, Order::Ascending) else {
                break;
            };
            let shifted: Vec<f32> = x.iter().map(|v| v + 0.75).collect();
            let rs = ranks(case.method, &shifted, n, 0.3, Order::Ascending).unwrap();
            // x + 0.75 rounds differently in f32: a few ulps of x / strength more.
            assert_close(
                &format!("{:?} n={n} shifted", case.method),
                &rs,
                &f64v(&r),
                tol(n) + 1e-4,
                1e-5,
            );
        }
    }
}

#[test]
fn soft_ranks_sum_to_n_n_plus_1_over_2() {
    for (ci, case) in CASES.iter().enumerate() {
        for &n in NS {
            for order in [Order::Ascending, Order::Descending] {
                let x = rand_vec(30 + ci as u64, B * n);
                let Some(r) = ranks(case.method, &x, n, 0.3, order) else {
                    break;
                };
                let sums: Vec<f32> = r.chunks(n).map(|row| row.iter().sum()).collect();
                let want = vec![(n * (n + 1)) as f64 / 2.0; B];
                assert_close(
                    &format!("{:?} n={n} {order:?} row sums", case.method),
                    &sums,
                    &want,
                    tol(n) * n as f64,
                    1e-5,
                );
            }
        }
    }
}

#[test]
fn descending_ranks_mirror_ascending_ones() {
    for (ci, case) in CASES.iter().enumerate().filter(|(_, c)| c.mirrored) {
        for &n in NS {
            let x = rand_vec(40 + ci as u64, B * n);
            let Some(up) = ranks(case.method, &x, n, 0.3, Order::Ascending) else {
                break;
            };
            let down = ranks(case.method, &x, n, 0.3, Order::Descending).unwrap();
            let want: Vec<f64> = up.iter().map(|&r| (n + 1) as f64 - r as f64).collect();
            assert_close(
                &format!("{:?} n={n} descending", case.method),
                &down,
                &want,
                tol(n),
                1e-5,
            );
        }
    }
}

#[test]
fn soft_ranks_tend_to_hard_ranks_as_strength_goes_to_0() {
    // Rows of distinct values 1/n apart, shuffled, and a row with ties (hard rank: the
    // mean of the tied positions). The largest error must shrink with the strength and
    // end below 0.05 (slowly converging relaxations such as Cauchy's included).
    for case in CASES {
        for &n in NS {
            let mut x = Vec::with_capacity(B * n);
            for r in 0..B {
                x.extend((0..n).map(|i| ((i * 7 + r * 3) % n) as f32 / n as f32));
            }
            if case.averages_ties {
                for v in &mut x[(B - 1) * n..] {
                    *v = (*v * 4.0).floor() / 4.0;
                }
            }
            for order in [Order::Ascending, Order::Descending] {
                let hard = cprl::reference::softrank::pav::hard_rank_ref(&f64v(&x), B, n, order);
                let mut errs = Vec::new();
                for strength in [1e-2f32, 1e-4, 1e-6] {
                    let Some(r) = ranks(case.method, &x, n, strength, order) else {
                        break;
                    };
                    errs.push(
                        r.iter()
                            .zip(&hard)
                            .map(|(&a, &b)| (a as f64 - b).abs())
                            .fold(0.0, f64::max),
                    );
                }
                if errs.is_empty() {
                    break;
                }
                let what = format!(
                    "{:?} n={n} {order:?}: max errors {errs:?} at strengths 1e-2, 1e-4, 1e-6",
                    case.method
                );
                assert!(
                    errs.windows(2).all(|w| w[1] <= w[0] + 1e-3),
                    "{what}: not shrinking"
                );
                assert!(*errs.last().unwrap() < 0.05, "{what}: not hard at the end");
            }
        }
    }
}

#[test]
fn gradient_of_the_sum_of_ranks_is_zero() {
    // The sum of the ranks is n (n + 1) / 2 whatever x is, so its gradient vanishes.
    let gpu = gpu();
    for (ci, case) in CASES.iter().enumerate() {
        for &n in NS {
            let xv = rand_vec(50 + ci as u64, B * n);
            let x = Tensor::from_slice(&gpu, &xv, &[B, n]).unwrap().requires_grad_();
            let y = match soft_rank_ordered(&x, case.method, 0.3, Order::Ascending) {
                Ok(y) => y,
                Err(e) if e.to_string().contains("not implemented yet") => {
                    println!("{:?}: skipped ({e})", case.method);
                    break;
                }
                Err(e) => panic!("{:?}: {e}", case.method),
            };
            let ones = Tensor::ones(&gpu, &[B, n]).unwrap();
            let grads = autograd::backward_with(&y, &ones).unwrap();
            // dx = (1 - block mean of 1) / strength and the like: rounding of n terms.
            assert_tensor(
                &format!("{:?} n={n} d(sum)/dx", case.method),
                grads.of(&x).unwrap(),
                &vec![0.0; B * n],
                1e-4 * n as f64,
                0.0,
            );
        }
    }
}
