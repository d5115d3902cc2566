//! Layout ops (concat, slice, permute, transpose) against the f64 reference, forward
//! and backward (through the tape); the reference backward against finite
//! differences. Every op only moves values, so GPU results must be exact.

mod common;

use common::*;
use cprl::Tensor;
use cprl::autograd::{self, gradcheck::assert_grad};
use cprl::ops::layout;
use cprl::reference::layout as r;

/// (input shapes, axis): size 1, two and three pieces, channel concat of NCHW, an
/// empty piece, and a million elements.
fn concat_cases() -> Vec<(Vec<Vec<usize>>, usize)> {
    vec![
        (vec![vec![1], vec![1]], 0),
        (vec![vec![2, 3], vec![2, 5]], 1),
        (vec![vec![3, 2, 4], vec![1, 2, 4], vec![2, 2, 4]], 0),
        (vec![vec![2, 3, 5, 7], vec![2, 1, 5, 7], vec![2, 4, 5, 7]], 1),
        (vec![vec![4, 5], vec![4, 0], vec![4, 2]], 1),
        (vec![vec![1000, 300], vec![1000, 700]], 1),
    ]
}

#[test]
fn concat_forward_v1_matches_ref() {
    let gpu = gpu();
    for (k, (shapes, axis)) in concat_cases().into_iter().enumerate() {
        let ins: Vec<(Tensor, Vec<f64>)> = shapes
            .iter()
            .enumerate()
            .map(|(j, s)| rand_tensor(&gpu, (10 * k + j) as u64, s))
            .collect();
        let ts: Vec<&Tensor> = ins.iter().map(|(t, _)| t).collect();
        let out = layout::concat(&ts, axis).unwrap();
        let refs: Vec<(&[f64], &[usize])> = ins
            .iter()
            .zip(&shapes)
            .map(|((_, v), s)| (&v[..], &s[..]))
            .collect();
        let (want, shape) = r::concat_ref(&refs, axis);
        assert_eq!(out.shape(), &shape[..]);
        assert_tensor(&format!("concat {shapes:?} axis {axis}"), &out, &want, 0.0, 0.0);
    }
}

#[test]
fn concat_backward_v1_matches_ref() {
    let gpu = gpu();
    for (k, (shapes, axis)) in concat_cases().into_iter().enumerate() {
        let ins: Vec<Tensor> = shapes
            .iter()
            .enumerate()
            .map(|(j, s)| rand_tensor(&gpu, (100 + 10 * k + j) as u64, s).0.requires_grad_())
            .collect();
        let ts: Vec<&Tensor> = ins.iter().collect();
        let out = layout::concat(&ts, axis).unwrap();
        let (g, gv) = rand_tensor(&gpu, 200 + k as u64, out.shape());
        let grads = autograd::backward_with(&out, &g).unwrap();
        let shape_refs: Vec<&[usize]> = shapes.iter().map(|s| &s[..]).collect();
        let mut dxs: Vec<Vec<f64>> = shapes.iter().map(|s| vec![0.0; s.iter().product()]).collect();
        r::concat_backward_ref(&shape_refs, axis, &gv, &mut dxs);
        for (j, (x, dx)) in ins.iter().zip(&dxs).enumerate() {
            assert_tensor(
                &format!("concat backward {shapes:?} axis {axis}, input {j}"),
                grads.of(x).unwrap(),
                dx,
                0.0,
                0.0,
            );
        }
    }
}

/// (shape, axis, start, len): 1-D, middle axis, last axis, the whole axis, empty, large.
const SLICE_CASES: &[(&[usize], usize, usize, usize)] = &[
    (&[7], 0, 2, 3),
    (&[2, 3, 5, 7], 1, 1, 2),
    (&[2, 3, 5, 7], 3, 6, 1),
    (&[4, 4], 0, 0, 4),
    (&[3, 8], 1, 3, 0),
    (&[32, 64, 28, 28], 1, 16, 32),
];

