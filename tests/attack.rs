//! Attacks (`src/attack/`): every attack stays within eps and in [0, 1] (checked on
//! the outputs), eps = 0 gives back the clean images and scores exactly, the
//! reflection attack walks its images towards the target step by step, the seed fixes
//! the adversarial images, and bad settings are refused with the reason. The figures
//! of a robustness table (R robustness, the MSU score, the mean over eps) are checked
//! against values worked out by hand, the 8-bit saving against its budget, and the
//! robustness curve against its decoded size.

mod common;

use common::*;
use cprl::Tensor;
use cprl::attack::activity::activity_map;
use cprl::attack::run::{
    AttackScores, R_MIN_CHANGE, msu_robustness_score, quantise_within, r_robustness, trapezoid_mean,
};
use cprl::attack::ssim::ssim as device_ssim;
use cprl::attack::{ATTACKS, AttackConfig, Goal, Method, Norm, attack, scores};
use cprl::metrics::fr::{Planes, ssim as host_ssim};
use cprl::nn::{Cprl, CprlConfig};
use cprl::report::robustness::{CURVE_SIZE, curves_png};

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

/// The largest per-pixel change and the largest root mean square change of a crop.
fn moved(x: &Tensor, xa: &Tensor) -> (f32, f64) {
    let (xv, av) = (x.to_vec().unwrap(), xa.to_vec().unwrap());
    let d: Vec<f32> = xv.iter().zip(&av).map(|(a, b)| b - a).collect();
    let linf = d.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let per = x.numel() / x.shape()[0];
    let rms = d
        .chunks(per)
        .map(|c| (c.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / per as f64).sqrt())
        .fold(0.0f64, f64::max);
    (linf, rms)
}

#[test]
fn every_attack_stays_within_eps_and_the_pixel_range_in_both_norms() {
    for (what, model) in models() {
        for &(name, _) in ATTACKS {
            for norm in [Norm::Linf, Norm::L2] {
                for (k, &(b, eps_255)) in [(1, 4.0f32), (3, 8.0), (5, 1.0)].iter().enumerate() {
                    let eps = eps_255 / 255.0;
                    let x = images(10 + k as u64, b, 16);
                    let cfg = AttackConfig::named(name, eps, 3, None, 7)
                        .unwrap()
                        .with_norm(norm);
                    let xa = attack(&model, &x, &cfg, 0).unwrap();
                    assert_eq!(xa.shape(), x.shape());
                    let (linf, rms) = moved(&x, &xa);
                    let used = match norm {
                        Norm::Linf => f64::from(linf),
                        Norm::L2 => rms,
                    };
                    assert!(
                        used <= f64::from(eps) * (1.0 + 1e-5) + 1e-7,
                        "{what} {name} {norm:?} eps {eps_255}/255: moved {used}"
                    );
                    assert!(
                        xa.to_vec().unwrap().iter().all(|v| (0.0..=1.0).contains(v)),
                        "{what} {name}: a pixel left [0, 1]"
                    );
                    assert!(linf > 0.0, "{what} {name} {norm:?}: nothing moved");
                }
            }
        }
    }
}

