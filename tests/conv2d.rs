//! conv2d kernels (forward, backward-data, backward-weight, bias) against the f64
//! reference, the reference backward against finite differences, the tape, errors.

#[macro_use]
mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use common::*;
use cprl::Tensor;
use cprl::autograd::{self, gradcheck::assert_grad};
use cprl::gpu::{LaunchOverride, with_launch_override};
use cprl::ops::conv2d::{
    self as conv, Conv2dBackwardData as Bd, Conv2dBackwardWeight as Bw, Conv2dForward as Fw, Conv2dParams,
    Conv2dVersions,
};
use cprl::reference::Tolerance;
use cprl::reference::conv2d as r;

/// One convolution of the shape table.
#[derive(Clone, Copy, Debug)]
struct Case {
    what: &'static str,
    x: [usize; 4],
    w: [usize; 4],
    p: Conv2dParams,
    bias: bool,
}

const P1: Conv2dParams = Conv2dParams::new(1, 0);

const CASES: &[Case] = &[
    Case {
        what: "1x1 kernel",
        x: [2, 5, 7, 6],
        w: [3, 5, 1, 1],
        p: P1,
        bias: true,
    },
    Case {
        what: "1x1 input",
        x: [3, 4, 1, 1],
        w: [6, 4, 1, 1],
        p: P1,
        bias: false,
    },
    Case {
        what: "1x1 input, 3x3 kernel, padding 1",
        x: [2, 4, 1, 1],
        w: [5, 4, 3, 3],
        p: Conv2dParams::new(1, 1),
        bias: true,
    },
    Case {
        what: "odd sizes, stride 2",
        x: [2, 3, 13, 11],
        w: [7, 3, 3, 3],
        p: Conv2dParams::new(2, 1),
        bias: true,
    },
    Case {
        what: "unequal stride, padding, dilation",
        x: [2, 6, 15, 17],
        w: [5, 6, 3, 2],
        p: Conv2dParams::new(1, 0)
            .stride_hw(2, 1)
            .padding_hw(1, 0)
            .dilation_hw(1, 2),
        bias: false,
    },
    Case {
        what: "unequal, the other way round",
        x: [1, 3, 9, 14],
        w: [4, 3, 2, 3],
        p: Conv2dParams::new(1, 0)
            .stride_hw(1, 3)
            .padding_hw(0, 2)
            .dilation_hw(3, 1),
        bias: true,
    },
    Case {
        what: "groups 2",
        x: [2, 6, 9, 8],
        w: [4, 3, 3, 3],
        p: Conv2dParams::new(1, 1).groups(2),
        bias: true,
    },
    Case {
        what: "depthwise, stride 2",
        x: [2, 8, 10, 9],
        w: [8, 1, 3, 3],
        p: Conv2dParams::new(2, 1).groups(8),
        bias: true,
    },
    Case {
        what: "depthwise multiplier 2, 5x5",
        x: [1, 3, 11, 12],
        w: [6, 1, 5, 5],
        p: Conv2dParams::new(1, 2).stride_hw(1, 2).groups(3),
        bias: false,
    },
    Case {
        what: "channels off every tile, batch 1",
        x: [1, 37, 12, 13],
        w: [67, 37, 3, 3],
        p: Conv2dParams::new(1, 1),
        bias: true,
    },
    Case {
        what: "kernel as large as the padded input",
        x: [1, 2, 4, 4],
        w: [3, 2, 6, 6],
        p: Conv2dParams::new(1, 1),
        bias: false,
    },
    Case {
        what: "stride larger than the kernel",
        x: [2, 3, 10, 10],
        w: [4, 3, 2, 2],
        p: Conv2dParams::new(3, 0),
        bias: true,
    },
    Case {
        what: "large: N=8, 32->64, 56x56, 3x3 s2",
        x: [8, 32, 56, 56],
        w: [64, 32, 3, 3],
        p: Conv2dParams::new(2, 1),
        bias: true,
    },
];

