//! Model-level check of the engine: the small CNN's loss and every parameter gradient
//! on the GPU equal the f64 reference's, and 50 Adam steps on a tiny fixed regression
//! set cut the loss at least tenfold, on the GPU and in the reference.

mod common;

use common::*;
use cprl::nn::{Module, SmallCnn};
use cprl::ops::loss::mse;
use cprl::ops::optim::{Adam, AdamConfig, Optimizer};
use cprl::reference::small_cnn::{SmallCnnRef, tolerance};
use cprl::{Tensor, autograd};

const CHANNELS: [usize; 3] = [4, 8, 8];

/// A tiny regression set: `n` random images [n, 3, s, s] in [0, 1) and targets in [0, 1).
fn data(n: usize, s: usize, salt: u64) -> (Vec<f32>, Vec<f32>) {
    (
        rand_range(salt, n * 3 * s * s, 0.0, 1.0),
        rand_range(salt + 1, n, 0.0, 1.0),
    )
}

fn download_params(model: &SmallCnn) -> Vec<Vec<f64>> {
    model
        .params()
        .iter()
        .map(|(_, t)| f64s(&t.to_vec().unwrap()))
        .collect()
}

#[test]
fn small_cnn_loss_and_every_gradient_match_ref() {
    let gpu = gpu();
    // Odd sizes: 17 -> 9 -> 5 -> 3 through the stride-2 convolutions.
    let (n, s) = (4, 17);
    let (xv, yv) = data(n, s, 1);
    let model = SmallCnn::new(&gpu, CHANNELS, base_seed()).unwrap();
    let mut reference = SmallCnnRef::new(download_params(&model), CHANNELS);
    let x = Tensor::from_slice(&gpu, &xv, &[n, 3, s, s]).unwrap();
    let y = Tensor::from_slice(&gpu, &yv, &[n, 1]).unwrap();
    let loss = mse(&model.forward(&x, true).unwrap(), &y).unwrap();
    let grads = autograd::backward(&loss).unwrap();
    let (want_loss, want_grads) = reference.loss_and_grads(&f64s(&xv), [n, 3, s, s], &f64s(&yv));
    assert_within("loss", &[loss.item().unwrap()], &[want_loss], tolerance::LOSS);
    for ((name, p), want) in model.params().iter().zip(&want_grads) {
        assert_tensor_within(
            &format!("grad {name}"),
            grads.of(p).unwrap(),
            want,
            tolerance::GRAD,
        );
    }
    // Running statistics moved by the same momentum step.
    let bufs = model.buffers();
    for (l, (rm, rv)) in reference.running.iter().enumerate() {
        assert_tensor(&bufs[2 * l].0, &bufs[2 * l].1, rm, 1e-6, 1e-4);
        assert_tensor(&bufs[2 * l + 1].0, &bufs[2 * l + 1].1, rv, 1e-6, 1e-4);
    }
}

#[test]
fn fifty_adam_steps_cut_the_loss_tenfold_on_gpu_and_reference() {
    let gpu = gpu();
    let (n, s) = (8, 16);
    let (xv, yv) = data(n, s, 7);
    let model = SmallCnn::new(&gpu, CHANNELS, 2024).unwrap();
    let mut reference = SmallCnnRef::new(download_params(&model), CHANNELS);
    let cfg = AdamConfig::adam(0.02);
    let mut adam = Adam::new(cfg);
    let params = model.param_tensors();
    let x = Tensor::from_slice(&gpu, &xv, &[n, 3, s, s]).unwrap();
    let y = Tensor::from_slice(&gpu, &yv, &[n, 1]).unwrap();
    let (x64, y64) = (f64s(&xv), f64s(&yv));
    let mut state = Vec::new();
    let (mut gpu_losses, mut ref_losses) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        let loss = mse(&model.forward(&x, true).unwrap(), &y).unwrap();
        let grads = autograd::backward(&loss).unwrap();
        adam.step(&params, &grads).unwrap();
        gpu_losses.push(loss.item().unwrap() as f64);
        let (l, g) = reference.loss_and_grads(&x64, [n, 3, s, s], &y64);
        reference.adam_step(&cfg, &g, &mut state);
        ref_losses.push(l);
    }
    let first = (gpu_losses[0], ref_losses[0]);
    let last = (gpu_losses[49], ref_losses[49]);
    assert!(
        (first.0 - first.1).abs() <= 1e-4 * first.1,
        "first losses differ: {first:?}"
    );
    assert!(
        last.0 * 10.0 <= first.0,
        "GPU loss fell only {} -> {}: {gpu_losses:?}",
        first.0,
        last.0
    );
    assert!(
        last.1 * 10.0 <= first.1,
        "reference loss fell only {} -> {}: {ref_losses:?}",
        first.1,
        last.1
    );
}
