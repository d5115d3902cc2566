//! Batch norm and group norm against the f64 reference, forward and backward (through
//! the tape), every kernel version; the reference backward against finite differences.

#[macro_use]
mod common;

use common::*;
use cprl::Tensor;
use cprl::autograd::{self, gradcheck::assert_grad};
use cprl::ops::norm::{self, BatchNorm, GroupNorm, NormVersion};
use cprl::reference::Tolerance;
use cprl::reference::norm as r;

/// Batch-norm shapes: [N, C], a 1x1 plane, odd planes (H*W % 4 != 0), planes smaller
/// than a V2 workgroup, planes not a multiple of it, and batch 32 at 112x112 below
/// (401,408 values per channel).
const BN_SHAPES: &[&[usize]] = &[
    &[2, 3],
    &[7, 5],
    &[3, 4, 1, 1],
    &[3, 5, 7, 7],
    &[2, 3, 4, 4],
    &[5, 3, 9, 20],
    &[4, 6, 12, 12],
    &[2, 4, 28, 28],
];
const BN_LARGE: &[usize] = &[32, 2, 112, 112];

const Y_ATOL: f64 = r::tolerance::Y.atol;
const Y_RTOL: f64 = r::tolerance::Y.rtol;

fn sum_atol(m: usize) -> f64 {
    r::tolerance::sum(m).atol
}

fn fits(version: NormVersion, shape: &[usize]) -> bool {
    !matches!(version, NormVersion::V2 | NormVersion::V2Narrow)
        || (shape.len() == 4 && (shape[2] * shape[3]).is_multiple_of(4))
}

struct BnInputs {
    x: Tensor,
    xv: Vec<f64>,
    gamma: Tensor,
    gv: Vec<f64>,
    beta: Tensor,
    bv: Vec<f64>,
    rm: Tensor,
    rmv: Vec<f64>,
    rv: Tensor,
    rvv: Vec<f64>,
}

fn bn_inputs(salt: u64, shape: &[usize]) -> BnInputs {
    let gpu = gpu();
    let c = shape[1];
    let (x, xv) = rand_tensor(&gpu, salt, shape);
    let (gamma, gv) = rand_tensor(&gpu, salt + 1, &[c]);
    let (beta, bv) = rand_tensor(&gpu, salt + 2, &[c]);
    let (rm, rmv) = rand_tensor(&gpu, salt + 3, &[c]);
    let rvf = rand_range(salt + 4, c, 0.5, 1.5);
    let rv = Tensor::from_slice(&gpu, &rvf, &[c]).unwrap();
    BnInputs {
        x,
        xv,
        gamma,
        gv,
        beta,
        bv,
        rm,
        rmv,
        rv,
        rvv: f64s(&rvf),
    }
}

/// Forward: y, and the running statistics (moved in training, untouched in eval).
fn bn_forward_case(version: NormVersion, shape: &[usize], training: bool, relu: bool, salt: u64) {
    let mut i = bn_inputs(salt, shape);
    let opts = BatchNorm {
        relu,
        version,
        ..BatchNorm::default()
    };
    let y = norm::batch_norm(&i.x, &i.gamma, &i.beta, &i.rm, &i.rv, training, &opts).unwrap();
    let want = r::batch_norm_forward_ref(
        &i.xv, shape, &i.gv, &i.bv, &mut i.rmv, &mut i.rvv, training, 1e-5, 0.1, relu,
    );
    let what = format!("batch_norm {version:?} {shape:?} training {training} relu {relu}");
    assert_tensor(&format!("{what}: y"), &y, &want.y, Y_ATOL, Y_RTOL);
    // Running statistics: one f32 update of values of size ~1.
    assert_tensor(&format!("{what}: running_mean"), &i.rm, &i.rmv, 1e-6, 1e-5);
    assert_tensor(&format!("{what}: running_var"), &i.rv, &i.rvv, 1e-6, 1e-5);
}