/// The CNN's first layer with fewer output channels: backward-weight and the bias
/// gradient reduce over N*OH*OW = 401,408 pixels, the longest reduction the library
/// meets (llvmpipe's loop cap is 65,535 per invocation; the number of output channels
/// does not change any loop's length).
const LONGEST: Case = Case {
    what: "CNN layer 1, 4 outputs: N=32, 3->4, 224x224, 3x3 s2 (401,408-pixel reduction)",
    x: [32, 3, 224, 224],
    w: [4, 3, 3, 3],
    p: Conv2dParams::new(2, 1),
    bias: true,
};

/// Shapes that the forward's and backward-data's V5 and V6 run with their own kernels
/// (few input channels per group, strides 1 or 2, kernel spans up to 3): every override
/// path of the generated shaders (strides, padding residues, dilation, vec4 dy loads
/// and dx or y stores or not, groups) and the tile edges.
const SMALL_CASES: &[Case] = &[
    Case {
        what: "image layer, odd sizes, stride 2, padding 1",
        x: [2, 3, 13, 11],
        w: [5, 3, 3, 3],
        p: Conv2dParams::new(2, 0).padding_hw(1, 1),
        bias: false,
    },
    Case {
        what: "size-1 dims: 1x1 image, one channel each, 3x3 padding 1",
        x: [1, 1, 1, 1],
        w: [1, 1, 3, 3],
        p: Conv2dParams::new(1, 0).padding_hw(1, 1),
        bias: false,
    },
    Case {
        what: "one input row, 1x3 kernel, strides (1, 2)",
        x: [2, 2, 1, 9],
        w: [3, 2, 1, 3],
        p: Conv2dParams::new(1, 0).stride_hw(1, 2).padding_hw(0, 1),
        bias: false,
    },
    Case {
        what: "stride 1, padding 1, W % 4 == 0 (vec4 stores), odd Og",
        x: [2, 3, 10, 12],
        w: [7, 3, 3, 3],
        p: Conv2dParams::new(1, 0).padding_hw(1, 1),
        bias: false,
    },
    Case {
        what: "2x2 dilation 2, stride 2, no padding, Cg 4",
        x: [1, 4, 9, 7],
        w: [3, 4, 2, 2],
        p: Conv2dParams::new(2, 0).dilation_hw(2, 2),
        bias: false,
    },
    Case {
        what: "2x3 kernel, strides (2, 1), padding (1, 2)",
        x: [3, 2, 11, 16],
        w: [6, 2, 2, 3],
        p: Conv2dParams::new(1, 0).stride_hw(2, 1).padding_hw(1, 2),
        bias: false,
    },
    Case {
        what: "stride 2, no padding, OW % 4 == 0 (vec4 dy loads), odd W",
        x: [2, 3, 17, 17],
        w: [4, 3, 3, 3],
        p: Conv2dParams::new(2, 0),
        bias: false,
    },
    Case {
        what: "padding 3 > kernel, stride 2",
        x: [1, 2, 5, 6],
        w: [2, 2, 3, 3],
        p: Conv2dParams::new(2, 0).padding_hw(3, 3),
        bias: false,
    },
    Case {
        what: "groups 3 (one channel each), multiplier 2, stride 2",
        x: [2, 3, 10, 9],
        w: [6, 1, 3, 3],
        p: Conv2dParams::new(2, 0).padding_hw(1, 1).groups(3),
        bias: false,
    },
    Case {
        what: "1024 output channels (the loop over them)",
        x: [1, 3, 20, 20],
        w: [1024, 3, 3, 3],
        p: Conv2dParams::new(1, 0).padding_hw(1, 1),
        bias: false,
    },
    Case {
        what: "large: the CNN's first layer at N=4, 3->32, 224x224, 3x3 s2",
        x: [4, 3, 224, 224],
        w: [32, 3, 3, 3],
        p: Conv2dParams::new(2, 0).padding_hw(1, 1),
        bias: false,
    },
];

/// Inputs of a case (fixed salts, so every version sees the same values) and the
/// reference results, computed once per test binary.
struct Data {
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    dy: Vec<f32>,
    y: Vec<f64>,
    dx: Vec<f64>,
    dw: Vec<f64>,
    db: Vec<f64>,
    y_shape: [usize; 4],
}

