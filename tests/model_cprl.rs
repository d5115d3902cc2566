//! The CPRL model (`nn::cprl`): its loss, every parameter gradient and the input
//! gradient equal the f64 reference's (gate and SortMask on, with batch norm and with
//! group norm, and the baseline); the reference's gradients equal finite differences;
//! the gate opens about rho * C channels on features of realistic scale (and the old
//! default, strength 1 on raw z, opens none); SortMask's default strength separates
//! positions where strength 1 does not; eval mode is batch-invariant; bad
//! configurations are refused with errors that name the field.

mod common;

use std::sync::Arc;

use common::*;
use cprl::autograd::gradcheck::{fd_vjp, worst_violation};
use cprl::data::crop::{resize_short, write_crop};
use cprl::data::decode::{DecodeLimits, decode_rgb};
use cprl::nn::Module;
use cprl::nn::cprl::{
    Cprl, CprlConfig, CprlOutput, GateSettings, KeyKind, NormKind, PRESETS, SortMaskSettings,
};
use cprl::ops::elementwise as ew;
use cprl::ops::loss::{l1, mse, plcc_loss};
use cprl::ops::sortmask::sortmask;
use cprl::reference::cprl_model::{CprlRef, cprl_loss_ref, tolerance};
use cprl::reference::tolerance::max_abs;
use cprl::{Gpu, Tensor, autograd};

const LAMBDA_PLCC: f32 = 0.5;

/// The test loss: mean |score - y| + lambda (1 - PLCC) + mean (adv - y)^2 (gated).
fn loss(out: &CprlOutput, y: &Tensor) -> Tensor {
    let suff = ew::add(
        &l1(&out.score, y).unwrap(),
        &ew::scale(&plcc_loss(&out.score, y).unwrap(), LAMBDA_PLCC).unwrap(),
    )
    .unwrap();
    match &out.adv {
        Some(adv) => ew::add(&suff, &mse(adv, y).unwrap()).unwrap(),
        None => suff,
    }
}

fn download_params(model: &Cprl) -> Vec<Vec<f64>> {
    model
        .params()
        .iter()
        .map(|(_, t)| f64s(&t.to_vec().unwrap()))
        .collect()
}

/// Two stages of 4 and 8 channels (C = 8): the smallest model with every part.
fn tiny(norm: NormKind, convs_per_stage: usize, key: KeyKind, sortmask_after: Vec<usize>) -> CprlConfig {
    CprlConfig {
        norm,
        convs_per_stage,
        sortmask_after,
        gate: Some(GateSettings {
            key,
            ..GateSettings::default()
        }),
        ..CprlConfig::tiny()
    }
}

/// `n` photos shrunk to `s` x `s` with seeded noise (+-0.05) on top. Samples must
/// differ in structure, not only in their noise: PLCC is scale-free, so its gradient
/// divides the error of score differences by their spread, and i.i.d. noise images
/// give nearly equal features (group norm even removes their contrast), scores within
/// ~1e-3 of each other and a loss that f32 cannot resolve.
fn images(n: usize, s: usize, salt: u64) -> Vec<f32> {
    let noise = rand_range(salt, n * 3 * s * s, -0.05, 0.05);
    photo_crops(n, s as u32 + s as u32 / 2, s as u32)
        .iter()
        .zip(noise)
        .map(|(p, e)| (p + e).clamp(0.0, 1.0))
        .collect()
}

/// Rescales the head's last layer (on the GPU and in the reference alike) so that the
/// batch's logits have a standard deviation of about 2 around 0, as a trained head's
/// would. At initialisation the scores of a batch lie within ~1e-4 of 0.5, where f32
/// resolves them to 6e-8: PLCC, which divides by their spread, would then differ
/// between f32 and f64 by ~10% through no fault of the model.
fn spread_scores(model: &Cprl, reference: &mut CprlRef, x: &[f64], shape: [usize; 4]) {
    let probe = reference.clone().forward(x, shape, true);
    let logits: Vec<f64> = probe.score.iter().map(|s| (s / (1.0 - s)).ln()).collect();
    let n = logits.len() as f64;
    let mean = logits.iter().sum::<f64>() / n;
    let std = (logits.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n).sqrt();
    let k = (2.0 / std.max(1e-9)) as f32;
    let names: Vec<String> = model.params().into_iter().map(|(name, _)| name).collect();
    let (wi, bi) = (
        names.iter().position(|nm| nm == "head.fc2.weight").unwrap(),
        names.iter().position(|nm| nm == "head.fc2.bias").unwrap(),
    );
    let b = model.head.fc2.bias.as_ref().unwrap();
    let b0 = b.to_vec().unwrap()[0] as f64;
    // logit' = k (logit - b) + b', mean logit' = 0
    let w: Vec<f32> = model
        .head
        .fc2
        .weight
        .to_vec()
        .unwrap()
        .iter()
        .map(|v| v * k)
        .collect();
    let nb = [(-(k as f64) * (mean - b0)) as f32];
    model.head.fc2.weight.write(&w).unwrap();
    b.write(&nb).unwrap();
    reference.params[wi] = f64s(&w);
    reference.params[bi] = f64s(&nb);
}

