//! Subcommands of the `cprl` binary, one module each.

pub mod doctor;
pub mod tiny_train;
