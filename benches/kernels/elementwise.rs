//! Elementwise and reduction rows.

use cprl::Tensor;
use cprl::ops::elementwise::{self as ew, BinaryOp, BinaryVersion};
use cprl::ops::reduce;

use crate::harness::{Case, Harness, check, rand};

pub fn bench(h: &mut Harness) {
    if h.wants("elementwise") {
        let sizes: &[usize] = if h.quick {
            &[1 << 20]
        } else {
            &[1 << 16, 1 << 20, 1 << 24]
        };
        for &n in sizes {
            let gpu = h.gpu.clone();
            let (av, bv) = (rand(1, n), rand(2, n));
            let a = Tensor::from_slice(&gpu, &av, &[n]).unwrap();
            let b = Tensor::from_slice(&gpu, &bv, &[n]).unwrap();
            let a64: Vec<f64> = av.iter().map(|&x| x as f64).collect();
            let b64: Vec<f64> = bv.iter().map(|&x| x as f64).collect();
            for v in [BinaryVersion::V1, BinaryVersion::V2] {
                let case = Case {
                    op: "elementwise.add",
                    shape: format!("[{n}]"),
                    variant: format!("{v:?}"),
                    flops: n as f64,
                    // read a and b, write out
                    bytes: 12.0 * n as f64,
                    elems: 0.0,
                };
                let validate = || {
                    let out = ew::binary_with(BinaryOp::Add, &a, &b, v).map_err(|e| e.to_string())?;
                    let want =
                        cprl::reference::elementwise::binary_ref(BinaryOp::Add, &a64, &[n], &b64, &[n]).0;
                    check(
                        &out.to_vec().map_err(|e| e.to_string())?,
                        &want,
                        cprl::reference::elementwise::BINARY_TOLERANCE,
                    )
                };
                let mut cpu = || {
                    std::hint::black_box(cprl::reference::elementwise::binary_ref(
                        BinaryOp::Add,
                        &a64,
                        &[n],
                        &b64,
                        &[n],
                    ));
                };
                h.run(
                    case,
                    validate,
                    || ew::binary_with(BinaryOp::Add, &a, &b, v).map(drop),
                    Some(&mut cpu),
                );
            }
        }
        channel_rows(h);
    }
    if h.wants("reduce") {
        let shapes: &[[usize; 2]] = if h.quick {
            &[[1024, 1024]]
        } else {
            &[[1024, 1024], [32, 401_408], [4096, 4096]]
        };
        for &[r, c] in shapes {
            let gpu = h.gpu.clone();
            let xv = rand(3, r * c);
            let x = Tensor::from_slice(&gpu, &xv, &[r, c]).unwrap();
            let x64: Vec<f64> = xv.iter().map(|&x| x as f64).collect();
            let case = Case {
                op: "reduce.sum_rows",
                shape: format!("[{r}, {c}] axis 1"),
                variant: "V1".into(),
                flops: (r * c) as f64,
                bytes: 4.0 * (r * c + r) as f64,
                elems: 0.0,
            };
            let validate = || {
                let out = reduce::sum_axes(&x, &[1], false).map_err(|e| e.to_string())?;
                let want = cprl::reference::reduce::sum_axes_ref(&x64, &[r, c], &[1]);
                check(
                    &out.to_vec().map_err(|e| e.to_string())?,
                    &want,
                    cprl::reference::reduce::sum_tolerance(c),
                )
            };
            let mut cpu = || {
                std::hint::black_box(cprl::reference::reduce::sum_axes_ref(&x64, &[r, c], &[1]));
            };
            h.run(
                case,
                validate,
                || reduce::sum_axes(&x, &[1], false).map(drop),
                Some(&mut cpu),
            );
        }
    }
}

/// A per-channel multiply of image batches ([B, 3, H, W] by [1, 3, 1, 1]), as the
/// models' input normalisation runs it: V1 decodes every element's index, V3 reads
/// the full operand as vec4s.
fn channel_rows(h: &mut Harness) {
    let shapes: &[[usize; 4]] = if h.quick {
        &[[32, 3, 128, 128]]
    } else {
        &[[32, 3, 128, 128], [32, 16, 64, 64]]
    };
    for &shape in shapes {
        let gpu = h.gpu.clone();
        let n: usize = shape.iter().product();
        let small_shape = [1, shape[1], 1, 1];
        let (av, bv) = (rand(4, n), rand(5, shape[1]));
        let a = Tensor::from_slice(&gpu, &av, &shape).unwrap();
        let b = Tensor::from_slice(&gpu, &bv, &small_shape).unwrap();
        let a64: Vec<f64> = av.iter().map(|&x| x as f64).collect();
        let b64: Vec<f64> = bv.iter().map(|&x| x as f64).collect();
        let reference =
            || cprl::reference::elementwise::binary_ref(BinaryOp::Mul, &a64, &shape, &b64, &small_shape).0;
        let want = reference();
        for v in [BinaryVersion::V1, BinaryVersion::V3] {
            let case = Case {
                op: "elementwise.mul_channel",
                shape: format!("{shape:?} x {small_shape:?}"),
                variant: format!("{v:?}"),
                flops: n as f64,
                // read a, write out (the channel values stay in cache)
                bytes: 8.0 * n as f64,
                elems: 0.0,
            };
            let validate = || {
                let out = ew::binary_with(BinaryOp::Mul, &a, &b, v).map_err(|e| e.to_string())?;
                check(
                    &out.to_vec().map_err(|e| e.to_string())?,
                    &want,
                    cprl::reference::elementwise::BINARY_TOLERANCE,
                )
            };
            let mut cpu = || {
                std::hint::black_box(reference());
            };
            h.run(
                case,
                validate,
                || ew::binary_with(BinaryOp::Mul, &a, &b, v).map(drop),
                Some(&mut cpu),
            );
        }
    }
}
