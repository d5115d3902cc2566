//! Training: the configuration, the objective's terms, the gate's health, checkpoints
//! and the loop that ties them together.

pub mod checkpoint;
pub mod config;
pub mod health;
pub mod objective;
pub mod trainer;

pub use config::{AtLabel, DefenseConfig, DefenseKind, InterventionConfig, ObjectiveConfig, TrainConfig};
pub use health::GateHealth;
pub use trainer::{Event, LogLine, RunOptions, TrainData, Trainer};