/// Backward through the tape: dx, dgamma, dbeta.
fn bn_backward_case(version: NormVersion, shape: &[usize], training: bool, relu: bool, salt: u64) {
    let gpu = gpu();
    let mut i = bn_inputs(salt, shape);
    let (x, gamma, beta) = (
        i.x.requires_grad_(),
        i.gamma.requires_grad_(),
        i.beta.requires_grad_(),
    );
    let opts = BatchNorm {
        relu,
        version,
        ..BatchNorm::default()
    };
    let y = norm::batch_norm(&x, &gamma, &beta, &i.rm, &i.rv, training, &opts).unwrap();
    let (g, gv) = rand_tensor(&gpu, salt + 9, shape);
    let grads = autograd::backward_with(&y, &g).unwrap();
    let mut saved = r::batch_norm_forward_ref(
        &i.xv, shape, &i.gv, &i.bv, &mut i.rmv, &mut i.rvv, training, 1e-5, 0.1, relu,
    );
    // The ReLU mask is a discrete decision: feed the reference the GPU's (an output
    // within rounding of 0 may fall either side).
    saved.y = f64s(&y.to_vec().unwrap());
    let c = shape[1];
    let (mut dx, mut dgamma, mut dbeta) = (vec![0.0; i.xv.len()], vec![0.0; c], vec![0.0; c]);
    r::batch_norm_backward_ref(
        &i.xv,
        shape,
        &i.gv,
        &saved,
        training,
        relu,
        &gv,
        &mut dx,
        &mut dgamma,
        &mut dbeta,
    );
    let m = i.xv.len() / c;
    let what = format!("batch_norm backward {version:?} {shape:?} training {training} relu {relu}");
    let Tolerance { atol, rtol } = r::tolerance::DX;
    assert_tensor(&format!("{what}: dx"), grads.of(&x).unwrap(), &dx, atol, rtol);
    assert_tensor(
        &format!("{what}: dgamma"),
        grads.of(&gamma).unwrap(),
        &dgamma,
        sum_atol(m),
        1e-4,
    );
    assert_tensor(
        &format!("{what}: dbeta"),
        grads.of(&beta).unwrap(),
        &dbeta,
        sum_atol(m),
        1e-4,
    );
}

fn bn_forward_matches_ref(version: NormVersion) {
    for (k, &shape) in BN_SHAPES.iter().enumerate() {
        if !fits(version, shape) {
            continue;
        }
        for (training, relu) in [(true, false), (true, true), (false, false), (false, true)] {
            bn_forward_case(version, shape, training, relu, 100 * k as u64);
        }
    }
}

fn bn_backward_matches_ref(version: NormVersion) {
    for (k, &shape) in BN_SHAPES.iter().enumerate() {
        if !fits(version, shape) {
            continue;
        }
        for (training, relu) in [(true, false), (true, true), (false, false), (false, true)] {
            bn_backward_case(version, shape, training, relu, 1000 + 100 * k as u64);
        }
    }
}

call_tests! {
    batch_norm_forward_v1_matches_ref: bn_forward_matches_ref(NormVersion::V1);
    batch_norm_forward_v2_matches_ref: bn_forward_matches_ref(NormVersion::V2);
    batch_norm_forward_v2narrow_matches_ref: bn_forward_matches_ref(NormVersion::V2Narrow);
    batch_norm_forward_auto_matches_ref: bn_forward_matches_ref(NormVersion::Auto);
    batch_norm_backward_v1_matches_ref: bn_backward_matches_ref(NormVersion::V1);
    batch_norm_backward_v2_matches_ref: bn_backward_matches_ref(NormVersion::V2);
    batch_norm_backward_v2narrow_matches_ref: bn_backward_matches_ref(NormVersion::V2Narrow);
    batch_norm_backward_auto_matches_ref: bn_backward_matches_ref(NormVersion::Auto);
    batch_norm_forward_v1_matches_ref_large: bn_large_forward(NormVersion::V1);
    batch_norm_forward_v2_matches_ref_large: bn_large_forward(NormVersion::V2);
    batch_norm_forward_v2narrow_matches_ref_large: bn_large_forward(NormVersion::V2Narrow);
    batch_norm_backward_v1_matches_ref_large: bn_large_backward(NormVersion::V1);
    batch_norm_backward_v2_matches_ref_large: bn_large_backward(NormVersion::V2);
    batch_norm_backward_v2narrow_matches_ref_large: bn_large_backward(NormVersion::V2Narrow);
}

