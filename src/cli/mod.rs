//! Subcommands of the `cprl` binary, one module each, and the pieces they share.

pub mod attack;
pub mod data;
pub mod dataset;
pub mod demo;
pub mod doctor;
pub mod eval;
pub mod explain;
pub mod outputs;
pub mod progress;
pub mod robustness;
pub mod score;
pub mod tiny_train;
pub mod train;
