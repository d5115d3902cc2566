//! GPU ops, one module per family. Each public function checks shapes, dispatches
//! its WGSL kernel and records its backward on the tape.

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
