//! Optimiser steps and gradient clipping against the f64 reference (state carried over
//! several steps), checkpoint round trips, allocation-free steady state, and
//! hand-worked cases.

mod common;

use std::sync::Arc;

use common::*;
use cprl::autograd::Grads;
use cprl::ops::optim::{
    Adam, AdamConfig, OptimVersion, Optimizer, Sgd, SgdConfig, StateDict, clip_grad_norm, clip_grad_norm_with,
};
use cprl::reference::optim as r;
use cprl::{Gpu, Tensor};

/// Parameter shapes: size 1, odd, not a multiple of the workgroup, divisible by 4
/// (vec4) and not, and one large tensor (1M elements, divisible by 4).
const SHAPES: &[&[usize]] = &[&[1], &[7], &[3, 5], &[64], &[257, 4], &[1 << 20]];
const STEPS: usize = 4;

const ATOL: f64 = r::TOLERANCE.atol;
const RTOL: f64 = r::TOLERANCE.rtol;

fn shapes_for(version: OptimVersion) -> Vec<&'static [usize]> {
    SHAPES
        .iter()
        .copied()
        .filter(|s| version != OptimVersion::V1Vec4 || s.iter().product::<usize>().is_multiple_of(4))
        .collect()
}

fn params(gpu: &Arc<Gpu>, shapes: &[&[usize]], salt: u64) -> (Vec<Tensor>, Vec<Vec<f64>>) {
    shapes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (t, v) = rand_tensor(gpu, salt + i as u64, s);
            (t.requires_grad_(), v)
        })
        .unzip()
}

/// Random gradients for every parameter but the last (which a step must skip).
fn grads(gpu: &Arc<Gpu>, ps: &[Tensor], salt: u64) -> (Grads, Vec<Vec<f64>>) {
    let mut g = Grads::default();
    let mut host = Vec::new();
    for (i, p) in ps.iter().enumerate().take(ps.len() - 1) {
        let (t, v) = rand_tensor(gpu, salt + i as u64, p.shape());
        g.insert(p.id(), t);
        host.push(v);
    }
    (g, host)
}

/// Runs STEPS steps on the GPU and in the reference, halving the learning rate before
/// the last one (a schedule), and compares parameters after each step.
fn steps_match_ref(
    what: &str,
    version: OptimVersion,
    mut opt: Box<dyn Optimizer>,
    mut ref_step: impl FnMut(usize, f64, &mut [f64], &[f64]),
) -> (Box<dyn Optimizer>, Vec<Tensor>) {
    let gpu = gpu();
    let shapes = shapes_for(version);
    let (ps, mut host) = params(&gpu, &shapes, 1000);
    let untouched = host.last().unwrap().clone();
    for step in 0..STEPS {
        if step == STEPS - 1 {
            let lr = opt.lr() * 0.5;
            opt.set_lr(lr);
        }
        let (g, gh) = grads(&gpu, &ps, 2000 + 100 * step as u64);
        opt.step(&ps, &g).unwrap();
        for (i, gi) in gh.iter().enumerate() {
            ref_step(i, opt.lr(), &mut host[i], gi);
        }
        for (i, p) in ps.iter().enumerate() {
            assert_tensor(
                &format!("{what} {version:?} step {step} param {:?}", p.shape()),
                p,
                &host[i],
                ATOL,
                RTOL,
            );
        }
    }
    assert_tensor(
        &format!("{what}: no gradient, no update"),
        ps.last().unwrap(),
        &untouched,
        0.0,
        0.0,
    );
    (opt, ps)
}

fn sgd_matches_ref(cfg: SgdConfig, version: OptimVersion) {
    let mut bufs: Vec<Option<Vec<f64>>> = vec![None; SHAPES.len()];
    let mut opt = Sgd::new(cfg);
    opt.version = version;
    let (opt, ps) = steps_match_ref(&format!("{cfg:?}"), version, Box::new(opt), |i, lr, p, g| {
        r::sgd_step_ref(&SgdConfig { lr, ..cfg }, p, g, &mut bufs[i])
    });
    // The momentum buffers, read through the checkpoint interface.
    let sd = opt.state_dict(&ps).unwrap();
    let want: Vec<&Vec<f64>> = bufs.iter().flatten().collect();
    assert_eq!(sd.len(), want.len(), "{:?}", names(&sd));
    for ((name, got), want) in sd.iter().zip(want) {
        assert!(name.ends_with(".momentum_buffer"), "{name}");
        assert_close(name, got, want, ATOL, RTOL);
    }
}