fn data(case: &Case) -> Arc<Data> {
    type Slot = Arc<OnceLock<Arc<Data>>>;
    static CACHE: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    let key = format!("{case:?}");
    let slot = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(key.clone())
        .or_default()
        .clone();
    slot.get_or_init(|| {
        let salt = key.len() as u64 * 7919;
        let x = rand_vec(salt, case.x.iter().product());
        let w = rand_vec(salt + 1, case.w.iter().product());
        let b = rand_vec(salt + 2, case.w[0]);
        let y_shape = case.p.output_shape(&case.x, &case.w).unwrap();
        let dy = rand_vec(salt + 3, y_shape.iter().product());
        let (x64, w64, b64, dy64) = (f64s(&x), f64s(&w), f64s(&b), f64s(&dy));
        let y = r::conv2d_forward_ref(&x64, case.x, &w64, case.w, case.bias.then_some(&b64[..]), &case.p);
        let mut dx = vec![0.0; x.len()];
        r::conv2d_backward_data_ref(&dy64, &w64, case.x, case.w, &case.p, &mut dx);
        let mut dw = vec![0.0; w.len()];
        r::conv2d_backward_weight_ref(&dy64, &x64, case.x, case.w, &case.p, &mut dw);
        let mut db = vec![0.0; case.w[0]];
        r::conv2d_backward_bias_ref(&dy64, y_shape, &mut db);
        Arc::new(Data {
            x,
            w,
            b,
            dy,
            y,
            dx,
            dw,
            db,
            y_shape,
        })
    })
    .clone()
}

fn t(gpu: &Arc<cprl::Gpu>, v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(gpu, v, shape).unwrap()
}

/// V4 needs subgroups of 8 to 64 lanes (not on GL): its tests say so and pass there.
fn skip(gpu: &cprl::Gpu, subgroup_version: bool) -> bool {
    let skip = subgroup_version && !conv::subgroups_fit(gpu);
    if skip {
        eprintln!("skipped: {} has no subgroups of 8 to 64 lanes", gpu.info().name);
    }
    skip
}

fn forward_matches_ref(v: Fw, cases: &[Case]) {
    let gpu = gpu();
    if skip(&gpu, matches!(v, Fw::V4 | Fw::V6)) {
        return;
    }
    for case in cases {
        let d = data(case);
        let b = t(&gpu, &d.b, &[case.w[0]]);
        let y = conv::conv2d_forward(
            &t(&gpu, &d.x, &case.x),
            &t(&gpu, &d.w, &case.w),
            case.bias.then_some(&b),
            &case.p,
            v,
        )
        .unwrap();
        assert_eq!(y.shape(), &d.y_shape[..]);
        let Tolerance { atol, rtol } = r::tolerance(case.w[1] * case.w[2] * case.w[3]);
        assert_tensor(&format!("forward {v:?} {}", case.what), &y, &d.y, atol, rtol);
    }
}

fn backward_data_matches_ref(v: Bd, cases: &[Case]) {
    let gpu = gpu();
    if skip(&gpu, matches!(v, Bd::V4 | Bd::V6)) {
        return;
    }
    for case in cases {
        let d = data(case);
        let dx = conv::conv2d_backward_data(
            &t(&gpu, &d.dy, &d.y_shape),
            &t(&gpu, &d.w, &case.w),
            &case.x,
            &case.p,
            v,
        )
        .unwrap();
        let og = case.w[0] / case.p.groups;
        let Tolerance { atol, rtol } = r::tolerance(og * case.w[2] * case.w[3]);
        assert_tensor(
            &format!("backward-data {v:?} {}", case.what),
            &dx,
            &d.dx,
            atol,
            rtol,
        );
    }
}