/// 401,408 values per channel: far past llvmpipe's 65,535 loop iterations if one
/// invocation walked a channel.
fn bn_large_forward(version: NormVersion) {
    bn_forward_case(version, BN_LARGE, true, true, 7);
}

fn bn_large_backward(version: NormVersion) {
    bn_backward_case(version, BN_LARGE, true, true, 8);
}

#[test]
fn batch_norm_forward_matches_ref_offset_channels() {
    // Values far from zero (mean 1000, spread 1): the variance must not cancel away.
    let gpu = gpu();
    let shape = [8, 2, 16, 16];
    let v: Vec<f32> = rand_vec(31, 8 * 2 * 256)
        .into_iter()
        .map(|x| 1000.0 + x)
        .collect();
    let x = Tensor::from_slice(&gpu, &v, &shape).unwrap();
    let ones = Tensor::ones(&gpu, &[2]).unwrap();
    let zeros = Tensor::zeros(&gpu, &[2]).unwrap();
    let (rm, rv) = (
        Tensor::zeros(&gpu, &[2]).unwrap(),
        Tensor::ones(&gpu, &[2]).unwrap(),
    );
    let y = norm::batch_norm(&x, &ones, &zeros, &rm, &rv, true, &BatchNorm::default()).unwrap();
    let (mut rmv, mut rvv) = (vec![0.0; 2], vec![1.0; 2]);
    let want = r::batch_norm_forward_ref(
        &f64s(&v),
        &shape,
        &[1.0; 2],
        &[0.0; 2],
        &mut rmv,
        &mut rvv,
        true,
        1e-5,
        0.1,
        false,
    );
    // x itself carries 1000 * 2^-24 = 6e-5 of rounding relative to a spread of 1.
    assert_tensor("offset batch_norm y", &y, &want.y, 3e-4, 1e-3);
    assert_tensor("offset running_var", &rv, &rvv, 1e-5, 1e-4);
}

#[test]
fn batch_norm_forward_hand_case() {
    // x = [1, 2, 3, 4] as [N = 4, C = 1]: mean 2.5, biased var 1.25, so
    // y = (x - 2.5) / sqrt(1.25 + 1e-5) = [-1.34164, -0.44721, 0.44721, 1.34164].
    // Running stats from (0, 1), momentum 0.1: mean 0.25, var 0.9 + 0.1 * 1.25 * 4/3.
    let gpu = gpu();
    let x = Tensor::from_slice(&gpu, &[1.0, 2.0, 3.0, 4.0], &[4, 1]).unwrap();
    let gamma = Tensor::ones(&gpu, &[1]).unwrap();
    let beta = Tensor::zeros(&gpu, &[1]).unwrap();
    let (rm, rv) = (
        Tensor::zeros(&gpu, &[1]).unwrap(),
        Tensor::ones(&gpu, &[1]).unwrap(),
    );
    let y = norm::batch_norm(&x, &gamma, &beta, &rm, &rv, true, &BatchNorm::default()).unwrap();
    let s = (1.25f64 + 1e-5).sqrt();
    assert_tensor("hand y", &y, &[-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], 1e-6, 1e-6);
    assert_tensor("hand running_mean", &rm, &[0.25], 1e-7, 1e-6);
    assert_tensor(
        "hand running_var",
        &rv,
        &[0.9 + 0.1 * 1.25 * 4.0 / 3.0],
        1e-7,
        1e-6,
    );
    // With the ReLU fused, the two negative outputs become 0.
    let opts = BatchNorm {
        relu: true,
        ..BatchNorm::default()
    };
    let y = norm::batch_norm(&x, &gamma, &beta, &rm, &rv, true, &opts).unwrap();
    assert_tensor("hand relu y", &y, &[0.0, 0.0, 0.5 / s, 1.5 / s], 1e-6, 1e-6);
}

