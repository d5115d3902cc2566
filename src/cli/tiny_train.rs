//! `cprl tiny-train`: trains the small CNN on a built-in synthetic task and prints the
//! falling loss: an end-to-end check of the engine (forward, backward, Adam).
//!
//! The task is a quality-like regression: each image is a smooth random pattern plus
//! Gaussian noise of a random level sigma in [0, 0.3]; the target is 1 - sigma / 0.3
//! (clean images score 1, the noisiest 0).

use std::time::Instant;

use anyhow::{Result, ensure};
use cprl::nn::{Module, SmallCnn};
use cprl::ops::loss::mse;
use cprl::ops::optim::{Adam, AdamConfig, Optimizer};
use cprl::{Gpu, Tensor, autograd};

#[derive(clap::Args)]
pub struct TinyTrainArgs {
    /// Training steps.
    #[arg(long, default_value_t = 60)]
    steps: usize,
    /// Images per step.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Image side in pixels.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Channels of the three convolutions.
    #[arg(long, value_delimiter = ',', default_values_t = [16, 32, 64])]
    channels: Vec<usize>,
    /// Adam learning rate.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// Seed of the data and the initialisation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Small deterministic generator for the synthetic images (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (1.0 - self.next(), self.next());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// One synthetic image [3, s, s] and its target.
fn sample(rng: &mut Rng, s: usize) -> (Vec<f32>, f32) {
    let sigma = 0.3 * rng.next();
    let waves: Vec<[f64; 4]> = (0..3)
        .map(|_| {
            [
                rng.next() * 0.5,
                rng.next() * 0.5,
                rng.next() * std::f64::consts::TAU,
                0.1 + 0.2 * rng.next(),
            ]
        })
        .collect();
    let mut img = Vec::with_capacity(3 * s * s);
    for c in 0..3 {
        for y in 0..s {
            for x in 0..s {
                let mut v = 0.5;
                for (k, w) in waves.iter().enumerate() {
                    v += w[3] * ((x as f64 * w[0] + y as f64 * w[1]) + w[2] + (c + k) as f64).sin();
                }
                img.push((v + sigma * rng.normal()).clamp(0.0, 1.0) as f32);
            }
        }
    }
    (img, (1.0 - sigma / 0.3) as f32)
}

pub fn run(a: &TinyTrainArgs) -> Result<()> {
    ensure!(
        a.channels.len() == 3,
        "--channels takes three numbers, got {:?}",
        a.channels
    );
    ensure!(
        a.batch >= 2,
        "--batch must be at least 2 (batch norm needs batch statistics)"
    );
    ensure!(a.size >= 8, "--size must be at least 8");
    let gpu = Gpu::new()?;
    println!("adapter: {gpu}");
    let mut rng = Rng(a.seed);
    // A fixed training set of 4 batches, cycled.
    let batches: Vec<(Tensor, Tensor)> = (0..4)
        .map(|_| {
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            for _ in 0..a.batch {
                let (x, y) = sample(&mut rng, a.size);
                xs.extend(x);
                ys.push(y);
            }
            Ok((
                Tensor::from_slice(&gpu, &xs, &[a.batch, 3, a.size, a.size])?,
                Tensor::from_slice(&gpu, &ys, &[a.batch, 1])?,
            ))
        })
        .collect::<cprl::Result<_>>()?;
    let model = SmallCnn::new(&gpu, [a.channels[0], a.channels[1], a.channels[2]], a.seed)?;
    let params = model.param_tensors();
    let mut adam = Adam::new(AdamConfig::adam(a.lr));
    println!(
        "small CNN {:?}, {} parameters; batch {} of 3x{}x{}; {} steps of Adam (lr {})",
        a.channels,
        params.iter().map(Tensor::numel).sum::<usize>(),
        a.batch,
        a.size,
        a.size,
        a.steps,
        a.lr
    );
    let mut since = (Instant::now(), 0usize);
    let mut first = None;
    let mut last = f32::NAN;
    let mut recent = Vec::new();
    for step in 0..a.steps {
        let (x, y) = &batches[step % batches.len()];
        let loss = mse(&model.forward(x, true)?, y)?;
        let grads = autograd::backward(&loss)?;
        adam.step(&params, &grads)?;
        let l = loss.item()?;
        ensure!(l.is_finite(), "loss became {l} at step {step}");
        first.get_or_insert(l);
        last = l;
        recent.push(l);
        if (step + 1) % 10 == 0 || step == 0 || step + 1 == a.steps {
            let mean = recent.iter().sum::<f32>() / recent.len() as f32;
            // The first step includes compiling the kernels and tuning their versions.
            println!(
                "step {:>4}  loss {mean:.5}  ({:.0} ms/step)",
                step + 1,
                since.0.elapsed().as_secs_f64() * 1e3 / (step + 1 - since.1) as f64
            );
            recent.clear();
            since = (Instant::now(), step + 1);
        }
    }
    if let Some(f) = first {
        println!("loss fell from {f:.5} to {last:.5} ({:.1}x)", f / last);
    }
    Ok(())
}