fn adam_matches_ref(cfg: AdamConfig, version: OptimVersion) {
    let n = SHAPES.len();
    let mut st: Vec<(Vec<f64>, Vec<f64>, u64)> = vec![(Vec::new(), Vec::new(), 0); n];
    let mut opt = Adam::new(cfg);
    opt.version = version;
    let (opt, ps) = steps_match_ref(&format!("{cfg:?}"), version, Box::new(opt), |i, lr, p, g| {
        let (m, v, step) = &mut st[i];
        if m.is_empty() {
            *m = vec![0.0; p.len()];
            *v = vec![0.0; p.len()];
        }
        r::adam_step_ref(&AdamConfig { lr, ..cfg }, p, g, m, v, step)
    });
    // Moments and step counts, read through the checkpoint interface.
    let sd = opt.state_dict(&ps).unwrap();
    assert_eq!(sd.len(), 3 * (ps.len() - 1), "{:?}", names(&sd));
    for (k, chunk) in sd.chunks(3).enumerate() {
        let (m, v, step) = &st[k];
        assert_eq!(chunk[0].0, format!("{k}.step"));
        assert_eq!(chunk[0].1, vec![*step as f32]);
        // exp_avg_sq holds squares (~1e-3 after 4 steps): same relative error.
        assert_close(&chunk[1].0, &chunk[1].1, m, ATOL, RTOL);
        assert_close(&chunk[2].0, &chunk[2].1, v, 1e-8, RTOL);
    }
}

fn names(sd: &StateDict) -> Vec<&str> {
    sd.iter().map(|(n, _)| n.as_str()).collect()
}

fn sgd(lr: f64, momentum: f64, dampening: f64, nesterov: bool, weight_decay: f64) -> SgdConfig {
    SgdConfig {
        lr,
        momentum,
        dampening,
        nesterov,
        weight_decay,
    }
}

macro_rules! optim_tests {
    ($($name:ident: $check:ident, $cfg:expr;)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn v1() {
                $check($cfg, OptimVersion::V1);
            }
            #[test]
            fn v1_vec4() {
                $check($cfg, OptimVersion::V1Vec4);
            }
            #[test]
            fn auto() {
                $check($cfg, OptimVersion::Auto);
            }
        }
    )*};
}

// Test names read `<case>::<version>`, e.g. `sgd_step_matches_ref_nesterov::v1_vec4`.
optim_tests! {
    sgd_step_matches_ref_plain: sgd_matches_ref, SgdConfig::new(0.1);
    sgd_step_matches_ref_weight_decay: sgd_matches_ref, sgd(0.1, 0.0, 0.0, false, 0.01);
    sgd_step_matches_ref_momentum: sgd_matches_ref, sgd(0.05, 0.9, 0.1, false, 0.0);
    sgd_step_matches_ref_nesterov: sgd_matches_ref, sgd(0.05, 0.9, 0.0, true, 0.001);
    adam_step_matches_ref_plain: adam_matches_ref, AdamConfig::adam(1e-2);
    adam_step_matches_ref_weight_decay: adam_matches_ref, AdamConfig { weight_decay: 0.1, ..AdamConfig::adam(1e-2) };
    adam_step_matches_ref_adamw: adam_matches_ref, AdamConfig::adamw(1e-2, 0.05);
    adam_step_matches_ref_betas: adam_matches_ref, AdamConfig { beta1: 0.5, beta2: 0.9, eps: 1e-3, ..AdamConfig::adamw(3e-2, 0.2) };
}

