//! SortMask against the f64 reference (pairwise and bitonic-network ranks), gradients
//! through the tape, the reference backward against finite differences, hand cases.

#[macro_use]
mod common;

use common::*;
use cprl::Tensor;
use cprl::autograd::{self, gradcheck::assert_grad};
use cprl::ops::softrank::{Method, NetworkKind, Relaxation};
use cprl::ops::sortmask::{SortMaskConfig, SortMaskVersion, sortmask, sortmask_with};
use cprl::reference::sortmask::{SortMaskRefConfig, sortmask_backward_ref, sortmask_ref, tolerance};

const BITONIC: Method = Method::Network {
    kind: NetworkKind::Bitonic,
    relaxation: Relaxation::Logistic,
};

/// The default method (torchsort's operator).
const PAV: Method = Method::Pav(cprl::ops::softrank::Regularization::L2);

fn config(method: Method, strength: f32) -> SortMaskConfig {
    SortMaskConfig {
        quantile: 0.5,
        temperature: 0.05,
        method,
        strength,
    }
}

fn ref_config(cfg: &SortMaskConfig) -> SortMaskRefConfig {
    SortMaskRefConfig {
        quantile: cfg.quantile as f64,
        temperature: cfg.temperature as f64,
        method: cfg.method,
        strength: cfg.strength as f64,
    }
}

/// [B, C, H, W]: one position, odd maps, 2048 rows of 4, the 56 x 56 map, a 64 x 64 map.
fn shapes(method: Method) -> Vec<[usize; 4]> {
    let mut s = vec![
        [1, 1, 1, 1],
        [2, 3, 1, 2],
        [2, 3, 5, 7],
        [32, 64, 2, 2],
        [1, 2, 56, 56],
        [1, 1, 64, 64],
    ];
    if method != Method::Pairwise {
        // The network is cheap enough for more rows of the 56 x 56 map.
        s.push([2, 8, 56, 56]);
    }
    s
}

fn run_case(method: Method, version: SortMaskVersion, check_grads: bool) {
    let gpu = gpu();
    let cfg = config(method, 0.1);
    let rcfg = ref_config(&cfg);
    for (k, shape) in shapes(method).into_iter().enumerate() {
        let numel: usize = shape.iter().product();
        let n = shape[2] * shape[3];
        if version == SortMaskVersion::V2 && n % 4 != 0 {
            continue;
        }
        let fv = rand_vec(10 + k as u64, numel);
        let f = Tensor::from_slice(&gpu, &fv, &shape).unwrap().requires_grad_();
        let f64v = f64s(&fv);
        let want = sortmask_ref(&f64v, n, &rcfg);
        let out = sortmask_with(&f, &cfg, version).unwrap();
        assert_eq!(out.shape(), &shape);
        let what = format!("sortmask {version:?} {method:?} {shape:?}");
        assert_tensor_within(&what, &out, &want.out, tolerance::OUT);
        if !check_grads {
            continue;
        }
        let gv = rand_vec(20 + k as u64, numel);
        let g = Tensor::from_slice(&gpu, &gv, &shape).unwrap();
        let grads = autograd::backward_with(&out, &g).unwrap();
        let mut df = vec![0.0; numel];
        sortmask_backward_ref(&f64v, n, &rcfg, &want, &f64s(&gv), &mut df);
        let tol = tolerance::backward(&df);
        assert_tensor_within(&format!("{what} backward"), grads.of(&f).unwrap(), &df, tol);
    }
}

