//! Loss kernels against the f64 reference (forward, and backward through the tape),
//! the reference backward against finite differences, and hand-worked cases.

mod common;

use common::*;
use cprl::Tensor;
use cprl::autograd::{self, gradcheck::assert_grad};
use cprl::ops::loss::{self, LossVersion, Pointwise};
use cprl::reference::loss as r;

/// Size 1 and 2, odd, not a multiple of the workgroup (256) or the tile (16,384), one
/// exact tile, two tiles with a ragged end (odd and divisible by 4), and the large
/// batch of the task (100,000).
const SHAPES: &[&[usize]] = &[
    &[1],
    &[2],
    &[7],
    &[2, 4],
    &[257, 1],
    &[3, 5, 7],
    &[16384],
    &[16385],
    &[16388],
    &[100_000],
];

/// The shapes a version takes (vec4 needs a count divisible by 4).
fn shapes_for<T: Copy>(version: LossVersion, all: &[T], n: impl Fn(T) -> usize) -> Vec<T> {
    all.iter()
        .copied()
        .filter(|&s| version != LossVersion::V1Vec4 || n(s).is_multiple_of(4))
        .collect()
}

const HUBER: Pointwise = Pointwise::Huber { delta: 0.6 };

/// pred, target in [-1, 1); for L1 every fifth target equals its prediction, so the
/// subgradient at 0 is exercised.
fn inputs(loss: Pointwise, salt: u64, n: usize) -> (Vec<f32>, Vec<f32>) {
    let p = rand_vec(salt, n);
    let mut t = rand_vec(salt + 1, n);
    if loss == Pointwise::L1 {
        for i in (0..n).step_by(5) {
            t[i] = p[i];
        }
    }
    (p, t)
}

fn forward_matches_ref(loss: Pointwise, version: LossVersion) {
    let gpu = gpu();
    for (k, shape) in shapes_for(version, SHAPES, |s| s.iter().product())
        .into_iter()
        .enumerate()
    {
        let n = shape.iter().product();
        let (pv, tv) = inputs(loss, 10 * k as u64, n);
        let p = Tensor::from_slice(&gpu, &pv, shape).unwrap();
        let t = Tensor::from_slice(&gpu, &tv, shape).unwrap();
        let out = loss::pointwise_with(loss, &p, &t, version).unwrap();
        assert_eq!(out.shape(), &[] as &[usize]);
        let want = r::pointwise_forward_ref(loss, &f64s(&pv), &f64s(&tv));
        assert_tensor_within(
            &format!("{loss:?} {version:?} {shape:?}"),
            &out,
            &[want],
            r::tolerance::POINTWISE,
        );
    }
}

fn backward_matches_ref(loss: Pointwise, version: LossVersion) {
    let gpu = gpu();
    for (k, shape) in shapes_for(version, SHAPES, |s| s.iter().product())
        .into_iter()
        .enumerate()
    {
        let n: usize = shape.iter().product();
        let (pv, tv) = inputs(loss, 100 + 10 * k as u64, n);
        let (p64, t64) = (f64s(&pv), f64s(&tv));
        let g = 0.75;
        let mut dp = vec![0.0; n];
        let mut dt = vec![0.0; n];
        r::pointwise_backward_ref(loss, &p64, &t64, g, &mut dp, &mut dt);
        if n <= 300 {
            // Keep off the kinks, where a finite difference sees no derivative.
            let mut pk = p64.clone();
            for (x, &y) in pk.iter_mut().zip(&t64) {
                let d = *x - y;
                let near = match loss {
                    Pointwise::L1 => d.abs() < 1e-3,
                    Pointwise::Huber { delta } => (d.abs() - delta as f64).abs() < 1e-3,
                    Pointwise::Mse => false,
                };
                if near {
                    *x += 0.01;
                }
            }
            let mut dpk = vec![0.0; n];
            let mut dtk = vec![0.0; n];
            r::pointwise_backward_ref(loss, &pk, &t64, g, &mut dpk, &mut dtk);
            let f_p = |x: &[f64]| vec![r::pointwise_forward_ref(loss, x, &t64)];
            let f_t = |x: &[f64]| vec![r::pointwise_forward_ref(loss, &pk, x)];
            assert_grad(
                &format!("{loss:?} dpred"),
                &f_p,
                &pk,
                &[g],
                &dpk,
                1e-6,
                1e-8,
                1e-5,
            );
            assert_grad(
                &format!("{loss:?} dtarget"),
                &f_t,
                &t64,
                &[g],
                &dtk,
                1e-6,
                1e-8,
                1e-5,
            );
        }
        let p = Tensor::from_slice(&gpu, &pv, shape).unwrap().requires_grad_();
        let t = Tensor::from_slice(&gpu, &tv, shape).unwrap().requires_grad_();
        let out = loss::pointwise_with(loss, &p, &t, version).unwrap();
        let grads = autograd::backward_with(&out, &Tensor::scalar(&gpu, g as f32).unwrap()).unwrap();
        let tol = r::tolerance::pointwise_backward(n);
        assert_tensor_within(
            &format!("{loss:?} dpred {shape:?}"),
            grads.of(&p).unwrap(),
            &dp,
            tol,
        );
        assert_tensor_within(
            &format!("{loss:?} dtarget {shape:?}"),
            grads.of(&t).unwrap(),
            &dt,
            tol,
        );
    }
}

