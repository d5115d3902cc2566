//! Hard sort, argsort, top-k and hard ranks against the f64 reference (exact), both
//! orders, ties, special values; the top-k values' backward.

mod common;

use common::*;
use cprl::Tensor;
use cprl::autograd;
use cprl::gpu::{LaunchOverride, with_launch_override};
use cprl::ops::softrank::Order;
use cprl::ops::softrank::sort::{MAX_N, argsort, hard_rank, sort, top_k};
use cprl::reference::softrank::sort as r;

/// (rows, n): size 1, 2, odd, many rows, the SortMask row, the largest benchmarked row,
/// a row past it, and the longest row supported (2^18: 171 layers of 4096 comparators
/// per lane, split over several dispatches under the loop cap).
const SHAPES: &[(usize, usize)] = &[
    (1, 1),
    (3, 2),
    (7, 37),
    (2048, 5),
    (4, 255),
    (2, 3136),
    (1, 4096),
    (3, 5000),
    (1, MAX_N),
];

/// Values in [-1, 1]; odd rows quantised to quarters (many ties).
fn input(salt: u64, rows: usize, n: usize) -> Vec<f32> {
    let mut v = rand_vec(salt, rows * n);
    for (k, x) in v.iter_mut().enumerate() {
        if (k / n.max(1)) % 2 == 1 {
            *x = (*x * 4.0).round() / 4.0;
        }
    }
    v
}

fn as_f64(v: &[usize]) -> Vec<f64> {
    v.iter().map(|&i| i as f64).collect()
}

// Sorting moves values, so every output is exact: tolerance 0.
#[test]
fn sort_forward_v1_matches_ref() {
    forward_matches_ref();
}

/// Both lane counts an adapter could pick: CPU drivers take 32 lanes a row (a barrier
/// costs per lane there), GPUs up to 256.
#[test]
fn sort_forward_v1_matches_ref_in_both_lane_choices() {
    for cpu in [true, false] {
        let o = LaunchOverride {
            cpu: Some(cpu),
            ..Default::default()
        };
        with_launch_override(o, forward_matches_ref);
    }
}

fn forward_matches_ref() {
    let gpu = gpu();
    for (k, &(rows, n)) in SHAPES.iter().enumerate() {
        for order in [Order::Ascending, Order::Descending] {
            let xv = input(k as u64, rows, n);
            let x64 = f64s(&xv);
            let x = Tensor::from_slice(&gpu, &xv, &[rows, n]).unwrap();
            let what = format!("[{rows}, {n}] {order:?}");
            let perm = r::argsort_ref(&x64, n, order);
            let s = sort(&x, order).unwrap();
            let vals: Vec<f64> = perm
                .iter()
                .enumerate()
                .map(|(e, &i)| x64[(e / n) * n + i])
                .collect();
            assert_tensor(&format!("sort values {what}"), &s.values, &vals, 0.0, 0.0);
            assert_tensor(
                &format!("sort indices {what}"),
                &s.indices,
                &as_f64(&perm),
                0.0,
                0.0,
            );
            assert_tensor(
                &format!("argsort {what}"),
                &argsort(&x, order).unwrap(),
                &as_f64(&perm),
                0.0,
                0.0,
            );
            assert_tensor(
                &format!("hard_rank {what}"),
                &hard_rank(&x, order).unwrap(),
                &r::hard_rank_ref(&x64, n, order),
                0.0,
                0.0,
            );
            for kk in [1, n / 2, n] {
                if kk == 0 {
                    continue;
                }
                let t = top_k(&x, kk, order).unwrap();
                assert_eq!(t.values.shape(), &[rows, kk]);
                let (tv, ti) = r::top_k_ref(&x64, n, kk, order);
                assert_tensor(&format!("top_k {kk} values {what}"), &t.values, &tv, 0.0, 0.0);
                assert_tensor(
                    &format!("top_k {kk} indices {what}"),
                    &t.indices,
                    &as_f64(&ti),
                    0.0,
                    0.0,
                );
            }
        }
    }
}