#[test]
fn zero_eps_gives_back_the_clean_images_and_scores_exactly() {
    let (_, model) = models().remove(0);
    let x = images(20, 4, 16);
    for &(name, _) in ATTACKS {
        for norm in [Norm::Linf, Norm::L2] {
            let cfg = AttackConfig::named(name, 0.0, 5, Some(1.0 / 255.0), 3)
                .unwrap()
                .with_norm(norm);
            let xa = attack(&model, &x, &cfg, 0).unwrap();
            assert_eq!(xa.to_vec().unwrap(), x.to_vec().unwrap(), "{name}");
            assert_eq!(
                scores(&model, &xa).unwrap().to_vec().unwrap(),
                scores(&model, &x).unwrap().to_vec().unwrap(),
                "{name}"
            );
        }
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
                norm: Norm::Linf,
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

fn close(what: &str, got: f64, want: f64) {
    assert!((got - want).abs() < 1e-9, "{what}: got {got}, want {want}");
}

#[test]
fn r_robustness_matches_hand_computed_values() {
    // Room max(s, 1 - s) over change |s' - s|:
    // s 0.2 -> 0.3: 0.8 / 0.1 = 8; s 0.9 unmoved: 0.9 / 1e-6 (the floor) = 9e5;
    // s 0.5 -> 0.4: 0.5 / 0.1 = 5.
    let (r, unmoved) = r_robustness(&[0.2, 0.9, 0.5], &[0.3, 0.9, 0.4], 0.0, 1.0);
    close("R", r, (8f64.log10() + 9e5f64.log10() + 5f64.log10()) / 3.0);
    close(
        "R by hand",
        r,
        (0.903_089_987 + 5.954_242_509 + 0.698_970_004) / 3.0,
    );
    assert_eq!(unmoved, 1);
    // The floor applies below R_MIN_CHANGE only: a change just above it counts as is.
    let (r, unmoved) = r_robustness(&[0.5], &[0.5 + 2.0 * R_MIN_CHANGE], 0.0, 1.0);
    close("just moved", r, (0.5 / (2.0 * R_MIN_CHANGE)).log10());
    assert_eq!(unmoved, 0);
    // Another scale: [1, 5], s 2 -> 3: room 3, change 1.
    close(
        "scale 1..5",
        r_robustness(&[2.0], &[3.0], 1.0, 5.0).0,
        3f64.log10(),
    );
    assert!(r_robustness(&[], &[], 0.0, 1.0).0.is_nan());
}

#[test]
fn msu_robustness_score_matches_hand_computed_values() {
    // Clean 0.2, 0.6, 1.0 min-max scaled by their own range 0.8: 0, 0.5, 1; attacked
    // 0.4, 0.6, 0.8 with the same scaler: 0.25, 0.5, 0.75. Terms log10(room / (|c - a|
    // + 1e-6)): 1 / 0.250001, 0.5 / 1e-6, 1 / 0.250001.
    let got = msu_robustness_score(&[0.2, 0.6, 1.0], &[0.4, 0.6, 0.8]);
    let want = (2.0 * (1.0 / 0.250_001f64).log10() + 5e5f64.log10()) / 3.0;
    close("MSU", got, want);
    close(
        "MSU by hand",
        got,
        (2.0 * 0.602_058_254_2 + 5.698_970_004_3) / 3.0,
    );
    // Equal clean scores: the range is taken as 1 (scikit-learn's MinMaxScaler), so
    // c = 0 and a = 0, 0.2: terms 1 / 1e-6 and 1 / 0.200001.
    let got = msu_robustness_score(&[0.5, 0.5], &[0.5, 0.7]);
    close("MSU, no range", got, (6.0 + (1.0 / 0.200_001f64).log10()) / 2.0);
}

#[test]
fn trapezoid_mean_is_the_area_over_the_width() {
    // Areas 1 * (0.9 + 0.8) / 2 + 1 * (0.8 + 0.6) / 2 + 2 * (0.6 + 0.2) / 2 = 2.35 over 4.
    let pts = [(0.0, 0.9), (1.0, 0.8), (2.0, 0.6), (4.0, 0.2)];
    close("mean", trapezoid_mean(&pts), 2.35 / 4.0);
    let shuffled = [(2.0, 0.6), (0.0, 0.9), (4.0, 0.2), (1.0, 0.8)];
    close("any order", trapezoid_mean(&shuffled), 2.35 / 4.0);
    // A constant curve has its value as mean; a repeated eps adds no area.
    close("constant", trapezoid_mean(&[(0.0, 0.3), (8.0, 0.3)]), 0.3);
    close(
        "repeated eps",
        trapezoid_mean(&[(0.0, 1.0), (0.0, 1.0), (2.0, 0.0)]),
        0.5,
    );
    assert!(trapezoid_mean(&[(0.0, 0.9)]).is_nan(), "no width");
    assert!(trapezoid_mean(&[]).is_nan());
    assert!(trapezoid_mean(&[(0.0, 0.9), (1.0, f64::NAN)]).is_nan());
}

#[test]
fn saved_crops_round_to_the_grid_within_eps() {
    let v = |k: f32| k / 255.0;
    // eps 2.5/255: 102.6 rounds to 103, 3 steps from 100, so it is kept at 102;
    // 48.2 rounds to 48 (2 steps from 50, inside); 10.4 rounds to the clean 10.
    let (bytes, worst) = quantise_within(
        &[v(102.6), v(48.2), v(10.4)],
        &[v(100.0), v(50.0), v(10.0)],
        v(2.5),
    );
    assert_eq!(bytes, vec![102, 48, 10]);
    assert!((worst - v(2.0) as f64).abs() < 1e-6, "worst {worst}");
    // A budget of whole steps keeps a full step although 202/255 is not exact in f32,
    // and the pixel range bounds the values.
    let (bytes, worst) = quantise_within(
        &[v(202.0), v(-1.0), v(256.0)],
        &[v(200.0), v(1.0), v(254.0)],
        v(2.0),
    );
    assert_eq!(bytes, vec![202, 0, 255]);
    assert!(worst <= f64::from(v(2.0)) + 1e-6, "worst {worst}");
    // A clean value off the grid with eps under half a step has no step within eps:
    // the rounded value is kept and the distance reported as over eps.
    let (bytes, worst) = quantise_within(&[v(100.45)], &[v(100.3)], v(0.2));
    assert_eq!(bytes, vec![100]);
    assert!(worst > f64::from(v(0.2)), "worst {worst}");
}

#[test]
fn robustness_curves_decode_at_their_size() {
    let series = vec![
        ("a/best".to_string(), vec![(0.0, 0.9), (1.0, 0.7), (4.0, 0.1)]),
        (
            "b/best".to_string(),
            vec![(0.0, 0.8), (1.0, f64::NAN), (4.0, -0.3)],
        ),
        ("none".to_string(), vec![(0.0, f64::NAN)]),
    ];
    let png = curves_png("pgd: SROCC", "eps (1/255)", "SROCC", &series, Some((-1.0, 1.0))).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), CURVE_SIZE);
    // The first series' colour (the report palette's first) is drawn.
    let blue = img.pixels().filter(|p| p.0 == [31, 119, 180]).count();
    assert!(blue > 50, "{blue} pixels of the first line's colour");
    let empty = curves_png("nothing", "x", "y", &[], None).unwrap();
    let img = image::load_from_memory(&empty).unwrap();
    assert_eq!((img.width(), img.height()), CURVE_SIZE);
}

