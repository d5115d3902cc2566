//! Adaptive attacks (`attack::adaptive`, `attack::purify`): a surrogate shares the
//! model's weights and with nothing changed scores as the model; the straight-through
//! gate's forward is the hard-gated model and its backward the soft gate's; every
//! surrogate and the worst case stay within eps and [0, 1]; the worst case is per
//! crop at least as strong as each surrogate on the attack's loss; the seed fixes the
//! images; JPEG at quality 100 changes little; BPDA steps along the model's gradient
//! at the purified image.

mod common;

use std::path::Path;

use common::*;
use cprl::Tensor;
use cprl::attack::adaptive::{Adaptive, attack_dataset_worst, crop_loss, standard_surrogates, worst_case};
use cprl::attack::purify::jpeg_batch;
use cprl::attack::{
    AttackConfig, Defense, Goal, Method, Norm, attack, attack_defended, input_gradient, scores,
};
use cprl::autograd;
use cprl::data::{Dataset, Sample, Scale};
use cprl::infer::PredictConfig;
use cprl::nn::cprl::sortmask_straight_through;
use cprl::nn::{Cprl, CprlConfig, Module};

fn images(salt: u64, b: usize, side: usize) -> Tensor {
    Tensor::uniform(&gpu(), &[b, 3, side, side], base_seed() ^ salt, 0.0, 1.0).unwrap()
}

/// Smooth images (ramps and a soft blob) with a little noise: what JPEG is made for.
fn smooth_images(b: usize, side: usize) -> Tensor {
    let noise = rand_range(77, b * 3 * side * side, -0.01, 0.01);
    let mut v = Vec::with_capacity(noise.len());
    for i in 0..b {
        for c in 0..3 {
            for y in 0..side {
                for x in 0..side {
                    let (u, w) = (x as f32 / side as f32, y as f32 / side as f32);
                    let base = 0.2
                        + 0.3 * u
                        + 0.2 * w * (c as f32 + 1.0) / 3.0
                        + 0.2 * (-((u - 0.5).powi(2) + (w - 0.4).powi(2)) * 8.0).exp() * (i as f32 + 1.0)
                            / b as f32;
                    v.push((base + noise[v.len()]).clamp(0.0, 1.0));
                }
            }
        }
    }
    Tensor::from_slice(&gpu(), &v, &[b, 3, side, side]).unwrap()
}

fn tiny_cprl() -> Cprl {
    Cprl::new(&gpu(), &CprlConfig::tiny(), 1).unwrap()
}

fn tiny_baseline() -> Cprl {
    Cprl::new(&gpu(), &CprlConfig::tiny().baseline(), 2).unwrap()
}

