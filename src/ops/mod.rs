//! GPU ops, one module per family. Each public function checks shapes, dispatches
//! its WGSL kernel and records its backward on the tape; the same functions are
//! methods of [`Tensor`](crate::Tensor) (`tensor/methods.rs`) for model code.
//!
//! Kernel versions are named the same way in every family: an enum per op (per pass
//! for conv2d: `Conv2dForward`, `Conv2dBackwardData`, `Conv2dBackwardWeight`; else
//! `<Op>Version`) whose `Auto` is the default (chosen by measurement, or by a rule its
//! doc states), `V1` the naive port of the f64 reference, and `V2`, `V3`, .. the
//! `_v2`, `_v3`, .. kernels. A suffix names another launch of the same kernels:
//! `V2Narrow` (8-lane workgroups, pool and norm) and `V1Vec4` (the vec4 entries of the
//! `_v1` kernels, loss and optim).

pub mod attack_step;
pub mod conv2d;
pub mod elementwise;
pub mod fill;
pub mod gate;
pub mod layout;
pub mod loss;
pub mod matmul;
pub mod norm;
pub mod optim;
pub mod pool;
pub mod reduce;
pub mod rng;
pub mod softrank;
pub mod sortmask;
pub mod tune;
