//! The small CNN used to check the engine end to end and to time a training step:
//! three stride-2 3x3 convolutions, each followed by batch norm and ReLU (fused),
//! global average pooling and a linear head with one output.
//!
//! ```text
//! x [N, 3, H, W] -> conv 3->c1 -> BN+ReLU -> conv c1->c2 -> BN+ReLU
//!                -> conv c2->c3 -> BN+ReLU -> global average pool -> linear c3->1
//! ```
//!
//! The convolutions have no bias (batch norm's beta takes its place), as is usual.

use std::sync::Arc;

use super::{BatchNorm2d, Conv2d, Linear, Module, prefixed};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::ops::conv2d::Conv2dParams;
use crate::ops::pool::global_avg_pool;
use crate::tensor::Tensor;

pub struct SmallCnn {
    pub convs: Vec<Conv2d>,
    pub norms: Vec<BatchNorm2d>,
    pub head: Linear,
}

impl SmallCnn {
    /// Channels `[c1, c2, c3]` (docs/METHOD.md section 6 uses 32, 64, 128); `seed` fixes
    /// the initialisation.
    pub fn new(gpu: &Arc<Gpu>, channels: [usize; 3], seed: u64) -> Result<SmallCnn> {
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        let mut cin = 3;
        for (i, &c) in channels.iter().enumerate() {
            let p = Conv2dParams::new(2, 1);
            convs.push(Conv2d::new(
                gpu,
                cin,
                c,
                3,
                p,
                false,
                seed.wrapping_add(10 * i as u64),
            )?);
            norms.push(BatchNorm2d::new(gpu, c, true)?);
            cin = c;
        }
        let head = Linear::new(gpu, cin, 1, true, seed.wrapping_add(100))?;
        Ok(SmallCnn { convs, norms, head })
    }

    /// Predictions [N, 1]. `training` selects batch statistics in the norms.
    pub fn forward(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        let mut h = x.clone();
        for (conv, norm) in self.convs.iter().zip(&self.norms) {
            h = norm.forward(&conv.forward(&h)?, training)?;
        }
        self.head.forward(&global_avg_pool(&h)?)
    }
}

impl Module for SmallCnn {
    fn params(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        for (i, (c, n)) in self.convs.iter().zip(&self.norms).enumerate() {
            v.extend(prefixed(&format!("conv{i}"), c.params()));
            v.extend(prefixed(&format!("norm{i}"), n.params()));
        }
        v.extend(prefixed("head", self.head.params()));
        v
    }
    fn buffers(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        for (i, n) in self.norms.iter().enumerate() {
            v.extend(prefixed(&format!("norm{i}"), n.buffers()));
        }
        v
    }
}