/// One module per (loss, pass), one test per version: e.g. `mse_forward_matches_ref::v1_vec4`.
macro_rules! version_tests {
    ($($name:ident: $check:ident($($arg:expr),*);)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn v1() {
                $check($($arg,)* LossVersion::V1);
            }
            #[test]
            fn v1_vec4() {
                $check($($arg,)* LossVersion::V1Vec4);
            }
            #[test]
            fn auto() {
                $check($($arg,)* LossVersion::Auto);
            }
        }
    )*};
}

version_tests! {
    mse_forward_matches_ref: forward_matches_ref(Pointwise::Mse);
    mse_backward_matches_ref: backward_matches_ref(Pointwise::Mse);
    l1_forward_matches_ref: forward_matches_ref(Pointwise::L1);
    l1_backward_matches_ref: backward_matches_ref(Pointwise::L1);
    huber_forward_matches_ref: forward_matches_ref(HUBER);
    huber_backward_matches_ref: backward_matches_ref(HUBER);
    plcc_forward_matches_ref: plcc_forward_matches_ref();
    plcc_backward_matches_ref: plcc_backward_matches_ref();
}

#[test]
fn pointwise_losses_of_known_values() {
    // pred [1, 2, 3], target [1, 1, 1]: d = [0, 1, 2], n = 3.
    // mse = (0 + 1 + 4) / 3 = 5/3, dpred = 2d/3 = [0, 2/3, 4/3].
    // l1 = (0 + 1 + 2) / 3 = 1, dpred = sign(d)/3 = [0, 1/3, 1/3] (0 at d = 0).
    // huber(delta 1): |d| < 1 only for d = 0 -> terms 0, 1 * (1 - 1/2), 1 * (2 - 1/2),
    //   mean = (0.5 + 1.5) / 3 = 2/3; dpred = [0, 1, 1] / 3 (delta * sign(d) on the
    //   linear branch). dtarget is -dpred in every case.
    let gpu = gpu();
    let cases: [(Pointwise, f64, [f64; 3]); 3] = [
        (Pointwise::Mse, 5.0 / 3.0, [0.0, 2.0 / 3.0, 4.0 / 3.0]),
        (Pointwise::L1, 1.0, [0.0, 1.0 / 3.0, 1.0 / 3.0]),
        (
            Pointwise::Huber { delta: 1.0 },
            2.0 / 3.0,
            [0.0, 1.0 / 3.0, 1.0 / 3.0],
        ),
    ];
    for (l, want, dwant) in cases {
        let p = Tensor::from_slice(&gpu, &[1.0, 2.0, 3.0], &[3])
            .unwrap()
            .requires_grad_();
        let t = Tensor::from_slice(&gpu, &[1.0, 1.0, 1.0], &[3])
            .unwrap()
            .requires_grad_();
        let out = loss::pointwise(l, &p, &t).unwrap();
        assert_tensor(&format!("{l:?}"), &out, &[want], 1e-7, 1e-6);
        let grads = autograd::backward(&out).unwrap();
        assert_tensor(&format!("{l:?} dpred"), grads.of(&p).unwrap(), &dwant, 1e-7, 1e-6);
        let neg: Vec<f64> = dwant.iter().map(|v| -v).collect();
        assert_tensor(&format!("{l:?} dtarget"), grads.of(&t).unwrap(), &neg, 1e-7, 1e-6);
    }
}

