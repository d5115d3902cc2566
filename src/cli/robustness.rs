//! The robustness half of `cprl demo` (and `cprl ablate`): each trained model under
//! the score reflection attack and PGD at a few budgets, on a fixed subset of the
//! test images, one row per model, attack and eps.

use anyhow::{Context, Result, bail};
use cprl::attack::AttackConfig;
use cprl::attack::adaptive::{Adaptive, attack_dataset_worst};
use cprl::attack::run::{AttackScores, Robustness, attack_dataset, robustness};
use cprl::data::Dataset;
use cprl::infer::PredictConfig;
use cprl::metrics::correlation::EvalOptions;
use cprl::nn::Cprl;
use cprl::report::RobustnessRow;

use super::progress::bar;

/// What the pass attacks and how hard.
#[derive(Clone, Debug)]
pub struct AttackPlan {
    /// Attack names (`cprl attack --attack` names).
    pub attacks: Vec<String>,
    /// L_inf budgets in 1/255 units.
    pub eps_255: Vec<f32>,
    pub steps: u32,
    /// Every this many test images (in the dataset's order) are attacked.
    pub every: usize,
    /// Crops per image side (1: the centre crop alone).
    pub crops_per_side: u32,
    pub seed: u64,
    /// Attacks that a gated or SortMask model also meets as adaptive attacks: the
    /// worst case per image over the surrogates named in `surrogates`.
    pub adaptive: Vec<String>,
    /// Surrogate names (of `attack::adaptive::standard_surrogates`); empty = all.
    pub surrogates: Vec<String>,
}

impl AttackPlan {
    /// The demo's: reflection and PGD at 2, 4 and 8/255, 5 steps, every fourth test
    /// image at one centre crop, so that the pass costs less than training does.
    pub fn demo() -> AttackPlan {
        AttackPlan {
            attacks: vec!["reflect".into(), "pgd".into()],
            eps_255: vec![2.0, 4.0, 8.0],
            steps: 5,
            every: 4,
            crops_per_side: 1,
            seed: 0,
            adaptive: vec!["reflect".into()],
            // The four that mattered on the demo's CPRL: the two softer ones were the
            // strongest on most images; straight-through is the reviewer's first ask.
            surrogates: [
                "as trained",
                "straight-through",
                "gate temperature x4",
                "rank strength x4",
            ]
            .map(String::from)
            .to_vec(),
        }
    }

    /// The ablation's: the reflection attack at 4/255 alone, adaptive where the
    /// variant has a gate or SortMask (six variants make a long run already).
    pub fn ablate() -> AttackPlan {
        AttackPlan {
            attacks: vec!["reflect".into()],
            eps_255: vec![4.0],
            ..AttackPlan::demo()
        }
    }

    /// The test images the pass attacks.
    pub fn images(&self, test: &[usize]) -> Vec<usize> {
        test.iter().step_by(self.every.max(1)).copied().collect()
    }

    /// One sentence for the report: what was attacked and how.
    pub fn describe(&self, images: usize) -> String {
        let eps: Vec<String> = self.eps_255.iter().map(|e| format!("{e}")).collect();
        format!(
            "{} test images (every {}th, {} crop(s) per side, each attacked on its own), \
             attacks {} at eps {} / 255 (L_inf), {} steps of eps / 4 from a random start, seed {}. \
             Models with a gate or SortMask also meet {} as adaptive attacks: per image the worst \
             case over surrogates that share the trained weights but shape the gradient otherwise \
             ({}), the scores always the real model's. \
             Clean figures are on the same images and crops, so they differ from the test table's \
             (which averages a 2 x 2 crop grid over every test image).",
            images,
            self.every,
            self.crops_per_side,
            self.attacks.join(", "),
            eps.join(", "),
            self.steps,
            self.seed,
            self.adaptive.join(", "),
            if self.surrogates.is_empty() {
                "all of them".to_string()
            } else {
                self.surrogates.join(", ")
            }
        )
    }
}

