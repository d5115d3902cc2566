//! The small CNN's training step (docs/METHOD.md section 6): forward, MSE, backward and
//! Adam, at batch 32 of 3x224x224 with channels 32, 64, 128. Validated first: at a
//! small size the loss and every gradient must equal the f64 reference model's.

use cprl::nn::{Module, SmallCnn};
use cprl::ops::loss::mse;
use cprl::ops::optim::{Adam, AdamConfig, Optimizer};
use cprl::reference::small_cnn::{SmallCnnRef, tolerance};
use cprl::{Tensor, autograd};

use crate::harness::{Case, Harness, Validation, check, rand};

/// Multiply-adds of one forward pass through the three convolutions and the head.
fn forward_flops(n: usize, s: usize, ch: [usize; 3]) -> f64 {
    let mut cin = 3;
    let mut side = s;
    let mut flops = 0.0;
    for &c in &ch {
        side = side.div_ceil(2);
        flops += 2.0 * (n * c * side * side * cin * 9) as f64;
        cin = c;
    }
    flops + 2.0 * (n * cin) as f64
}

fn validate(h: &Harness) -> Validation {
    let e = |e: cprl::Error| e.to_string();
    let gpu = &h.gpu;
    let (n, s, ch) = (4, 17, [4, 8, 8]);
    let xv = rand(11, n * 3 * s * s);
    let yv: Vec<f32> = rand(12, n).into_iter().map(|v| 0.5 + 0.5 * v).collect();
    let model = SmallCnn::new(gpu, ch, 5).map_err(e)?;
    let params: Vec<Vec<f64>> = model
        .params()
        .iter()
        .map(|(_, t)| t.to_vec().map(|v| v.iter().map(|&x| x as f64).collect()))
        .collect::<cprl::Result<_>>()
        .map_err(e)?;
    let mut reference = SmallCnnRef::new(params, ch);
    let x = Tensor::from_slice(gpu, &xv, &[n, 3, s, s]).map_err(e)?;
    let y = Tensor::from_slice(gpu, &yv, &[n, 1]).map_err(e)?;
    let loss = mse(&model.forward(&x, true).map_err(e)?, &y).map_err(e)?;
    let grads = autograd::backward(&loss).map_err(e)?;
    let x64: Vec<f64> = xv.iter().map(|&v| v as f64).collect();
    let y64: Vec<f64> = yv.iter().map(|&v| v as f64).collect();
    let (want, want_grads) = reference.loss_and_grads(&x64, [n, 3, s, s], &y64);
    check(&[loss.item().map_err(e)?], &[want], tolerance::LOSS).map_err(|m| format!("loss: {m}"))?;
    for ((name, p), w) in model.params().iter().zip(&want_grads) {
        let g = grads.of(p).map_err(e)?.to_vec().map_err(e)?;
        check(&g, w, tolerance::GRAD).map_err(|m| format!("grad {name}: {m}"))?;
    }
    Ok(())
}

pub fn bench(h: &mut Harness) {
    if !h.wants("cnn") {
        return;
    }
    let (n, s, ch) = if h.quick {
        (8, 112, [32, 64, 128])
    } else {
        (32, 224, [32, 64, 128])
    };
    let gpu = h.gpu.clone();
    let model = SmallCnn::new(&gpu, ch, 1).unwrap();
    let params = model.param_tensors();
    let mut adam = Adam::new(AdamConfig::adam(1e-3));
    let x = Tensor::from_slice(&gpu, &rand(1, n * 3 * s * s), &[n, 3, s, s]).unwrap();
    let y = Tensor::from_slice(&gpu, &rand(2, n), &[n, 1]).unwrap();
    let fwd = forward_flops(n, s, ch);
    let case = Case {
        op: "cnn.train_step",
        shape: format!("[{n}, 3, {s}, {s}] {ch:?}"),
        variant: "Auto".into(),
        // backward is two GEMMs per forward GEMM (data and weight)
        flops: 3.0 * fwd,
        bytes: 0.0,
        elems: 0.0,
    };
    let validation = validate(h);
    h.run(
        case,
        || validation,
        || {
            let loss = mse(&model.forward(&x, true)?, &y)?;
            let grads = autograd::backward(&loss)?;
            adam.step(&params, &grads)
        },
        None,
    );
}