#[test]
fn adam_first_step_moves_by_lr_times_sign() {
    // Step 1: m = (1 - b1) g and v = (1 - b2) g^2, so the bias-corrected moments are
    // m / (1 - b1) = g and sqrt(v / (1 - b2)) = |g|, and p -= lr g / (|g| + eps):
    // lr sign(g) shrunk by |g| / (|g| + eps). With lr 0.01 and eps 0.1 (large, to see it):
    // g = 0.4 -> -0.01 * 0.4 / 0.5 = -0.008; g = -0.4 -> +0.008; g = 0.1 -> -0.005;
    // g = 0 -> m = 0, no move.
    let gpu = gpu();
    let p = Tensor::from_slice(&gpu, &[0.5, -0.25, 1.0, 0.0], &[4])
        .unwrap()
        .requires_grad_();
    let mut g = Grads::default();
    g.insert(
        p.id(),
        Tensor::from_slice(&gpu, &[0.4, -0.4, 0.1, 0.0], &[4]).unwrap(),
    );
    let mut opt = Adam::new(AdamConfig {
        eps: 0.1,
        ..AdamConfig::adam(0.01)
    });
    opt.step(std::slice::from_ref(&p), &g).unwrap();
    assert_tensor("adam step 1", &p, &[0.492, -0.242, 0.995, 0.0], 1e-7, 1e-6);
    assert_eq!(opt.steps(&p), 1);
}

#[test]
fn adamw_decays_without_a_gradient_signal() {
    // g = 0 keeps m = v = 0, so the Adam term is 0 / (0 + eps) = 0 and only the
    // decoupled decay acts: p *= 1 - lr wd = 1 - 0.1 * 0.5 = 0.95. Coupled Adam would
    // instead see g = wd p and move each element by about lr sign(p) = 0.1.
    let gpu = gpu();
    let p0 = [2.0f32, -1.0, 0.5];
    let p = Tensor::from_slice(&gpu, &p0, &[3]).unwrap().requires_grad_();
    let mut g = Grads::default();
    g.insert(p.id(), Tensor::zeros(&gpu, &[3]).unwrap());
    Adam::new(AdamConfig::adamw(0.1, 0.5))
        .step(std::slice::from_ref(&p), &g)
        .unwrap();
    assert_tensor("adamw decay", &p, &[1.9, -0.95, 0.475], 1e-7, 1e-6);
    let q = Tensor::from_slice(&gpu, &p0, &[3]).unwrap().requires_grad_();
    let mut g = Grads::default();
    g.insert(q.id(), Tensor::zeros(&gpu, &[3]).unwrap());
    Adam::new(AdamConfig {
        weight_decay: 0.5,
        ..AdamConfig::adam(0.1)
    })
    .step(std::slice::from_ref(&q), &g)
    .unwrap();
    assert_tensor("adam coupled decay", &q, &[1.9, -0.9, 0.4], 1e-6, 1e-5);
}

#[test]
fn sgd_momentum_two_steps_by_hand() {
    // Constant g = 1, p0 = 0, lr 0.1.
    // momentum 0.9, dampening 0.5: buf1 = g (no dampening on the first step), p1 = -0.1;
    //   buf2 = 0.9 + 0.5 = 1.4, p2 = -0.1 - 0.14 = -0.24.
    // Nesterov, momentum 0.9: buf1 = 1, d = 1 + 0.9 = 1.9, p1 = -0.19;
    //   buf2 = 0.9 + 1 = 1.9, d = 1 + 0.9 * 1.9 = 2.71, p2 = -0.19 - 0.271 = -0.461.
    let gpu = gpu();
    for (cfg, want) in [
        (sgd(0.1, 0.9, 0.5, false, 0.0), [-0.1, -0.24]),
        (sgd(0.1, 0.9, 0.0, true, 0.0), [-0.19, -0.461]),
    ] {
        let p = Tensor::zeros(&gpu, &[5]).unwrap().requires_grad_();
        let mut g = Grads::default();
        g.insert(p.id(), Tensor::ones(&gpu, &[5]).unwrap());
        let mut opt = Sgd::new(cfg);
        for w in want {
            opt.step(std::slice::from_ref(&p), &g).unwrap();
            assert_tensor(&format!("{cfg:?}"), &p, &[w; 5], 1e-7, 1e-6);
        }
    }
}

