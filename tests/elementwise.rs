//! Elementwise kernels against the f64 reference, and the reference backward
//! against finite differences.

#[macro_use]
mod common;

use common::*;
use cprl::autograd::{self, gradcheck::assert_grad};
use cprl::ops::elementwise::{self as ew, BinaryOp, BinaryVersion, Unary, UnaryOp};
use cprl::reference::elementwise as r;

/// (a shape, b shape): equal, size 1, odd, channel broadcast, scalar, large.
const BINARY_SHAPES: &[(&[usize], &[usize])] = &[
    (&[1], &[1]),
    (&[7], &[7]),
    (&[2, 3, 5, 7], &[1, 3, 1, 1]),
    (&[3, 1, 4], &[2, 1]),
    (&[4, 5], &[]),
    (&[257, 3], &[257, 3]),
    (&[4, 16, 33, 33], &[16, 1, 1]),
    (&[1 << 20], &[1 << 20]),
    (&[1, 3, 1, 1], &[2, 3, 4, 4]),
    (&[5, 6, 12], &[6, 1]),
    (&[3, 2, 5, 8], &[2, 5, 1]),
    (&[2, 3, 32, 32], &[3, 1, 1]),
    (&[32, 3, 64, 64], &[1, 3, 1, 1]),
];

fn binary_matches_ref(op: BinaryOp, version: BinaryVersion) {
    let gpu = gpu();
    for (k, &(sa, sb)) in BINARY_SHAPES.iter().enumerate() {
        if version == BinaryVersion::V2 && (sa != sb || sa.iter().product::<usize>() % 4 != 0) {
            continue;
        }
        if version == BinaryVersion::V3 && ew::channel_plan(sa, sb).is_none() {
            continue;
        }
        let (a, av) = rand_tensor(&gpu, 10 + k as u64, sa);
        let (mut b, mut bv) = rand_tensor(&gpu, 20 + k as u64, sb);
        if op == BinaryOp::Div {
            // Keep divisors away from 0: |b| in [0.5, 1.5).
            let v: Vec<f32> = bv
                .iter()
                .map(|&x| (x.signum() * (0.5 + x.abs())) as f32)
                .collect();
            bv = f64s(&v);
            b = cprl::Tensor::from_slice(&gpu, &v, sb).unwrap();
        }
        let out = ew::binary_with(op, &a, &b, version).unwrap();
        let (want, shape) = r::binary_ref(op, &av, sa, &bv, sb);
        assert_eq!(out.shape(), &shape[..]);
        assert_tensor_within(
            &format!("{op:?} {version:?} {sa:?} {sb:?}"),
            &out,
            &want,
            r::BINARY_TOLERANCE,
        );
    }
}

call_tests! {
    add_forward_v1_matches_ref: binary_matches_ref(BinaryOp::Add, BinaryVersion::V1);
    add_forward_v2_matches_ref: binary_matches_ref(BinaryOp::Add, BinaryVersion::V2);
    sub_forward_v1_matches_ref: binary_matches_ref(BinaryOp::Sub, BinaryVersion::V1);
    sub_forward_v2_matches_ref: binary_matches_ref(BinaryOp::Sub, BinaryVersion::V2);
    mul_forward_v1_matches_ref: binary_matches_ref(BinaryOp::Mul, BinaryVersion::V1);
    mul_forward_v2_matches_ref: binary_matches_ref(BinaryOp::Mul, BinaryVersion::V2);
    div_forward_v1_matches_ref: binary_matches_ref(BinaryOp::Div, BinaryVersion::V1);
    div_forward_v2_matches_ref: binary_matches_ref(BinaryOp::Div, BinaryVersion::V2);
    add_forward_v3_matches_ref: binary_matches_ref(BinaryOp::Add, BinaryVersion::V3);
    sub_forward_v3_matches_ref: binary_matches_ref(BinaryOp::Sub, BinaryVersion::V3);
    mul_forward_v3_matches_ref: binary_matches_ref(BinaryOp::Mul, BinaryVersion::V3);
    div_forward_v3_matches_ref: binary_matches_ref(BinaryOp::Div, BinaryVersion::V3);
}