fn cfg(name: &str, eps_255: f32, steps: u32, seed: u64) -> AttackConfig {
    AttackConfig::named(name, eps_255 / 255.0, steps, None, seed).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    let (a, b) = (a.to_vec().unwrap(), b.to_vec().unwrap());
    a.iter().zip(&b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn assert_budget(what: &str, x: &Tensor, xa: &Tensor, eps: f32) {
    assert_eq!(xa.shape(), x.shape(), "{what}");
    let worst = max_abs_diff(x, xa);
    assert!(worst <= eps + 1e-6, "{what}: moved {worst} > eps {eps}");
    assert!(
        xa.to_vec().unwrap().iter().all(|v| (0.0..=1.0).contains(v)),
        "{what}: a pixel left [0, 1]"
    );
}

#[test]
fn a_surrogate_shares_the_weights_and_with_nothing_changed_scores_as_the_model() {
    for model in [tiny_cprl(), tiny_baseline()] {
        let same = model.with_settings(|_| {}).unwrap();
        let ids = |m: &Cprl| -> Vec<u64> {
            m.params()
                .iter()
                .chain(m.buffers().iter())
                .map(|(_, t)| t.id())
                .collect()
        };
        assert_eq!(ids(&same), ids(&model), "the same tensors, not copies");
        let x = images(1, 4, 16);
        assert_eq!(
            scores(&same, &x).unwrap().to_vec().unwrap(),
            scores(&model, &x).unwrap().to_vec().unwrap()
        );
        let e = model
            .with_settings(|c| c.head_hidden += 1)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("head_hidden"), "{e}");
    }
}

#[test]
fn surrogate_switches_leave_a_saved_config_unchanged() {
    let cfg = CprlConfig::tiny();
    let json = serde_json::to_string(&cfg).unwrap();
    assert!(!json.contains("straight_through"), "{json}");
    assert_eq!(CprlConfig::from_json(&json).unwrap(), cfg);
}

#[test]
fn straight_through_gate_forward_is_the_hard_gated_score_backward_the_soft_gate() {
    let model = tiny_cprl();
    let st = model
        .with_settings(|c| c.gate.as_mut().unwrap().straight_through = true)
        .unwrap();
    let x = images(2, 5, 16);
    // Forward: h(z * 1[m > 0.5]) with z and the soft m of the model itself.
    let z = model.features(&x, false).unwrap();
    let g = model.config.gate.unwrap();
    let m = model.gate(&z, &g).unwrap().2.to_vec().unwrap();
    let hard: Vec<f32> = m.iter().map(|&v| if v > 0.5 { 1.0 } else { 0.0 }).collect();
    assert!(
        hard.contains(&1.0) && hard.contains(&0.0),
        "a gate that opens some channels"
    );
    let hard = Tensor::from_slice(&gpu(), &hard, z.shape()).unwrap();
    let direct = model
        .head
        .forward(&z.mul(&hard).unwrap())
        .unwrap()
        .to_vec()
        .unwrap();
    let got = scores(&st, &x).unwrap().to_vec().unwrap();
    assert_eq!(got, direct, "straight-through forward = hard-gated score");
    // Backward: the gradient reaching z through the mask is the soft mask's.
    let zl = z.detach().requires_grad_();
    let w = Tensor::uniform(&gpu(), z.shape(), 9, -1.0, 1.0).unwrap();
    let grad_of = |gs: &cprl::nn::cprl::GateSettings| -> Vec<f32> {
        let m = model.gate(&zl, gs).unwrap().2;
        let l = m.mul(&w).unwrap().sum().unwrap();
        autograd::backward_to(&l, &[&zl])
            .unwrap()
            .of(&zl)
            .unwrap()
            .to_vec()
            .unwrap()
    };
    let gst = st.config.gate.unwrap();
    let (soft, through) = (grad_of(&g), grad_of(&gst));
    assert!(soft.iter().any(|v| *v != 0.0), "the soft gate has a gradient");
    assert_eq!(through, soft, "straight-through backward = soft gate's");
}

#[test]
fn straight_through_sortmask_is_hard_forward_and_soft_backward() {
    let cfg = CprlConfig::tiny().sortmask.op_config(64);
    let f = Tensor::uniform(&gpu(), &[2, 3, 8, 8], base_seed() ^ 3, 0.0, 2.0)
        .unwrap()
        .requires_grad_();
    let out = sortmask_straight_through(&f, &cfg).unwrap();
    // Hard: each position is its row's mean or itself.
    let (fv, ov) = (f.to_vec().unwrap(), out.to_vec().unwrap());
    let (mut kept, mut pulled) = (0, 0);
    for (row_f, row_o) in fv.chunks(64).zip(ov.chunks(64)) {
        let mu = row_f.iter().sum::<f32>() / 64.0;
        for (a, o) in row_f.iter().zip(row_o) {
            if (o - a).abs() < 1e-5 {
                kept += 1;
            } else {
                assert!((o - mu).abs() < 1e-5, "{o} is neither {a} nor the mean {mu}");
                pulled += 1;
            }
        }
    }
    assert!(kept > 0 && pulled > 0, "kept {kept}, pulled {pulled}");
    let w = Tensor::uniform(&gpu(), f.shape(), 4, -1.0, 1.0).unwrap();
    let grad = |o: &Tensor| -> Vec<f32> {
        let l = o.mul(&w).unwrap().sum().unwrap();
        autograd::backward_to(&l, &[&f])
            .unwrap()
            .of(&f)
            .unwrap()
            .to_vec()
            .unwrap()
    };
    assert_eq!(grad(&out), grad(&f.sortmask(&cfg).unwrap()));
}

#[test]
fn standard_surrogates_are_named_and_only_those_that_change_something() {
    let names = |m: &Cprl| -> Vec<String> {
        standard_surrogates(m)
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect()
    };
    let full = names(&tiny_cprl());
    assert_eq!(full.len(), 8, "{full:?}");
    for want in [
        "as trained",
        "straight-through",
        "gate temperature x0.25",
        "rank strength x4",
        "sortmask temperature x4",
    ] {
        assert!(full.iter().any(|n| n == want), "{want} missing from {full:?}");
    }
    assert_eq!(names(&tiny_baseline()), vec!["as trained".to_string()]);
}

#[test]
fn every_surrogate_but_as_trained_changes_the_input_gradient() {
    let model = tiny_cprl();
    let x = images(6, 4, 16);
    let s0 = scores(&model, &x).unwrap();
    let grad = |m: &Cprl| {
        input_gradient(m, &x, Goal::Reflect, &s0)
            .unwrap()
            .to_vec()
            .unwrap()
    };
    let base = grad(&model);
    for s in standard_surrogates(&model).unwrap() {
        let g = grad(&s.model);
        assert!(g.iter().all(|v| v.is_finite()), "{}", s.name);
        assert!(g.iter().any(|v| *v != 0.0), "{}: no gradient", s.name);
        let same = g == base;
        assert_eq!(
            same,
            s.name == "as trained",
            "{}: gradient the same as the model's: {same}",
            s.name
        );
    }
}

#[test]
fn every_surrogate_and_the_worst_case_stay_within_eps_and_the_pixel_range() {
    for model in [tiny_cprl(), tiny_baseline()] {
        let mut adaptive = Adaptive::standard(&model).unwrap();
        adaptive.restarts = 2;
        for name in ["pgd", "reflect", "msu-ifgsm"] {
            let c = cfg(name, 4.0, 2, 7);
            let x = images(3, 3, 16);
            let wc = worst_case(&model, &x, &c, &adaptive, 0).unwrap();
            for (s, cand) in adaptive.surrogates.iter().zip(&wc.per_surrogate) {
                assert_budget(&format!("{name} {}", s.name), &x, &cand.images, c.eps);
            }
            assert_budget(&format!("{name} worst"), &x, &wc.worst.images, c.eps);
        }
    }
}

#[test]
fn the_worst_case_is_per_crop_at_least_as_strong_as_each_surrogate() {
    let model = tiny_cprl();
    let mut adaptive = Adaptive::standard(&model).unwrap();
    adaptive.restarts = 2;
    let x = images(4, 6, 16);
    let s0 = scores(&model, &x).unwrap().to_vec().unwrap();
    for name in ["pgd", "reflect", "msu-ifgsm"] {
        let c = cfg(name, 8.0, 3, 11);
        let wc = worst_case(&model, &x, &c, &adaptive, 0).unwrap();
        // The loss is the real model's on the kept crops.
        let real = scores(&model, &wc.worst.images).unwrap().to_vec().unwrap();
        assert_eq!(crop_loss(c.goal, &real, &s0), wc.worst.loss, "{name}");
        for (s, cand) in adaptive.surrogates.iter().zip(&wc.per_surrogate) {
            for (i, (w, l)) in wc.worst.loss.iter().zip(&cand.loss).enumerate() {
                assert!(w <= l, "{name} crop {i}: worst {w} > {} {l}", s.name);
            }
        }
        // "as trained", first start: at least as strong as the plain attack.
        let plain = attack(&model, &x, &c, 0).unwrap();
        let plain_loss = crop_loss(c.goal, &scores(&model, &plain).unwrap().to_vec().unwrap(), &s0);
        for (a, p) in wc.per_surrogate[0].loss.iter().zip(&plain_loss) {
            assert!(a <= p, "{name}: restarts made it weaker, {a} > {p}");
        }
        let strongest = adaptive
            .surrogates
            .iter()
            .zip(&wc.per_surrogate)
            .map(|(s, c)| (s.name.as_str(), c.loss.iter().sum::<f32>()))
            .collect::<Vec<_>>();
        eprintln!(
            "{name}: summed loss per surrogate {strongest:?}, worst {}",
            wc.worst.loss.iter().sum::<f32>()
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_worst_case() {
    let model = tiny_cprl();
    let mut adaptive = Adaptive::standard(&model).unwrap();
    adaptive.restarts = 2;
    let x = images(5, 3, 16);
    let run = |seed: u64| {
        let wc = worst_case(&model, &x, &cfg("reflect", 4.0, 2, seed), &adaptive, 0).unwrap();
        wc.worst.images.to_vec().unwrap()
    };
    let a = run(5);
    assert_eq!(a, run(5));
    assert_ne!(a, run(6));
}

#[test]
fn jpeg_at_quality_100_changes_little_and_at_10_much_more() {
    let x = smooth_images(3, 32);
    let (xv, n) = (x.to_vec().unwrap(), x.numel() as f32);
    let change = |q: u8| -> (f32, f32) {
        let p = jpeg_batch(&x, q).unwrap().to_vec().unwrap();
        let d: Vec<f32> = xv.iter().zip(&p).map(|(a, b)| (a - b).abs()).collect();
        (d.iter().sum::<f32>() / n, d.iter().fold(0.0f32, |m, v| m.max(*v)))
    };
    let ((mean100, max100), (mean10, max10)) = (change(100), change(10));
    eprintln!("|jpeg(x) - x| mean, max: quality 100 {mean100} {max100}, quality 10 {mean10} {max10}");
    // 8-bit rounding alone moves a pixel by up to 0.5 / 255 (mean 0.25 / 255); the
    // 8-bit YCbCr planes and the DCT's rounding add a level or so (seen: mean 0.8 /
    // 255, max 4.3 / 255), well under the 4 / 255 budgets attacks use on average.
    assert!(
        mean100 <= 1.5 / 255.0,
        "quality 100 moved pixels by {mean100} on average"
    );
    assert!(max100 <= 8.0 / 255.0, "quality 100 moved a pixel by {max100}");
    assert!(mean10 > 3.0 * mean100, "quality 10 {mean10} vs 100 {mean100}");
    assert!(jpeg_batch(&x, 0).is_err() && jpeg_batch(&x, 101).is_err());
}

#[test]
fn bpda_steps_along_the_models_gradient_at_the_purified_image() {
    let model = tiny_cprl();
    let defense = Defense::Jpeg { quality: 50 };
    let x = smooth_images(2, 16);
    let c = AttackConfig {
        name: "bpda".into(),
        goal: Goal::Up,
        method: Method::Iterative,
        norm: Norm::Linf,
        eps: 4.0 / 255.0,
        steps: 1,
        alpha: 4.0 / 255.0,
        seed: 0,
    };
    // By hand: the gradient of -sum h(x) at jpeg(x), applied to x.
    let xp = jpeg_batch(&x, 50).unwrap().requires_grad_();
    let l = model
        .forward(&xp, false)
        .unwrap()
        .score
        .scale(-1.0)
        .unwrap()
        .sum()
        .unwrap();
    let g = autograd::backward_to(&l, &[&xp])
        .unwrap()
        .of(&xp)
        .unwrap()
        .clone();
    assert!(g.to_vec().unwrap().iter().any(|v| *v != 0.0));
    let want = x
        .sub(&g.sign().unwrap().scale(c.alpha).unwrap())
        .unwrap()
        .clamp(0.0, 1.0)
        .unwrap();
    let got = attack_defended(&model, &model, defense, &x, &c, 0).unwrap();
    assert_eq!(got.to_vec().unwrap(), want.to_vec().unwrap());
}

/// Writes a smooth seeded 32 x 32 PNG (four 16-pixel crops of the tiny model).
fn write_png(path: &Path, salt: u64) {
    let v = rand_range(salt, 32 * 32 * 3, 60.0, 190.0);
    let bytes: Vec<u8> = v.iter().map(|x| *x as u8).collect();
    image::RgbImage::from_raw(32, 32, bytes)
        .unwrap()
        .save(path)
        .unwrap();
}

#[test]
fn over_a_dataset_the_worst_case_scores_at_least_as_high_as_each_surrogate_under_up() {
    let dir = tempfile::tempdir().unwrap();
    let samples = (0..3)
        .map(|i| {
            let name = format!("img{i}.png");
            write_png(&dir.path().join(&name), 200 + i);
            Sample::new(name, i as f64 / 2.0)
        })
        .collect();
    let ds = Dataset {
        name: "pngs".into(),
        root: dir.path().to_path_buf(),
        scale: Scale::UNIT,
        samples,
    };
    let model = tiny_cprl();
    let pcfg = PredictConfig::for_model(&model.config);
    let c = cfg("msu-ifgsm", 4.0, 2, 1);
    let mut adaptive = Adaptive::standard(&model).unwrap();
    adaptive.defense = Defense::Jpeg { quality: 90 };
    let (worst, each) =
        attack_dataset_worst(&model, &ds, &[0, 1, 2], &pcfg, &c, &adaptive, None, None).unwrap();
    assert_eq!(each.len(), adaptive.surrogates.len());
    assert!(worst.max_linf <= f64::from(c.eps) + 1e-6, "{}", worst.max_linf);
    for (name, s) in &each {
        assert_eq!(s.clean, worst.clean, "{name}");
        for (i, (w, a)) in worst.attacked.iter().zip(&s.attacked).enumerate() {
            assert!(w >= a, "image {i}: worst {w} < {name} {a}");
        }
    }
    eprintln!("clean {:?}, worst {:?}", worst.clean, worst.attacked);
}