#[test]
fn batch_norm_backward_ref_matches_finite_differences() {
    let shape = [3, 2, 2, 3];
    let n = 36;
    let xv = f64s(&rand_vec(41, n));
    let gv = f64s(&rand_range(42, 2, 0.5, 1.5));
    let bv = f64s(&rand_vec(43, 2));
    let g = f64s(&rand_vec(44, n));
    let (rm0, rv0) = (f64s(&rand_vec(45, 2)), f64s(&rand_range(46, 2, 0.5, 1.5)));
    for (training, relu) in [(true, false), (true, true), (false, false), (false, true)] {
        let fwd = |x: &[f64], gamma: &[f64], beta: &[f64]| {
            let (mut rm, mut rv) = (rm0.clone(), rv0.clone());
            r::batch_norm_forward_ref(
                x, &shape, gamma, beta, &mut rm, &mut rv, training, 1e-5, 0.1, relu,
            )
        };
        let saved = fwd(&xv, &gv, &bv);
        let (mut dx, mut dgamma, mut dbeta) = (vec![0.0; n], vec![0.0; 2], vec![0.0; 2]);
        r::batch_norm_backward_ref(
            &xv,
            &shape,
            &gv,
            &saved,
            training,
            relu,
            &g,
            &mut dx,
            &mut dgamma,
            &mut dbeta,
        );
        let what = format!("batch_norm training {training} relu {relu}");
        // Central differences of smooth f64 functions: truncation ~eps^2, rounding ~1e-16/eps.
        assert_grad(
            &format!("{what} dx"),
            &|x| fwd(x, &gv, &bv).y,
            &xv,
            &g,
            &dx,
            1e-6,
            1e-6,
            1e-5,
        );
        assert_grad(
            &format!("{what} dgamma"),
            &|p| fwd(&xv, p, &bv).y,
            &gv,
            &g,
            &dgamma,
            1e-6,
            1e-6,
            1e-5,
        );
        assert_grad(
            &format!("{what} dbeta"),
            &|p| fwd(&xv, &gv, p).y,
            &bv,
            &g,
            &dbeta,
            1e-6,
            1e-6,
            1e-5,
        );
    }
}

#[test]
fn batch_norm_is_bitwise_deterministic() {
    let i = bn_inputs(51, &[4, 3, 20, 20]);
    let x = i.x.requires_grad_();
    let run = || {
        let y = norm::batch_norm_relu(&x, &i.gamma, &i.beta, &i.rm, &i.rv, true).unwrap();
        let g = Tensor::ones(x.gpu(), y.shape()).unwrap();
        let dx = autograd::backward_with(&y, &g)
            .unwrap()
            .of(&x)
            .unwrap()
            .to_vec()
            .unwrap();
        (y.to_vec().unwrap(), dx)
    };
    let (a, b) = (run(), run());
    assert!(a.0.iter().zip(&b.0).all(|(p, q)| p.to_bits() == q.to_bits()));
    assert!(a.1.iter().zip(&b.1).all(|(p, q)| p.to_bits() == q.to_bits()));
}

