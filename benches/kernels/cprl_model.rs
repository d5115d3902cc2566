//! The CPRL model's training step (`nn::cprl`): forward, the sufficiency loss
//! (L1 + 0.5 (1 - PLCC)) plus the adversary's MSE, backward (the parameters) and Adam, at batch 32 of the `demo` preset's 128-pixel crops, gated and baseline.
//! Validated first: on the `tiny` preset the loss and every gradient must equal the
//! f64 reference model's.

use cprl::nn::Module;
use cprl::nn::cprl::{Cprl, CprlConfig, CprlOutput};
use cprl::ops::elementwise as ew;
use cprl::ops::loss::{l1, mse, plcc_loss};
use cprl::ops::optim::{Adam, AdamConfig, Optimizer};
use cprl::reference::cprl_model::{CprlRef, tolerance};
use cprl::{Tensor, autograd};

use crate::harness::{Case, Harness, Validation, check, rand};

fn loss(out: &CprlOutput, y: &Tensor, lambda_plcc: f32) -> cprl::Result<Tensor> {
    let mut l = l1(&out.score, y)?;
    if lambda_plcc != 0.0 {
        l = ew::add(&l, &ew::scale(&plcc_loss(&out.score, y)?, lambda_plcc)?)?;
    }
    match &out.adv {
        Some(adv) => ew::add(&l, &mse(adv, y)?),
        None => Ok(l),
    }
}

/// Images in [0, 1).
pub(crate) fn images(seed: u64, n: usize) -> Vec<f32> {
    rand(seed, n).into_iter().map(|v| 0.5 + 0.5 * v).collect()
}

fn validate(h: &Harness) -> Validation {
    let e = |e: cprl::Error| e.to_string();
    let gpu = &h.gpu;
    let (n, s) = (4, 16);
    let cfg = CprlConfig::tiny();
    let xv = images(21, n * 3 * s * s);
    let yv = images(22, n);
    let model = Cprl::new(gpu, &cfg, 5).map_err(e)?;
    let params: Vec<Vec<f64>> = model
        .params()
        .iter()
        .map(|(_, t)| t.to_vec().map(|v| v.iter().map(|&x| x as f64).collect()))
        .collect::<cprl::Result<_>>()
        .map_err(e)?;
    let mut reference = CprlRef::new(cfg, params);
    let x = Tensor::from_slice(gpu, &xv, &[n, 3, s, s]).map_err(e)?;
    let y = Tensor::from_slice(gpu, &yv, &[n]).map_err(e)?;
    // No PLCC term here: at initialisation the scores of random images lie within
    // ~1e-4 of each other, where PLCC's f32 value is unresolved (tests/model_cprl.rs
    // checks it on spread scores).
    let l = loss(&model.forward(&x, true).map_err(e)?, &y, 0.0).map_err(e)?;
    let grads = autograd::backward(&l).map_err(e)?;
    let x64: Vec<f64> = xv.iter().map(|&v| v as f64).collect();
    let y64: Vec<f64> = yv.iter().map(|&v| v as f64).collect();
    let want = reference.loss_and_grads(&x64, [n, 3, s, s], &y64, 0.0, true);
    check(&[l.item().map_err(e)?], &[want.loss], tolerance::LOSS).map_err(|m| format!("loss: {m}"))?;
    for ((name, p), w) in model.params().iter().zip(&want.params) {
        let g = grads.of(p).map_err(e)?.to_vec().map_err(e)?;
        check(&g, w, tolerance::grad(w)).map_err(|m| format!("grad {name}: {m}"))?;
    }
    Ok(())
}

pub fn bench(h: &mut Harness) {
    if !h.wants("cprl") {
        return;
    }
    let n = if h.quick { 8 } else { 32 };
    for preset in ["demo", "baseline-demo"] {
        let cfg = CprlConfig::preset(preset).unwrap();
        let s = cfg.crop;
        let gpu = h.gpu.clone();
        let model = Cprl::new(&gpu, &cfg, 1).unwrap();
        let params = model.param_tensors();
        let mut adam = Adam::new(AdamConfig::adam(1e-3));
        let x = Tensor::from_slice(&gpu, &images(1, n * 3 * s * s), &[n, 3, s, s]).unwrap();
        let y = Tensor::from_slice(&gpu, &images(2, n), &[n]).unwrap();
        let case = Case {
            op: "cprl.train_step",
            shape: format!("[{n}, 3, {s}, {s}] {preset}"),
            variant: "Auto".into(),
            // backward is two GEMMs per forward GEMM (data and weight)
            flops: 3.0 * n as f64 * cfg.forward_flops(),
            bytes: 0.0,
            elems: 0.0,
        };
        let validation = validate(h);
        h.run(
            case,
            || validation,
            || {
                let l = loss(&model.forward(&x, true)?, &y, 0.5)?;
                let grads = autograd::backward(&l)?;
                adam.step(&params, &grads)
            },
            None,
        );
    }
}
