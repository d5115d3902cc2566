//! GPU ops, one module per family. Each public function checks shapes, dispatches
//! its WGSL kernel and records its backward on the tape.

pub mod elementwise;
pub mod fill;
pub mod reduce;
pub mod rng;
