//! The fused attack-step kernels against their f64 reference (`reference::attack_step`)
//! on fresh random batches of several shapes (a single element, odd sizes, a batch
//! larger than one dispatch row), outputs NaN-poisoned first; and the properties every
//! attack relies on: the result lies in [0, 1] and within eps of the clean image in
//! the step's norm, and eps = 0 returns the clean image exactly.

mod common;

use common::*;
use cprl::Tensor;
use cprl::ops::attack_step::{l2_norms, l2_step, linf_step};
use cprl::reference::attack_step::{L2_TOLERANCE, LINF_TOLERANCE, l2_norms_ref, l2_step_ref, linf_step_ref};

const SHAPES: &[&[usize]] = &[
    &[1],
    &[1, 1, 1, 1],
    &[3, 3, 5, 7],
    &[2, 3, 64, 65],
    &[4, 3, 128, 128],
];

/// Clean images in [0, 1], current images up to 1.5 eps away (some outside the ball,
/// so the projection has work to do) and clamped, and a direction with exact zeros.
fn batch(shape: &[usize], salt: u64, eps: f32) -> [(Tensor, Vec<f64>); 3] {
    let gpu = gpu();
    let n: usize = shape.iter().product();
    let x = rand_range(salt, n, 0.0, 1.0);
    let xa: Vec<f32> = x
        .iter()
        .zip(rand_range(salt + 1, n, -1.5 * eps, 1.5 * eps))
        .map(|(v, e)| (v + e).clamp(0.0, 1.0))
        .collect();
    let d: Vec<f32> = rand_vec(salt + 2, n)
        .into_iter()
        .enumerate()
        .map(|(i, v)| if i % 7 == 3 { 0.0 } else { v })
        .collect();
    let t = |v: &[f32]| (Tensor::from_slice(&gpu, v, shape).unwrap(), f64s(v));
    [t(&x), t(&xa), t(&d)]
}

fn per_image(shape: &[usize]) -> usize {
    shape.iter().skip(1).product()
}

fn check_linf(salt: u64, eps: f32, alpha: f32) {
    for (k, shape) in SHAPES.iter().enumerate() {
        let [(x, xh), (xa, xah), (d, dh)] = batch(shape, salt + 10 * k as u64, eps);
        let out = linf_step(&x, &xa, &d, alpha, eps).unwrap();
        let want = linf_step_ref(&xh, &xah, &dh, f64::from(alpha), f64::from(eps));
        let got = out.to_vec().unwrap();
        assert_within(
            &format!("linf_step {shape:?} eps {eps} alpha {alpha}"),
            &got,
            &want,
            LINF_TOLERANCE,
        );
        for (g, c) in got.iter().zip(&xh) {
            assert!((0.0..=1.0).contains(g), "pixel {g} outside [0, 1]");
            assert!(
                (f64::from(*g) - c).abs() <= f64::from(eps) + 1e-7,
                "moved past eps"
            );
        }
    }
}

fn check_l2(salt: u64, eps_rms: f32, alpha_rms: f32) {
    for (k, shape) in SHAPES.iter().enumerate() {
        let m = per_image(shape);
        let (eps, alpha) = (eps_rms * (m as f32).sqrt(), alpha_rms * (m as f32).sqrt());
        let [(x, xh), (xa, xah), (d, dh)] = batch(shape, salt + 10 * k as u64, eps_rms);
        let out = l2_step(&x, &xa, &d, alpha, eps).unwrap();
        let want = l2_step_ref(&xh, &xah, &dh, m, f64::from(alpha), f64::from(eps));
        let got = out.to_vec().unwrap();
        assert_within(&format!("l2_step {shape:?} eps {eps}"), &got, &want, L2_TOLERANCE);
        let diff: Vec<f64> = got.iter().zip(&xh).map(|(g, c)| f64::from(*g) - c).collect();
        for (i, norm) in l2_norms_ref(&diff, m).into_iter().enumerate() {
            assert!(
                norm <= f64::from(eps) * (1.0 + 1e-5) + 1e-7,
                "image {i}: ||delta|| {norm} > eps {eps}"
            );
        }
        assert!(
            got.iter().all(|g| (0.0..=1.0).contains(g)),
            "pixel outside [0, 1]"
        );
    }
}

#[test]
fn linf_step_matches_reference() {
    check_linf(100, 4.0 / 255.0, 1.0 / 255.0);
}

#[test]
fn linf_step_with_a_step_past_the_ball_matches_reference() {
    check_linf(200, 2.0 / 255.0, 10.0 / 255.0);
}

#[test]
fn l2_step_matches_reference() {
    check_l2(300, 4.0 / 255.0, 1.0 / 255.0);
}

#[test]
fn l2_step_with_a_step_past_the_ball_matches_reference() {
    check_l2(400, 1.0 / 255.0, 8.0 / 255.0);
}

#[test]
fn l2_norms_match_reference() {
    for (k, shape) in SHAPES.iter().enumerate() {
        let (t, h) = rand_tensor(&gpu(), 500 + k as u64, shape);
        let want = l2_norms_ref(&h, per_image(shape));
        assert_tensor(
            &format!("l2_norms {shape:?}"),
            &l2_norms(&t, false).unwrap(),
            &want,
            1e-6,
            1e-5,
        );
    }
}

#[test]
fn eps_zero_returns_the_clean_images_exactly() {
    let shape = [2, 3, 9, 11];
    let [(x, _), (xa, _), (d, _)] = batch(&shape, 600, 4.0 / 255.0);
    let clean = x.to_vec().unwrap();
    assert_eq!(
        linf_step(&x, &xa, &d, 1.0 / 255.0, 0.0)
            .unwrap()
            .to_vec()
            .unwrap(),
        clean
    );
    assert_eq!(l2_step(&x, &xa, &d, 0.1, 0.0).unwrap().to_vec().unwrap(), clean);
}

#[test]
fn a_zero_direction_makes_no_step() {
    // With d = 0 and xa = x the L_2 step divides 0 by the floor: no NaN, no move.
    let shape = [2, 3, 4, 5];
    let [(x, _), _, _] = batch(&shape, 700, 4.0 / 255.0);
    let zero = Tensor::zeros(&gpu(), &shape).unwrap();
    let clean = x.to_vec().unwrap();
    assert_eq!(l2_step(&x, &x, &zero, 0.1, 0.5).unwrap().to_vec().unwrap(), clean);
    assert_eq!(
        linf_step(&x, &x, &zero, 0.1, 0.5).unwrap().to_vec().unwrap(),
        clean
    );
}

#[test]
fn mismatched_shapes_and_bad_budgets_are_refused() {
    let gpu = gpu();
    let x = Tensor::zeros(&gpu, &[2, 3, 4, 4]).unwrap();
    let y = Tensor::zeros(&gpu, &[2, 3, 4, 5]).unwrap();
    assert!(linf_step(&x, &y, &x, 0.1, 0.1).is_err());
    assert!(l2_step(&x, &x, &y, 0.1, 0.1).is_err());
    assert!(linf_step(&x, &x, &x, 0.1, -0.1).is_err());
    assert!(l2_step(&x, &x, &x, f32::NAN, 0.1).is_err());
}
