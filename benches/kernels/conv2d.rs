//! conv2d rows: the three convolutions of the small CNN (docs/METHOD.md section 6: batch 32,
//! 3x224x224 input, 3x3 convs with stride 2 and padding 1, 3->32->64->128), every pass
//! and every version, each validated against the f64 reference before it is timed.
//!
//!     cargo bench --bench kernels -- conv2d                  # everything
//!     cargo bench --bench kernels -- conv2d.forward          # one pass
//!     cargo bench --bench kernels -- conv2d.forward.V4       # one version of one pass
//!     cargo bench --bench kernels -- conv2d --quick          # layer 2 only, fewer repeats

use std::sync::OnceLock;

use cprl::Tensor;
use cprl::ops::conv2d::Conv2dParams;
use cprl::ops::conv2d::{
    self as conv, Conv2dBackwardData as Bd, Conv2dBackwardWeight as Bw, Conv2dForward as Fw,
};
use cprl::reference::conv2d as r;

use crate::harness::{Case, Harness, check, rand};

const FW: &[Fw] = &[Fw::V1, Fw::V2, Fw::V3, Fw::V4, Fw::V5, Fw::V6, Fw::Auto];
const BD: &[Bd] = &[Bd::V1, Bd::V2, Bd::V4, Bd::V5, Bd::V6, Bd::Auto];
const BW: &[Bw] = &[Bw::V1, Bw::V2, Bw::V4, Bw::Auto];

/// (name, x shape, w shape) of the small CNN's convolutions (L*), then the `demo`
/// CPRL preset's backbone (D*: 128-pixel crops, stages 16/32/64/128), which `cprl demo`
/// trains. All 3x3, stride 2, padding 1.
const LAYERS: &[(&str, [usize; 4], [usize; 4])] = &[
    ("L1 3->32 224", [32, 3, 224, 224], [32, 3, 3, 3]),
    ("L2 32->64 112", [32, 32, 112, 112], [64, 32, 3, 3]),
    ("L3 64->128 56", [32, 64, 56, 56], [128, 64, 3, 3]),
    ("D1 3->16 128", [32, 3, 128, 128], [16, 3, 3, 3]),
    ("D2 16->32 64", [32, 16, 64, 64], [32, 16, 3, 3]),
    ("D3 32->64 32", [32, 32, 32, 32], [64, 32, 3, 3]),
    ("D4 64->128 16", [32, 64, 16, 16], [128, 64, 3, 3]),
];

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