#[test]
fn binary_backward_matches_ref_and_finite_differences() {
    let gpu = gpu();
    for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div] {
        // Every shape but the two largest: the per-channel ones run binary_v3 forward
        // and in their backward (g * b), on either side.
        let shapes = BINARY_SHAPES.iter().filter(|(sa, sb)| {
            let out = cprl::shape::broadcast_shape("t", sa, sb).unwrap();
            out.iter().product::<usize>() <= 70_000
        });
        for (k, &(sa, sb)) in shapes.enumerate() {
            let salt = 100 + k as u64;
            let av = rand_vec(salt, sa.iter().product());
            // Divisors in [0.5, 1.5) so the finite differences stay well conditioned.
            let bv: Vec<f32> = rand_range(salt + 1, sb.iter().product(), 0.5, 1.5);
            let (a64, b64) = (f64s(&av), f64s(&bv));
            let out_shape = cprl::shape::broadcast_shape("t", sa, sb).unwrap();
            let gv = rand_vec(salt + 2, out_shape.iter().product());
            let g64 = f64s(&gv);
            let (da, db) = r::binary_backward_ref(op, &a64, sa, &b64, sb, &g64);
            // Reference backward vs finite differences, for each input (small shapes:
            // each difference re-runs the whole forward).
            if out_shape.iter().product::<usize>() <= 512 {
                assert_grad(
                    &format!("{op:?} da"),
                    &|x: &[f64]| r::binary_ref(op, x, sa, &b64, sb).0,
                    &a64,
                    &g64,
                    &da,
                    1e-6,
                    1e-7,
                    1e-6,
                );
                assert_grad(
                    &format!("{op:?} db"),
                    &|x: &[f64]| r::binary_ref(op, &a64, sa, x, sb).0,
                    &b64,
                    &g64,
                    &db,
                    1e-6,
                    1e-7,
                    1e-6,
                );
            }
            // GPU backward (through the tape) vs reference.
            let a = cprl::Tensor::from_slice(&gpu, &av, sa).unwrap().requires_grad_();
            let b = cprl::Tensor::from_slice(&gpu, &bv, sb).unwrap().requires_grad_();
            let g = cprl::Tensor::from_slice(&gpu, &gv, &out_shape).unwrap();
            let out = ew::binary_with(op, &a, &b, BinaryVersion::Auto).unwrap();
            let grads = autograd::backward_with(&out, &g).unwrap();
            // Gradients sum up to 16*33*33 terms in f32.
            assert_tensor(
                &format!("{op:?} da {sa:?} {sb:?}"),
                grads.of(&a).unwrap(),
                &da,
                1e-5,
                1e-4,
            );
            assert_tensor(
                &format!("{op:?} db {sa:?} {sb:?}"),
                grads.of(&b).unwrap(),
                &db,
                1e-4,
                1e-4,
            );
        }
    }
}

fn unary_cases() -> Vec<Unary> {
    use UnaryOp::*;
    let mut v: Vec<Unary> = [Relu, Sigmoid, Tanh, Abs, Square, Exp, Sign]
        .into_iter()
        .map(Unary::new)
        .collect();
    v.push(Unary {
        op: Affine,
        alpha: -1.5,
        beta: 0.25,
    });
    v.push(Unary {
        op: LeakyRelu,
        alpha: 0.1,
        beta: 0.0,
    });
    v.push(Unary {
        op: Clamp,
        alpha: -0.3,
        beta: 0.6,
    });
    v.push(Unary::new(Sqrt));
    v.push(Unary::new(Log));
    v
}

/// Inputs for op: positive for sqrt and log.
fn unary_input(f: Unary, salt: u64, n: usize) -> Vec<f32> {
    match f.op {
        UnaryOp::Sqrt | UnaryOp::Log => rand_range(salt, n, 0.2, 2.0),
        _ => rand_vec(salt, n),
    }
}

const UNARY_SIZES: &[usize] = &[1, 7, 255, 257, 1000, 1 << 20];

#[test]
fn unary_forward_v1_matches_ref() {
    let gpu = gpu();
    for f in unary_cases() {
        for &n in UNARY_SIZES {
            let xv = unary_input(f, n as u64, n);
            let x = cprl::Tensor::from_slice(&gpu, &xv, &[n]).unwrap();
            let y = ew::unary(&x, f).unwrap();
            // f32 transcendental functions: a few ulp.
            assert_tensor(
                &format!("{f:?} n={n}"),
                &y,
                &r::unary_forward_ref(f, &f64s(&xv)),
                1e-6,
                1e-5,
            );
        }
    }
}