fn backward_weight_matches_ref(v: Bw, cases: &[Case]) {
    let gpu = gpu();
    if skip(&gpu, v == Bw::V4) {
        return;
    }
    for case in cases {
        let d = data(case);
        let dw = conv::conv2d_backward_weight(
            &t(&gpu, &d.dy, &d.y_shape),
            &t(&gpu, &d.x, &case.x),
            &case.w,
            &case.p,
            v,
        )
        .unwrap();
        let Tolerance { atol, rtol } = r::tolerance(d.y_shape[0] * d.y_shape[2] * d.y_shape[3]);
        assert_tensor(
            &format!("backward-weight {v:?} {}", case.what),
            &dw,
            &d.dw,
            atol,
            rtol,
        );
    }
}

/// The cases of the launch sweep: odd sizes, strides, groups, 1x1, with and without
/// aligned pixel counts, few enough to run every version at every workgroup.
const SWEEP_CASES: std::ops::Range<usize> = 0..6;

/// Every GEMM workgroup an adapter could pick (64 or its subgroup size, the
/// weight-gradient kernel's subgroup size): forced in turn, each register-blocked
/// version of each pass still matches the reference. CI's CPU drivers alone would
/// run only their own.
#[test]
fn conv2d_matches_ref_at_every_workgroup_an_adapter_could_pick() {
    let gpu = gpu();
    let cases = &CASES[SWEEP_CASES];
    for lanes in launch_lanes_to_sweep(&gpu) {
        let o = LaunchOverride {
            lanes: Some(lanes),
            ..Default::default()
        };
        println!("lanes {lanes}");
        with_launch_override(o, || {
            for v in [Fw::V2, Fw::V4] {
                forward_matches_ref(v, cases);
            }
            for v in [Bd::V2, Bd::V4] {
                backward_data_matches_ref(v, cases);
            }
            for v in [Bw::V2, Bw::V4] {
                backward_weight_matches_ref(v, cases);
            }
        });
    }
}

/// Each backward-weight version also runs the longest reduction (the loop cap).
macro_rules! backward_weight_tests {
    ($($name:ident: $v:expr;)*) => {$(
        #[test]
        fn $name() {
            backward_weight_matches_ref($v, CASES);
            backward_weight_matches_ref($v, &[LONGEST]);
        }
    )*};
}

call_tests! {
    conv2d_forward_v1_matches_ref: forward_matches_ref(Fw::V1, CASES);
    conv2d_forward_v2_matches_ref: forward_matches_ref(Fw::V2, CASES);
    conv2d_forward_v3_matches_ref: forward_matches_ref(Fw::V3, CASES);
    conv2d_forward_v4_matches_ref: forward_matches_ref(Fw::V4, CASES);
    conv2d_forward_v5_matches_ref: forward_matches_ref(Fw::V5, CASES);
    conv2d_forward_v6_matches_ref: forward_matches_ref(Fw::V6, CASES);
    conv2d_forward_auto_matches_ref: forward_matches_ref(Fw::Auto, CASES);
    conv2d_forward_v5_matches_ref_small_channels: forward_small_matches_ref(Fw::V5);
    conv2d_forward_v6_matches_ref_small_channels: forward_small_matches_ref(Fw::V6);
    conv2d_forward_auto_matches_ref_small_channels: forward_small_matches_ref(Fw::Auto);
}

/// The small-channel table (which V5 and V6 run with their own kernels) through the
/// forward, each case with and without a bias.
fn forward_small_matches_ref(v: Fw) {
    let with_bias: Vec<Case> = SMALL_CASES.iter().map(|&c| Case { bias: true, ..c }).collect();
    forward_matches_ref(v, SMALL_CASES);
    forward_matches_ref(v, &with_bias);
}