/// Two optimisers on identical parameters; `b` is rebuilt from `a`'s checkpoint
/// after two steps (new parameter tensors, so new ids), then both take two more
/// steps: the results must agree bit for bit.
fn resume_is_exact(make: impl Fn() -> Box<dyn Optimizer>) {
    let gpu = gpu();
    let shapes: &[&[usize]] = &[&[3, 5], &[64], &[9]];
    let (pa, _) = params(&gpu, shapes, 3000);
    let mut a = make();
    for step in 0..2 {
        a.step(&pa, &grads(&gpu, &pa, 4000 + 10 * step).0).unwrap();
    }
    let sd = a.state_dict(&pa).unwrap();
    let pb: Vec<Tensor> = pa
        .iter()
        .map(|p| {
            Tensor::from_slice(&gpu, &p.to_vec().unwrap(), p.shape())
                .unwrap()
                .requires_grad_()
        })
        .collect();
    let mut b = make();
    b.load_state_dict(&pb, &sd).unwrap();
    for step in 2..4 {
        let (ga, gh) = grads(&gpu, &pa, 4000 + 10 * step);
        let mut gb = Grads::default();
        for (p, v) in pb.iter().zip(&gh) {
            let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            gb.insert(p.id(), Tensor::from_slice(&gpu, &v, p.shape()).unwrap());
        }
        a.step(&pa, &ga).unwrap();
        b.step(&pb, &gb).unwrap();
    }
    for (x, y) in pa.iter().zip(&pb) {
        assert_eq!(x.to_vec().unwrap(), y.to_vec().unwrap(), "resumed run differs");
    }
    assert_eq!(a.state_dict(&pa).unwrap(), b.state_dict(&pb).unwrap());
}

#[test]
fn sgd_resumes_exactly_from_its_state_dict() {
    resume_is_exact(|| Box::new(Sgd::new(sgd(0.05, 0.9, 0.1, false, 0.01))));
}

#[test]
fn adam_resumes_exactly_from_its_state_dict() {
    resume_is_exact(|| Box::new(Adam::new(AdamConfig::adamw(1e-2, 0.05))));
}

#[test]
fn zero_state_restarts_like_a_fresh_optimiser() {
    let gpu = gpu();
    let makers: [fn() -> Box<dyn Optimizer>; 2] = [
        || Box::new(Sgd::new(sgd(0.05, 0.9, 0.0, true, 0.0))),
        || Box::new(Adam::new(AdamConfig::adam(1e-2))),
    ];
    for make in makers {
        let (ps, _) = params(&gpu, &[&[7], &[16], &[1]], 5000);
        let mut a = make();
        a.step(&ps, &grads(&gpu, &ps, 5100).0).unwrap();
        a.zero_state().unwrap();
        let copy: Vec<Tensor> = ps
            .iter()
            .map(|p| {
                Tensor::from_slice(&gpu, &p.to_vec().unwrap(), p.shape())
                    .unwrap()
                    .requires_grad_()
            })
            .collect();
        let (g, gh) = grads(&gpu, &ps, 5200);
        let mut gc = Grads::default();
        for (p, v) in copy.iter().zip(&gh) {
            let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            gc.insert(p.id(), Tensor::from_slice(&gpu, &v, p.shape()).unwrap());
        }
        a.step(&ps, &g).unwrap();
        make().step(&copy, &gc).unwrap();
        for (x, y) in ps.iter().zip(&copy) {
            assert_eq!(x.to_vec().unwrap(), y.to_vec().unwrap());
        }
    }
}

#[test]
fn steady_state_steps_create_no_buffers() {
    // A device of its own, so that other tests' allocations do not count.
    let gpu = Gpu::new().unwrap();
    let shapes: &[&[usize]] = &[&[32, 3, 3, 3], &[32], &[1000, 7], &[1]];
    let ps: Vec<Tensor> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| rand_tensor(&gpu, 6000 + i as u64, s).0.requires_grad_())
        .collect();
    let mut g = Grads::default();
    for (i, p) in ps.iter().enumerate() {
        g.insert(p.id(), rand_tensor(&gpu, 6100 + i as u64, p.shape()).0);
    }
    let mut sgd = Sgd::new(sgd(0.01, 0.9, 0.0, true, 1e-4));
    let mut adam = Adam::new(AdamConfig::adamw(1e-3, 1e-2));
    // One training step's optimiser work; the sync stands for reading the loss.
    let mut step = || {
        clip_grad_norm(&ps, &mut g, 1.0).unwrap();
        sgd.step(&ps, &g).unwrap();
        adam.step(&ps, &g).unwrap();
        gpu.sync().unwrap();
    };
    step();
    step();
    let before = gpu.stats();
    for _ in 0..3 {
        step();
    }
    let after = gpu.stats();
    assert_eq!(
        after.buffers_created, before.buffers_created,
        "steps after warm-up created buffers: {before:?} -> {after:?}"
    );
    assert!(after.dispatches > before.dispatches);
}

