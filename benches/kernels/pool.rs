//! Pooling rows on the small CNN's activation shapes: global average pooling and
//! 3x3 stride-2 max pooling, forward alone and forward + backward.
//!
//! GB/s counts each tensor once. Global pool: forward reads x and writes [N, C];
//! backward reads g and writes dx. Max pool: forward reads x and writes y and the
//! argmax; backward reads g and the argmax and writes dx.

use cprl::Tensor;
use cprl::autograd;
use cprl::ops::pool::{self, GlobalPoolVersion, Pool2d, Pool2dVersion};
use cprl::reference::pool as r;

use crate::harness::{Case, Harness, check, rand};
use crate::norm::CNN_SHAPES;

fn err(e: cprl::Error) -> String {
    e.to_string()
}

pub fn bench(h: &mut Harness) {
    if !h.wants("pool") {
        return;
    }
    let shapes: &[[usize; 4]] = if h.quick { &CNN_SHAPES[2..] } else { CNN_SHAPES };
    for shape in shapes {
        let gpu = h.gpu.clone();
        let n: usize = shape.iter().product();
        let rows = shape[0] * shape[1];
        let xf = rand(21, n);
        let x64: Vec<f64> = xf.iter().map(|&v| v as f64).collect();
        let x = Tensor::from_slice(&gpu, &xf, shape).unwrap().requires_grad_();
        let gf = rand(22, rows);
        let g64: Vec<f64> = gf.iter().map(|&v| v as f64).collect();
        let g = Tensor::from_slice(&gpu, &gf, &[shape[0], shape[1]]).unwrap();
        for version in [
            GlobalPoolVersion::V1,
            GlobalPoolVersion::V2,
            GlobalPoolVersion::V2Narrow,
        ] {
            let fwd = || pool::global_avg_pool_with(&x, version);
            let case = Case {
                op: "pool.global_avg_fwd",
                shape: format!("{shape:?}"),
                variant: format!("{version:?}"),
                flops: n as f64,
                bytes: 4.0 * (n + rows) as f64,
                elems: 0.0,
            };
            let validate = || {
                let y = fwd().map_err(err)?.to_vec().map_err(err)?;
                let tol = r::global_avg_tolerance(shape[2] * shape[3]);
                check(&y, &r::global_avg_pool_forward_ref(&x64, shape), tol)
            };
            let mut cpu = || {
                std::hint::black_box(r::global_avg_pool_forward_ref(&x64, shape));
            };
            h.run(
                case,
                validate,
                || {
                    let _g = autograd::no_grad();
                    fwd().map(drop)
                },
                Some(&mut cpu),
            );
            let case = Case {
                op: "pool.global_avg_fwd_bwd",
                shape: format!("{shape:?}"),
                variant: format!("{version:?}"),
                flops: 2.0 * n as f64,
                bytes: 8.0 * (n + rows) as f64,
                elems: 0.0,
            };
            let validate = || {
                let y = fwd().map_err(err)?;
                let grads = autograd::backward_with(&y, &g).map_err(err)?;
                let mut dx = vec![0.0; n];
                r::global_avg_pool_backward_ref(shape, &g64, &mut dx);
                check(
                    &grads.of(&x).map_err(err)?.to_vec().map_err(err)?,
                    &dx,
                    r::GLOBAL_AVG_BACKWARD_TOLERANCE,
                )
            };
            h.run(
                case,
                validate,
                || autograd::backward_with(&fwd()?, &g).map(drop),
                None,
            );
        }
        // Max pooling, 3x3 windows, stride 2, padding 1 (ResNet's stem).
        let p = Pool2d::square(3, 2, 1);
        let out_shape = p.output_shape("bench", shape).unwrap();
        let m: usize = out_shape.iter().product();
        let gof = rand(23, m);
        let go64: Vec<f64> = gof.iter().map(|&v| v as f64).collect();
        let go = Tensor::from_slice(&gpu, &gof, &out_shape).unwrap();
        for version in [Pool2dVersion::V1, Pool2dVersion::V2, Pool2dVersion::V2Narrow] {
            let case = Case {
                op: "pool.max3x3s2_fwd",
                shape: format!("{shape:?}"),
                variant: format!("{version:?}"),
                flops: 9.0 * m as f64,
                bytes: 4.0 * (n + 2 * m) as f64,
                elems: 0.0,
            };
            let validate = || {
                let (y, idx) = pool::max_pool2d_with(&x, &p, version).map_err(err)?;
                let (want, want_idx) = r::max_pool2d_forward_ref(&x64, shape, &p);
                check(&y.to_vec().map_err(err)?, &want, r::MAX_TOLERANCE)?;
                let want_idx: Vec<f64> = want_idx.iter().map(|&i| i as f64).collect();
                check(&idx.to_vec().map_err(err)?, &want_idx, r::MAX_TOLERANCE)
            };
            let mut cpu = || {
                std::hint::black_box(r::max_pool2d_forward_ref(&x64, shape, &p));
            };
            h.run(
                case,
                validate,
                || {
                    let _g = autograd::no_grad();
                    pool::max_pool2d_with(&x, &p, version).map(drop)
                },
                Some(&mut cpu),
            );
            let case = Case {
                op: "pool.max3x3s2_fwd_bwd",
                shape: format!("{shape:?}"),
                variant: format!("{version:?}"),
                flops: 9.0 * m as f64,
                bytes: 4.0 * (2 * n + 4 * m) as f64,
                elems: 0.0,
            };
            let validate = || {
                let y = pool::max_pool2d_with(&x, &p, version).map_err(err)?.0;
                let grads = autograd::backward_with(&y, &go).map_err(err)?;
                let (_, idx) = r::max_pool2d_forward_ref(&x64, shape, &p);
                let mut dx = vec![0.0; n];
                r::max_pool2d_backward_ref(shape, &p, &idx, &go64, &mut dx);
                check(
                    &grads.of(&x).map_err(err)?.to_vec().map_err(err)?,
                    &dx,
                    r::MAX_BACKWARD_TOLERANCE,
                )
            };
            h.run(
                case,
                validate,
                || autograd::backward_with(&pool::max_pool2d_with(&x, &p, version)?.0, &go).map(drop),
                None,
            );
        }
    }
}
