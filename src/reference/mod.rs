//! The f64 CPU reference of every op: plain loops, no GPU types, same names as
//! `src/ops/`. Tests and the benchmark hold the kernels to these.

pub mod attack_step;
pub mod conv2d;
pub mod cprl_model;
pub mod elementwise;
pub mod gate;
pub mod layout;
pub mod loss;
pub mod matmul;
pub mod norm;
pub mod optim;
pub mod pool;
pub mod reduce;
pub mod rng;
pub mod small_cnn;
pub mod softrank;
pub mod sortmask;
pub mod tolerance;

pub use tolerance::Tolerance;