/// Gradient sets: one element, odd sizes, several tiles (16,384) with a ragged end, 1M.
const CLIP_SHAPES: &[&[usize]] = &[&[1], &[7, 3], &[3 * 16384 + 5], &[64], &[1 << 20]];

fn clip_matches_ref(version: OptimVersion) {
    let gpu = gpu();
    let shapes: Vec<&[usize]> = CLIP_SHAPES
        .iter()
        .copied()
        .filter(|s| version != OptimVersion::V1Vec4 || s.iter().product::<usize>().is_multiple_of(4))
        .collect();
    // max_norm below the norm (clips) and above it (leaves the gradients as they are).
    for (k, ratio) in [0.25, 2.0].into_iter().enumerate() {
        let salt = 7000 + 100 * k as u64;
        let ps: Vec<Tensor> = shapes
            .iter()
            .map(|s| Tensor::zeros(&gpu, s).unwrap().requires_grad_())
            .collect();
        let mut g = Grads::default();
        let mut host = Vec::new();
        for (i, p) in ps.iter().enumerate() {
            let (t, v) = rand_tensor(&gpu, salt + i as u64, p.shape());
            g.insert(p.id(), t);
            host.push(v);
        }
        let norm0 = host.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
        let max_norm = (ratio * norm0) as f32;
        let want_norm = r::clip_grad_norm_ref(&mut host, max_norm as f64);
        let norm = clip_grad_norm_with(&ps, &mut g, max_norm, version).unwrap();
        assert_tensor_within(
            &format!("norm {version:?} ratio {ratio}"),
            &norm,
            &[want_norm],
            r::CLIP_NORM_TOLERANCE,
        );
        for (p, want) in ps.iter().zip(&host) {
            let got = g.of(p).unwrap();
            if ratio > 1.0 {
                // Below max_norm the coefficient is exactly 1: bitwise unchanged.
                assert_tensor(&format!("unclipped {:?}", p.shape()), got, want, 0.0, 0.0);
            } else {
                assert_tensor_within(&format!("clipped {:?}", p.shape()), got, want, r::CLIP_TOLERANCE);
            }
        }
    }
}

#[test]
fn clip_grad_norm_v1_matches_ref() {
    clip_matches_ref(OptimVersion::V1);
}

#[test]
fn clip_grad_norm_v1_vec4_matches_ref() {
    clip_matches_ref(OptimVersion::V1Vec4);
}

#[test]
fn clip_grad_norm_auto_matches_ref() {
    clip_matches_ref(OptimVersion::Auto);
}

#[test]
fn clip_grad_norm_by_hand() {
    // Gradients [3, 4] and [12]: norm sqrt(9 + 16 + 144) = 13. max_norm 6.5 scales by
    // 6.5 / (13 + 1e-6) ~ 0.5 -> [1.5, 2], [6]. Then the norm is 6.5 < 20: unchanged.
    let gpu = gpu();
    let a = Tensor::zeros(&gpu, &[2]).unwrap().requires_grad_();
    let b = Tensor::zeros(&gpu, &[1]).unwrap().requires_grad_();
    let mut g = Grads::default();
    g.insert(a.id(), Tensor::from_slice(&gpu, &[3.0, 4.0], &[2]).unwrap());
    g.insert(b.id(), Tensor::from_slice(&gpu, &[12.0], &[1]).unwrap());
    let ps = [a.clone(), b.clone()];
    assert_tensor(
        "norm",
        &clip_grad_norm(&ps, &mut g, 6.5).unwrap(),
        &[13.0],
        1e-6,
        0.0,
    );
    assert_tensor("a clipped", g.of(&a).unwrap(), &[1.5, 2.0], 1e-6, 0.0);
    assert_tensor("b clipped", g.of(&b).unwrap(), &[6.0], 1e-6, 0.0);
    assert_tensor(
        "norm 2",
        &clip_grad_norm(&ps, &mut g, 20.0).unwrap(),
        &[6.5],
        1e-6,
        0.0,
    );
    assert_tensor("b kept", g.of(&b).unwrap(), &[6.0], 1e-6, 0.0);
}

