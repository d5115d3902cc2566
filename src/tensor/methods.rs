//! Tensor methods over the ops, so that model code reads like the formulas:
//! `x.conv2d(&w, None, &p)?.relu()?.global_avg_pool()?.linear(&v, Some(&b))?`.
//!
//! Each method is one line delegating to the public function of its op family in
//! `crate::ops` (same checks, same kernels chosen the same way, same recording on the
//! tape), so a method and its function give identical values and gradients
//! (`tests/tensor_methods.rs`). The functions stay the primary API; the `_with`
//! variants that pick kernel versions are left to them, as model code should not.
//! `reshape` and `flatten` live in `tensor.rs` itself.

use std::sync::Arc;

use super::Tensor;
use crate::autograd::{self, Grads};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::ops::conv2d::{self, Conv2dParams};
use crate::ops::gate::{self, GateConfig};
use crate::ops::norm::{self, BatchNorm, GroupNorm};
use crate::ops::pool::{self, Pool2d};
use crate::ops::softrank::sort::{self, Sorted};
use crate::ops::softrank::{self, Method, Order};
use crate::ops::sortmask::{self, SortMaskConfig};
use crate::ops::{elementwise, layout, loss, matmul, reduce, rng};

/// Creation: random tensors (`ops::rng`, counter-based: a seed gives the same values
/// on every adapter).
impl Tensor {
    /// Uniform on `[lo, hi)` ([`rng::uniform`]).
    pub fn uniform(gpu: &Arc<Gpu>, shape: &[usize], seed: u64, lo: f32, hi: f32) -> Result<Tensor> {
        rng::uniform(gpu, shape, seed, lo, hi)
    }
    /// Normal with the given mean and standard deviation ([`rng::normal`]).
    pub fn normal(gpu: &Arc<Gpu>, shape: &[usize], seed: u64, mean: f32, std: f32) -> Result<Tensor> {
        rng::normal(gpu, shape, seed, mean, std)
    }
}

/// Autograd: the gradients of a result with respect to the leaves.
impl Tensor {
    /// Gradients of this scalar with respect to every leaf ([`autograd::backward`]).
    pub fn backward(&self) -> Result<Grads> {
        autograd::backward(self)
    }
    /// Vector-Jacobian product with `grad_out` ([`autograd::backward_with`]).
    pub fn backward_with(&self, grad_out: &Tensor) -> Result<Grads> {
        autograd::backward_with(self, grad_out)
    }
}

/// Elementwise arithmetic with NumPy broadcasting ([`elementwise`]).
impl Tensor {
    /// `self + other` ([`elementwise::add`]).
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        elementwise::add(self, other)
    }
    /// `self - other` ([`elementwise::sub`]).
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        elementwise::sub(self, other)
    }
    /// `self * other` ([`elementwise::mul`]).
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        elementwise::mul(self, other)
    }
    /// `self / other` ([`elementwise::div`]).
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        elementwise::div(self, other)
    }
    /// A broadcast copy to `shape` ([`elementwise::expand`]).
    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        elementwise::expand(self, shape)
    }
}

/// Unary maths and activations ([`elementwise`]).
impl Tensor {
    /// `s x` ([`elementwise::scale`]).
    pub fn scale(&self, s: f32) -> Result<Tensor> {
        elementwise::scale(self, s)
    }
    /// `alpha x + beta` ([`elementwise::affine`]).
    pub fn affine(&self, alpha: f32, beta: f32) -> Result<Tensor> {
        elementwise::affine(self, alpha, beta)
    }
    /// `max(x, 0)` ([`elementwise::relu`]).
    pub fn relu(&self) -> Result<Tensor> {
        elementwise::relu(self)
    }
    /// `x` where positive, else `slope x` ([`elementwise::leaky_relu`]).
    pub fn leaky_relu(&self, slope: f32) -> Result<Tensor> {
        elementwise::leaky_relu(self, slope)
    }
    /// `1 / (1 + exp(-x))` ([`elementwise::sigmoid`]).
    pub fn sigmoid(&self) -> Result<Tensor> {
        elementwise::sigmoid(self)
    }
    /// The hyperbolic tangent ([`elementwise::tanh`]).
    pub fn tanh(&self) -> Result<Tensor> {
        elementwise::tanh(self)
    }
    /// `|x|` ([`elementwise::abs`]).
    pub fn abs(&self) -> Result<Tensor> {
        elementwise::abs(self)
    }
    /// `x^2` ([`elementwise::square`]).
    pub fn square(&self) -> Result<Tensor> {
        elementwise::square(self)
    }
    /// The square root ([`elementwise::sqrt`]).
    pub fn sqrt(&self) -> Result<Tensor> {
        elementwise::sqrt(self)
    }
    /// `e^x` ([`elementwise::exp`]).
    pub fn exp(&self) -> Result<Tensor> {
        elementwise::exp(self)
    }
    /// The natural logarithm ([`elementwise::log`]).
    pub fn log(&self) -> Result<Tensor> {
        elementwise::log(self)
    }
    /// -1, 0 or 1 ([`elementwise::sign`]).
    pub fn sign(&self) -> Result<Tensor> {
        elementwise::sign(self)
    }
    /// `min(max(x, lo), hi)` ([`elementwise::clamp`]).
    pub fn clamp(&self, lo: f32, hi: f32) -> Result<Tensor> {
        elementwise::clamp(self, lo, hi)
    }
    /// Any unary op with its arguments ([`elementwise::unary`]).
    pub fn unary(&self, f: elementwise::Unary) -> Result<Tensor> {
        elementwise::unary(self, f)
    }
}