/// The GPU model's loss, outputs, every parameter gradient and the input gradient
/// against the reference, on `n` random images of `s` x `s` in training mode.
fn check_against_reference(cfg: CprlConfig, n: usize, s: usize, salt: u64) {
    let gpu = gpu();
    let xv = images(n, s, salt);
    let yv = rand_range(salt + 1, n, 0.0, 1.0);
    let model = Cprl::new(&gpu, &cfg, base_seed() ^ salt).unwrap();
    let mut reference = CprlRef::new(cfg.clone(), download_params(&model));
    spread_scores(&model, &mut reference, &f64s(&xv), [n, 3, s, s]);
    let x = Tensor::from_slice(&gpu, &xv, &[n, 3, s, s])
        .unwrap()
        .requires_grad_();
    let y = Tensor::from_slice(&gpu, &yv, &[n]).unwrap();
    let out = model.forward(&x, true).unwrap();
    let l = loss(&out, &y);
    let grads = autograd::backward(&l).unwrap();
    let want = reference.loss_and_grads(&f64s(&xv), [n, 3, s, s], &f64s(&yv), LAMBDA_PLCC as f64, true);
    let what = format!("{cfg:?}");
    assert_within(
        &format!("loss {what}"),
        &[l.item().unwrap()],
        &[want.loss],
        tolerance::LOSS,
    );
    // Features and gate values are O(1); the gate's slope 1 / (4 (C - 1) T) = 0.7 per
    // unit of rank passes the rank's f32 error (~1e-6) on.
    assert_tensor("score", &out.score, &want.out.score, 1e-5, 1e-4);
    assert_tensor("z", &out.z, &want.out.z, 1e-5, 1e-4);
    assert_tensor("c", &out.c, &want.out.c, 1e-5, 1e-4);
    for (name, got, exp) in [
        ("n", &out.n, &want.out.n),
        ("m", &out.m, &want.out.m),
        ("adv", &out.adv, &want.out.adv),
    ] {
        match (got, exp) {
            (Some(g), Some(e)) => assert_tensor(name, g, e, 1e-5, 1e-4),
            (None, None) => {}
            _ => panic!("{name}: present on one side only"),
        }
    }
    let params = model.params();
    assert_eq!(params.len(), want.params.len(), "parameter count");
    for ((name, p), g) in params.iter().zip(&want.params) {
        assert_tensor_within(
            &format!("grad {name}"),
            grads.of(p).unwrap(),
            g,
            tolerance::grad(g),
        );
    }
    assert_tensor_within(
        "grad input",
        grads.of(&x).unwrap(),
        &want.input,
        tolerance::grad(&want.input),
    );
    // Running statistics moved by the same momentum step.
    for ((name, t), want) in model.buffers().iter().zip(
        reference
            .running
            .iter()
            .filter(|(m, _)| !m.is_empty())
            .flat_map(|(m, v)| [m, v]),
    ) {
        assert_tensor(name, t, want, 1e-6, 1e-4);
    }
}

#[test]
fn cprl_loss_and_every_gradient_match_ref_batch_norm() {
    // 15 -> 8 -> 4 through the stride-2 convolutions; SortMask on 8 x 8 after stage 0.
    let cfg = tiny(NormKind::BatchNorm, 1, KeyKind::Z, vec![0]);
    check_against_reference(cfg, 4, 15, 1);
}

#[test]
fn cprl_loss_and_every_gradient_match_ref_group_norm_two_convs_head_weighted_key() {
    // Two convolutions per stage, SortMask after both stages, the key |z w_c| (whose
    // gradient reaches the head's first layer through w_c).
    let cfg = tiny(
        NormKind::GroupNorm { groups: 2 },
        2,
        KeyKind::HeadWeighted,
        vec![0, 1],
    );
    check_against_reference(cfg, 3, 16, 2);
}