#[test]
fn clip_grad_norm_scales_a_shared_gradient_once() {
    // The tape gives a and b of `a + b` one gradient tensor. The norm counts it for
    // each parameter (as torch would): sqrt(2 * (3^2 + 4^2)) = sqrt(50); max_norm
    // sqrt(50) / 2 halves it once (a second scale would quarter it).
    let gpu = gpu();
    let a = Tensor::zeros(&gpu, &[2]).unwrap().requires_grad_();
    let b = Tensor::zeros(&gpu, &[2]).unwrap().requires_grad_();
    let shared = Tensor::from_slice(&gpu, &[3.0, 4.0], &[2]).unwrap();
    let mut g = Grads::default();
    g.insert(a.id(), shared.clone());
    g.insert(b.id(), shared.clone());
    let max = 50f32.sqrt() / 2.0;
    let norm = clip_grad_norm(&[a.clone(), b.clone()], &mut g, max).unwrap();
    assert_tensor("norm", &norm, &[50f64.sqrt()], 1e-6, 1e-6);
    assert_tensor("shared", g.of(&a).unwrap(), &[1.5, 2.0], 1e-6, 1e-6);
}

#[test]
fn bad_inputs_are_refused_with_their_shapes() {
    let gpu = gpu();
    let p = Tensor::zeros(&gpu, &[2, 3]).unwrap().requires_grad_();
    let mut g = Grads::default();
    g.insert(p.id(), Tensor::zeros(&gpu, &[3, 2]).unwrap());
    let ps = std::slice::from_ref(&p);
    for e in [
        Sgd::new(SgdConfig::new(0.1)).step(ps, &g).unwrap_err(),
        Adam::new(AdamConfig::adam(0.1)).step(ps, &g).unwrap_err(),
        clip_grad_norm(ps, &mut g, 1.0).unwrap_err(),
    ] {
        let e = e.to_string();
        assert!(e.contains("[2, 3]") && e.contains("[3, 2]"), "{e}");
    }
    let mut g = Grads::default();
    g.insert(p.id(), Tensor::zeros(&gpu, &[2, 3]).unwrap());
    let e = Sgd::new(sgd(0.1, 0.0, 0.0, true, 0.0)).step(ps, &g).unwrap_err();
    assert!(e.to_string().contains("Nesterov"), "{e}");
    let e = Adam::new(AdamConfig::adam(0.1))
        .step(&[p.clone(), p.clone()], &g)
        .unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    let mut sgd_opt = Sgd::new(sgd(0.1, 0.9, 0.0, false, 0.0));
    sgd_opt.version = OptimVersion::V1Vec4;
    let odd = Tensor::zeros(&gpu, &[3]).unwrap().requires_grad_();
    let mut g3 = Grads::default();
    g3.insert(odd.id(), Tensor::zeros(&gpu, &[3]).unwrap());
    let e = sgd_opt.step(std::slice::from_ref(&odd), &g3).unwrap_err();
    assert!(e.to_string().contains("divisible by 4"), "{e}");
    let bad: StateDict = vec![("0.exp_avg".into(), vec![0.0; 5])];
    let e = Adam::new(AdamConfig::adam(0.1))
        .load_state_dict(ps, &bad)
        .unwrap_err();
    assert!(e.to_string().contains("[2, 3]"), "{e}");
    let e = Sgd::new(SgdConfig::new(0.1))
        .load_state_dict(ps, &[("3.momentum_buffer".into(), vec![0.0; 6])])
        .unwrap_err();
    assert!(e.to_string().contains("parameter 3"), "{e}");
}

#[test]
fn adam_step_v1_matches_ref_split_grid() {
    // 2^24 + 3 elements take the per-element entry over 65,537 workgroups: beyond
    // 65,535 per dimension, so the grid is split over x and y (see grid_1d).
    let gpu = gpu();
    let n = (1 << 24) + 3;
    let cfg = AdamConfig::adamw(1e-2, 0.1);
    let (p, mut host) = rand_tensor(&gpu, 8000, &[n]);
    let p = p.requires_grad_();
    let (gt, gh) = rand_tensor(&gpu, 8001, &[n]);
    let mut g = Grads::default();
    g.insert(p.id(), gt);
    Adam::new(cfg).step(std::slice::from_ref(&p), &g).unwrap();
    let (mut m, mut v, mut step) = (vec![0.0; n], vec![0.0; n], 0);
    r::adam_step_ref(&cfg, &mut host, &gh, &mut m, &mut v, &mut step);
    assert_tensor("adam split grid", &p, &host, ATOL, RTOL);
}