/// PLCC batches: 1, 2, odd, [B, 1] against [B], a training batch, beyond one
/// workgroup, large.
const PLCC_SHAPES: &[(&[usize], &[usize])] = &[
    (&[1], &[1]),
    (&[2], &[2]),
    (&[3], &[3, 1]),
    (&[4], &[4]),
    (&[7, 1], &[7, 1]),
    (&[32, 1], &[32]),
    (&[33, 1], &[33]),
    (&[257], &[257]),
    (&[1000], &[1000]),
    (&[100_000], &[100_000]),
];

/// pred uniform in [-1, 1) around 0.5; target = 0.6 pred + noise, so r is about 0.6
/// (not near 0, where the relative error of r says little).
fn plcc_inputs(salt: u64, n: usize) -> (Vec<f32>, Vec<f32>) {
    let p: Vec<f32> = rand_vec(salt, n).iter().map(|v| 0.5 + 0.3 * v).collect();
    let noise = rand_vec(salt + 1, n);
    let t = p.iter().zip(&noise).map(|(a, e)| 0.6 * a + 0.2 * e).collect();
    (p, t)
}

fn plcc_forward_matches_ref(version: LossVersion) {
    let gpu = gpu();
    for (k, (sp, st)) in shapes_for(version, PLCC_SHAPES, |s| s.0[0])
        .into_iter()
        .enumerate()
    {
        let n = sp[0];
        let (pv, tv) = plcc_inputs(200 + 10 * k as u64, n);
        let p = Tensor::from_slice(&gpu, &pv, sp).unwrap();
        let t = Tensor::from_slice(&gpu, &tv, st).unwrap();
        let out = loss::plcc_loss_with(&p, &t, loss::PLCC_EPS, version).unwrap();
        let (want, _) = r::plcc_forward_ref(&f64s(&pv), &f64s(&tv), loss::PLCC_EPS as f64);
        assert_tensor_within(
            &format!("plcc {version:?} {sp:?} {st:?}"),
            &out,
            &[want],
            r::tolerance::PLCC,
        );
    }
}

fn plcc_backward_matches_ref(version: LossVersion) {
    let gpu = gpu();
    let eps = loss::PLCC_EPS as f64;
    for (k, (sp, st)) in shapes_for(version, PLCC_SHAPES, |s| s.0[0])
        .into_iter()
        .enumerate()
    {
        let n = sp[0];
        let (pv, tv) = plcc_inputs(300 + 10 * k as u64, n);
        let (p64, t64) = (f64s(&pv), f64s(&tv));
        let g = -1.25;
        let (_, stats) = r::plcc_forward_ref(&p64, &t64, eps);
        let mut dp = vec![0.0; n];
        let mut dt = vec![0.0; n];
        r::plcc_backward_ref(&p64, &t64, &stats, g, &mut dp, &mut dt);
        if n <= 300 {
            let f_p = |x: &[f64]| vec![r::plcc_forward_ref(x, &t64, eps).0];
            let f_t = |x: &[f64]| vec![r::plcc_forward_ref(&p64, x, eps).0];
            assert_grad(
                &format!("plcc dpred n={n}"),
                &f_p,
                &p64,
                &[g],
                &dp,
                1e-6,
                1e-7,
                1e-5,
            );
            assert_grad(
                &format!("plcc dtarget n={n}"),
                &f_t,
                &t64,
                &[g],
                &dt,
                1e-6,
                1e-7,
                1e-5,
            );
        }
        let p = Tensor::from_slice(&gpu, &pv, sp).unwrap().requires_grad_();
        let t = Tensor::from_slice(&gpu, &tv, st).unwrap().requires_grad_();
        let out = loss::plcc_loss_with(&p, &t, loss::PLCC_EPS, version).unwrap();
        let grads = autograd::backward_with(&out, &Tensor::scalar(&gpu, g as f32).unwrap()).unwrap();
        let dp_gpu = grads.of(&p).unwrap();
        let dt_gpu = grads.of(&t).unwrap();
        assert_eq!(dp_gpu.shape(), sp);
        assert_eq!(dt_gpu.shape(), st);
        let tol = r::tolerance::plcc_backward(&p64, &t64, &stats, g);
        assert_tensor_within(&format!("plcc dpred {sp:?}"), dp_gpu, &dp, tol);
        assert_tensor_within(&format!("plcc dtarget {st:?}"), dt_gpu, &dt, tol);
    }
}

