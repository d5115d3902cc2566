//! Batch-norm rows: the fused batch norm + ReLU of the small CNN (training mode),
//! forward alone and forward + backward, on its three activation shapes.
//!
//! GB/s counts each tensor once: forward reads x and writes y (8 bytes per element);
//! forward + backward also reads g and writes dx (20 bytes per element). The kernels
//! themselves make three passes forward (read x; read x, write y) and five backward
//! (read x, g; read x, g, write dx).

use cprl::autograd;
use cprl::ops::elementwise::{self as ew, BinaryOp, BinaryVersion};
use cprl::ops::norm::{self, BatchNorm, NormVersion};
use cprl::reference::norm as r;
use cprl::{Gpu, Tensor};

use crate::harness::{Case, Harness, check, rand};

/// The CNN's activations after each conv (batch 32, 224x224 input, stride-2 convs).
pub const CNN_SHAPES: &[[usize; 4]] = &[[32, 32, 112, 112], [32, 64, 56, 56], [32, 128, 28, 28]];

struct Inputs {
    x: Tensor,
    xv: Vec<f64>,
    gamma: Tensor,
    gv: Vec<f64>,
    beta: Tensor,
    bv: Vec<f64>,
    rm: Tensor,
    rv: Tensor,
    g: Tensor,
    g64: Vec<f64>,
}

fn inputs(gpu: &std::sync::Arc<Gpu>, shape: &[usize]) -> Inputs {
    let n: usize = shape.iter().product();
    let c = shape[1];
    let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let xf = rand(11, n);
    let gf: Vec<f32> = rand(12, c).iter().map(|v| 1.0 + 0.5 * v).collect();
    let bf = rand(13, c);
    let gradf = rand(14, n);
    Inputs {
        x: Tensor::from_slice(gpu, &xf, shape).unwrap().requires_grad_(),
        xv: f64s(&xf),
        gamma: Tensor::from_slice(gpu, &gf, &[c]).unwrap().requires_grad_(),
        gv: f64s(&gf),
        beta: Tensor::from_slice(gpu, &bf, &[c]).unwrap().requires_grad_(),
        bv: f64s(&bf),
        rm: Tensor::zeros(gpu, &[c]).unwrap(),
        rv: Tensor::ones(gpu, &[c]).unwrap(),
        g: Tensor::from_slice(gpu, &gradf, shape).unwrap(),
        g64: f64s(&gradf),
    }
}

fn err(e: cprl::Error) -> String {
    e.to_string()
}

pub fn bench(h: &mut Harness) {
    if !h.wants("norm") {
        return;
    }
    let shapes: &[[usize; 4]] = if h.quick { &CNN_SHAPES[2..] } else { CNN_SHAPES };
    for shape in shapes {
        let gpu = h.gpu.clone();
        let i = inputs(&gpu, shape);
        let n = i.xv.len() as f64;
        let c = shape[1];
        // Yardstick: one vec4 elementwise pass over the same size (reads 2, writes 1),
        // to read the rows against when the shared machine is busy.
        let case = Case {
            op: "norm.yardstick_add_v2",
            shape: format!("{shape:?}"),
            variant: "V2".into(),
            flops: n,
            bytes: 12.0 * n,
            elems: 0.0,
        };
        h.run(
            case,
            || Ok(()),
            || ew::binary_with(BinaryOp::Add, &i.x, &i.g, BinaryVersion::V2).map(drop),
            None,
        );
        for version in [NormVersion::V1, NormVersion::V2, NormVersion::V2Narrow] {
            let opts = BatchNorm {
                relu: true,
                version,
                ..BatchNorm::default()
            };
            let fwd = || norm::batch_norm(&i.x, &i.gamma, &i.beta, &i.rm, &i.rv, true, &opts);
            let reference = |y_gpu: &[f32]| {
                let (mut rm, mut rv) = (vec![0.0; c], vec![1.0; c]);
                let mut saved = r::batch_norm_forward_ref(
                    &i.xv, shape, &i.gv, &i.bv, &mut rm, &mut rv, true, 1e-5, 0.1, true,
                );
                let y_ref = std::mem::replace(&mut saved.y, y_gpu.iter().map(|&v| v as f64).collect());
                (y_ref, saved)
            };
            // Forward alone.
            let case = Case {
                op: "norm.bn_relu_train_fwd",
                shape: format!("{shape:?}"),
                variant: format!("{version:?}"),
                flops: 0.0,
                bytes: 8.0 * n,
                elems: 0.0,
            };
            let validate = || {
                let y = fwd().map_err(err)?.to_vec().map_err(err)?;
                check(&y, &reference(&y).0, r::tolerance::Y)
            };
            h.run(
                case,
                validate,
                || {
                    let _g = autograd::no_grad();
                    fwd().map(drop)
                },
                None,
            );
            // Forward + backward through the tape (dx, dgamma, dbeta).
            let case = Case {
                op: "norm.bn_relu_train_fwd_bwd",
                shape: format!("{shape:?}"),
                variant: format!("{version:?}"),
                flops: 0.0,
                bytes: 20.0 * n,
                elems: 0.0,
            };
            let validate = || {
                let y = fwd().map_err(err)?;
                let grads = autograd::backward_with(&y, &i.g).map_err(err)?;
                let y = y.to_vec().map_err(err)?;
                let (_, saved) = reference(&y);
                let mut dx = vec![0.0; i.xv.len()];
                let (mut dgamma, mut dbeta) = (vec![0.0; c], vec![0.0; c]);
                r::batch_norm_backward_ref(
                    &i.xv,
                    shape,
                    &i.gv,
                    &saved,
                    true,
                    true,
                    &i.g64,
                    &mut dx,
                    &mut dgamma,
                    &mut dbeta,
                );
                let got = |t: &Tensor| grads.of(t).map_err(err)?.to_vec().map_err(err);
                check(&got(&i.x)?, &dx, r::tolerance::DX)?;
                // Sums over N*H*W values (~1e5) of size ~1.
                let tol = r::tolerance::sum(i.xv.len() / c);
                check(&got(&i.gamma)?, &dgamma, tol)?;
                check(&got(&i.beta)?, &dbeta, tol)
            };
            h.run(
                case,
                validate,
                || {
                    let y = fwd()?;
                    autograd::backward_with(&y, &i.g).map(drop)
                },
                None,
            );
        }
    }
}
