//! An attack step against what it cannot avoid: the model's eval forward plus the
//! gradient with respect to the input (`autograd::backward_to`, no weight gradients),
//! at batch 16 of the `demo` preset's 128-pixel crops, gated and baseline. The attack
//! row is the whole score reflection attack with K = 5 steps (the clean scores, the
//! random start, five forwards and input gradients, the sign, step, projection and
//! clamp kernels), so its time over 5 x the first row bounds an attack step's cost
//! relative to forward + input gradient from above.
//! The step row is one reflection step alone (input gradient, then the fused update),
//! so its time over the first row is an attack step's cost directly. The update rows
//! time the fused step/projection/clamp kernel (`ops::attack_step`) against the seven
//! elementwise kernels it replaced, each validated against the f64 reference.
//! Validated first: on the `tiny` preset the input gradient must equal the f64
//! reference model's, and the attack must keep its budget.

use cprl::attack::{AttackConfig, Goal, attack, input_gradient, scores};
use cprl::nn::Module;
use cprl::nn::cprl::{Cprl, CprlConfig};
use cprl::ops::attack_step::linf_step;
use cprl::ops::loss::l1;
use cprl::reference::attack_step::{LINF_TOLERANCE, linf_step_ref};
use cprl::reference::cprl_model::{CprlRef, tolerance};
use cprl::{Tensor, autograd};

use crate::cprl_model::images;
use crate::harness::{Case, Harness, Validation, check};

/// The reference's loss without PLCC is L1 plus the adversary's MSE in eval mode; the
/// GPU side computes the same, so their input gradients must agree.
fn validate(h: &Harness) -> Validation {
    let e = |e: cprl::Error| e.to_string();
    let gpu = &h.gpu;
    let (n, s) = (4, 16);
    let cfg = CprlConfig::tiny();
    let xv = images(31, n * 3 * s * s);
    let yv = images(32, n);
    let model = Cprl::new(gpu, &cfg, 5).map_err(e)?;
    let params: Vec<Vec<f64>> = model
        .param_tensors()
        .iter()
        .map(|t| t.to_vec().map(|v| v.iter().map(|&x| x as f64).collect()))
        .collect::<cprl::Result<_>>()
        .map_err(e)?;
    let mut reference = CprlRef::new(cfg, params);
    let x = Tensor::from_slice(gpu, &xv, &[n, 3, s, s])
        .map_err(e)?
        .requires_grad_();
    let y = Tensor::from_slice(gpu, &yv, &[n]).map_err(e)?;
    let out = model.forward(&x, false).map_err(e)?;
    let mut l = l1(&out.score, &y).map_err(e)?;
    if let Some(adv) = &out.adv {
        l = l.add(&adv.mse(&y).map_err(e)?).map_err(e)?;
    }
    let g = autograd::backward_to(&l, &[&x]).map_err(e)?;
    let g = g.of(&x).map_err(e)?.to_vec().map_err(e)?;
    let x64: Vec<f64> = xv.iter().map(|&v| v as f64).collect();
    let y64: Vec<f64> = yv.iter().map(|&v| v as f64).collect();
    let want = reference.loss_and_grads(&x64, [n, 3, s, s], &y64, 0.0, false);
    check(&g, &want.input, tolerance::grad(&want.input)).map_err(|m| format!("input gradient: {m}"))?;
    let eps = 4.0 / 255.0;
    let cfg = AttackConfig::named("reflect", eps, 2, None, 0).map_err(e)?;
    let xa = attack(&model, &x.detach(), &cfg, 0)
        .map_err(e)?
        .to_vec()
        .map_err(e)?;
    let worst = xv
        .iter()
        .zip(&xa)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    if worst > eps + 1e-6 || xa.iter().any(|v| !(0.0..=1.0).contains(v)) {
        return Err(format!(
            "attack left its budget: max |x' - x| = {worst}, eps {eps}"
        ));
    }
    Ok(())
}

/// The update as seven elementwise kernels (sign, scale, step, subtract, clamp to the
/// ball, add, clamp to [0, 1]): what the attack ran before the fused kernel.
fn composed_step(x: &Tensor, xa: &Tensor, d: &Tensor, alpha: f32, eps: f32) -> cprl::Result<Tensor> {
    let stepped = xa.sub(&d.sign()?.scale(alpha)?)?;
    x.add(&stepped.sub(x)?.clamp(-eps, eps)?)?.clamp(0.0, 1.0)
}