call_tests! {
    sortmask_forward_v1_matches_ref_pairwise: run_case(Method::Pairwise, SortMaskVersion::V1, false);
    sortmask_backward_v1_matches_ref_pairwise: run_case(Method::Pairwise, SortMaskVersion::V1, true);
    sortmask_backward_v1_matches_ref_network: run_case(BITONIC, SortMaskVersion::V1, true);
    sortmask_forward_v2_matches_ref_pairwise: run_case(Method::Pairwise, SortMaskVersion::V2, false);
    sortmask_backward_v2_matches_ref_pairwise: run_case(Method::Pairwise, SortMaskVersion::V2, true);
    sortmask_backward_v2_matches_ref_network: run_case(BITONIC, SortMaskVersion::V2, true);
    sortmask_backward_auto_matches_ref_network: run_case(BITONIC, SortMaskVersion::Auto, true);
    sortmask_backward_v1_matches_ref_pav: run_case(PAV, SortMaskVersion::V1, true);
    sortmask_backward_v2_matches_ref_pav: run_case(PAV, SortMaskVersion::V2, true);
    sortmask_backward_auto_matches_ref_pav: run_case(PAV, SortMaskVersion::Auto, true);
}

#[test]
fn sortmask_reference_backward_matches_finite_differences() {
    for method in [Method::Pairwise, BITONIC, PAV] {
        for &(rows, n) in &[(1, 1), (2, 2), (2, 5), (1, 9)] {
            let f = f64s(&rand_vec(40 + n as u64, rows * n));
            let g = f64s(&rand_vec(41 + n as u64, rows * n));
            let cfg = SortMaskRefConfig {
                quantile: 0.4,
                temperature: 0.3,
                method,
                strength: 0.5,
            };
            let fwd = sortmask_ref(&f, n, &cfg);
            let mut df = vec![0.0; rows * n];
            sortmask_backward_ref(&f, n, &cfg, &fwd, &g, &mut df);
            assert_grad(
                &format!("sortmask {method:?} [{rows}, {n}]"),
                &|x: &[f64]| sortmask_ref(x, n, &cfg).out,
                &f,
                &g,
                &df,
                1e-6,
                1e-6,
                1e-5,
            );
        }
    }
}

#[test]
fn sortmask_forward_v1_matches_ref_hand_cases() {
    let gpu = gpu();
    let s = |t: f64| 1.0 / (1.0 + (-t).exp());
    // One position per map: f = mu, so out = f whatever the gate.
    let f = Tensor::from_slice(&gpu, &[0.7, -2.0], &[1, 2, 1, 1]).unwrap();
    assert_close(
        "n=1",
        &sortmask(&f, &config(Method::Pairwise, 0.1))
            .unwrap()
            .to_vec()
            .unwrap(),
        &[0.7f32 as f64, -2.0],
        0.0,
        0.0,
    );
    // f = [-4, -1, 2, 3]: mu = 0, d = [4, 1, 2, 3], hard ranks (strength 1e-4) [4, 1, 2, 3],
    // u = [1, 0, 1/3, 2/3], g = sigmoid((u - 0.5) / 0.05) = sigmoid([10, -10, -10/3, 10/3]),
    // out = f g: the smallest deviations are pulled to the mean.
    let f = Tensor::from_slice(&gpu, &[-4.0, -1.0, 2.0, 3.0], &[1, 1, 2, 2]).unwrap();
    let out = sortmask(&f, &config(Method::Pairwise, 1e-4))
        .unwrap()
        .to_vec()
        .unwrap();
    let want = [
        -4.0 * s(10.0),
        -s(-10.0),
        2.0 * s(-10.0 / 3.0),
        3.0 * s(10.0 / 3.0),
    ];
    assert_close("hand 2x2", &out, &want, 1e-6, 1e-5);
}

#[test]
fn sortmask_rejects_bad_arguments() {
    let gpu = gpu();
    let f = Tensor::zeros(&gpu, &[2, 3, 4]).unwrap();
    let e = sortmask(&f, &config(Method::Pairwise, 0.1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("[2, 3, 4]"), "{e}");
    let f = Tensor::zeros(&gpu, &[1, 1, 2, 2]).unwrap();
    let bad = SortMaskConfig {
        temperature: -1.0,
        ..config(Method::Pairwise, 0.1)
    };
    assert!(sortmask(&f, &bad).is_err());
    // V2 reads rows as vec4s.
    let odd = Tensor::zeros(&gpu, &[1, 1, 3, 3]).unwrap();
    let e = sortmask_with(&odd, &config(Method::Pairwise, 0.1), SortMaskVersion::V2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("multiple of 4"), "{e}");
}
