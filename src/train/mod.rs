//! Training: checkpoints, and the trainer that writes them.

pub mod checkpoint;