/// Deterministic reductions ([`reduce`]).
impl Tensor {
    /// The sum of all elements, shape `[]` ([`reduce::sum`]).
    pub fn sum(&self) -> Result<Tensor> {
        reduce::sum(self)
    }
    /// The mean of all elements, shape `[]` ([`reduce::mean`]).
    pub fn mean(&self) -> Result<Tensor> {
        reduce::mean(self)
    }
    /// The sum over `axes`, kept as size 1 when `keepdim` ([`reduce::sum_axes`]).
    pub fn sum_axes(&self, axes: &[usize], keepdim: bool) -> Result<Tensor> {
        reduce::sum_axes(self, axes, keepdim)
    }
    /// The mean over `axes` ([`reduce::mean_axes`]).
    pub fn mean_axes(&self, axes: &[usize], keepdim: bool) -> Result<Tensor> {
        reduce::mean_axes(self, axes, keepdim)
    }
    /// Summed down to `shape`, the inverse of broadcasting ([`reduce::sum_to`]).
    pub fn sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        reduce::sum_to(self, shape)
    }
}

/// Layout: copies that move elements ([`layout`]).
impl Tensor {
    /// The tensors joined along `axis` ([`layout::concat`]).
    pub fn concat(xs: &[&Tensor], axis: usize) -> Result<Tensor> {
        layout::concat(xs, axis)
    }
    /// `start .. start + len` along `axis` ([`layout::slice`]).
    pub fn slice(&self, axis: usize, start: usize, len: usize) -> Result<Tensor> {
        layout::slice(self, axis, start, len)
    }
    /// Axis i of the result is axis `dims[i]` of self ([`layout::permute`]).
    pub fn permute(&self, dims: &[usize]) -> Result<Tensor> {
        layout::permute(self, dims)
    }
    /// Axes `a` and `b` swapped ([`layout::transpose`]).
    pub fn transpose(&self, a: usize, b: usize) -> Result<Tensor> {
        layout::transpose(self, a, b)
    }
}

