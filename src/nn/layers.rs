//! Conv2d, BatchNorm2d, GroupNorm2d and Linear layers, initialised as torch initialises them.

use std::sync::Arc;

use super::Module;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::ops::conv2d::{Conv2dParams, conv2d};
use crate::ops::matmul::linear;
use crate::ops::norm::{BatchNorm, GroupNorm, batch_norm, group_norm};
use crate::ops::rng;
use crate::tensor::Tensor;

/// Uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)): torch's default for conv and linear
/// weights (Kaiming uniform with a = sqrt(5)) and biases.
fn fan_in_uniform(gpu: &Arc<Gpu>, shape: &[usize], fan_in: usize, seed: u64) -> Result<Tensor> {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    Ok(rng::uniform(gpu, shape, seed, -bound, bound)?.requires_grad_())
}

/// A 2-D convolution layer.
pub struct Conv2d {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub params: Conv2dParams,
}

impl Conv2d {
    /// `cin -> cout` channels, a `k x k` kernel; `seed` makes the initialisation reproducible.
    pub fn new(
        gpu: &Arc<Gpu>,
        cin: usize,
        cout: usize,
        k: usize,
        params: Conv2dParams,
        bias: bool,
        seed: u64,
    ) -> Result<Conv2d> {
        let fan_in = cin / params.groups.max(1) * k * k;
        let weight = fan_in_uniform(gpu, &[cout, cin / params.groups.max(1), k, k], fan_in, seed)?;
        let bias = if bias {
            Some(fan_in_uniform(gpu, &[cout], fan_in, seed.wrapping_add(1))?)
        } else {
            None
        };
        Ok(Conv2d { weight, bias, params })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        conv2d(x, &self.weight, self.bias.as_ref(), &self.params)
    }
}

impl Module for Conv2d {
    fn params(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }
}

/// Batch normalisation over [N, C, H, W] or [N, C], with running statistics.
pub struct BatchNorm2d {
    pub gamma: Tensor,
    pub beta: Tensor,
    pub running_mean: Tensor,
    pub running_var: Tensor,
    pub opts: BatchNorm,
}

impl BatchNorm2d {
    /// `c` channels; `relu` fuses a ReLU after the normalisation.
    pub fn new(gpu: &Arc<Gpu>, c: usize, relu: bool) -> Result<BatchNorm2d> {
        Ok(BatchNorm2d {
            gamma: Tensor::ones(gpu, &[c])?.requires_grad_(),
            beta: Tensor::zeros(gpu, &[c])?.requires_grad_(),
            running_mean: Tensor::zeros(gpu, &[c])?,
            running_var: Tensor::ones(gpu, &[c])?,
            opts: BatchNorm {
                relu,
                ..BatchNorm::default()
            },
        })
    }

    /// Training mode normalises with batch statistics and updates the running ones.
    pub fn forward(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        batch_norm(
            x,
            &self.gamma,
            &self.beta,
            &self.running_mean,
            &self.running_var,
            training,
            &self.opts,
        )
    }
}

impl Module for BatchNorm2d {
    fn params(&self) -> Vec<(String, Tensor)> {
        vec![
            ("gamma".to_string(), self.gamma.clone()),
            ("beta".to_string(), self.beta.clone()),
        ]
    }
    fn buffers(&self) -> Vec<(String, Tensor)> {
        vec![
            ("running_mean".to_string(), self.running_mean.clone()),
            ("running_var".to_string(), self.running_var.clone()),
        ]
    }
}

/// Group normalisation over [N, C, H, W] or [N, C] (per-sample statistics: the same
/// in training and eval, so it has no running state).
pub struct GroupNorm2d {
    pub gamma: Tensor,
    pub beta: Tensor,
    pub opts: GroupNorm,
}

impl GroupNorm2d {
    /// `c` channels in `groups` groups (`groups` divides `c`).
    pub fn new(gpu: &Arc<Gpu>, c: usize, groups: usize) -> Result<GroupNorm2d> {
        Ok(GroupNorm2d {
            gamma: Tensor::ones(gpu, &[c])?.requires_grad_(),
            beta: Tensor::zeros(gpu, &[c])?.requires_grad_(),
            opts: GroupNorm::new(groups),
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        group_norm(x, &self.gamma, &self.beta, &self.opts)
    }
}

impl Module for GroupNorm2d {
    fn params(&self) -> Vec<(String, Tensor)> {
        vec![
            ("gamma".to_string(), self.gamma.clone()),
            ("beta".to_string(), self.beta.clone()),
        ]
    }
}

/// A fully connected layer: y = x w^T + b.
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    pub fn new(gpu: &Arc<Gpu>, inp: usize, out: usize, bias: bool, seed: u64) -> Result<Linear> {
        let weight = fan_in_uniform(gpu, &[out, inp], inp, seed)?;
        let bias = if bias {
            Some(fan_in_uniform(gpu, &[out], inp, seed.wrapping_add(1))?)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        linear(x, &self.weight, self.bias.as_ref())
    }
}

impl Module for Linear {
    fn params(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }
}