#[test]
fn plcc_of_known_values() {
    // pred [1, 2, 3]: mean 2, var 2/3. target 2 pred: cov 4/3, var 8/3, so
    // r = (4/3) / sqrt(2/3 * 8/3) = 1 and the loss is 0 (eps = 1e-8 moves it by ~1e-8).
    // The gradient vanishes there: dr/dp_i = (dt_i / sqrt(vp vt) - r dp_i / vp) / n
    // with dt = 2 dp and sqrt(vt / vp) = 2 gives (2 dp_i / (2 vp) - dp_i / vp) / n = 0.
    // Reversed target [6, 4, 2]: r = -1, loss 2.
    let gpu = gpu();
    let p = Tensor::from_slice(&gpu, &[1.0, 2.0, 3.0], &[3])
        .unwrap()
        .requires_grad_();
    let t = Tensor::from_slice(&gpu, &[2.0, 4.0, 6.0], &[3]).unwrap();
    let out = loss::plcc_loss(&p, &t).unwrap();
    assert_tensor("plcc r = 1", &out, &[0.0], 1e-6, 0.0);
    let grads = autograd::backward(&out).unwrap();
    assert_tensor("plcc r = 1 gradient", grads.of(&p).unwrap(), &[0.0; 3], 1e-6, 0.0);
    let t = Tensor::from_slice(&gpu, &[6.0, 4.0, 2.0], &[3]).unwrap();
    assert_tensor(
        "plcc r = -1",
        &loss::plcc_loss(&p, &t).unwrap(),
        &[2.0],
        1e-6,
        0.0,
    );
}

#[test]
fn plcc_of_a_single_sample_is_one_with_zero_gradient() {
    // B = 1: both centred values are 0, so cov = 0, r = 0 / sqrt(eps * eps) = 0,
    // loss = 1, and every gradient term carries a centred value: 0, never NaN.
    let gpu = gpu();
    let p = Tensor::from_slice(&gpu, &[0.3], &[1, 1])
        .unwrap()
        .requires_grad_();
    let t = Tensor::from_slice(&gpu, &[0.9], &[1]).unwrap().requires_grad_();
    let out = loss::plcc_loss(&p, &t).unwrap();
    assert_tensor("plcc B=1", &out, &[1.0], 0.0, 0.0);
    let grads = autograd::backward(&out).unwrap();
    assert_tensor("plcc B=1 dpred", grads.of(&p).unwrap(), &[0.0], 0.0, 0.0);
    assert_tensor("plcc B=1 dtarget", grads.of(&t).unwrap(), &[0.0], 0.0, 0.0);
}

#[test]
fn plcc_of_a_constant_prediction_is_finite() {
    // A constant prediction has var 0: r = 0 up to the rounding of its f32 mean, the
    // loss is 1, and the gradient is finite (bounded by eps, see plcc_loss_eps).
    let gpu = gpu();
    let n = 300;
    let pv = vec![0.4f32; n];
    let tv = rand_vec(400, n);
    let p = Tensor::from_slice(&gpu, &pv, &[n]).unwrap().requires_grad_();
    let t = Tensor::from_slice(&gpu, &tv, &[n]).unwrap();
    let out = loss::plcc_loss(&p, &t).unwrap();
    assert_tensor("plcc constant", &out, &[1.0], 1e-3, 0.0);
    let g = autograd::backward(&out)
        .unwrap()
        .of(&p)
        .unwrap()
        .to_vec()
        .unwrap();
    assert!(g.iter().all(|v| v.is_finite()), "{:?}", &g[..4]);
}

