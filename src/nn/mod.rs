//! Layers with parameters, and the models built from them.
//!
//! A layer owns its parameters as leaf tensors (created with `requires_grad_()`), so
//! `autograd::backward` returns their gradients and the optimisers update them in
//! place. Layers name their parameters for checkpoints and reports.

pub mod cprl;
pub mod layers;
pub mod small_cnn;

pub use cprl::{Cprl, CprlConfig, CprlOutput};
pub use layers::{BatchNorm2d, Conv2d, GroupNorm2d, Linear};
pub use small_cnn::SmallCnn;

use crate::tensor::Tensor;

/// Something with named parameters (trained) and buffers (running statistics).
pub trait Module {
    /// Trainable parameters, in a fixed order, with dotted names.
    fn params(&self) -> Vec<(String, Tensor)>;
    /// Non-trainable state that a checkpoint must keep (running statistics).
    fn buffers(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    /// The parameter tensors alone, in the order of `params`.
    fn param_tensors(&self) -> Vec<Tensor> {
        self.params().into_iter().map(|(_, t)| t).collect()
    }
}

/// Prefixes each name with `prefix.`.
pub(crate) fn prefixed(prefix: &str, v: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
    v.into_iter().map(|(n, t)| (format!("{prefix}.{n}"), t)).collect()
}