#[test]
fn batch_norm_rejects_bad_shapes() {
    let gpu = gpu();
    let x = Tensor::zeros(&gpu, &[2, 3, 4, 4]).unwrap();
    let c3 = Tensor::ones(&gpu, &[3]).unwrap();
    let c4 = Tensor::ones(&gpu, &[4]).unwrap();
    let e = norm::batch_norm(&x, &c4, &c3, &c3, &c3, true, &BatchNorm::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("[4]") && e.contains("[3]"), "{e}");
    let one = Tensor::zeros(&gpu, &[1, 3]).unwrap();
    let e = norm::batch_norm(&one, &c3, &c3, &c3, &c3, true, &BatchNorm::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than one value"), "{e}");
    let odd = Tensor::zeros(&gpu, &[2, 3, 3, 3]).unwrap();
    let opts = BatchNorm {
        version: NormVersion::V2,
        ..BatchNorm::default()
    };
    assert!(norm::batch_norm(&odd, &c3, &c3, &c3, &c3, true, &opts).is_err());
}

/// Group-norm cases (shape, groups): [N, C], one-element groups, odd planes, a
/// single group, C/G > 256 (with V2 the statistics fall back to V1), and 401,408 values per
/// group.
const GN_CASES: &[(&[usize], usize)] = &[
    (&[2, 4], 2),
    (&[2, 3, 1, 1], 3),
    (&[2, 4, 3, 3], 2),
    (&[2, 6, 4, 4], 3),
    (&[3, 8, 12, 12], 4),
    (&[2, 5, 9, 20], 1),
    (&[1, 512, 4, 4], 1),
];
const GN_LARGE: (&[usize], usize) = (&[2, 32, 112, 112], 1);

fn gn_case(version: NormVersion, shape: &[usize], groups: usize, salt: u64) {
    let gpu = gpu();
    let c = shape[1];
    let (x, xv) = rand_tensor(&gpu, salt, shape);
    let (gamma, gmv) = rand_tensor(&gpu, salt + 1, &[c]);
    let (beta, bv) = rand_tensor(&gpu, salt + 2, &[c]);
    let (x, gamma, beta) = (x.requires_grad_(), gamma.requires_grad_(), beta.requires_grad_());
    let opts = GroupNorm {
        version,
        ..GroupNorm::new(groups)
    };
    let y = norm::group_norm(&x, &gamma, &beta, &opts).unwrap();
    let saved = r::group_norm_forward_ref(&xv, shape, groups, &gmv, &bv, 1e-5);
    let what = format!("group_norm {version:?} {shape:?} groups {groups}");
    // One-element groups have rstd = 1/sqrt(eps) ~ 316, but x - mean is exactly 0.
    assert_tensor(&format!("{what}: y"), &y, &saved.y, Y_ATOL, Y_RTOL);
    let (g, gv) = rand_tensor(&gpu, salt + 3, shape);
    let grads = autograd::backward_with(&y, &g).unwrap();
    let (mut dx, mut dgamma, mut dbeta) = (vec![0.0; xv.len()], vec![0.0; c], vec![0.0; c]);
    r::group_norm_backward_ref(
        &xv,
        shape,
        groups,
        &gmv,
        &saved,
        &gv,
        &mut dx,
        &mut dgamma,
        &mut dbeta,
    );
    let m = xv.len() / c;
    // dx = rstd * (h - mean(h) - xhat * mean(h * xhat)), h = g * gamma: the bracket
    // cancels to a few ulps of |h| (|g|, |gamma| < 1), which rstd (up to 1/sqrt(eps) ~ 316
    // for one-element groups) multiplies.
    let rstd_max = saved.rstd.iter().fold(0.0f64, |a, &b| a.max(b));
    let dx_atol = 2e-5 + 8.0 * f32::EPSILON as f64 * rstd_max;
    assert_tensor(&format!("{what}: dx"), grads.of(&x).unwrap(), &dx, dx_atol, 1e-4);
    assert_tensor(
        &format!("{what}: dgamma"),
        grads.of(&gamma).unwrap(),
        &dgamma,
        sum_atol(m),
        1e-4,
    );
    assert_tensor(
        &format!("{what}: dbeta"),
        grads.of(&beta).unwrap(),
        &dbeta,
        sum_atol(m),
        1e-4,
    );
}

fn gn_matches_ref(version: NormVersion) {
    for (k, &(shape, groups)) in GN_CASES.iter().enumerate() {
        if fits(version, shape) {
            gn_case(version, shape, groups, 3000 + 10 * k as u64);
        }
    }
}

fn gn_large(version: NormVersion) {
    gn_case(version, GN_LARGE.0, GN_LARGE.1, 9);
}

call_tests! {
    group_norm_forward_backward_v1_matches_ref: gn_matches_ref(NormVersion::V1);
    group_norm_forward_backward_v2_matches_ref: gn_matches_ref(NormVersion::V2);
    group_norm_forward_backward_v2narrow_matches_ref: gn_matches_ref(NormVersion::V2Narrow);
    group_norm_forward_backward_auto_matches_ref: gn_matches_ref(NormVersion::Auto);
    group_norm_forward_backward_v1_matches_ref_large: gn_large(NormVersion::V1);
    group_norm_forward_backward_v2_matches_ref_large: gn_large(NormVersion::V2);
    group_norm_forward_backward_v2narrow_matches_ref_large: gn_large(NormVersion::V2Narrow);
}

#[test]
fn group_norm_forward_hand_case() {
    // One group over x = [0, 2, 4, 6] ([N = 1, C = 2, 1, 2]): mean 3, var 5, so
    // y = gamma_c * (x - 3) / sqrt(5 + 1e-5) + beta_c with gamma = [1, 2], beta = [0, 1]:
    // [-3/s, -1/s, 2/s + 1, 6/s + 1].
    let gpu = gpu();
    let x = Tensor::from_slice(&gpu, &[0.0, 2.0, 4.0, 6.0], &[1, 2, 1, 2]).unwrap();
    let gamma = Tensor::from_slice(&gpu, &[1.0, 2.0], &[2]).unwrap();
    let beta = Tensor::from_slice(&gpu, &[0.0, 1.0], &[2]).unwrap();
    let y = norm::group_norm(&x, &gamma, &beta, &GroupNorm::new(1)).unwrap();
    let s = (5.0f64 + 1e-5).sqrt();
    assert_tensor(
        "hand group_norm",
        &y,
        &[-3.0 / s, -1.0 / s, 2.0 / s + 1.0, 6.0 / s + 1.0],
        1e-6,
        1e-6,
    );
}

#[test]
fn group_norm_backward_ref_matches_finite_differences() {
    for (shape, groups) in [([2usize, 4, 2, 3], 2usize), ([1, 3, 1, 1], 3)] {
        let n: usize = shape.iter().product();
        let c = shape[1];
        let xv = f64s(&rand_vec(61, n));
        let gmv = f64s(&rand_vec(62, c));
        let bv = f64s(&rand_vec(63, c));
        let g = f64s(&rand_vec(64, n));
        let fwd = |x: &[f64], gamma: &[f64], beta: &[f64]| {
            r::group_norm_forward_ref(x, &shape, groups, gamma, beta, 1e-5).y
        };
        let saved = r::group_norm_forward_ref(&xv, &shape, groups, &gmv, &bv, 1e-5);
        let (mut dx, mut dgamma, mut dbeta) = (vec![0.0; n], vec![0.0; c], vec![0.0; c]);
        r::group_norm_backward_ref(
            &xv,
            &shape,
            groups,
            &gmv,
            &saved,
            &g,
            &mut dx,
            &mut dgamma,
            &mut dbeta,
        );
        // One-element groups: y = beta whatever x is, so dx must be 0 (FD agrees).
        assert_grad(
            "group_norm dx",
            &|x| fwd(x, &gmv, &bv),
            &xv,
            &g,
            &dx,
            1e-6,
            1e-6,
            1e-5,
        );
        assert_grad(
            "group_norm dgamma",
            &|p| fwd(&xv, p, &bv),
            &gmv,
            &g,
            &dgamma,
            1e-6,
            1e-6,
            1e-5,
        );
        assert_grad(
            "group_norm dbeta",
            &|p| fwd(&xv, &gmv, p),
            &bv,
            &g,
            &dbeta,
            1e-6,
            1e-6,
            1e-5,
        );
    }
}

#[test]
fn group_norm_rejects_groups_that_do_not_divide() {
    let gpu = gpu();
    let x = Tensor::zeros(&gpu, &[2, 6, 4, 4]).unwrap();
    let c = Tensor::ones(&gpu, &[6]).unwrap();
    let e = norm::group_norm(&x, &c, &c, &GroupNorm::new(4))
        .unwrap_err()
        .to_string();
    assert!(e.contains("4 groups") && e.contains("[2, 6, 4, 4]"), "{e}");
}