#[test]
fn unary_backward_v1_matches_ref_and_finite_differences() {
    let gpu = gpu();
    for f in unary_cases() {
        for &n in UNARY_SIZES {
            let mut xv = unary_input(f, 7 * n as u64, n);
            // Keep inputs off the kinks, where finite differences see no derivative.
            for v in xv.iter_mut() {
                let near_kink = match f.op {
                    UnaryOp::Relu | UnaryOp::LeakyRelu | UnaryOp::Abs | UnaryOp::Sign => v.abs() < 1e-3,
                    UnaryOp::Clamp => (*v - f.alpha).abs() < 1e-3 || (*v - f.beta).abs() < 1e-3,
                    _ => false,
                };
                if near_kink {
                    *v += 0.01;
                }
            }
            let gv = rand_vec(9 * n as u64, n);
            let (x64, g64) = (f64s(&xv), f64s(&gv));
            let mut dx = vec![0.0; n];
            r::unary_backward_ref(f, &x64, &g64, &mut dx);
            if n <= 1000 {
                assert_grad(
                    &format!("{f:?}"),
                    &|x: &[f64]| r::unary_forward_ref(f, x),
                    &x64,
                    &g64,
                    &dx,
                    1e-6,
                    1e-6,
                    1e-5,
                );
            }
            let x = cprl::Tensor::from_slice(&gpu, &xv, &[n])
                .unwrap()
                .requires_grad_();
            let g = cprl::Tensor::from_slice(&gpu, &gv, &[n]).unwrap();
            let y = ew::unary(&x, f).unwrap();
            let grads = autograd::backward_with(&y, &g).unwrap();
            assert_tensor(
                &format!("{f:?} backward n={n}"),
                grads.of(&x).unwrap(),
                &dx,
                1e-6,
                1e-5,
            );
        }
    }
}

#[test]
fn expand_forward_v1_matches_ref() {
    let gpu = gpu();
    for (k, (from, to)) in [
        (vec![1], vec![5]),
        (vec![3, 1], vec![2, 3, 7]),
        (vec![1, 16, 1, 1], vec![4, 16, 33, 33]),
    ]
    .into_iter()
    .enumerate()
    {
        let (x, xv) = rand_tensor(&gpu, 300 + k as u64, &from);
        let y = ew::expand(&x, &to).unwrap();
        assert_tensor(
            &format!("expand {from:?}->{to:?}"),
            &y,
            &r::expand_ref(&xv, &from, &to),
            0.0,
            0.0,
        );
    }
}

#[test]
fn mismatched_shapes_name_both() {
    let gpu = gpu();
    let a = cprl::Tensor::zeros(&gpu, &[2, 3]).unwrap();
    let b = cprl::Tensor::zeros(&gpu, &[4, 3]).unwrap();
    let e = ew::add(&a, &b).unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("[4, 3]"), "{e}");
    let e = ew::binary_with(
        BinaryOp::Add,
        &a,
        &cprl::Tensor::zeros(&gpu, &[3]).unwrap(),
        BinaryVersion::V2,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("binary_v2"), "{e}");
    let e = ew::binary_with(
        BinaryOp::Add,
        &cprl::Tensor::zeros(&gpu, &[2, 3, 5]).unwrap(),
        &cprl::Tensor::zeros(&gpu, &[3, 1]).unwrap(),
        BinaryVersion::V3,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("binary_v3") && e.contains("[3, 1]"), "{e}");
}

/// binary_v3 takes one operand of the output's shape and the other varying along one
/// block of dimensions with a multiple of 4 elements after it; nothing else.
#[test]
fn channel_plan_takes_one_block_only() {
    use ew::{ChannelPlan, channel_plan};
    let plan = |small_is_a, mid, inner| {
        Some(ChannelPlan {
            small_is_a,
            mid,
            inner,
        })
    };
    assert_eq!(channel_plan(&[2, 3, 4, 4], &[1, 3, 1, 1]), plan(false, 3, 16));
    assert_eq!(channel_plan(&[3, 1, 1], &[2, 3, 4, 4]), plan(true, 3, 16));
    assert_eq!(channel_plan(&[4, 5], &[]), plan(false, 1, 20));
    assert_eq!(channel_plan(&[1], &[2, 6]), plan(true, 1, 12));
    assert_eq!(channel_plan(&[3, 2, 5, 8], &[2, 5, 1]), plan(false, 10, 8));
    assert_eq!(
        channel_plan(&[2, 3, 5, 7], &[1, 3, 1, 1]),
        None,
        "35 after the block"
    );
    assert_eq!(
        channel_plan(&[2, 3, 4, 8], &[3, 1, 8]),
        None,
        "broadcast inside the block"
    );
    assert_eq!(
        channel_plan(&[2, 1, 4], &[1, 3, 4]),
        None,
        "neither is the output's shape"
    );
    assert_eq!(channel_plan(&[4, 4], &[4, 4]), None, "equal shapes are V2's");
    assert_eq!(channel_plan(&[2, 3], &[4, 3]), None, "not broadcastable");
}

#[test]
fn sigmoid_of_known_values() {
    // sigmoid(0) = 1/2; sigmoid(ln 3) = 3/4; sigmoid(-100) underflows to 0 without NaN.
    let gpu = gpu();
    let x = cprl::Tensor::from_slice(&gpu, &[0.0, 3f32.ln(), -100.0], &[3]).unwrap();
    assert_close(
        "sigmoid",
        &ew::sigmoid(&x).unwrap().to_vec().unwrap(),
        &[0.5, 0.75, 0.0],
        1e-7,
        1e-6,
    );
}