call_tests! {
    conv2d_backward_data_v1_matches_ref: backward_data_matches_ref(Bd::V1, CASES);
    conv2d_backward_data_v2_matches_ref: backward_data_matches_ref(Bd::V2, CASES);
    conv2d_backward_data_v4_matches_ref: backward_data_matches_ref(Bd::V4, CASES);
    conv2d_backward_data_v5_matches_ref: backward_data_matches_ref(Bd::V5, CASES);
    conv2d_backward_data_v6_matches_ref: backward_data_matches_ref(Bd::V6, CASES);
    conv2d_backward_data_auto_matches_ref: backward_data_matches_ref(Bd::Auto, CASES);
    conv2d_backward_data_v5_matches_ref_small_channels: backward_data_matches_ref(Bd::V5, SMALL_CASES);
    conv2d_backward_data_v6_matches_ref_small_channels: backward_data_matches_ref(Bd::V6, SMALL_CASES);
    conv2d_backward_data_auto_matches_ref_small_channels: backward_data_matches_ref(Bd::Auto, SMALL_CASES);
}

/// The small-channel table runs V5 and V6's own kernels, not their fallbacks.
#[test]
fn conv2d_backward_data_small_cases_fit_v5_and_v6() {
    for case in SMALL_CASES {
        assert!(
            conv::conv2d_backward_data_small_fits(&case.p, &case.x, &case.w).unwrap(),
            "{} does not fit V5/V6",
            case.what
        );
    }
    // ... and the fallbacks are taken where they must be: Cg*KH*KW = 36 > 32, stride 3,
    // span 4, 5 channels.
    let fits = |x: [usize; 4], w: [usize; 4], p| conv::conv2d_backward_data_small_fits(&p, &x, &w).unwrap();
    assert!(!fits([1, 4, 5, 5], [2, 4, 3, 3], Conv2dParams::new(1, 1)));
    assert!(!fits([1, 3, 9, 9], [2, 3, 3, 3], Conv2dParams::new(3, 0)));
    assert!(!fits([1, 3, 9, 9], [2, 3, 5, 5], Conv2dParams::new(1, 2)));
    assert!(!fits([1, 5, 9, 9], [2, 5, 1, 1], Conv2dParams::new(1, 0)));
}

backward_weight_tests! {
    conv2d_backward_weight_v1_matches_ref: Bw::V1;
    conv2d_backward_weight_v2_matches_ref: Bw::V2;
    conv2d_backward_weight_v4_matches_ref: Bw::V4;
    conv2d_backward_weight_auto_matches_ref: Bw::Auto;
}

#[test]
fn conv2d_backward_bias_matches_ref() {
    let gpu = gpu();
    for case in CASES.iter().chain([&LONGEST]) {
        let d = data(case);
        let db = conv::conv2d_backward_bias(&t(&gpu, &d.dy, &d.y_shape)).unwrap();
        let Tolerance { atol, rtol } = r::tolerance(d.y_shape[0] * d.y_shape[2] * d.y_shape[3]);
        assert_tensor(&format!("backward-bias {}", case.what), &db, &d.db, atol, rtol);
    }
}

/// Every gradient through the tape (`autograd::backward_with`), for each version of
/// the backward passes, against the reference.
#[test]
fn conv2d_backward_matches_ref_through_the_tape() {
    let gpu = gpu();
    let versions = [
        Conv2dVersions::default(),
        Conv2dVersions {
            forward: Fw::V1,
            backward_data: Bd::V1,
            backward_weight: Bw::V1,
        },
    ];
    for case in CASES {
        let d = data(case);
        // The naive V1 set only on the small cases (the per-pass tests run V1 on all).
        let large = case.x.iter().product::<usize>() > 100_000;
        for &v in &versions[..if large { 1 } else { 2 }] {
            let x = t(&gpu, &d.x, &case.x).requires_grad_();
            let w = t(&gpu, &d.w, &case.w).requires_grad_();
            let b = t(&gpu, &d.b, &[case.w[0]]).requires_grad_();
            let y = conv::conv2d_with(&x, &w, case.bias.then_some(&b), &case.p, v).unwrap();
            let grads = autograd::backward_with(&y, &t(&gpu, &d.dy, &d.y_shape)).unwrap();
            let what = format!("{v:?} {}", case.what);
            let og = case.w[0] / case.p.groups;
            let Tolerance { atol, rtol } = r::tolerance(og * case.w[2] * case.w[3]);
            assert_tensor(&format!("dx {what}"), grads.of(&x).unwrap(), &d.dx, atol, rtol);
            let Tolerance { atol, rtol } = r::tolerance(d.y_shape[0] * d.y_shape[2] * d.y_shape[3]);
            assert_tensor(&format!("dw {what}"), grads.of(&w).unwrap(), &d.dw, atol, rtol);
            if case.bias {
                assert_tensor(&format!("db {what}"), grads.of(&b).unwrap(), &d.db, atol, rtol);
            } else {
                assert!(grads.get(&b).is_none());
            }
        }
    }
}

