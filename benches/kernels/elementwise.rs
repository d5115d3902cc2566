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
            // read a and b, write out
            let bytes = 12.0 * n as f64;
            let versions = [BinaryVersion::V1, BinaryVersion::V2];
            binary_rows(h, "elementwise.add", BinaryOp::Add, &[n], &[n], &versions, bytes);
        }
        // A per-channel multiply of image batches ([B, C, H, W] by [1, C, 1, 1]), as the
        // models' input normalisation runs it: V1 decodes every element's index, V3
        // reads the full operand as vec4s.
        let shapes: &[[usize; 4]] = if h.quick {
            &[[32, 3, 128, 128]]
        } else {
            &[[32, 3, 128, 128], [32, 16, 64, 64]]
        };
        for shape in shapes {
            // read a, write out (the channel values stay in cache)
            let bytes = 8.0 * shape.iter().product::<usize>() as f64;
            let versions = [BinaryVersion::V1, BinaryVersion::V3];
            let small = [1, shape[1], 1, 1];
            binary_rows(
                h,
                "elementwise.mul_channel",
                BinaryOp::Mul,
                shape,
                &small,
                &versions,
                bytes,
            );
        }
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

/// One row per version of `a op b` on random operands of shapes `sa` and `sb`, each
/// validated against the f64 reference before it is timed; `bytes` is the traffic the
/// row's GB/s counts. The shape column names both operands where they differ.
fn binary_rows(
    h: &mut Harness,
    name: &'static str,
    op: BinaryOp,
    sa: &[usize],
    sb: &[usize],
    versions: &[BinaryVersion],
    bytes: f64,
) {
    let gpu = h.gpu.clone();
    let (av, bv) = (rand(1, sa.iter().product()), rand(2, sb.iter().product()));
    let a = Tensor::from_slice(&gpu, &av, sa).unwrap();
    let b = Tensor::from_slice(&gpu, &bv, sb).unwrap();
    let a64: Vec<f64> = av.iter().map(|&x| x as f64).collect();
    let b64: Vec<f64> = bv.iter().map(|&x| x as f64).collect();
    let reference = || cprl::reference::elementwise::binary_ref(op, &a64, sa, &b64, sb).0;
    let want = reference();
    let out_elems = want.len();
    let shape = if sa == sb {
        format!("{sa:?}")
    } else {
        format!("{sa:?} x {sb:?}")
    };
    for &v in versions {
        let case = Case {
            op: name,
            shape: shape.clone(),
            variant: format!("{v:?}"),
            flops: out_elems as f64,
            bytes,
            elems: 0.0,
        };
        let validate = || {
            let out = ew::binary_with(op, &a, &b, v).map_err(|e| e.to_string())?;
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
            || ew::binary_with(op, &a, &b, v).map(drop),
            Some(&mut cpu),
        );
    }
}