#[test]
fn cprl_loss_and_every_gradient_match_ref_baseline() {
    check_against_reference(CprlConfig::tiny().baseline(), 4, 16, 3);
}

/// Finite differences of the reference's loss along every input pixel and every
/// parameter, in f64 (central differences, eps 1e-6: truncation ~1e-12, rounding
/// ~1e-10, far under the tolerance; a kink crossed by chance would show as one
/// outlier).
#[test]
fn cprl_reference_gradients_match_finite_differences() {
    let (n, s) = (3, 8);
    let cfg = CprlConfig {
        // A larger gate strength pools more channels, so the rank path is exercised.
        gate: Some(GateSettings {
            key: KeyKind::HeadWeighted,
            strength: Some(0.5),
            ..GateSettings::default()
        }),
        ..tiny(NormKind::BatchNorm, 2, KeyKind::HeadWeighted, vec![0, 1])
    };
    let gpu = gpu();
    let model = Cprl::new(&gpu, &cfg, base_seed()).unwrap();
    let params = download_params(&model);
    let x = f64s(&rand_range(4, n * 3 * s * s, 0.0, 1.0));
    let y = f64s(&rand_range(5, n, 0.0, 1.0));
    let shape = [n, 3, s, s];
    let lambda = LAMBDA_PLCC as f64;
    let fresh = CprlRef::new(cfg.clone(), params.clone());
    let want = fresh.clone().loss_and_grads(&x, shape, &y, lambda, true);
    let loss_at = |r: &mut CprlRef, xx: &[f64]| vec![cprl_loss_ref(&r.forward(xx, shape, true), &y, lambda)];
    let check = |what: &str, analytic: &[f64], numeric: &[f64]| {
        if let Some((_, i)) = worst_violation(analytic, numeric, 1e-7, 1e-5) {
            panic!(
                "{what}: analytic {} vs finite differences {} at {i}",
                analytic[i], numeric[i]
            );
        }
    };
    let numeric = fd_vjp(&|xx: &[f64]| loss_at(&mut fresh.clone(), xx), &x, &[1.0], 1e-6);
    check("input", &want.input, &numeric);
    assert!(max_abs(&want.input) > 0.0, "the input gradient is zero");
    for (k, p) in params.iter().enumerate() {
        let numeric = fd_vjp(
            &|pp: &[f64]| {
                let mut r = fresh.clone();
                r.params[k] = pp.to_vec();
                loss_at(&mut r, &x)
            },
            p,
            &[1.0],
            1e-6,
        );
        check(
            &format!("param {}", model.params()[k].0),
            &want.params[k],
            &numeric,
        );
    }
}

/// Centre crops of the reference photos (assets/refs), resized to a short side of
/// `short`, as [n, 3, crop, crop] in [0, 1].
fn photo_crops(n: usize, short: u32, crop: u32) -> Vec<f32> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/refs");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    names.sort();
    assert!(names.len() >= n, "{} photos in {dir:?}", names.len());
    let plane = 3 * (crop * crop) as usize;
    let mut out = vec![0.0; n * plane];
    for (i, path) in names.iter().take(n).enumerate() {
        let img = resize_short(decode_rgb(path, DecodeLimits::default()).unwrap(), short);
        let (w, h) = img.dimensions();
        write_crop(
            &img,
            (w - crop) / 2,
            (h - crop) / 2,
            crop,
            false,
            &mut out[i * plane..(i + 1) * plane],
        );
    }
    out
}

/// Per sample: how many channels have m > 0.5.
fn channels_on(m: &Tensor) -> Vec<usize> {
    let c = m.dim(1);
    m.to_vec()
        .unwrap()
        .chunks(c)
        .map(|row| row.iter().filter(|&&v| v > 0.5).count())
        .collect()
}

/// Per-sample standard deviation of z over its channels.
fn spreads(z: &Tensor) -> Vec<f64> {
    let c = z.dim(1);
    z.to_vec()
        .unwrap()
        .chunks(c)
        .map(|row| {
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / c as f64;
            (row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / c as f64).sqrt()
        })
        .collect()
}

/// With hard ranks exactly rho * C = 32 of C = 128 channels have u = (r - 1) / 127
/// past q = 0.75 (ranks 97..128). Soft ranks move the count only through blocks that
/// PAV pools across the threshold: at strength 1 / C a few neighbours, so the count is
/// held to 32 +- 4 (1/8 of it).
const ON_MARGIN: usize = 4;