#[test]
fn losses_are_bitwise_deterministic() {
    let gpu = gpu();
    let (pv, tv) = plcc_inputs(500, 100_000);
    let p = Tensor::from_slice(&gpu, &pv, &[100_000]).unwrap();
    let t = Tensor::from_slice(&gpu, &tv, &[100_000]).unwrap();
    for _ in 0..2 {
        let a = loss::mse(&p, &t).unwrap().item().unwrap();
        let b = loss::mse(&p, &t).unwrap().item().unwrap();
        assert_eq!(a.to_bits(), b.to_bits());
        let a = loss::plcc_loss(&p, &t).unwrap().item().unwrap();
        let b = loss::plcc_loss(&p, &t).unwrap().item().unwrap();
        assert_eq!(a.to_bits(), b.to_bits());
    }
}

#[test]
fn mismatched_shapes_name_both() {
    let gpu = gpu();
    let z = |s: &[usize]| Tensor::zeros(&gpu, s).unwrap();
    for e in [
        loss::mse(&z(&[2, 3]), &z(&[3, 2])).unwrap_err(),
        loss::l1(&z(&[2, 3]), &z(&[3, 2])).unwrap_err(),
        loss::huber(&z(&[2, 3]), &z(&[3, 2]), 1.0).unwrap_err(),
    ] {
        let e = e.to_string();
        assert!(e.contains("[2, 3]") && e.contains("[3, 2]"), "{e}");
    }
    // [B, 1] against [B] broadcasts in torch; here it is refused.
    let e = loss::mse(&z(&[4, 1]), &z(&[4])).unwrap_err().to_string();
    assert!(e.contains("[4, 1]") && e.contains("[4]"), "{e}");
    let e = loss::plcc_loss(&z(&[4, 2]), &z(&[4])).unwrap_err().to_string();
    assert!(e.contains("[4, 2]") && e.contains("[4]"), "{e}");
    let e = loss::plcc_loss(&z(&[4]), &z(&[5, 1])).unwrap_err().to_string();
    assert!(e.contains("[4]") && e.contains("[5, 1]"), "{e}");
    let e = loss::huber(&z(&[3]), &z(&[3]), 0.0).unwrap_err().to_string();
    assert!(e.contains("delta"), "{e}");
    let e = loss::pointwise_with(Pointwise::Mse, &z(&[7]), &z(&[7]), LossVersion::V1Vec4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("divisible by 4"), "{e}");
}

#[test]
fn plcc_forward_v1_matches_ref_largest_batch() {
    // The largest batch plcc_loss takes: the per-element entry loops 2 * 31,250 times
    // per lane, just under llvmpipe's 65,535-iteration cap.
    let gpu = gpu();
    let n = loss::PLCC_MAX_BATCH;
    let (pv, tv) = plcc_inputs(600, n);
    let p = Tensor::from_slice(&gpu, &pv, &[n]).unwrap();
    let t = Tensor::from_slice(&gpu, &tv, &[n]).unwrap();
    let (want, _) = r::plcc_forward_ref(&f64s(&pv), &f64s(&tv), loss::PLCC_EPS as f64);
    for version in [LossVersion::V1, LossVersion::V1Vec4] {
        let out = loss::plcc_loss_with(&p, &t, loss::PLCC_EPS, version).unwrap();
        // f32 sums over 8M values in 256 lanes of 31,250: ~1e-4 relative on the moments.
        assert_tensor(&format!("plcc {version:?} B={n}"), &out, &[want], 1e-4, 1e-4);
    }
    let e = loss::plcc_loss(
        &Tensor::zeros(&gpu, &[n + 1]).unwrap(),
        &Tensor::zeros(&gpu, &[n + 1]).unwrap(),
    );
    assert!(e.unwrap_err().to_string().contains("8000000"));
}