#[test]
fn slice_forward_v1_matches_ref() {
    let gpu = gpu();
    for (k, &(shape, axis, start, len)) in SLICE_CASES.iter().enumerate() {
        let (x, xv) = rand_tensor(&gpu, 300 + k as u64, shape);
        let out = layout::slice(&x, axis, start, len).unwrap();
        assert_eq!(out.shape()[axis], len);
        assert_tensor(
            &format!("slice {shape:?} axis {axis} {start}+{len}"),
            &out,
            &r::slice_ref(&xv, shape, axis, start, len),
            0.0,
            0.0,
        );
    }
}

#[test]
fn slice_backward_v1_matches_ref() {
    let gpu = gpu();
    for (k, &(shape, axis, start, len)) in SLICE_CASES.iter().enumerate() {
        let (x, _) = rand_tensor(&gpu, 400 + k as u64, shape);
        let x = x.requires_grad_();
        let out = layout::slice(&x, axis, start, len).unwrap();
        let (g, gv) = rand_tensor(&gpu, 500 + k as u64, out.shape());
        let grads = autograd::backward_with(&out, &g).unwrap();
        let mut dx = vec![0.0; x.numel()];
        r::slice_backward_ref(shape, axis, start, len, &gv, &mut dx);
        assert_tensor(
            &format!("slice backward {shape:?} axis {axis} {start}+{len}"),
            grads.of(&x).unwrap(),
            &dx,
            0.0,
            0.0,
        );
    }
}

/// (shape, dims): identity, 3-D rotation, NCHW -> NHWC, size-1 axes, rank 8, large.
const PERMUTE_CASES: &[(&[usize], &[usize])] = &[
    (&[5], &[0]),
    (&[2, 3, 4], &[2, 0, 1]),
    (&[2, 3, 5, 7], &[0, 2, 3, 1]),
    (&[1, 1, 3], &[2, 1, 0]),
    (&[2, 1, 2, 3, 1, 2, 2, 2], &[7, 6, 5, 4, 3, 2, 1, 0]),
    (&[32, 128, 28, 28], &[0, 2, 3, 1]),
];

#[test]
fn permute_forward_v1_matches_ref() {
    let gpu = gpu();
    for (k, &(shape, dims)) in PERMUTE_CASES.iter().enumerate() {
        let (x, xv) = rand_tensor(&gpu, 600 + k as u64, shape);
        let out = layout::permute(&x, dims).unwrap();
        let (want, want_shape) = r::permute_ref(&xv, shape, dims);
        assert_eq!(out.shape(), &want_shape[..]);
        assert_tensor(&format!("permute {shape:?} {dims:?}"), &out, &want, 0.0, 0.0);
    }
}

#[test]
fn permute_backward_v1_matches_ref() {
    let gpu = gpu();
    for (k, &(shape, dims)) in PERMUTE_CASES.iter().enumerate() {
        let (x, _) = rand_tensor(&gpu, 700 + k as u64, shape);
        let x = x.requires_grad_();
        let out = layout::permute(&x, dims).unwrap();
        let (g, gv) = rand_tensor(&gpu, 800 + k as u64, out.shape());
        let grads = autograd::backward_with(&out, &g).unwrap();
        let mut dx = vec![0.0; x.numel()];
        r::permute_backward_ref(shape, dims, &gv, &mut dx);
        assert_tensor(
            &format!("permute backward {shape:?} {dims:?}"),
            grads.of(&x).unwrap(),
            &dx,
            0.0,
            0.0,
        );
    }
}

