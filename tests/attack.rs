//! Attacks (`src/attack/`): every attack stays within eps and in [0, 1] (checked on
//! the outputs), eps = 0 gives back the clean images and scores exactly, the
//! reflection attack walks its images towards the target step by step, the seed fixes
//! the adversarial images, and bad settings are refused with the reason.

mod common;

use common::*;
use cprl::Tensor;
use cprl::attack::{ATTACKS, AttackConfig, Goal, Method, attack, scores};
use cprl::nn::{Cprl, CprlConfig};

fn images(salt: u64, b: usize, side: usize) -> Tensor {
    Tensor::uniform(&gpu(), &[b, 3, side, side], base_seed() ^ salt, 0.0, 1.0).unwrap()
}

fn models() -> Vec<(&'static str, Cprl)> {
    let cfg = CprlConfig::tiny();
    vec![
        ("cprl", Cprl::new(&gpu(), &cfg, 1).unwrap()),
        ("baseline", Cprl::new(&gpu(), &cfg.baseline(), 2).unwrap()),
    ]
}

#[test]
fn every_attack_stays_within_eps_and_the_pixel_range() {
    for (what, model) in models() {
        for &(name, _) in ATTACKS {
            for (k, &(b, eps_255)) in [(1, 4.0f32), (3, 8.0), (5, 1.0)].iter().enumerate() {
                let eps = eps_255 / 255.0;
                let x = images(10 + k as u64, b, 16);
                let cfg = AttackConfig::named(name, eps, 3, None, 7).unwrap();
                let xa = attack(&model, &x, &cfg, 0).unwrap();
                assert_eq!(xa.shape(), x.shape());
                let (xv, av) = (x.to_vec().unwrap(), xa.to_vec().unwrap());
                let worst = xv.iter().zip(&av).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                assert!(
                    worst <= eps + 1e-6,
                    "{what} {name} eps {eps_255}/255: moved {worst}"
                );
                assert!(
                    av.iter().all(|v| (0.0..=1.0).contains(v)),
                    "{what} {name}: a pixel left [0, 1]"
                );
                assert!(worst > 0.0, "{what} {name}: nothing moved");
            }
        }
    }
}

#[test]
fn zero_eps_gives_back_the_clean_images_and_scores_exactly() {
    let (_, model) = models().remove(0);
    let x = images(20, 4, 16);
    for &(name, _) in ATTACKS {
        let cfg = AttackConfig::named(name, 0.0, 5, Some(1.0 / 255.0), 3).unwrap();
        let xa = attack(&model, &x, &cfg, 0).unwrap();
        assert_eq!(xa.to_vec().unwrap(), x.to_vec().unwrap(), "{name}");
        assert_eq!(
            scores(&model, &xa).unwrap().to_vec().unwrap(),
            scores(&model, &x).unwrap().to_vec().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn reflection_distance_falls_step_by_step() {
    for (what, model) in models() {
        let x = images(30, 6, 16);
        let s0 = scores(&model, &x).unwrap().to_vec().unwrap();
        let distance = |steps: u32| -> f64 {
            let cfg = AttackConfig {
                name: "reflect".into(),
                goal: Goal::Reflect,
                method: Method::Iterative,
                eps: 16.0 / 255.0,
                steps,
                alpha: 2.0 / 255.0,
                seed: 0,
            };
            let xa = attack(&model, &x, &cfg, 0).unwrap();
            let sa = scores(&model, &xa).unwrap().to_vec().unwrap();
            sa.iter()
                .zip(&s0)
                .map(|(a, b)| f64::from((a - (1.0 - b)).abs()))
                .sum::<f64>()
                / s0.len() as f64
        };
        let d0: f64 = s0.iter().map(|b| f64::from((2.0 * b - 1.0).abs())).sum::<f64>() / s0.len() as f64;
        let ds: Vec<f64> = (1..=6).map(distance).collect();
        let mut last = d0;
        for (k, &d) in ds.iter().enumerate() {
            assert!(
                d <= last + 1e-6,
                "{what}: distance rose at step {}: {d0:.5} then {ds:?}",
                k + 1
            );
            last = d;
        }
        eprintln!("{what}: distance {d0:.5} then {ds:?}");
        assert!(
            last < d0 - 1e-3,
            "{what}: distance {d0:.5} -> {last:.5} after 6 steps"
        );
    }
}

#[test]
fn the_seed_fixes_the_adversarial_images() {
    let (_, model) = models().remove(0);
    let x = images(40, 3, 16);
    let run = |seed: u64, batch_no: u64| {
        let cfg = AttackConfig::named("pgd", 4.0 / 255.0, 2, None, seed).unwrap();
        attack(&model, &x, &cfg, batch_no).unwrap().to_vec().unwrap()
    };
    let a = run(5, 0);
    assert_eq!(a, run(5, 0), "same seed, same images");
    assert_ne!(a, run(6, 0), "another seed, another random start");
    assert_ne!(a, run(5, 1), "another batch, another random start");
}

#[test]
fn bad_attack_settings_are_refused_with_the_reason() {
    let err = |r: cprl::Result<AttackConfig>| r.unwrap_err().to_string();
    let e = err(AttackConfig::named("cw", 0.01, 3, None, 0));
    assert!(e.contains("unknown attack") && e.contains("reflect"), "{e}");
    assert!(err(AttackConfig::named("pgd", -0.01, 3, None, 0)).contains("eps"));
    assert!(err(AttackConfig::named("pgd", f32::NAN, 3, None, 0)).contains("eps"));
    assert!(err(AttackConfig::named("pgd", 0.01, 0, None, 0)).contains("steps"));
    assert!(err(AttackConfig::named("pgd", 0.01, 3, Some(f32::INFINITY), 0)).contains("alpha"));
}