/// The collapse of docs/METHOD.md, "Scale decides whether the gate exists": torchsort's
/// strength 1 on raw z.
fn old_default() -> GateSettings {
    GateSettings {
        standardize: false,
        strength: Some(1.0),
        ..GateSettings::default()
    }
}

#[test]
fn gate_opens_about_rho_c_channels_on_features_with_a_spread_of_0_3() {
    let gpu = gpu();
    let model = Cprl::new(&gpu, &CprlConfig::demo(), base_seed()).unwrap();
    let (b, c) = (16, 128);
    // Pooled ReLU features: 0.6 + 0.3 N(0, 1) (N as a sum of 12 uniforms), floored at 0.
    let us: Vec<Vec<f32>> = (0..12).map(|k| rand_range(1000 + k, b * c, -0.5, 0.5)).collect();
    let zv: Vec<f32> = (0..b * c)
        .map(|i| (0.6 + 0.3 * us.iter().map(|u| u[i]).sum::<f32>()).max(0.0))
        .collect();
    let z = Tensor::from_slice(&gpu, &zv, &[b, c]).unwrap();
    let spread = spreads(&z);
    assert!(
        spread.iter().all(|s| (0.2..0.4).contains(s)),
        "spreads {spread:?}"
    );
    let (_, _, m) = model.gate(&z, &GateSettings::default()).unwrap();
    let on = channels_on(&m);
    eprintln!("channels on per sample: {on:?}");
    let want = 32;
    assert!(
        on.iter().all(|&k| k.abs_diff(want) <= ON_MARGIN),
        "channels on per sample {on:?}, want {want} +- {ON_MARGIN}"
    );
    // The contrast: strength 1 on raw z pools every channel (u = 0.5, m = 0.007).
    let (_, _, m) = model.gate(&z, &old_default()).unwrap();
    let on = channels_on(&m);
    assert!(on.iter().all(|&k| k == 0), "old default opened {on:?}");
    let mv = m.to_vec().unwrap();
    assert!(
        mv.iter().all(|&v| v < 0.02),
        "old default m up to {:?}",
        mv.iter().cloned().fold(0.0, f32::max)
    );
}

#[test]
fn gate_opens_about_rho_c_channels_in_a_random_demo_model_on_photos() {
    let gpu = gpu();
    let cfg = CprlConfig::demo();
    let model = Cprl::new(&gpu, &cfg, base_seed()).unwrap();
    let n = 12;
    let x = Tensor::from_slice(&gpu, &photo_crops(n, 160, 128), &[n, 3, 128, 128]).unwrap();
    let _g = autograd::no_grad();
    // Training mode: batch norm normalises with the batch's statistics, as in training.
    let out = model.forward(&x, true).unwrap();
    let spread = spreads(&out.z);
    eprintln!("random demo model on photos: per-sample std of z {spread:.3?}");
    let on = channels_on(out.m.as_ref().unwrap());
    eprintln!("channels on per sample: {on:?}");
    assert!(
        on.iter().all(|&k| k.abs_diff(32) <= ON_MARGIN),
        "channels on per sample {on:?}, want 32 +- {ON_MARGIN}"
    );
    let (_, _, m) = model.gate(&out.z, &old_default()).unwrap();
    let on_old = channels_on(&m);
    assert!(on_old.iter().all(|&k| k == 0), "old default opened {on_old:?}");
}

/// SortMask's gate g = (out - mu) / (F - mu) on the positions where F > 0 and F is
/// away from its channel mean (after the ReLU about half the positions are 0: they
/// tie at deviation mu and share one rank): (share with g < 0.1, share with g > 0.9,
/// max |g - 0.5|).
fn sortmask_gates(f: &Tensor, out: &Tensor) -> (f64, f64, f32) {
    let hw = f.dim(2) * f.dim(3);
    let (fv, ov) = (f.to_vec().unwrap(), out.to_vec().unwrap());
    let (mut lo, mut hi, mut count, mut dev) = (0, 0, 0, 0.0f32);
    for (row, orow) in fv.chunks(hw).zip(ov.chunks(hw)) {
        let mu = row.iter().sum::<f32>() / hw as f32;
        for (&a, &o) in row.iter().zip(orow) {
            if a > 0.0 && (a - mu).abs() > 1e-3 {
                let g = (o - mu) / (a - mu);
                count += 1;
                lo += (g < 0.1) as usize;
                hi += (g > 0.9) as usize;
                dev = dev.max((g - 0.5).abs());
            }
        }
    }
    (lo as f64 / count as f64, hi as f64 / count as f64, dev)
}