/// The input gradient of the summed score (the MSU loss 1 - s has its negative),
/// computed as the attack computes it.
fn loss_gradient_up(model: &Cprl, x: &[f32], shape: &[usize]) -> Vec<f32> {
    let xv = Tensor::from_slice(&gpu(), x, shape).unwrap().requires_grad_();
    let loss = model
        .forward(&xv, false)
        .unwrap()
        .score
        .scale(-1.0)
        .unwrap()
        .sum()
        .unwrap();
    let grads = cprl::autograd::backward_to(&loss, &[&xv]).unwrap();
    grads.of(&xv).unwrap().to_vec().unwrap()
}

/// WGSL's sign: 0 at 0 (Rust's signum gives 1).
fn sign(v: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// `steps` MSU AMI-FGSM steps run by hand: x_{k+1} = clip01(x + clip_eps(x_k - alpha
/// sign(acc) - x)), acc the sum of the gradients so far, each divided by its image's
/// mean |g| when `normalise` (MI-FGSM's rule, which AMI-FGSM does not have).
fn momentum_by_hand(
    model: &Cprl,
    x0: &[f32],
    shape: &[usize],
    eps: f32,
    steps: u32,
    normalise: bool,
) -> Vec<f32> {
    let alpha = eps / steps as f32;
    let per_image = x0.len() / shape[0];
    let (mut xk, mut acc) = (x0.to_vec(), vec![0.0f32; x0.len()]);
    for _ in 0..steps {
        let g = loss_gradient_up(model, &xk, shape);
        for (a, gi) in acc.chunks_mut(per_image).zip(g.chunks(per_image)) {
            let norm = if normalise {
                gi.iter().map(|v| v.abs()).sum::<f32>() / per_image as f32 + 1e-12
            } else {
                1.0
            };
            for (ai, v) in a.iter_mut().zip(gi) {
                *ai = *ai * 1.0 + v / norm;
            }
        }
        xk = (0..x0.len())
            .map(|i| {
                let delta = (xk[i] - alpha * sign(acc[i]) - x0[i]).clamp(-eps, eps);
                (x0[i] + delta).clamp(0.0, 1.0)
            })
            .collect();
    }
    xk
}

#[test]
fn msu_amifgsm_steps_by_the_sign_of_the_summed_raw_gradients() {
    let (_, model) = models().remove(0);
    for (b, eps_255, steps) in [(2usize, 8.0f32, 2u32), (4, 32.0, 4)] {
        let (shape, eps) = ([b, 3, 16, 16], eps_255 / 255.0);
        let x = images(50, b, 16);
        let x0 = x.to_vec().unwrap();
        let cfg = AttackConfig::named("msu-amifgsm", eps, steps, Some(1.0 / 255.0), 0).unwrap();
        assert_eq!(
            cfg.alpha,
            eps / steps as f32,
            "K steps of eps / K, whatever alpha says"
        );
        let got = attack(&model, &x, &cfg, 0).unwrap().to_vec().unwrap();
        let raw = momentum_by_hand(&model, &x0, &shape, eps, steps, false);
        let differ = got.iter().zip(&raw).filter(|(a, b)| a != b).count();
        assert_eq!(
            differ, 0,
            "eps {eps_255}/255, {steps} steps: {differ} pixels differ from the hand-run steps"
        );
        if steps == 4 {
            // The comparison tells AMI-FGSM from MI-FGSM's normalised momentum.
            let norm = momentum_by_hand(&model, &x0, &shape, eps, steps, true);
            assert!(
                raw.iter().zip(&norm).any(|(a, b)| a != b),
                "normalising changed nothing"
            );
        }
    }
    // One step of eps / 1 is the MSU FGSM.
    let (x, eps) = (images(51, 2, 16), 4.0 / 255.0);
    let one = AttackConfig::named("msu-amifgsm", eps, 1, None, 0).unwrap();
    let fgsm = AttackConfig::named("msu-fgsm", eps, 1, None, 0).unwrap();
    assert_eq!(
        attack(&model, &x, &one, 0).unwrap().to_vec().unwrap(),
        attack(&model, &x, &fgsm, 0).unwrap().to_vec().unwrap()
    );
}

#[test]
fn the_budget_check_refuses_a_pixel_past_eps_and_passes_one_within() {
    let eps = 4.0f32 / 255.0;
    let at = |max_linf: f64| AttackScores {
        max_linf,
        ..AttackScores::default()
    };
    assert!(at(f64::from(eps)).check_budget(eps, Norm::Linf).is_ok());
    assert!(at(0.0).check_budget(eps, Norm::Linf).is_ok());
    let e = at(f64::from(eps) + 1e-4)
        .check_budget(eps, Norm::Linf)
        .unwrap_err()
        .to_string();
    assert!(e.contains("a pixel moved"), "{e}");
}

/// A 12x12 planar RGB image, dark left of column 6 and light from it on.
fn step_edge() -> Vec<f32> {
    (0..3)
        .flat_map(|_| (0..144).map(|i| if i % 12 < 6 { 0.2 } else { 0.8 }))
        .collect()
}

#[test]
fn activity_map_marks_the_dilated_edges_and_is_all_ones_on_a_flat_image() {
    // The Sobel magnitude is equal on columns 5 and 6 of rows 1..=10 (the border is
    // zeroed) and 0 elsewhere; normalised, those are 1, and the 5x5 disc spreads them
    // over columns 3..=8 of every row (row 0 reaches row 1's sources through the
    // disc's (1, 2) offsets).
    let map = activity_map(&step_edge(), 12, 12);
    for (i, &v) in map.iter().enumerate() {
        let want = if (3..=8).contains(&(i % 12)) { 1.0 } else { 0.0 };
        assert!(
            (v - want).abs() < 1e-6,
            "pixel {}x{}: {v}, want {want}",
            i / 12,
            i % 12
        );
    }
    assert!(activity_map(&[0.5; 3 * 30], 5, 6).iter().all(|&v| v == 1.0));
}

#[test]
fn korhonen_leaves_flat_regions_alone_and_moves_the_rest_by_adams_first_step() {
    let model = models().remove(1).1;
    let x = Tensor::from_slice(&gpu(), &step_edge(), &[1, 3, 12, 12]).unwrap();
    let cfg = AttackConfig::named("korhonen", 1.0, 1, None, 0).unwrap();
    let xa = attack(&model, &x, &cfg, 0).unwrap().to_vec().unwrap();
    let clean = x.to_vec().unwrap();
    let (mut still, mut stepped) = (0, 0);
    for (i, (a, c)) in xa.iter().zip(&clean).enumerate() {
        let col = i % 12;
        if !(3..=8).contains(&col) {
            assert_eq!(a, c, "masked pixel {i} moved");
            still += 1;
        } else if ((a - c).abs() - 0.005).abs() < 1e-4 {
            // Adam's first step is lr * g / (|g| + 1e-8): lr wherever |g| >> 1e-8.
            stepped += 1;
        }
    }
    assert_eq!(still, 3 * 12 * 6);
    assert!(
        stepped >= 3 * 12 * 6 * 9 / 10,
        "{stepped} of {} pixels moved by lr",
        3 * 12 * 6
    );
}

fn planes(v: &[f32], c: usize, h: usize, w: usize) -> Planes {
    Planes {
        channels: c,
        height: h,
        width: w,
        data: f64s(v),
    }
}

#[test]
fn device_ssim_matches_the_f64_ssim_and_its_finite_differences() {
    for (k, &(b, h, w)) in [(1usize, 11usize, 13usize), (2, 24, 24), (1, 40, 33)]
        .iter()
        .enumerate()
    {
        let n = 3 * h * w;
        let x = rand_range(900 + k as u64, b * n, 0.0, 1.0);
        let y: Vec<f32> = x
            .iter()
            .zip(rand_range(950 + k as u64, b * n, -0.1, 0.1))
            .map(|(a, e)| (a + e).clamp(0.0, 1.0))
            .collect();
        let (xt, yt) = (
            Tensor::from_slice(&gpu(), &x, &[b, 3, h, w]).unwrap(),
            Tensor::from_slice(&gpu(), &y, &[b, 3, h, w])
                .unwrap()
                .requires_grad_(),
        );
        let s = device_ssim(&xt, &yt).unwrap();
        let got = s.to_vec().unwrap();
        let grad = cprl::autograd::backward_to(&s.sum().unwrap(), &[&yt]).unwrap();
        let g = grad.of(&yt).unwrap().to_vec().unwrap();
        for i in 0..b {
            let gmax = g[i * n..(i + 1) * n]
                .iter()
                .fold(0.0f64, |m, v| m.max(f64::from(v.abs())));
            let img = |v: &[f32]| planes(&v[i * n..(i + 1) * n], 3, h, w);
            let want = host_ssim(&img(&x), &img(&y)).unwrap();
            assert!(
                (f64::from(got[i]) - want).abs() < 2e-4,
                "{h}x{w} image {i}: {} vs {want}",
                got[i]
            );
            // Central differences of the f64 SSIM at a few pixels.
            for j in [0, n / 3 + 7, n - 1, n / 2] {
                let mut yp = y[i * n..(i + 1) * n].to_vec();
                let fd_h = 1e-3f32;
                yp[j] += fd_h;
                let plus = host_ssim(&img(&x), &planes(&yp, 3, h, w)).unwrap();
                yp[j] -= 2.0 * fd_h;
                let minus = host_ssim(&img(&x), &planes(&yp, 3, h, w)).unwrap();
                let fd = (plus - minus) / (2.0 * f64::from(fd_h));
                let dev = f64::from(g[i * n + j]);
                // f32 moments (E[x^2] - mu^2 cancels) against an f64 difference
                // quotient: within 1% of the image's largest gradient.
                assert!(
                    (dev - fd).abs() < 1e-2 * gmax,
                    "pixel {j}: {dev} vs {fd} (max {gmax})"
                );
            }
        }
    }
}

#[test]
fn the_perceptual_attacks_ssim_weight_keeps_the_image_closer() {
    let (_, model) = models().remove(0);
    let x = images(60, 3, 24);
    let run = |ssim_weight: f32| {
        let mut cfg = AttackConfig::named("perceptual", 8.0 / 255.0, 6, None, 1).unwrap();
        cfg.goal = Goal::Away { ssim_weight };
        let xa = attack(&model, &x, &cfg, 0).unwrap();
        let s = device_ssim(&x, &xa).unwrap().to_vec().unwrap();
        s.iter().map(|v| f64::from(*v)).sum::<f64>() / s.len() as f64
    };
    let (free, held) = (run(0.0), run(100.0));
    assert!(held > free, "SSIM with weight 100: {held}, without: {free}");
}

#[test]
fn the_l2_budget_check_uses_the_crops_rms() {
    let mut s = AttackScores::default();
    // One crop of 4 values moved by 0.02 each: RMS 0.02, L_inf 0.02; another by 0.03
    // in one value only: RMS 0.015, L_inf 0.03.
    s.observe(&[0.02, -0.02, 0.02, -0.02, 0.0, 0.0, 0.03, 0.0], 4);
    assert!((s.max_rms - 0.02).abs() < 1e-7 && (s.max_linf - 0.03).abs() < 1e-7);
    assert!(s.check_budget(0.02, Norm::L2).is_ok());
    assert!(s.check_budget(0.019, Norm::L2).is_err());
    assert!(s.check_budget(0.02, Norm::Linf).is_err());
}
