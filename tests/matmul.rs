//! Matmul, linear and gemm against the f64 reference, every version; the reference
//! backward against finite differences; backward through the tape.

mod common;

use common::*;
use cprl::autograd::{self, gradcheck::assert_grad};
use cprl::gpu::{LaunchOverride, with_launch_override};
use cprl::ops::matmul::{self as mm, Bias, GemmDims, MatmulVersion};
use cprl::reference::matmul::{self as r, tolerance};
use std::sync::OnceLock;

/// (a shape, b shape, trans_a, trans_b): size 1, odd sizes, sizes that are not
/// multiples of any tile (65x33x129), batched both sides, one side broadcast, every
/// transpose combination, thin and wide, K = 0 (zeros).
const CASES: &[(&[usize], &[usize], bool, bool)] = &[
    (&[1, 1], &[1, 1], false, false),
    (&[7, 5], &[5, 13], false, false),
    (&[65, 129], &[129, 33], false, false),
    (&[65, 129], &[33, 129], false, true),
    (&[129, 65], &[129, 33], true, false),
    (&[129, 65], &[33, 129], true, true),
    (&[3, 7, 5], &[3, 5, 13], false, false),
    (&[2, 3, 33, 17], &[2, 3, 9, 17], false, true),
    (&[4, 17, 33], &[17, 31], true, false),
    (&[19, 6], &[3, 6, 37], false, false),
    (&[6, 19], &[3, 37, 6], true, true),
    (&[1, 300], &[300, 2], false, false),
    (&[200, 3], &[3, 1], false, false),
    (&[64, 64], &[64, 64], false, false),
    (&[5, 0], &[0, 4], false, false),
    // Rows a multiple of 4 long (the vec4 paths of V2 and V4), M and N not tile multiples.
    (&[132, 68], &[40, 132], true, true),
    (&[3, 36, 20], &[3, 20, 44], false, false),
    (&[68, 36], &[36, 100], false, false),
];

fn versions_ok(v: MatmulVersion) -> bool {
    let gpu = gpu();
    if mm::version_available(&gpu, v) {
        return true;
    }
    // Where a version cannot run, asking for it must fail cleanly.
    let (a, _) = rand_tensor(&gpu, 1, &[2, 2]);
    let e = mm::matmul_with(&a, &a, false, false, v).unwrap_err().to_string();
    assert!(e.contains("subgroups"), "{e}");
    eprintln!("{v:?} does not run on {}: skipped", gpu.info().name);
    false
}

fn forward_matches_ref(v: MatmulVersion, cases: &[(&[usize], &[usize], bool, bool)]) {
    if !versions_ok(v) {
        return;
    }
    let gpu = gpu();
    for (i, &(sa, sb, ta, tb)) in cases.iter().enumerate() {
        let (a, av) = rand_tensor(&gpu, 10 + i as u64, sa);
        let (b, bv) = rand_tensor(&gpu, 40 + i as u64, sb);
        let (d, shape) = GemmDims::of_shapes("test", sa, sb, ta, tb).unwrap();
        let c = mm::matmul_with(&a, &b, ta, tb, v).unwrap();
        assert_eq!(c.shape(), &shape[..]);
        assert_tensor_within(
            &format!("matmul {v:?} {sa:?} x {sb:?} ta={ta} tb={tb}"),
            &c,
            &r::matmul_ref(&av, &bv, &d),
            tolerance(d.k),
        );
    }
}

/// The conv weight-gradient shape class: K far beyond llvmpipe's 65,535-iteration
/// loop cap, M and N small; both layouts of A.
fn forward_matches_ref_long_k(v: MatmulVersion) {
    forward_matches_ref(
        v,
        &[
            (&[5, 200_003], &[200_003, 7], false, false),
            (&[200_003, 9], &[200_003, 3], true, false),
            (&[200_000, 8], &[200_000, 12], true, false),
        ],
    );
}

/// 512^3, the reference computed once per run and shared by the versions.
fn forward_matches_ref_large(v: MatmulVersion) {
    if !versions_ok(v) {
        return;
    }
    static REF: OnceLock<(Vec<f64>, Vec<f64>, Vec<f64>)> = OnceLock::new();
    let s = [512, 512];
    let (d, _) = GemmDims::of_shapes("test", &s, &s, false, false).unwrap();
    let (av, bv, want) = REF.get_or_init(|| {
        let av = f64s(&rand_vec(30, 512 * 512));
        let bv = f64s(&rand_vec(31, 512 * 512));
        let want = r::matmul_ref(&av, &bv, &d);
        (av, bv, want)
    });
    let gpu = gpu();
    let to_t =
        |v: &[f64]| cprl::Tensor::from_slice(&gpu, &v.iter().map(|&x| x as f32).collect::<Vec<_>>(), &s);
    let c = mm::matmul_with(&to_t(av).unwrap(), &to_t(bv).unwrap(), false, false, v).unwrap();
    assert_tensor_within(&format!("matmul {v:?} 512^3"), &c, want, tolerance(512));
}

