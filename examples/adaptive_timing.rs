//! Times an adaptive worst-case attack (every standard surrogate, worst case per crop)
//! against the plain attack on the same crops of the synthetic set, for the demo
//! model (random initialisation: the cost of a step does not depend on the weights).
//!
//! Run: `cargo run --release --example adaptive_timing [-- IMAGES [STEPS [LABELS_CSV]]]`
//! (8 images, 10 steps; without a labels file a small synthetic set, Gaussian blur
//! only, is built in a temporary folder). Each 256-pixel image gives 4 crops of 128.

use std::time::Instant;

use cprl::Gpu;
use cprl::attack::AttackConfig;
use cprl::attack::adaptive::{Adaptive, attack_dataset_worst};
use cprl::attack::run::attack_dataset;
use cprl::data::synth::{self, SynthConfig, distort::Distortion};
use cprl::infer::PredictConfig;
use cprl::nn::{Cprl, CprlConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let images: usize = args.get(1).map_or(Ok(8), |s| s.parse())?;
    let steps: u32 = args.get(2).map_or(Ok(10), |s| s.parse())?;
    let tmp = tempfile::tempdir()?;
    let labels = match args.get(3) {
        Some(p) => p.into(),
        None => {
            let mut cfg = SynthConfig::new(tmp.path());
            cfg.distortions = vec![Distortion::GaussianBlur];
            synth::build(&cfg, &|_, _| {})?;
            tmp.path().join("labels.csv")
        }
    };
    let ds = synth::read(&labels)?;
    let indices: Vec<usize> = (0..images.min(ds.samples.len())).collect();
    let gpu = Gpu::shared()?;
    let model = Cprl::new(&gpu, &CprlConfig::demo(), 1)?;
    let pcfg = PredictConfig::for_model(&model.config);
    let acfg = AttackConfig::named("pgd", 4.0 / 255.0, steps, None, 1)?;
    // A one-step pass on the same batches picks the kernels by timing; not counted.
    let warm = AttackConfig::named("pgd", 4.0 / 255.0, 1, None, 1)?;
    attack_dataset(&model, &ds, &indices, &pcfg, &warm, None)?;
    let time_plain = || -> cprl::Result<(f64, cprl::attack::run::AttackScores)> {
        let t0 = Instant::now();
        let s = attack_dataset(&model, &ds, &indices, &pcfg, &acfg, None)?;
        Ok((t0.elapsed().as_secs_f64(), s))
    };
    let (t_before, plain) = time_plain()?;
    let adaptive = Adaptive::standard(&model)?;
    let t0 = Instant::now();
    let (worst, each) = attack_dataset_worst(&model, &ds, &indices, &pcfg, &acfg, &adaptive, None, None)?;
    let t_adaptive = t0.elapsed().as_secs_f64();
    // The plain attack again: the machine's load may have changed meanwhile.
    let (t_after, _) = time_plain()?;
    let t_plain = 0.5 * (t_before + t_after);
    println!("plain attack before and after: {t_before:.2} s, {t_after:.2} s");
    println!(
        "{} images, pgd eps 4/255, {steps} steps, demo model, {} surrogates",
        indices.len(),
        adaptive.surrogates.len()
    );
    println!("plain:    {t_plain:.2} s ({:.2} crops/s)", plain.crops_per_s);
    println!(
        "adaptive: {t_adaptive:.2} s ({:.2} crops/s), {:.1}x the plain attack",
        worst.crops_per_s,
        t_adaptive / t_plain
    );
    let change = |s: &cprl::attack::run::AttackScores| -> f64 {
        let d: Vec<f64> = s
            .clean
            .iter()
            .zip(&s.attacked)
            .map(|(a, b)| (b - a).abs())
            .collect();
        d.iter().sum::<f64>() / d.len() as f64
    };
    println!(
        "mean |s' - s|: plain {:.5}, worst case {:.5}",
        change(&plain),
        change(&worst)
    );
    for (name, s) in &each {
        println!(
            "  {name:<28} mean |s' - s| {:.5}, {:.2} crops/s",
            change(s),
            s.crops_per_s
        );
    }
    Ok(())
}
