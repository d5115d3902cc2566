//! The f64 CPU reference of every op: plain loops, no GPU types, same names as
//! `src/ops/`. Tests and the benchmark hold the kernels to these.

pub mod elementwise;
pub mod reduce;
pub mod rng;