/// Products ([`matmul`]).
impl Tensor {
    /// `self @ b`, batch dims broadcast ([`matmul::matmul`]).
    pub fn matmul(&self, b: &Tensor) -> Result<Tensor> {
        matmul::matmul(self, b)
    }
    /// `op(self) @ op(b)`, `op` transposing the last two dims where flagged ([`matmul::matmul_t`]).
    pub fn matmul_t(&self, b: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor> {
        matmul::matmul_t(self, b, trans_a, trans_b)
    }
    /// `x w^T + bias`: x `[B, in]`, w `[out, in]` ([`matmul::linear`]).
    pub fn linear(&self, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        matmul::linear(self, w, bias)
    }
}

/// Convolution ([`conv2d`]).
impl Tensor {
    /// `conv2d(x, w) + bias`: x `[N, C, H, W]`, w `[O, C/groups, KH, KW]` ([`conv2d::conv2d`]).
    pub fn conv2d(&self, w: &Tensor, bias: Option<&Tensor>, p: &Conv2dParams) -> Result<Tensor> {
        conv2d::conv2d(self, w, bias, p)
    }
}

/// Pooling over NCHW planes ([`pool`]).
impl Tensor {
    /// Average pooling, `[N, C, H, W] -> [N, C, OH, OW]` ([`pool::avg_pool2d`]).
    pub fn avg_pool2d(&self, p: &Pool2d) -> Result<Tensor> {
        pool::avg_pool2d(self, p)
    }
    /// Max pooling, `[N, C, H, W] -> [N, C, OH, OW]` ([`pool::max_pool2d`]).
    pub fn max_pool2d(&self, p: &Pool2d) -> Result<Tensor> {
        pool::max_pool2d(self, p)
    }
    /// Max pooling and the plane index of each maximum ([`pool::max_pool2d_with_indices`]).
    pub fn max_pool2d_with_indices(&self, p: &Pool2d) -> Result<(Tensor, Tensor)> {
        pool::max_pool2d_with_indices(self, p)
    }
    /// `[N, C, H, W] -> [N, C]`, the mean of each plane ([`pool::global_avg_pool`]).
    pub fn global_avg_pool(&self) -> Result<Tensor> {
        pool::global_avg_pool(self)
    }
}

/// Normalisation ([`norm`]).
impl Tensor {
    /// Batch norm; `training` uses the batch statistics and updates the running ones
    /// in place ([`norm::batch_norm`]).
    pub fn batch_norm(
        &self,
        gamma: &Tensor,
        beta: &Tensor,
        running_mean: &Tensor,
        running_var: &Tensor,
        training: bool,
        opts: &BatchNorm,
    ) -> Result<Tensor> {
        norm::batch_norm(self, gamma, beta, running_mean, running_var, training, opts)
    }
    /// Group norm ([`norm::group_norm`]).
    pub fn group_norm(&self, gamma: &Tensor, beta: &Tensor, opts: &GroupNorm) -> Result<Tensor> {
        norm::group_norm(self, gamma, beta, opts)
    }
}

/// Losses of a prediction against its target, each a scalar ([`loss`]).
impl Tensor {
    /// Mean squared error ([`loss::mse`]).
    pub fn mse(&self, target: &Tensor) -> Result<Tensor> {
        loss::mse(self, target)
    }
    /// Mean absolute error ([`loss::l1`]).
    pub fn l1(&self, target: &Tensor) -> Result<Tensor> {
        loss::l1(self, target)
    }
    /// Huber loss with threshold `delta` ([`loss::huber`]).
    pub fn huber(&self, target: &Tensor, delta: f32) -> Result<Tensor> {
        loss::huber(self, target, delta)
    }
    /// `1 - PLCC` over the batch ([`loss::plcc_loss`]).
    pub fn plcc_loss(&self, target: &Tensor) -> Result<Tensor> {
        loss::plcc_loss(self, target)
    }
}

/// Ranking along the last axis ([`softrank`]).
impl Tensor {
    /// Soft ranks, ascending ([`softrank::soft_rank`]).
    pub fn soft_rank(&self, method: Method, strength: f32) -> Result<Tensor> {
        softrank::soft_rank(self, method, strength)
    }
    /// Soft ranks in `order` ([`softrank::soft_rank_ordered`]).
    pub fn soft_rank_ordered(&self, method: Method, strength: f32, order: Order) -> Result<Tensor> {
        softrank::soft_rank_ordered(self, method, strength, order)
    }
    /// Every row sorted, values differentiable, with indices ([`sort::sort`]).
    pub fn sort(&self, order: Order) -> Result<Sorted> {
        sort::sort(self, order)
    }
    /// The first `k` of every row in `order` ([`sort::top_k`]).
    pub fn top_k(&self, k: usize, order: Order) -> Result<Sorted> {
        sort::top_k(self, k, order)
    }
    /// The input indices in sorted order, as f32 ([`sort::argsort`]).
    pub fn argsort(&self, order: Order) -> Result<Tensor> {
        sort::argsort(self, order)
    }
    /// Hard ranks 1..n, not differentiable ([`sort::hard_rank`]).
    pub fn hard_rank(&self, order: Order) -> Result<Tensor> {
        sort::hard_rank(self, order)
    }
}

/// The CPR channel gate and SortMask ([`gate`], [`sortmask`]).
impl Tensor {
    /// The gate on z `[B, C]`: (CPR c, N-CPR n, mask m) ([`gate::cpr_gate`]).
    pub fn cpr_gate(&self, cfg: &GateConfig) -> Result<(Tensor, Tensor, Tensor)> {
        gate::cpr_gate(self, cfg)
    }
    /// SortMask of feature maps `[B, C, H, W]` ([`sortmask::sortmask`]).
    pub fn sortmask(&self, cfg: &SortMaskConfig) -> Result<Tensor> {
        sortmask::sortmask(self, cfg)
    }
}