fn backward_matches_ref(v: MatmulVersion) {
    if !versions_ok(v) {
        return;
    }
    let gpu = gpu();
    let cases: &[(&[usize], &[usize], bool, bool)] = &[
        (&[7, 5], &[5, 13], false, false),
        (&[9, 7], &[13, 9], true, true),
        (&[3, 7, 5], &[3, 13, 5], false, true),
        // B broadcast: its gradient folds the batch into K (no transpose of A) or sums
        // per-batch products (A transposed).
        (&[3, 7, 9], &[9, 13], false, false),
        (&[3, 9, 7], &[9, 13], true, false),
        (&[3, 9, 7], &[13, 7], false, true),
        (&[2, 9, 7], &[13, 9], true, true),
        (&[9, 7], &[3, 7, 13], false, false),
        (&[7, 9], &[3, 13, 7], true, true),
        (&[33, 65], &[65, 17], false, false),
    ];
    for (i, &(sa, sb, ta, tb)) in cases.iter().enumerate() {
        let (a, av) = rand_tensor(&gpu, 70 + i as u64, sa);
        let (b, bv) = rand_tensor(&gpu, 80 + i as u64, sb);
        let (a, b) = (a.requires_grad_(), b.requires_grad_());
        let (d, _) = GemmDims::of_shapes("test", sa, sb, ta, tb).unwrap();
        let c = mm::matmul_with(&a, &b, ta, tb, v).unwrap();
        let (g, gv) = rand_tensor(&gpu, 90 + i as u64, c.shape());
        let grads = autograd::backward_with(&c, &g).unwrap();
        let mut da = vec![0.0; av.len()];
        let mut db = vec![0.0; bv.len()];
        r::matmul_backward_ref(&av, &bv, &gv, &d, &mut da, &mut db);
        let what = format!("{v:?} {sa:?} x {sb:?} ta={ta} tb={tb}");
        // dA sums over n (and the batch when A is broadcast), dB over m (and the batch).
        let ka = d.n * d.batch;
        let kb = d.m * d.batch;
        assert_tensor_within(&format!("dA {what}"), grads.of(&a).unwrap(), &da, tolerance(ka));
        assert_tensor_within(&format!("dB {what}"), grads.of(&b).unwrap(), &db, tolerance(kb));
    }
}

fn linear_matches_ref(v: MatmulVersion) {
    if !versions_ok(v) {
        return;
    }
    let gpu = gpu();
    for (i, &(rows, inp, out, with_bias)) in [
        (1, 1, 1, true),
        (5, 7, 3, true),
        (33, 65, 17, false),
        (70, 129, 10, true),
    ]
    .iter()
    .enumerate()
    {
        let (x, xv) = rand_tensor(&gpu, 100 + i as u64, &[rows, inp]);
        let (w, wv) = rand_tensor(&gpu, 110 + i as u64, &[out, inp]);
        let (bias, bv) = rand_tensor(&gpu, 120 + i as u64, &[out]);
        let (x, w, bias) = (x.requires_grad_(), w.requires_grad_(), bias.requires_grad_());
        let y = mm::linear_with(&x, &w, with_bias.then_some(&bias), v).unwrap();
        assert_eq!(y.shape(), &[rows, out]);
        let what = format!("linear {v:?} [{rows}, {inp}] x [{out}, {inp}] bias={with_bias}");
        let bias_ref = with_bias.then_some(&bv[..]);
        assert_tensor_within(
            &what,
            &y,
            &r::linear_ref(&xv, &wv, bias_ref, rows, inp, out),
            tolerance(inp),
        );

        let (g, gv) = rand_tensor(&gpu, 130 + i as u64, &[rows, out]);
        let grads = autograd::backward_with(&y, &g).unwrap();
        let (mut dx, mut dw, mut db) = (vec![0.0; xv.len()], vec![0.0; wv.len()], vec![0.0; out]);
        r::linear_backward_ref(&xv, &wv, &gv, rows, inp, out, &mut dx, &mut dw, &mut db);
        assert_tensor_within(&format!("dx {what}"), grads.of(&x).unwrap(), &dx, tolerance(out));
        assert_tensor_within(&format!("dw {what}"), grads.of(&w).unwrap(), &dw, tolerance(rows));
        if with_bias {
            assert_tensor_within(
                &format!("dbias {what}"),
                grads.of(&bias).unwrap(),
                &db,
                tolerance(rows),
            );
        } else {
            assert!(grads.get(&bias).is_none());
        }
    }
}

