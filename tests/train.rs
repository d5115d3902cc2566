//! The trainer: the objective's terms on known values, determinism (same seed, same
//! bits), exact resumption from a checkpoint, the gate's health in the log.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cprl::data::{Dataset, Sample, Scale, Split};
use cprl::nn::CprlConfig;
use cprl::train::objective as obj;
use cprl::train::{
    AtLabel, DefenseKind, InterventionConfig, LogLine, RunOptions, TrainConfig, TrainData, Trainer,
};
use cprl::{Gpu, Tensor};

fn gpu() -> Arc<Gpu> {
    Gpu::new().expect("an adapter (install mesa-vulkan-drivers, or run with WGPU_BACKEND=gl)")
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cprl-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// 4 photos x 2 distortions x 3 levels (+ the pristine), 20 x 20 PNGs: a smooth
/// pattern per photo, noise or darkening growing with the level; label 1 - level / 4.
fn tiny_set(dir: &Path) -> Dataset {
    let mut samples = Vec::new();
    for photo in 0..4u32 {
        let split = match photo {
            0 | 1 => Split::Train,
            2 => Split::Val,
            _ => Split::Test,
        };
        for (d, dist) in ["pristine", "noise", "dark"].iter().enumerate() {
            let levels: Vec<u32> = if d == 0 { vec![0] } else { vec![1, 2, 3] };
            for level in levels {
                let img = image::RgbImage::from_fn(20, 20, |x, y| {
                    let base = 60.0 + 4.0 * x as f32 + 3.0 * y as f32 + 20.0 * photo as f32;
                    let h = (x * 7 + y * 13 + photo * 31 + level * 17) % 23;
                    let v = match *dist {
                        "noise" => base + (h as f32 - 11.0) * 3.0 * level as f32,
                        "dark" => base * (1.0 - 0.2 * level as f32),
                        _ => base,
                    };
                    let c = v.clamp(0.0, 255.0) as u8;
                    image::Rgb([c, c.saturating_add(10), c.saturating_sub(10)])
                });
                let name = format!("p{photo}_{dist}_{level}.png");
                img.save(dir.join(&name)).unwrap();
                samples.push(Sample {
                    reference: Some(format!("p{photo}")),
                    distortion: Some(dist.to_string()),
                    level: Some(level),
                    split: Some(split),
                    ..Sample::new(name, 1.0 - level as f64 / 4.0)
                });
            }
        }
    }
    Dataset {
        name: "tiny".into(),
        root: dir.to_path_buf(),
        scale: Scale::UNIT,
        samples,
    }
}

fn tiny_config() -> TrainConfig {
    TrainConfig {
        epochs: 3,
        batch: 4,
        group_run: 2,
        lr: 5e-3,
        warmup_steps: 2,
        log_every: 1,
        checkpoint_every: 0,
        val_crops_per_side: 1,
        interventions: InterventionConfig {
            steps: 1,
            share: 0.5,
            ..InterventionConfig::default()
        },
        ..TrainConfig::default()
    }
}

/// (step, loss bits) of every training line.
fn losses(h: &[LogLine]) -> Vec<(u64, u64)> {
    h.iter()
        .filter(|l| l.kind == "train")
        .map(|l| (l.step, l.loss.unwrap().to_bits()))
        .collect()
}

#[test]
fn same_seed_gives_the_same_bits_and_a_resumed_run_repeats_them() {
    let gpu = gpu();
    let dir = temp_dir("resume");
    let ds = tiny_set(&dir);
    let data = TrainData::from_splits(&ds).unwrap();
    let model = CprlConfig::tiny();
    let cfg = tiny_config();
    let full = |seed| {
        let mut t = Trainer::new(&gpu, &model, &cfg, seed).unwrap();
        t.run(&data, &RunOptions::default(), &mut |_| {}).unwrap();
        t.history
    };
    let a = full(7);
    let b = full(7);
    let steps = losses(&a);
    assert_eq!(
        steps.len() as u64,
        3 * (12 / 4),
        "one line per step with log_every 1"
    );
    assert_eq!(steps, losses(&b), "same seed, same bits");
    assert_ne!(steps, losses(&full(8)), "another seed, another run");

    // Stop after 4 steps (inside the second epoch), resume from the checkpoint.
    let out = dir.join("run");
    std::fs::create_dir_all(&out).unwrap();
    let opts = RunOptions {
        out: Some(out.clone()),
        stop_at: Some(4),
    };
    let mut first = Trainer::new(&gpu, &model, &cfg, 7).unwrap();
    first.run(&data, &opts, &mut |_| {}).unwrap();
    assert_eq!(first.step, 4);
    let mut second = Trainer::resume(&gpu, &out.join("last.safetensors")).unwrap();
    assert_eq!((second.step, second.epoch), (4, 1));
    let rest = RunOptions {
        out: Some(out.clone()),
        stop_at: None,
    };
    second.run(&data, &rest, &mut |_| {}).unwrap();
    let mut resumed = losses(&first.history);
    resumed.extend(losses(&second.history));
    assert_eq!(
        resumed, steps,
        "a resumed run repeats the uninterrupted one bit for bit"
    );
    let log = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.contains("\"train\"")).count(),
        steps.len()
    );
    assert!(out.join("best.safetensors").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_cprl_step_logs_every_term_and_the_gate_health() {
    let gpu = gpu();
    let dir = temp_dir("terms");
    let ds = tiny_set(&dir);
    let data = TrainData::from_splits(&ds).unwrap();
    let cfg = TrainConfig {
        epochs: 1,
        ..tiny_config()
    };
    let mut t = Trainer::new(&gpu, &CprlConfig::tiny(), &cfg, 3).unwrap();
    t.run(&data, &RunOptions::default(), &mut |_| {}).unwrap();
    let line = t.history.iter().find(|l| l.kind == "train").unwrap();
    for term in ["l1", "plcc", "spearman", "spread", "inv", "adv"] {
        let v = line
            .terms
            .get(term)
            .unwrap_or_else(|| panic!("no {term} in {:?}", line.terms));
        assert!(v.is_finite(), "{term} = {v}");
    }
    let g = line.gate.as_ref().expect("a gated model logs its gate");
    assert_eq!(g.channels, 8);
    assert!(g.channels_on > 0.0 && g.channels_on < 8.0, "{g:?}");
    let val = t
        .history
        .iter()
        .find(|l| l.kind == "val")
        .expect("a validation line");
    assert!(val.srocc.is_some() && val.score_std.is_finite());
    // The baseline logs no gate, and its config turns the minimax terms off.
    let mut b = Trainer::new(
        &gpu,
        &CprlConfig::tiny().baseline(),
        &cfg.clone().for_baseline(),
        3,
    )
    .unwrap();
    b.run(&data, &RunOptions::default(), &mut |_| {}).unwrap();
    let line = b.history.iter().find(|l| l.kind == "train").unwrap();
    assert!(line.gate.is_none());
    assert!(!line.terms.contains_key("adv") && !line.terms.contains_key("inv"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn objective_terms_match_hand_computed_values() {
    let gpu = gpu();
    let s = Tensor::from_slice(&gpu, &[0.9, 0.5, 0.6], &[3]).unwrap();
    // Pairs (0 better than 1) and (1 better than 2), margin 0.2:
    // relu(0.2 - 0.4) = 0 and relu(0.2 - (-0.1)) = 0.3; mean 0.15.
    let w = obj::pair_weights(&gpu, 3, &[(0, 1), (1, 2)]).unwrap();
    let l = obj::rank_margin(&s, &w, 0.2).unwrap().item().unwrap();
    assert!((l - 0.15).abs() < 1e-6, "{l}");
    // Var of [0.9, 0.5, 0.6] = 0.02889; floor 0.5 of Var(y) = 0.2 -> (0.1 - 0.02889) / 0.2.
    let l = obj::spread_floor(&s, 0.2, 0.5).unwrap().item().unwrap();
    assert!((l - (0.1 - 0.028_888_89) / 0.2).abs() < 1e-5, "{l}");
    let big = Tensor::scalar(&gpu, 0.5).unwrap().requires_grad_();
    let capped = obj::capped(&big, 0.2).unwrap();
    assert!((capped.item().unwrap() - 0.2).abs() < 1e-7);
    let g = capped.backward().unwrap();
    assert_eq!(
        g.of(&big).unwrap().item().unwrap(),
        0.0,
        "no gradient above the cap"
    );
    let small = Tensor::scalar(&gpu, 0.1).unwrap().requires_grad_();
    let capped = obj::capped(&small, 0.2).unwrap();
    assert!((capped.item().unwrap() - 0.1).abs() < 1e-7);
    assert_eq!(
        capped.backward().unwrap().of(&small).unwrap().item().unwrap(),
        1.0
    );
    // The soft Spearman of scores in the labels' order is near 0.
    // NT: dl = [(0.5 - 0.4) / 0.1, 0] = [1, 0]; mean(dl^2) / 2 = 0.25.
    let shifted = Tensor::from_slice(&gpu, &[0.5, 0.7], &[2]).unwrap();
    let base = Tensor::from_slice(&gpu, &[0.4, 0.7], &[2]).unwrap();
    let l = obj::finite_difference_penalty(&shifted, &base, 0.1)
        .unwrap()
        .item()
        .unwrap();
    assert!((l - 0.25).abs() < 1e-5, "{l}");
    let ranks = Tensor::from_slice(&gpu, &obj::label_ranks(&[0.8, 0.2, 0.5]), &[3]).unwrap();
    let good = Tensor::from_slice(&gpu, &[0.9, 0.1, 0.5], &[3]).unwrap();
    let l = obj::soft_spearman(&good, &ranks, 0.02).unwrap().item().unwrap();
    assert!(l < 1e-3, "{l}");
}

#[test]
fn at_and_nt_train_with_their_terms_and_their_images_keep_their_budgets() {
    let gpu = gpu();
    let dir = temp_dir("defenses");
    let ds = tiny_set(&dir);
    let data = TrainData::from_splits(&ds).unwrap();
    let model = CprlConfig::tiny().baseline();
    for (kind, term) in [(DefenseKind::At, "at"), (DefenseKind::Nt, "nt")] {
        let mut cfg = TrainConfig {
            epochs: 1,
            ..tiny_config()
        }
        .with_defense(kind);
        cfg.defense.share = 0.5;
        let mut t = Trainer::new(&gpu, &model, &cfg, 5).unwrap();
        t.run(&data, &RunOptions::default(), &mut |_| {}).unwrap();
        let line = t.history.iter().find(|l| l.kind == "train").unwrap();
        let v = line
            .terms
            .get(term)
            .unwrap_or_else(|| panic!("no {term} in {:?}", line.terms));
        assert!(v.is_finite() && *v > 0.0, "{term} = {v}");
        assert!(!line.terms.contains_key("inv"), "{:?}", line.terms);
    }

    let x = Tensor::uniform(&gpu, &[4, 3, 16, 16], 11, 0.0, 1.0).unwrap();
    let xs = x.to_vec().unwrap();
    let labels = [0.9f32, 0.2, 0.6, 0.4];
    // AT: within eps of x and in [0, 1], and moved.
    let mut cfg = tiny_config().with_defense(DefenseKind::At);
    let t = Trainer::new(&gpu, &model, &cfg, 5).unwrap();
    let xa = t.at_images(&x, &labels).unwrap().to_vec().unwrap();
    let eps = cfg.defense.at_eps_255 / 255.0;
    let worst = xs
        .iter()
        .zip(&xa)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= eps + 1e-6 && worst > eps / 2.0,
        "max |x' - x| = {worst}, eps {eps}"
    );
    assert!(xa.iter().all(|v| (0.0..=1.0).contains(v)));
    // SSIM labels: unchanged for the clean image itself, lowered for a perturbed one.
    cfg.defense.at_label = AtLabel::Ssim;
    let t = Trainer::new(&gpu, &model, &cfg, 5).unwrap();
    assert_eq!(t.at_labels(&x, &x, &labels).unwrap(), labels.to_vec());
    let xa_t = Tensor::from_slice(&gpu, &xa, &[4, 3, 16, 16]).unwrap();
    let lowered = t.at_labels(&x, &xa_t, &labels).unwrap();
    assert!(
        lowered.iter().zip(&labels).all(|(a, b)| a < b && *a >= 0.0),
        "{lowered:?}"
    );
    // NT: x + h sign(g), so every pixel with a gradient moved by exactly h.
    let cfg = tiny_config().with_defense(DefenseKind::Nt);
    let t = Trainer::new(&gpu, &model, &cfg, 5).unwrap();
    let xn = t.nt_images(&x).unwrap().to_vec().unwrap();
    let h = cfg.defense.nt_h;
    let moved = xs
        .iter()
        .zip(&xn)
        .filter(|(a, b)| ((*b - *a).abs() - h).abs() < 1e-6)
        .count();
    assert!(moved > xs.len() / 2, "{moved} of {} pixels moved by h", xs.len());
    assert!(xs.iter().zip(&xn).all(|(a, b)| (b - a).abs() <= h + 1e-6));
    // A defence and CPRL's interventions cannot share a step.
    let mut both = tiny_config();
    both.defense.kind = DefenseKind::At;
    let e = both.validate().unwrap_err().to_string();
    assert!(e.contains("defense.kind"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
