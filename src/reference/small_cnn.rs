//! f64 reference of `nn::SmallCnn` with an MSE loss: forward, backward and Adam,
//! composed from the op references, for the model-level check.
//!
//! Parameters in the order of `SmallCnn::params()`: for each of the three layers
//! conv weight [c, cin, 3, 3], norm gamma [c], norm beta [c]; then head weight [1, c3]
//! and head bias [1]. Running statistics are kept beside them.

use crate::ops::conv2d::Conv2dParams;
use crate::ops::loss::Pointwise;
use crate::ops::optim::AdamConfig;
use crate::reference::conv2d::{conv2d_backward_data_ref, conv2d_backward_weight_ref, conv2d_forward_ref};
use crate::reference::loss::{pointwise_backward_ref, pointwise_forward_ref};
use crate::reference::matmul::{linear_backward_ref, linear_ref};
use crate::reference::norm::{BatchNormSaved, batch_norm_backward_ref, batch_norm_forward_ref};
use crate::reference::optim::adam_step_ref;
use crate::reference::pool::{global_avg_pool_backward_ref, global_avg_pool_forward_ref};

const EPS: f64 = 1e-5;
const MOMENTUM: f64 = 0.1;

/// The model's state in f64.
#[derive(Clone, Debug)]
pub struct SmallCnnRef {
    pub params: Vec<Vec<f64>>,
    pub running: Vec<(Vec<f64>, Vec<f64>)>,
    pub channels: [usize; 3],
}

/// What one forward keeps for the backward.
struct Layer {
    input: Vec<f64>,
    in_shape: [usize; 4],
    conv_out_shape: [usize; 4],
    conv_out: Vec<f64>,
    saved: BatchNormSaved,
}

impl SmallCnnRef {
    pub fn new(params: Vec<Vec<f64>>, channels: [usize; 3]) -> SmallCnnRef {
        assert_eq!(
            params.len(),
            11,
            "3 x (weight, gamma, beta) + head weight and bias"
        );
        let running = channels.iter().map(|&c| (vec![0.0; c], vec![1.0; c])).collect();
        SmallCnnRef {
            params,
            running,
            channels,
        }
    }

    /// MSE loss of the predictions on `x` ([N, 3, H, W]) against `y` ([N]), and the
    /// gradient of every parameter. Training mode (batch statistics; running ones move).
    pub fn loss_and_grads(&mut self, x: &[f64], shape: [usize; 4], y: &[f64]) -> (f64, Vec<Vec<f64>>) {
        let p = Conv2dParams::new(2, 1);
        let mut h = x.to_vec();
        let mut hs = shape;
        let mut layers = Vec::new();
        for l in 0..3 {
            let c = self.channels[l];
            let ws = [c, hs[1], 3, 3];
            let conv_out = conv2d_forward_ref(&h, hs, &self.params[3 * l], ws, None, &p);
            let os = [hs[0], c, p.out_h(hs[2], 3), p.out_w(hs[3], 3)];
            let (rm, rv) = &mut self.running[l];
            let saved = batch_norm_forward_ref(
                &conv_out,
                &os,
                &self.params[3 * l + 1],
                &self.params[3 * l + 2],
                rm,
                rv,
                true,
                EPS,
                MOMENTUM,
                true,
            );
            let next = saved.y.clone();
            layers.push(Layer {
                input: std::mem::replace(&mut h, next),
                in_shape: hs,
                conv_out_shape: os,
                conv_out,
                saved,
            });
            hs = os;
        }
        let (n, c3) = (hs[0], hs[1]);
        let pooled = global_avg_pool_forward_ref(&h, &hs);
        let pred = linear_ref(&pooled, &self.params[9], Some(&self.params[10]), n, c3, 1);
        let loss = pointwise_forward_ref(Pointwise::Mse, &pred, y);

        let mut grads: Vec<Vec<f64>> = self.params.iter().map(|v| vec![0.0; v.len()]).collect();
        let mut dpred = vec![0.0; n];
        pointwise_backward_ref(Pointwise::Mse, &pred, y, 1.0, &mut dpred, &mut vec![0.0; n]);
        let mut dpooled = vec![0.0; n * c3];
        let (head, rest) = grads.split_at_mut(10);
        linear_backward_ref(
            &pooled,
            &self.params[9],
            &dpred,
            n,
            c3,
            1,
            &mut dpooled,
            &mut head[9],
            &mut rest[0],
        );
        let mut dh = vec![0.0; h.len()];
        global_avg_pool_backward_ref(&hs, &dpooled, &mut dh);
        for l in (0..3).rev() {
            let layer = &layers[l];
            let mut dconv = vec![0.0; layer.conv_out.len()];
            let (before, after) = grads.split_at_mut(3 * l + 2);
            batch_norm_backward_ref(
                &layer.conv_out,
                &layer.conv_out_shape,
                &self.params[3 * l + 1],
                &layer.saved,
                true,
                true,
                &dh,
                &mut dconv,
                &mut before[3 * l + 1],
                &mut after[0],
            );
            let ws = [self.channels[l], layer.in_shape[1], 3, 3];
            conv2d_backward_weight_ref(&dconv, &layer.input, layer.in_shape, ws, &p, &mut grads[3 * l]);
            let mut dinput = vec![0.0; layer.input.len()];
            if l > 0 {
                conv2d_backward_data_ref(&dconv, &self.params[3 * l], layer.in_shape, ws, &p, &mut dinput);
            }
            dh = dinput;
        }
        (loss, grads)
    }

    /// One Adam step over every parameter, with per-parameter state `(m, v, step)`.
    pub fn adam_step(
        &mut self,
        cfg: &AdamConfig,
        grads: &[Vec<f64>],
        state: &mut Vec<(Vec<f64>, Vec<f64>, u64)>,
    ) {
        if state.is_empty() {
            *state = self
                .params
                .iter()
                .map(|p| (vec![0.0; p.len()], vec![0.0; p.len()], 0))
                .collect();
        }
        for ((p, g), (m, v, step)) in self.params.iter_mut().zip(grads).zip(state.iter_mut()) {
            adam_step_ref(cfg, p, g, m, v, step);
        }
    }
}

/// Tolerances of the GPU model (`nn::SmallCnn`, f32) against this reference at a small
/// size (batch 4, 17x17 inputs), used by the tests and the benchmark alike.
pub mod tolerance {
    use crate::reference::Tolerance;

    /// The MSE loss: f32 through three conv + batch-norm layers, relative error ~1e-5.
    pub const LOSS: Tolerance = Tolerance::new(1e-6, 1e-4);
    /// Every parameter gradient: batch norm divides by per-channel standard
    /// deviations, so the gradients keep ~1e-4 of relative error.
    pub const GRAD: Tolerance = Tolerance::new(1e-5, 1e-3);
}
