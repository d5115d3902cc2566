//! The training loop of the README ("Training loop in a few lines"): a two-layer
//! network fitted to a hidden function, the forward written with `Tensor` methods,
//! gradients from the tape handed to Adam. `tests/readme.rs` checks that the README
//! shows the code between the `README` markers, as it is here.
//!
//! Run: `cargo run --release --example training_loop`.

use cprl::autograd::no_grad;
use cprl::ops::optim::{Adam, AdamConfig, Optimizer};
use cprl::{Gpu, Result, Tensor};

fn main() -> Result<()> {
    // README begin
    let gpu = Gpu::shared()?;
    // 256 points of 8 features; targets from a hidden map the model must find.
    let x = Tensor::uniform(&gpu, &[256, 8], 1, -1.0, 1.0)?;
    let hidden = Tensor::uniform(&gpu, &[1, 8], 2, -1.0, 1.0)?;
    let y = x.linear(&hidden, None)?.tanh()?;

    // Parameters are leaves that collect gradients.
    let w1 = Tensor::normal(&gpu, &[32, 8], 3, 0.0, 0.35)?.requires_grad_();
    let b1 = Tensor::zeros(&gpu, &[32])?.requires_grad_();
    let w2 = Tensor::normal(&gpu, &[1, 32], 4, 0.0, 0.18)?.requires_grad_();
    let params = [w1.clone(), b1.clone(), w2.clone()];
    let mut opt = Adam::new(AdamConfig::adam(1e-2));

    for step in 0..200 {
        let pred = x.linear(&w1, Some(&b1))?.relu()?.linear(&w2, None)?; // on the tape
        let loss = pred.mse(&y)?; // a scalar tensor
        let grads = loss.backward()?; // d loss / d leaf, for every leaf
        opt.step(&params, &grads)?; // updates w1, b1, w2 in place
        if step % 50 == 0 {
            println!("step {step:>3}  loss {:.5}", loss.item()?);
        }
    }

    let _eval = no_grad(); // nothing below is recorded
    let pred = x.linear(&w1, Some(&b1))?.relu()?.linear(&w2, None)?;
    println!("final loss {:.5}", pred.mse(&y)?.item()?);
    // README end
    Ok(())
}