#[test]
fn layout_hand_cases() {
    let gpu = gpu();
    // concat([1, 2], [3]) = [1, 2, 3]
    let a = Tensor::from_slice(&gpu, &[1.0, 2.0], &[2]).unwrap();
    let b = Tensor::from_slice(&gpu, &[3.0], &[1]).unwrap();
    assert_tensor(
        "hand concat",
        &layout::concat(&[&a, &b], 0).unwrap(),
        &[1.0, 2.0, 3.0],
        0.0,
        0.0,
    );
    // transpose([[1, 2, 3], [4, 5, 6]]) = [[1, 4], [2, 5], [3, 6]]
    let m = Tensor::from_slice(&gpu, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let t = layout::transpose(&m, 0, 1).unwrap();
    assert_eq!(t.shape(), &[3, 2]);
    assert_tensor("hand transpose", &t, &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], 0.0, 0.0);
    // slice of row 1, columns 1..3: [5, 6]; its backward puts g = [7, 8] back there.
    let m = m.requires_grad_();
    let s = layout::slice(&layout::slice(&m, 0, 1, 1).unwrap(), 1, 1, 2).unwrap();
    assert_tensor("hand slice", &s, &[5.0, 6.0], 0.0, 0.0);
    let g = Tensor::from_slice(&gpu, &[7.0, 8.0], &[1, 2]).unwrap();
    let grads = autograd::backward_with(&s, &g).unwrap();
    assert_tensor(
        "hand slice dx",
        grads.of(&m).unwrap(),
        &[0.0, 0.0, 0.0, 0.0, 7.0, 8.0],
        0.0,
        0.0,
    );
}

#[test]
fn layout_backward_refs_match_finite_differences() {
    // Every op is linear, so central differences are exact up to rounding.
    let (sa, sb) = ([2usize, 3, 2], [2usize, 1, 2]);
    let (av, bv) = (f64s(&rand_vec(900, 12)), f64s(&rand_vec(901, 4)));
    let g = f64s(&rand_vec(902, 16));
    let mut d = vec![vec![0.0; 12], vec![0.0; 4]];
    r::concat_backward_ref(&[&sa, &sb], 1, &g, &mut d);
    assert_grad(
        "concat a",
        &|x| r::concat_ref(&[(x, &sa), (&bv, &sb)], 1).0,
        &av,
        &g,
        &d[0],
        1e-6,
        1e-8,
        1e-8,
    );
    assert_grad(
        "concat b",
        &|x| r::concat_ref(&[(&av, &sa), (x, &sb)], 1).0,
        &bv,
        &g,
        &d[1],
        1e-6,
        1e-8,
        1e-8,
    );

    let shape = [3usize, 4, 2];
    let xv = f64s(&rand_vec(903, 24));
    let gs = f64s(&rand_vec(904, 12));
    let mut dx = vec![0.0; 24];
    r::slice_backward_ref(&shape, 1, 1, 2, &gs, &mut dx);
    assert_grad(
        "slice",
        &|x| r::slice_ref(x, &shape, 1, 1, 2),
        &xv,
        &gs,
        &dx,
        1e-6,
        1e-8,
        1e-8,
    );

    let dims = [2usize, 0, 1];
    let gp = f64s(&rand_vec(905, 24));
    let mut dx = vec![0.0; 24];
    r::permute_backward_ref(&shape, &dims, &gp, &mut dx);
    assert_grad(
        "permute",
        &|x| r::permute_ref(x, &shape, &dims).0,
        &xv,
        &gp,
        &dx,
        1e-6,
        1e-8,
        1e-8,
    );
}

#[test]
fn layout_rejects_bad_arguments() {
    let gpu = gpu();
    let a = Tensor::zeros(&gpu, &[2, 3]).unwrap();
    let b = Tensor::zeros(&gpu, &[4, 5]).unwrap();
    let e = layout::concat(&[&a, &b], 1).unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("[4, 5]"), "{e}");
    assert!(layout::concat(&[], 0).is_err());
    let e = layout::slice(&a, 1, 2, 2).unwrap_err().to_string();
    assert!(e.contains("[2, 3]"), "{e}");
    let e = layout::permute(&a, &[0, 0]).unwrap_err().to_string();
    assert!(e.contains("not a permutation"), "{e}");
    assert!(layout::transpose(&a, 0, 2).is_err());
}