/// Bias per row and per column through `gemm`, split-K included (the bias must be
/// added once, after the chunks are summed), with an output reshape.
fn gemm_bias_matches_ref(v: MatmulVersion) {
    if !versions_ok(v) {
        return;
    }
    let gpu = gpu();
    // The second splits K for every version (K beyond V1's and V3's chunk, and few tiles).
    for (i, &(m, n, k)) in [(6, 5, 7), (37, 9, 40_001)].iter().enumerate() {
        let (a, av) = rand_tensor(&gpu, 140 + i as u64, &[m, k]);
        let (b, bv) = rand_tensor(&gpu, 150 + i as u64, &[n, k]);
        let (rb, rbv) = rand_tensor(&gpu, 160 + i as u64, &[m]);
        let (cb, cbv) = rand_tensor(&gpu, 170 + i as u64, &[n]);
        let (d, _) = GemmDims::of_shapes("test", &[m, k], &[n, k], false, true).unwrap();
        let c = r::matmul_ref(&av, &bv, &d);
        let rows = mm::gemm_with(&a, &b, false, true, Bias::Rows(&rb), Some(&[m * n]), v).unwrap();
        assert_eq!(rows.shape(), &[m * n]);
        let want: Vec<f64> = (0..m * n).map(|e| c[e] + rbv[e / n]).collect();
        assert_tensor_within(
            &format!("gemm {v:?} row bias {m}x{n}x{k}"),
            &rows,
            &want,
            tolerance(k),
        );
        let cols = mm::gemm_with(&a, &b, false, true, Bias::Cols(&cb), None, v).unwrap();
        let want: Vec<f64> = (0..m * n).map(|e| c[e] + cbv[e % n]).collect();
        assert_tensor_within(
            &format!("gemm {v:?} column bias {m}x{n}x{k}"),
            &cols,
            &want,
            tolerance(k),
        );
    }
    // The conv2d im2col call: weight [Cout, K] broadcast over images' columns
    // [N, K, P], bias per output channel, result shaped [N, Cout, OH, OW].
    let (cout, k, images, (oh, ow)) = (5, 12, 3, (4, 5));
    let (w, wv) = rand_tensor(&gpu, 180, &[cout, k]);
    let (cols, colsv) = rand_tensor(&gpu, 181, &[images, k, oh * ow]);
    let (bias, biasv) = rand_tensor(&gpu, 182, &[cout]);
    let y = mm::gemm_with(
        &w,
        &cols,
        false,
        false,
        Bias::Rows(&bias),
        Some(&[images, cout, oh, ow]),
        v,
    )
    .unwrap();
    assert_eq!(y.shape(), &[images, cout, oh, ow]);
    let (d, _) = GemmDims::of_shapes("test", &[cout, k], &[images, k, oh * ow], false, false).unwrap();
    let want: Vec<f64> = r::matmul_ref(&wv, &colsv, &d)
        .iter()
        .enumerate()
        .map(|(e, c)| c + biasv[(e / (oh * ow)) % cout])
        .collect();
    assert_tensor_within(&format!("gemm {v:?} conv-like"), &y, &want, tolerance(k));
}

macro_rules! version_tests {
    ($($v:ident => $fwd:ident, $long:ident, $large:ident, $bwd:ident, $lin:ident, $bias:ident;)*) => {$(
        #[test]
        fn $fwd() {
            forward_matches_ref(MatmulVersion::$v, CASES);
        }
        #[test]
        fn $long() {
            forward_matches_ref_long_k(MatmulVersion::$v);
        }
        #[test]
        fn $large() {
            forward_matches_ref_large(MatmulVersion::$v);
        }
        #[test]
        fn $bwd() {
            backward_matches_ref(MatmulVersion::$v);
        }
        #[test]
        fn $lin() {
            linear_matches_ref(MatmulVersion::$v);
        }
        #[test]
        fn $bias() {
            gemm_bias_matches_ref(MatmulVersion::$v);
        }
    )*};
}

