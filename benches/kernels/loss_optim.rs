//! Loss (forward + backward) and optimiser rows.
//!
//! Bytes counted once per run; losses: forward reads pred and target (8n), backward
//! reads them again and writes the prediction's gradient (12n): 20n. Adam reads p, g,
//! m, v and writes p, m, v: 28n. SGD with momentum reads p, g, buf and writes p, buf:
//! 20n. Clipping reads every gradient for the norm, then reads and writes it: 12n.

use std::sync::Arc;

use cprl::autograd::{self, Grads};
use cprl::ops::loss::{self, LossVersion, Pointwise};
use cprl::ops::optim::{self, Adam, AdamConfig, OptimVersion, Optimizer, Sgd, SgdConfig};
use cprl::reference::loss as rl;
use cprl::reference::optim as ro;
use cprl::{Gpu, Tensor};

use crate::harness::{Case, Harness, Validation, check, rand};

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn err(e: cprl::Error) -> String {
    e.to_string()
}

pub fn bench(h: &mut Harness) {
    if h.wants("loss") {
        losses(h);
    }
    if h.wants("optim") {
        adam(h);
        sgd(h);
        clip(h);
    }
}

#[derive(Clone, Copy, Debug)]
enum Loss {
    Pointwise(Pointwise),
    Plcc,
}

fn losses(h: &mut Harness) {
    let kinds = [
        ("loss.mse", Loss::Pointwise(Pointwise::Mse)),
        ("loss.l1", Loss::Pointwise(Pointwise::L1)),
        ("loss.huber", Loss::Pointwise(Pointwise::Huber { delta: 0.5 })),
        ("loss.plcc", Loss::Plcc),
    ];
    for &b in &[32usize, 100_000] {
        let gpu = h.gpu.clone();
        let (pv, tv) = (rand(11, b), rand(12, b));
        let (p64, t64) = (f64s(&pv), f64s(&tv));
        let pred = Tensor::from_slice(&gpu, &pv, &[b, 1]).unwrap().requires_grad_();
        let target = Tensor::from_slice(&gpu, &tv, &[b, 1]).unwrap();
        for ((op, kind), version) in kinds
            .into_iter()
            .flat_map(|k| [(k, LossVersion::V1), (k, LossVersion::V1Vec4)])
        {
            let forward = |p: &Tensor| match kind {
                Loss::Pointwise(l) => loss::pointwise_with(l, p, &target, version),
                Loss::Plcc => loss::plcc_loss_with(p, &target, loss::PLCC_EPS, version),
            };
            let reference = || {
                let mut dp = vec![0.0; b];
                let mut dt = vec![0.0; b];
                let l = match kind {
                    Loss::Pointwise(l) => {
                        rl::pointwise_backward_ref(l, &p64, &t64, 1.0, &mut dp, &mut dt);
                        rl::pointwise_forward_ref(l, &p64, &t64)
                    }
                    Loss::Plcc => {
                        let (l, s) = rl::plcc_forward_ref(&p64, &t64, loss::PLCC_EPS as f64);
                        rl::plcc_backward_ref(&p64, &t64, &s, 1.0, &mut dp, &mut dt);
                        l
                    }
                };
                (l, dp)
            };
            let case = Case {
                op,
                shape: format!("[{b}, 1] fwd+bwd"),
                variant: format!("{version:?}"),
                flops: 0.0,
                bytes: 20.0 * b as f64,
                elems: 0.0,
            };
            let validate = || -> Validation {
                let l = forward(&pred).map_err(err)?;
                let grads = autograd::backward(&l).map_err(err)?;
                let (want, dwant) = reference();
                let (tol, dtol) = match kind {
                    Loss::Pointwise(_) => (rl::tolerance::POINTWISE, rl::tolerance::pointwise_backward(b)),
                    Loss::Plcc => {
                        let (_, s) = rl::plcc_forward_ref(&p64, &t64, loss::PLCC_EPS as f64);
                        (
                            rl::tolerance::PLCC,
                            rl::tolerance::plcc_backward(&p64, &t64, &s, 1.0),
                        )
                    }
                };
                check(&[l.item().map_err(err)?], &[want], tol).map_err(|m| format!("loss: {m}"))?;
                let dp = grads.of(&pred).map_err(err)?.to_vec().map_err(err)?;
                check(&dp, &dwant, dtol).map_err(|m| format!("dpred: {m}"))
            };
            let mut cpu = || {
                std::hint::black_box(reference());
            };
            h.run(
                case,
                validate,
                || {
                    let l = forward(&pred)?;
                    autograd::backward(&l).map(drop)
                },
                Some(&mut cpu),
            );
        }
    }
}

/// One parameter of n elements and a gradient for it.
fn param_and_grad(gpu: &Arc<Gpu>, n: usize, salt: u64) -> (Tensor, Vec<f32>, Grads, Vec<f32>) {
    let (pv, gv) = (rand(salt, n), rand(salt + 1, n));
    let p = Tensor::from_slice(gpu, &pv, &[n]).unwrap().requires_grad_();
    let mut g = Grads::default();
    g.insert(p.id(), Tensor::from_slice(gpu, &gv, &[n]).unwrap());
    (p, pv, g, gv)
}

