//! cprl: trustworthy no-reference image quality assessment (CPRL) on a small
//! autograd engine whose kernels are WGSL compute shaders run through wgpu.
//!
//! Layers, bottom up: [`gpu`] (adapter, pipelines, buffer pool, dispatch),
//! [`tensor`] (device tensors), [`autograd`] (tape, backward), [`ops`] (one module
//! per op family, each with its WGSL kernels), [`reference`] (the f64 CPU
//! reference of every op, which the tests and the benchmark hold the kernels to).
//! Above them, host code only: [`report`] writes what a demo run found.

pub mod attack;
pub mod autograd;
pub mod data;
pub mod error;
pub mod explain;
pub mod gpu;
pub mod host;
pub mod infer;
pub mod metrics;
pub mod nn;
pub mod ops;
pub mod reference;
pub mod report;
pub mod shape;
pub mod tensor;
pub mod train;

pub use error::{Error, Result};
pub use gpu::Gpu;
pub use tensor::Tensor;