version_tests! {
    V1 => matmul_forward_v1_matches_ref, matmul_forward_v1_matches_ref_long_k,
        matmul_forward_v1_matches_ref_large, matmul_backward_v1_matches_ref,
        linear_forward_backward_v1_matches_ref, gemm_forward_v1_matches_ref_bias;
    V2 => matmul_forward_v2_matches_ref, matmul_forward_v2_matches_ref_long_k,
        matmul_forward_v2_matches_ref_large, matmul_backward_v2_matches_ref,
        linear_forward_backward_v2_matches_ref, gemm_forward_v2_matches_ref_bias;
    V3 => matmul_forward_v3_matches_ref, matmul_forward_v3_matches_ref_long_k,
        matmul_forward_v3_matches_ref_large, matmul_backward_v3_matches_ref,
        linear_forward_backward_v3_matches_ref, gemm_forward_v3_matches_ref_bias;
    V4 => matmul_forward_v4_matches_ref, matmul_forward_v4_matches_ref_long_k,
        matmul_forward_v4_matches_ref_large, matmul_backward_v4_matches_ref,
        linear_forward_backward_v4_matches_ref, gemm_forward_v4_matches_ref_bias;
}

#[test]
fn matmul_forward_auto_matches_ref_hand_case() {
    // [[1, 2], [3, 4]] x [[5, 6], [7, 8]] = [[1*5 + 2*7, 1*6 + 2*8], [3*5 + 4*7, 3*6 + 4*8]]
    //                                    = [[19, 22], [43, 50]]
    let gpu = gpu();
    let a = cprl::Tensor::from_slice(&gpu, &[1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let b = cprl::Tensor::from_slice(&gpu, &[5.0, 6.0, 7.0, 8.0], &[2, 2]).unwrap();
    assert_eq!(
        mm::matmul(&a, &b).unwrap().to_vec().unwrap(),
        [19.0, 22.0, 43.0, 50.0]
    );
    // a^T b = [[1, 3], [2, 4]] x b = [[5 + 21, 6 + 24], [10 + 28, 12 + 32]] = [[26, 30], [38, 44]]
    assert_eq!(
        mm::matmul_t(&a, &b, true, false).unwrap().to_vec().unwrap(),
        [26.0, 30.0, 38.0, 44.0]
    );
}

#[test]
fn linear_forward_auto_matches_ref_hand_case() {
    // x = [1, 2], w = [[1, 0], [1, -1], [0.5, 0.5]], bias = [10, 20, 30]:
    // y = [1 + 10, (1 - 2) + 20, 1.5 + 30] = [11, 19, 31.5]
    let gpu = gpu();
    let x = cprl::Tensor::from_slice(&gpu, &[1.0, 2.0], &[1, 2]).unwrap();
    let w = cprl::Tensor::from_slice(&gpu, &[1.0, 0.0, 1.0, -1.0, 0.5, 0.5], &[3, 2]).unwrap();
    let bias = cprl::Tensor::from_slice(&gpu, &[10.0, 20.0, 30.0], &[3]).unwrap();
    assert_eq!(
        mm::linear(&x, &w, Some(&bias)).unwrap().to_vec().unwrap(),
        [11.0, 19.0, 31.5]
    );
}

#[test]
fn matmul_forward_auto_matches_ref() {
    forward_matches_ref(MatmulVersion::Auto, &CASES[..8]);
}

#[test]
fn matmul_backward_ref_matches_finite_differences() {
    // Small shapes, every transpose combination and a broadcast side.
    let cases: &[(&[usize], &[usize], bool, bool)] = &[
        (&[3, 4], &[4, 2], false, false),
        (&[4, 3], &[2, 4], true, true),
        (&[2, 3, 4], &[2, 4], false, true),
        (&[4, 3], &[2, 4, 2], true, false),
    ];
    for (i, &(sa, sb, ta, tb)) in cases.iter().enumerate() {
        let (d, _) = GemmDims::of_shapes("test", sa, sb, ta, tb).unwrap();
        let av = f64s(&rand_vec(200 + i as u64, sa.iter().product()));
        let bv = f64s(&rand_vec(210 + i as u64, sb.iter().product()));
        let gv = f64s(&rand_vec(220 + i as u64, d.batch * d.m * d.n));
        let mut da = vec![0.0; av.len()];
        let mut db = vec![0.0; bv.len()];
        r::matmul_backward_ref(&av, &bv, &gv, &d, &mut da, &mut db);
        // Bilinear: central differences are exact up to rounding.
        assert_grad(
            "matmul dA",
            &|x| r::matmul_ref(x, &bv, &d),
            &av,
            &gv,
            &da,
            1e-3,
            1e-8,
            1e-6,
        );
        assert_grad(
            "matmul dB",
            &|x| r::matmul_ref(&av, x, &d),
            &bv,
            &gv,
            &db,
            1e-3,
            1e-8,
            1e-6,
        );
    }
}

#[test]
fn linear_backward_ref_matches_finite_differences() {
    let (rows, inp, out) = (3, 4, 2);
    let xv = f64s(&rand_vec(230, rows * inp));
    let wv = f64s(&rand_vec(231, out * inp));
    let bv = f64s(&rand_vec(232, out));
    let gv = f64s(&rand_vec(233, rows * out));
    let (mut dx, mut dw, mut db) = (vec![0.0; xv.len()], vec![0.0; wv.len()], vec![0.0; out]);
    r::linear_backward_ref(&xv, &wv, &gv, rows, inp, out, &mut dx, &mut dw, &mut db);
    let f = |x: &[f64], w: &[f64], b: &[f64]| r::linear_ref(x, w, Some(b), rows, inp, out);
    assert_grad("linear dx", &|x| f(x, &wv, &bv), &xv, &gv, &dx, 1e-3, 1e-8, 1e-6);
    assert_grad("linear dw", &|w| f(&xv, w, &bv), &wv, &gv, &dw, 1e-3, 1e-8, 1e-6);
    assert_grad(
        "linear dbias",
        &|b| f(&xv, &wv, b),
        &bv,
        &gv,
        &db,
        1e-3,
        1e-8,
        1e-6,
    );
}

#[test]
fn split_k_is_bitwise_deterministic() {
    let gpu = gpu();
    let (a, _) = rand_tensor(&gpu, 240, &[100_000, 6]);
    let (b, _) = rand_tensor(&gpu, 241, &[100_000, 5]);
    let run = || {
        mm::matmul_with(&a, &b, true, false, MatmulVersion::V2)
            .unwrap()
            .to_vec()
            .unwrap()
    };
    let (x, y) = (run(), run());
    assert_eq!(
        x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn shape_errors_name_both_shapes() {
    let gpu = gpu();
    let (a, _) = rand_tensor(&gpu, 1, &[3, 4]);
    let (b, _) = rand_tensor(&gpu, 2, &[5, 6]);
    let e = mm::matmul(&a, &b).unwrap_err().to_string();
    assert!(e.contains("[3, 4]") && e.contains("[5, 6]"), "{e}");
    let (c, _) = rand_tensor(&gpu, 3, &[2, 4, 6]);
    let (d, _) = rand_tensor(&gpu, 4, &[3, 6, 2]);
    let e = mm::matmul(&c, &d).unwrap_err().to_string();
    assert!(
        e.contains("[2, 4, 6]") && e.contains("[3, 6, 2]") && e.contains("batch"),
        "{e}"
    );
    let (x, _) = rand_tensor(&gpu, 5, &[2, 4]);
    let (bias, _) = rand_tensor(&gpu, 6, &[4]);
    let e = mm::linear(&x, &b, None).unwrap_err().to_string();
    assert!(
        e.starts_with("linear") && e.contains("[2, 4]") && e.contains("[5, 6]"),
        "{e}"
    );
    let (w, _) = rand_tensor(&gpu, 7, &[3, 4]);
    let e = mm::linear(&x, &w, Some(&bias)).unwrap_err().to_string();
    assert!(e.contains("[4]") && e.contains("[3]"), "{e}");
}

/// Matmul V4 at every workgroup an adapter could pick (one subgroup of 8 to 128 lanes)
/// and with both column widths (8 per lane on CPU drivers, 4 on GPUs): CI's CPU drivers
/// alone would run only their own.
#[test]
fn matmul_v4_matches_ref_at_every_launch_an_adapter_could_pick() {
    if !versions_ok(MatmulVersion::V4) {
        return;
    }
    let gpu = gpu();
    for lanes in launch_lanes_to_sweep(&gpu) {
        for cpu in [true, false] {
            let o = LaunchOverride {
                lanes: Some(lanes),
                cpu: Some(cpu),
                ..Default::default()
            };
            println!("lanes {lanes}, CPU branch {cpu}");
            with_launch_override(o, || {
                forward_matches_ref(MatmulVersion::V4, CASES);
                backward_matches_ref(MatmulVersion::V4);
            });
        }
    }
}