#[test]
fn sortmask_default_strength_splits_positions_where_strength_one_shrinks_all_by_half() {
    let gpu = gpu();
    let cfg = CprlConfig::demo();
    // The backbone without SortMask, to read the maps SortMask would get after stage 1.
    let model = Cprl::new(&gpu, &cfg.clone().baseline(), base_seed()).unwrap();
    let n = 8;
    let x = Tensor::from_slice(&gpu, &photo_crops(n, 160, 128), &[n, 3, 128, 128]).unwrap();
    let _g = autograd::no_grad();
    let f = &model.stage_outputs(&x, true).unwrap()[1];
    let hw = f.dim(2) * f.dim(3);
    // Default, strength 1 / (H W): ranks near the hard ones; with q_s = 0.5 and
    // T_s = 0.05 a third of the positive positions are pulled to the mean and a
    // third kept (seen: 0.38 and 0.33), the rest in the soft band.
    let (lo, hi, _) = sortmask_gates(f, &sortmask(f, &cfg.sortmask.op_config(hw)).unwrap());
    assert!(lo > 0.25 && hi > 0.25, "default: pulled {lo:.3}, kept {hi:.3}");
    // Strength 1: every row pools into one block, u = 0.5, g = sigmoid(0) = 0.5 (seen:
    // within 0.03 of it).
    let one = SortMaskSettings {
        strength: Some(1.0),
        ..cfg.sortmask
    };
    let (lo, hi, dev) = sortmask_gates(f, &sortmask(f, &one.op_config(hw)).unwrap());
    assert!(
        lo == 0.0 && hi == 0.0 && dev < 0.1,
        "strength 1: pulled {lo:.3}, kept {hi:.3}, max |g - 0.5| {dev:.3}"
    );
}

/// An image's eval score alone and inside a batch of others, with running statistics
/// moved away from their initial (0, 1) by a few training forwards.
fn check_batch_invariance(cfg: CprlConfig) {
    let gpu = gpu();
    let s = 32;
    let model = Cprl::new(&gpu, &cfg, base_seed()).unwrap();
    let _g = autograd::no_grad();
    for k in 0..3 {
        let xv = rand_range(50 + k, 4 * 3 * s * s, 0.0, 1.0);
        model
            .forward(&Tensor::from_slice(&gpu, &xv, &[4, 3, s, s]).unwrap(), true)
            .unwrap();
    }
    let batch = 5;
    let xv = rand_range(60, batch * 3 * s * s, 0.0, 1.0);
    let all = model
        .forward(&Tensor::from_slice(&gpu, &xv, &[batch, 3, s, s]).unwrap(), false)
        .unwrap();
    let all_scores = all.score.to_vec().unwrap();
    let plane = 3 * s * s;
    for i in [0, 3] {
        let one = model
            .forward(
                &Tensor::from_slice(&gpu, &xv[i * plane..(i + 1) * plane], &[1, 3, s, s]).unwrap(),
                false,
            )
            .unwrap();
        let alone = one.score.to_vec().unwrap()[0];
        assert!(
            (alone - all_scores[i]).abs() <= 1e-5,
            "image {i}: alone {alone} vs in the batch {} ({cfg:?})",
            all_scores[i]
        );
    }
}

#[test]
fn cprl_eval_scores_are_batch_invariant_batch_norm() {
    check_batch_invariance(CprlConfig {
        stages: vec![8, 16, 32],
        sortmask_after: vec![1],
        ..CprlConfig::demo()
    });
}

#[test]
fn cprl_eval_scores_are_batch_invariant_group_norm() {
    check_batch_invariance(CprlConfig {
        stages: vec![8, 16, 32],
        norm: NormKind::GroupNorm { groups: 4 },
        sortmask_after: vec![0, 2],
        ..CprlConfig::demo()
    });
}

fn invalid(cfg: CprlConfig) -> String {
    cfg.validate().expect_err("accepted a bad config").to_string()
}