/// Every model under every attack and eps of `plan`, on `images` of `ds`.
pub fn robustness_pass(
    ds: &Dataset,
    images: &[usize],
    models: &[(&str, &Cprl)],
    plan: &AttackPlan,
) -> Result<Vec<RobustnessRow>> {
    if images.len() < 3 {
        bail!(
            "the robustness pass needs at least 3 test images, got {}",
            images.len()
        );
    }
    let labels: Vec<f64> = images.iter().map(|&i| ds.samples[i].label).collect();
    let mut rows = Vec::new();
    for (name, model) in models {
        let mut pcfg = PredictConfig::for_model(&model.config);
        pcfg.max_per_side = plan.crops_per_side;
        let adaptive = plan.adaptive_for(model)?;
        for attack in &plan.attacks {
            for &e in &plan.eps_255 {
                let cfg = AttackConfig::named(attack, e / 255.0, plan.steps, None, plan.seed)?;
                let progress = bar(&format!("{name} {attack} {e}/255"));
                let found = match adaptive.as_ref().filter(|_| plan.adaptive.contains(attack)) {
                    Some(ad) => {
                        let (worst, each) =
                            attack_dataset_worst(model, ds, images, &pcfg, &cfg, ad, Some(&progress), None)?;
                        let plain = each.iter().find(|(n, _)| n == "as trained").map(|(_, s)| s);
                        let plain = plain.expect("the surrogates start with the model as trained");
                        let strongest = strongest(&worst, &each);
                        vec![
                            (attack.clone(), plain.clone(), None),
                            (format!("{attack} worst"), worst, strongest),
                        ]
                    }
                    None => vec![(
                        attack.clone(),
                        attack_dataset(model, ds, images, &pcfg, &cfg, Some(&progress))?,
                        None,
                    )],
                };
                progress.finish_and_clear();
                for (label, s, strongest) in found {
                    s.check_budget(cfg.eps, cfg.norm)
                        .with_context(|| format!("{name} {label} at eps {e}/255"))?;
                    let r = robustness(&s, &labels, &eval_options())?;
                    let row = row(name, &label, e, &r, strongest);
                    println!("{}", line(&row));
                    rows.push(row);
                }
            }
        }
    }
    Ok(rows)
}

impl AttackPlan {
    /// The adaptive attack a model meets: `None` for a model without gate or SortMask
    /// (its one surrogate would be the plain attack again).
    fn adaptive_for(&self, model: &Cprl) -> Result<Option<Adaptive>> {
        let mut ad = Adaptive::standard(model)?;
        if ad.surrogates.len() < 2 || self.adaptive.is_empty() {
            return Ok(None);
        }
        if !self.surrogates.is_empty() {
            // "as trained" stays: it is the plain attack the table shows beside the worst.
            ad.surrogates
                .retain(|s| s.name == "as trained" || self.surrogates.contains(&s.name));
        }
        Ok(Some(ad))
    }
}

/// The surrogate whose attacked score was the worst case's for the most images.
fn strongest(worst: &AttackScores, each: &[(String, AttackScores)]) -> Option<String> {
    let mut wins = vec![0usize; each.len()];
    for (i, w) in worst.attacked.iter().enumerate() {
        let best = each
            .iter()
            .map(|(_, s)| (s.attacked[i] - w).abs())
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some((k, _)), true) = (best, w.is_finite()) {
            wins[k] += 1;
        }
    }
    let (k, _) = wins.iter().enumerate().max_by_key(|(_, n)| **n)?;
    Some(each[k].0.clone())
}

/// Correlations without the bootstrap (the pass reports many rows).
fn eval_options() -> EvalOptions {
    EvalOptions {
        resamples: 0,
        ..EvalOptions::default()
    }
}

fn row(model: &str, attack: &str, eps_255: f32, r: &Robustness, strongest: Option<String>) -> RobustnessRow {
    RobustnessRow {
        model: model.to_string(),
        attack: attack.to_string(),
        eps_255: f64::from(eps_255),
        images: r.images,
        srocc_clean: r.clean.srocc,
        srocc_attacked: r.attacked.srocc,
        plcc_attacked: r.attacked.plcc,
        mean_abs_change: r.mean_abs_change,
        change_in_std: r.change_in_std,
        crossed_midpoint: r.crossed_midpoint,
        reflection_distance: r.reflection_distance,
        strongest,
    }
}

/// One terminal line per row.
fn line(r: &RobustnessRow) -> String {
    format!(
        "  {:<9} {:<14} eps {:>3}/255  SROCC {:.3} -> {:.3}  |ds| {:.2} std  crossed {:>5.1}%",
        r.model,
        r.attack,
        r.eps_255,
        r.srocc_clean,
        r.srocc_attacked,
        r.change_in_std,
        100.0 * r.crossed_midpoint
    )
}