#[test]
fn sort_forward_v1_matches_ref_special_values() {
    // IEEE total order: -inf < -1 < -0 < +0 < 1e-30 < 1 < +inf < NaN; ties by index.
    let gpu = gpu();
    let xv = [
        1.0,
        f32::INFINITY,
        -0.0,
        0.0,
        f32::NEG_INFINITY,
        1.0,
        -1.0,
        1e-30,
        f32::NAN,
        -0.0,
        3.0e38,
    ];
    let n = xv.len();
    let x = Tensor::from_slice(&gpu, &xv, &[1, n]).unwrap();
    for order in [Order::Ascending, Order::Descending] {
        let perm = r::argsort_ref(&f64s(&xv), n, order);
        assert_tensor(
            &format!("argsort special {order:?}"),
            &argsort(&x, order).unwrap(),
            &as_f64(&perm),
            0.0,
            0.0,
        );
    }
    let up = argsort(&x, Order::Ascending).unwrap().to_vec().unwrap();
    assert_eq!(up, [4.0, 6.0, 2.0, 9.0, 3.0, 7.0, 0.0, 5.0, 10.0, 1.0, 8.0]);
}

#[test]
fn sort_forward_v1_matches_ref_hand_case() {
    // [3, 1, 2, 1]: ascending 1 (index 1), 1 (index 3), 2, 3; descending 3, 2, then the
    // two ones in input order (index 1 before 3): the sort is stable both ways.
    let gpu = gpu();
    let x = Tensor::from_slice(&gpu, &[3.0, 1.0, 2.0, 1.0], &[4]).unwrap();
    let up = sort(&x, Order::Ascending).unwrap();
    assert_eq!(up.values.to_vec().unwrap(), [1.0, 1.0, 2.0, 3.0]);
    assert_eq!(up.indices.to_vec().unwrap(), [1.0, 3.0, 2.0, 0.0]);
    let down = sort(&x, Order::Descending).unwrap();
    assert_eq!(down.values.to_vec().unwrap(), [3.0, 2.0, 1.0, 1.0]);
    assert_eq!(down.indices.to_vec().unwrap(), [0.0, 2.0, 1.0, 3.0]);
    assert_eq!(
        hard_rank(&x, Order::Ascending).unwrap().to_vec().unwrap(),
        [4.0, 1.0, 3.0, 2.0]
    );
}

#[test]
fn sort_backward_v1_matches_ref() {
    // vals[j] = x[idx[j]], so dx[idx[j]] += g[j] and zero elsewhere; any leading shape.
    let gpu = gpu();
    for (k, &(shape, kk)) in [
        (&[1usize, 1][..], 1usize),
        (&[2, 3, 37], 5),
        (&[4, 255], 255),
        (&[2, 3136], 100),
    ]
    .iter()
    .enumerate()
    {
        let n = *shape.last().unwrap();
        let rows = shape.iter().product::<usize>() / n;
        let xv = input(100 + k as u64, rows, n);
        let x = Tensor::from_slice(&gpu, &xv, shape).unwrap().requires_grad_();
        let t = top_k(&x, kk, Order::Descending).unwrap();
        let mut out_shape = shape.to_vec();
        *out_shape.last_mut().unwrap() = kk;
        assert_eq!(t.values.shape(), &out_shape[..]);
        let gv = rand_vec(200 + k as u64, rows * kk);
        let g = Tensor::from_slice(&gpu, &gv, &out_shape).unwrap();
        let grads = autograd::backward_with(&t.values, &g).unwrap();
        let (_, idx) = r::top_k_ref(&f64s(&xv), n, kk, Order::Descending);
        let mut dx = vec![0.0; rows * n];
        r::top_k_backward_ref(&idx, n, kk, &f64s(&gv), &mut dx);
        assert_tensor(
            &format!("top_k backward {shape:?} k={kk}"),
            grads.of(&x).unwrap(),
            &dx,
            0.0,
            0.0,
        );
    }
}

#[test]
fn sort_rejects_bad_arguments() {
    let gpu = gpu();
    let x = Tensor::zeros(&gpu, &[2, 3]).unwrap();
    let e = top_k(&x, 4, Order::Ascending).unwrap_err().to_string();
    assert!(e.contains("k = 4") && e.contains("[2, 3]"), "{e}");
    let s = Tensor::scalar(&gpu, 1.0).unwrap();
    assert!(sort(&s, Order::Ascending).is_err());
    let long = Tensor::zeros(&gpu, &[1, MAX_N + 1]).unwrap();
    let e = argsort(&long, Order::Ascending).unwrap_err().to_string();
    assert!(e.contains(&MAX_N.to_string()), "{e}");
}