fn sizes(h: &Harness) -> &'static [usize] {
    if h.quick {
        &[1 << 20]
    } else {
        &[1 << 20, 10_000_000]
    }
}

fn adam(h: &mut Harness) {
    let cfg = AdamConfig::adamw(1e-3, 1e-2);
    let gpu = h.gpu.clone();
    for &n in sizes(h) {
        for version in [OptimVersion::V1, OptimVersion::V1Vec4] {
            let case = Case {
                op: "optim.adam",
                shape: format!("[{n}]"),
                variant: format!("{version:?}"),
                flops: 0.0,
                bytes: 28.0 * n as f64,
                elems: 0.0,
            };
            let validate = || -> Validation {
                let (p, pv, g, gv) = param_and_grad(&gpu, n, 21);
                let mut opt = Adam::new(cfg);
                opt.version = version;
                let mut want = f64s(&pv);
                let (mut m, mut v, mut step) = (vec![0.0; n], vec![0.0; n], 0);
                let g64 = f64s(&gv);
                for _ in 0..2 {
                    opt.step(std::slice::from_ref(&p), &g).map_err(err)?;
                    ro::adam_step_ref(&cfg, &mut want, &g64, &mut m, &mut v, &mut step);
                }
                check(&p.to_vec().map_err(err)?, &want, ro::TOLERANCE)
            };
            let (p, pv, g, gv) = param_and_grad(&gpu, n, 22);
            let mut opt = Adam::new(cfg);
            opt.version = version;
            let (mut host, g64) = (f64s(&pv), f64s(&gv));
            let (mut m, mut v, mut step) = (vec![0.0; n], vec![0.0; n], 0);
            let mut cpu = || ro::adam_step_ref(&cfg, &mut host, &g64, &mut m, &mut v, &mut step);
            h.run(
                case,
                validate,
                || opt.step(std::slice::from_ref(&p), &g),
                Some(&mut cpu),
            );
        }
    }
}

fn sgd(h: &mut Harness) {
    let cfg = SgdConfig {
        momentum: 0.9,
        nesterov: true,
        weight_decay: 1e-4,
        ..SgdConfig::new(0.01)
    };
    let gpu = h.gpu.clone();
    for &n in sizes(h) {
        for version in [OptimVersion::V1, OptimVersion::V1Vec4] {
            let case = Case {
                op: "optim.sgd_nesterov",
                shape: format!("[{n}]"),
                variant: format!("{version:?}"),
                flops: 0.0,
                bytes: 20.0 * n as f64,
                elems: 0.0,
            };
            let validate = || -> Validation {
                let (p, pv, g, gv) = param_and_grad(&gpu, n, 31);
                let mut opt = Sgd::new(cfg);
                opt.version = version;
                let (mut want, g64, mut buf) = (f64s(&pv), f64s(&gv), None);
                for _ in 0..2 {
                    opt.step(std::slice::from_ref(&p), &g).map_err(err)?;
                    ro::sgd_step_ref(&cfg, &mut want, &g64, &mut buf);
                }
                check(&p.to_vec().map_err(err)?, &want, ro::TOLERANCE)
            };
            let (p, pv, g, gv) = param_and_grad(&gpu, n, 32);
            let mut opt = Sgd::new(cfg);
            opt.version = version;
            let (mut host, g64, mut buf) = (f64s(&pv), f64s(&gv), None);
            let mut cpu = || ro::sgd_step_ref(&cfg, &mut host, &g64, &mut buf);
            h.run(
                case,
                validate,
                || opt.step(std::slice::from_ref(&p), &g),
                Some(&mut cpu),
            );
        }
    }
}

fn clip(h: &mut Harness) {
    let gpu = h.gpu.clone();
    for &n in sizes(h) {
        for version in [OptimVersion::V1, OptimVersion::V1Vec4] {
            let case = Case {
                op: "optim.clip_grad_norm",
                shape: format!("[{n}]"),
                variant: format!("{version:?}"),
                flops: 0.0,
                bytes: 12.0 * n as f64,
                elems: 0.0,
            };
            let validate = || -> Validation {
                let (p, _, mut g, gv) = param_and_grad(&gpu, n, 41);
                let mut want = vec![f64s(&gv)];
                let norm = ro::clip_grad_norm_ref(&mut want, 1.0);
                let got = optim::clip_grad_norm_with(std::slice::from_ref(&p), &mut g, 1.0, version)
                    .map_err(err)?;
                check(&[got.item().map_err(err)?], &[norm], ro::CLIP_NORM_TOLERANCE)?;
                check(
                    &g.of(&p).map_err(err)?.to_vec().map_err(err)?,
                    &want[0],
                    ro::CLIP_TOLERANCE,
                )
            };
            // max_norm above the norm, so repeated runs keep the same gradient.
            let (p, _, mut g, gv) = param_and_grad(&gpu, n, 42);
            let mut host = vec![f64s(&gv)];
            let mut cpu = || {
                std::hint::black_box(ro::clip_grad_norm_ref(&mut host, 1e30));
            };
            h.run(
                case,
                validate,
                || optim::clip_grad_norm_with(std::slice::from_ref(&p), &mut g, 1e30, version).map(drop),
                Some(&mut cpu),
            );
        }
    }
}