pub fn bench(h: &mut Harness) {
    // Versions built on subgroup broadcasts run only where the adapter has subgroups
    // of 8 to 64 lanes (not llvmpipe on GL): skipped elsewhere, as the matmul rows skip V4.
    let subgroups = conv::subgroups_fit(&h.gpu);
    // Row names are conv2d.<pass>.<version>, so a filter can pick one version.
    let fw: Vec<Fw> = FW
        .iter()
        .copied()
        .filter(|v| subgroups || !v.needs_subgroups())
        .filter(|v| h.wants(&format!("conv2d.forward.{v:?}")))
        .collect();
    let bd: Vec<Bd> = BD
        .iter()
        .copied()
        .filter(|v| subgroups || !v.needs_subgroups())
        .filter(|v| h.wants(&format!("conv2d.backward_data.{v:?}")))
        .collect();
    let bw: Vec<Bw> = BW
        .iter()
        .copied()
        .filter(|v| subgroups || !v.needs_subgroups())
        .filter(|v| h.wants(&format!("conv2d.backward_weight.{v:?}")))
        .collect();
    if fw.is_empty() && bd.is_empty() && bw.is_empty() {
        return;
    }
    let layers: &[_] = if h.quick { &LAYERS[1..2] } else { LAYERS };
    let p = Conv2dParams::new(2, 1);
    for &(name, xs, ws) in layers {
        let gpu = h.gpu.clone();
        let ys = p.output_shape(&xs, &ws).unwrap();
        let (xv, wv, bv, dyv) = (
            rand(11, xs.iter().product()),
            rand(12, ws.iter().product()),
            rand(13, ws[0]),
            rand(14, ys.iter().product()),
        );
        let x = Tensor::from_slice(&gpu, &xv, &xs).unwrap();
        let w = Tensor::from_slice(&gpu, &wv, &ws).unwrap();
        let b = Tensor::from_slice(&gpu, &bv, &[ws[0]]).unwrap();
        let dy = Tensor::from_slice(&gpu, &dyv, &ys).unwrap();
        let (x64, w64, b64, dy64) = (f64s(&xv), f64s(&wv), f64s(&bv), f64s(&dyv));
        // 2 flops per multiply-add; each pass does N*O*OH*OW*Cg*KH*KW of them.
        let flops = 2.0 * (ys.iter().product::<usize>() * ws[1] * ws[2] * ws[3]) as f64;
        let shape = name.to_string();
        let bytes = |elems: &[&[usize; 4]]| {
            4.0 * elems.iter().map(|s| s.iter().product::<usize>()).sum::<usize>() as f64
        };

        if !fw.is_empty() {
            let want = OnceLock::new();
            for &v in &fw {
                let case = Case {
                    op: "conv2d.forward",
                    shape: shape.clone(),
                    variant: format!("{v:?}"),
                    flops,
                    // read x and w, write y
                    bytes: bytes(&[&xs, &ws, &ys]),
                    elems: 0.0,
                };
                let validate = || {
                    let y = conv::conv2d_forward(&x, &w, Some(&b), &p, v).map_err(|e| e.to_string())?;
                    let want = want.get_or_init(|| r::conv2d_forward_ref(&x64, xs, &w64, ws, Some(&b64), &p));
                    let tol = r::tolerance(ws[1] * ws[2] * ws[3]);
                    check(&y.to_vec().map_err(|e| e.to_string())?, want, tol)
                };
                h.run(
                    case,
                    validate,
                    || conv::conv2d_forward(&x, &w, Some(&b), &p, v).map(drop),
                    None,
                );
            }
        }
        if !bd.is_empty() {
            let want = OnceLock::new();
            for &v in &bd {
                let case = Case {
                    op: "conv2d.backward_data",
                    shape: shape.clone(),
                    variant: format!("{v:?}"),
                    flops,
                    // read dy and w, write dx
                    bytes: bytes(&[&ys, &ws, &xs]),
                    elems: 0.0,
                };
                let validate = || {
                    let dx = conv::conv2d_backward_data(&dy, &w, &xs, &p, v).map_err(|e| e.to_string())?;
                    let want = want.get_or_init(|| {
                        let mut dx = vec![0.0; x64.len()];
                        r::conv2d_backward_data_ref(&dy64, &w64, xs, ws, &p, &mut dx);
                        dx
                    });
                    let tol = r::tolerance(ws[0] * ws[2] * ws[3]);
                    check(&dx.to_vec().map_err(|e| e.to_string())?, want, tol)
                };
                h.run(
                    case,
                    validate,
                    || conv::conv2d_backward_data(&dy, &w, &xs, &p, v).map(drop),
                    None,
                );
            }
        }
        if !bw.is_empty() {
            let want = OnceLock::new();
            for &v in &bw {
                let case = Case {
                    op: "conv2d.backward_weight",
                    shape: shape.clone(),
                    variant: format!("{v:?}"),
                    flops,
                    // read dy and x, write dw
                    bytes: bytes(&[&ys, &xs, &ws]),
                    elems: 0.0,
                };
                let validate = || {
                    let dw = conv::conv2d_backward_weight(&dy, &x, &ws, &p, v).map_err(|e| e.to_string())?;
                    let want = want.get_or_init(|| {
                        let mut dw = vec![0.0; w64.len()];
                        r::conv2d_backward_weight_ref(&dy64, &x64, xs, ws, &p, &mut dw);
                        dw
                    });
                    let tol = r::tolerance(ys[0] * ys[2] * ys[3]);
                    check(&dw.to_vec().map_err(|e| e.to_string())?, want, tol)
                };
                h.run(
                    case,
                    validate,
                    || conv::conv2d_backward_weight(&dy, &x, &ws, &p, v).map(drop),
                    None,
                );
            }
        }
    }
}