/// The f64 backward references against central differences of the forward reference,
/// on the small cases (each difference re-runs the whole forward).
#[test]
fn conv2d_reference_backward_matches_finite_differences() {
    for case in CASES.iter().filter(|c| c.x.iter().product::<usize>() <= 1200) {
        let d = data(case);
        let (x, w, b, g) = (f64s(&d.x), f64s(&d.w), f64s(&d.b), f64s(&d.dy));
        let bias = case.bias.then_some(&b[..]);
        // The forward is bilinear, so central differences are exact up to rounding.
        let (eps, atol, rtol) = (1e-3, 1e-8, 1e-7);
        assert_grad(
            &format!("dx {}", case.what),
            &|v: &[f64]| r::conv2d_forward_ref(v, case.x, &w, case.w, bias, &case.p),
            &x,
            &g,
            &d.dx,
            eps,
            atol,
            rtol,
        );
        assert_grad(
            &format!("dw {}", case.what),
            &|v: &[f64]| r::conv2d_forward_ref(&x, case.x, v, case.w, bias, &case.p),
            &w,
            &g,
            &d.dw,
            eps,
            atol,
            rtol,
        );
        assert_grad(
            &format!("db {}", case.what),
            &|v: &[f64]| r::conv2d_forward_ref(&x, case.x, &w, case.w, Some(v), &case.p),
            &b,
            &g,
            &d.db,
            eps,
            atol,
            rtol,
        );
    }
}

#[test]
fn conv2d_of_hand_derived_values() {
    // x = 1..16 as one 4x4 image, w = a 2x2 box of ones, stride 2: each output is the
    // sum of one 2x2 block: 1+2+5+6 = 14, 3+4+7+8 = 22, 9+10+13+14 = 46, 11+12+15+16 = 54;
    // bias 0.5 is added to each.
    let gpu = gpu();
    let xv: Vec<f32> = (1..=16).map(|v| v as f32).collect();
    let x = t(&gpu, &xv, &[1, 1, 4, 4]).requires_grad_();
    let w = t(&gpu, &[1.0; 4], &[1, 1, 2, 2]).requires_grad_();
    let b = t(&gpu, &[0.5], &[1]).requires_grad_();
    let p = Conv2dParams::new(2, 0);
    let y = conv::conv2d(&x, &w, Some(&b), &p).unwrap();
    assert_close(
        "box sums",
        &y.to_vec().unwrap(),
        &[14.5, 22.5, 46.5, 54.5],
        0.0,
        0.0,
    );
    // With dy = [1, 2, 3, 4]: every input sits in exactly one window, so dx is the dy of
    // its window (a 2x2 upsampling of dy); dw[i, j] = sum over windows of dy * the
    // window's (i, j) element = 1*1 + 2*3 + 3*9 + 4*11 = 78 for (0, 0), and so on;
    // db = 1 + 2 + 3 + 4 = 10.
    let dy = t(&gpu, &[1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]);
    let grads = autograd::backward_with(&y, &dy).unwrap();
    #[rustfmt::skip]
    let dx_want = [1.0, 1.0, 2.0, 2.0,
                   1.0, 1.0, 2.0, 2.0,
                   3.0, 3.0, 4.0, 4.0,
                   3.0, 3.0, 4.0, 4.0];
    assert_tensor("dx", grads.of(&x).unwrap(), &dx_want, 0.0, 0.0);
    // (0,1): 2 + 2*4 + 3*10 + 4*12 = 88; (1,0): 5 + 2*7 + 3*13 + 4*15 = 118; (1,1): 128.
    assert_tensor("dw", grads.of(&w).unwrap(), &[78.0, 88.0, 118.0, 128.0], 0.0, 0.0);
    assert_tensor("db", grads.of(&b).unwrap(), &[10.0], 0.0, 0.0);
}