#[test]
fn cprl_config_rejects_bad_values_naming_the_field() {
    let gate = |f: &dyn Fn(&mut GateSettings)| {
        let mut g = GateSettings::default();
        f(&mut g);
        CprlConfig {
            gate: Some(g),
            ..CprlConfig::demo()
        }
    };
    for rho in [0.0, 1.0, -0.1, f32::NAN] {
        let e = invalid(gate(&|g| g.rho = rho));
        assert!(e.contains("gate.rho") && e.contains("(0, 1)"), "{e}");
    }
    for t in [0.0, -0.05, f32::INFINITY] {
        let e = invalid(gate(&|g| g.temperature = t));
        assert!(e.contains("gate.temperature"), "{e}");
    }
    let e = invalid(gate(&|g| g.strength = Some(0.0)));
    assert!(e.contains("gate.strength"), "{e}");
    let e = invalid(CprlConfig {
        stages: vec![],
        ..CprlConfig::demo()
    });
    assert!(e.contains("stages is empty"), "{e}");
    let e = invalid(CprlConfig {
        sortmask_after: vec![4],
        ..CprlConfig::demo()
    });
    assert!(
        e.contains("sortmask_after[0] = 4") && e.contains("4 stages"),
        "{e}"
    );
    let e = invalid(CprlConfig {
        sortmask_after: vec![1, 1],
        ..CprlConfig::demo()
    });
    assert!(e.contains("twice"), "{e}");
    let e = invalid(CprlConfig {
        norm: NormKind::GroupNorm { groups: 3 },
        ..CprlConfig::demo()
    });
    assert!(e.contains("groups = 3") && e.contains("16"), "{e}");
    let mut cfg = CprlConfig::demo();
    cfg.sortmask.temperature = 0.0;
    assert!(invalid(cfg).contains("sortmask.temperature"));
    let e = invalid(CprlConfig {
        convs_per_stage: 0,
        ..CprlConfig::demo()
    });
    assert!(e.contains("convs_per_stage"), "{e}");
    // The model refuses to build from a bad config.
    let gpu: Arc<Gpu> = gpu();
    assert!(Cprl::new(&gpu, &gate(&|g| g.rho = 1.0), 0).is_err());
}

#[test]
fn cprl_config_json_rejects_unknown_keys_naming_them() {
    let e = CprlConfig::from_json(r#"{"stages": [8, 16], "widht": 3}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("widht"), "{e}");
    let e = CprlConfig::from_json(r#"{"gate": {"rho": 0.3, "temprature": 0.1}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("temprature"), "{e}");
    let e = CprlConfig::from_json(r#"{"norm": {"group_norm": {"groups": 4, "eps": 1}}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("eps"), "{e}");
    // Values are validated after parsing.
    let e = CprlConfig::from_json(r#"{"gate": {"rho": 1.0}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("gate.rho"), "{e}");
}

#[test]
fn cprl_config_json_fills_missing_fields_from_demo_and_round_trips_every_preset() {
    let cfg =
        CprlConfig::from_json(r#"{"stages": [8, 16], "gate": null, "norm": {"group_norm": {"groups": 4}}}"#)
            .unwrap();
    assert_eq!(cfg.stages, vec![8, 16]);
    assert_eq!(cfg.gate, None);
    assert_eq!(cfg.norm, NormKind::GroupNorm { groups: 4 });
    assert_eq!(cfg.crop, CprlConfig::demo().crop);
    for name in PRESETS {
        let p = CprlConfig::preset(name).unwrap();
        p.validate().unwrap();
        let back = CprlConfig::from_json(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p, "{name}");
    }
    let base = CprlConfig::preset("baseline-demo").unwrap();
    assert!(base.gate.is_none() && base.sortmask_after.is_empty());
    assert_eq!(base.stages, CprlConfig::demo().stages);
    let e = CprlConfig::preset("huge").unwrap_err().to_string();
    assert!(e.contains("huge") && e.contains("demo"), "{e}");
}

#[test]
fn cprl_presets_cost_the_documented_flops() {
    // demo: 3->16 at 64^2, 16->32 at 32^2, 32->64 at 16^2, 64->128 at 8^2, 2 per MAC,
    // plus two heads of 128*64 + 64 MACs.
    let demo = 2.0 * (27.0 * 16.0 * 4096.0 + 3.0 * 144.0 * 32.0 * 1024.0) + 4.0 * (128.0 * 64.0 + 64.0);
    assert_eq!(CprlConfig::demo().forward_flops(), demo);
    assert!((demo / 31.9e6 - 1.0).abs() < 0.01, "{demo}");
    let full = CprlConfig::full().forward_flops();
    assert!((full / 1.29e9 - 1.0).abs() < 0.01, "{full}");
}