/// The update rows: the fused kernel and the composed chain at batch `n` of `s`-pixel
/// crops, each checked against the f64 reference first.
fn bench_update(h: &mut Harness, n: usize, s: usize) {
    let gpu = h.gpu.clone();
    let shape = [n, 3, s, s];
    let len = n * 3 * s * s;
    let (eps, alpha) = (4.0f32 / 255.0, 1.0f32 / 255.0);
    let xv = images(41, len);
    let av: Vec<f32> = xv
        .iter()
        .zip(images(42, len))
        .map(|(x, e)| (x + 2.0 * eps * (e - 0.5)).clamp(0.0, 1.0))
        .collect();
    let dv: Vec<f32> = images(43, len).iter().map(|v| v - 0.5).collect();
    let t = |v: &[f32]| Tensor::from_slice(&gpu, v, &shape).unwrap();
    let (x, xa, d) = (t(&xv), t(&av), t(&dv));
    let f = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<f64>>();
    let want = linf_step_ref(&f(&xv), &f(&av), &f(&dv), f64::from(alpha), f64::from(eps));
    type Update = fn(&Tensor, &Tensor, &Tensor, f32, f32) -> cprl::Result<Tensor>;
    let variants: [(&str, Update, f64); 2] = [
        // Reads x, xa, d and writes the result.
        ("fused", linf_step, 4.0),
        // sign (2), scale (2), sub (3), sub (3), clamp (2), add (3), clamp (2).
        ("composed", composed_step, 17.0),
    ];
    for (name, update, passes) in variants {
        let validation = update(&x, &xa, &d, alpha, eps)
            .and_then(|o| o.to_vec())
            .map_err(|e| e.to_string())
            .and_then(|got| check(&got, &want, LINF_TOLERANCE));
        h.run(
            Case {
                op: "attack.update",
                shape: format!("{shape:?}"),
                variant: name.into(),
                flops: 0.0,
                bytes: passes * 4.0 * len as f64,
                elems: 0.0,
            },
            || validation,
            || update(&x, &xa, &d, alpha, eps).map(|_| ()),
            None,
        );
    }
}

pub fn bench(h: &mut Harness) {
    if !h.wants("attack") {
        return;
    }
    let n = if h.quick { 4 } else { 16 };
    bench_update(h, n, 128);
    let steps = 5u32;
    for preset in ["demo", "baseline-demo"] {
        let cfg = CprlConfig::preset(preset).unwrap();
        let s = cfg.crop;
        let gpu = h.gpu.clone();
        let model = Cprl::new(&gpu, &cfg, 1).unwrap();
        let x = Tensor::from_slice(&gpu, &images(1, n * 3 * s * s), &[n, 3, s, s]).unwrap();
        let shape = format!("[{n}, 3, {s}, {s}] {preset}");
        // Forward, and backward-data through every layer (no weight gradients).
        let flops = 2.0 * n as f64 * cfg.forward_flops();
        let validation = validate(h);
        h.run(
            Case {
                op: "attack.input_grad",
                shape: shape.clone(),
                variant: "Auto".into(),
                flops,
                bytes: 0.0,
                elems: 0.0,
            },
            || validation,
            || {
                let xv = x.detach().requires_grad_();
                let l = model.forward(&xv, false)?.score.sum()?;
                autograd::backward_to(&l, &[&xv]).map(|_| ())
            },
            None,
        );
        let (eps, alpha) = (4.0f32 / 255.0, 1.0f32 / 255.0);
        let s0 = scores(&model, &x).unwrap();
        h.run(
            Case {
                op: "attack.step",
                shape: shape.clone(),
                variant: "Auto".into(),
                flops,
                bytes: 0.0,
                elems: 0.0,
            },
            || Ok(()),
            || {
                let g = input_gradient(&model, &x, Goal::Reflect, &s0)?;
                linf_step(&x, &x, &g, alpha, eps).map(|_| ())
            },
            None,
        );
        let acfg = AttackConfig::named("reflect", eps, steps, None, 0).unwrap();
        h.run(
            Case {
                op: "attack.reflect_k5",
                shape,
                variant: "Auto".into(),
                flops: flops * steps as f64,
                bytes: 0.0,
                elems: 0.0,
            },
            || Ok(()),
            || attack(&model, &x, &acfg, 0).map(|_| ()),
            None,
        );
    }
}