#[test]
fn conv2d_padding_reads_zeros() {
    // A 3x3 box of ones over a 2x2 image of ones with padding 1: each output sees all
    // four pixels (the rest of its window is padding), so y = 4 everywhere.
    let gpu = gpu();
    let x = t(&gpu, &[1.0; 4], &[1, 1, 2, 2]);
    let w = t(&gpu, &[1.0; 9], &[1, 1, 3, 3]);
    let y = conv::conv2d(&x, &w, None, &Conv2dParams::new(1, 1)).unwrap();
    assert_close("padded box", &y.to_vec().unwrap(), &[4.0; 4], 0.0, 0.0);
}

#[test]
fn conv2d_errors_name_the_shapes() {
    let gpu = gpu();
    let z = |s: &[usize]| Tensor::zeros(&gpu, s).unwrap();
    let p = Conv2dParams::default();
    // Weight expects C/groups input channels.
    let e = conv::conv2d(&z(&[1, 4, 5, 5]), &z(&[2, 3, 3, 3]), None, &p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[1, 4, 5, 5]") && e.contains("[2, 3, 3, 3]"), "{e}");
    // Channels not divisible by groups.
    let g3 = p.groups(3);
    let e = conv::conv2d(&z(&[1, 4, 5, 5]), &z(&[3, 1, 3, 3]), None, &g3)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not divisible by groups = 3") && e.contains("[1, 4, 5, 5]"),
        "{e}"
    );
    let e = conv::conv2d(&z(&[1, 3, 5, 5]), &z(&[4, 1, 3, 3]), None, &g3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("output channels") && e.contains("[4, 1, 3, 3]"), "{e}");
    // Kernel larger than the padded input.
    let e = conv::conv2d(
        &z(&[1, 1, 4, 4]),
        &z(&[1, 1, 7, 3]),
        None,
        &Conv2dParams::new(1, 1),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("larger than the padded input") && e.contains("[1, 1, 7, 3]"),
        "{e}"
    );
    let dil = p.dilation_hw(1, 3);
    let e = conv::conv2d(&z(&[1, 1, 4, 6]), &z(&[1, 1, 3, 3]), None, &dil)
        .unwrap_err()
        .to_string();
    assert!(e.contains("(3 x 7)"), "{e}");
    // Wrong ranks, a bias of the wrong length, zero stride.
    let e = conv::conv2d(&z(&[4, 5, 5]), &z(&[1, 4, 3, 3]), None, &p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[4, 5, 5]"), "{e}");
    let e = conv::conv2d(&z(&[1, 4, 5, 5]), &z(&[2, 4, 3, 3]), Some(&z(&[3])), &p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[3]") && e.contains("[2]"), "{e}");
    let s0 = p.stride_hw(0, 1);
    assert!(conv::conv2d(&z(&[1, 4, 5, 5]), &z(&[2, 4, 3, 3]), None, &s0).is_err());
    // Too many terms per output for one invocation's loop.
    let e = conv::conv2d(&z(&[1, 4000, 3, 3]), &z(&[1, 4000, 3, 3]), None, &p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("loop cap"), "{e}");
}

#[test]
fn conv2d_backward_weight_is_bitwise_deterministic() {
    let gpu = gpu();
    let case = &CASES[CASES.len() - 1];
    let d = data(case);
    let dy = t(&gpu, &d.dy, &d.y_shape);
    let x = t(&gpu, &d.x, &case.x);
    let a = conv::conv2d_backward_weight(&dy, &x, &case.w, &case.p, Bw::Auto)
        .unwrap()
        .to_vec()
        .unwrap();
    let b = conv::conv2d_backward_weight(&dy, &x, &case.w, &case.p, Bw::Auto)
        .unwrap()
        .to_vec()
        .unwrap();
    assert!(a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()));
}
