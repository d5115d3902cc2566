//! Subcommands of the `cprl` binary, one module each.

pub mod data;
pub mod doctor;
pub mod tiny_train;
