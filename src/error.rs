//! One error type for the library. Every message says what went wrong in the
//! user's terms (shapes, sizes, driver packages), never only a wgpu internal.

use std::fmt;

/// Result alias used throughout cprl.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in cprl.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No wgpu adapter could be opened. The message tells which drivers to install.
    #[error("{0}")]
    NoAdapter(String),
    /// Tensor shapes do not fit the operation.
    #[error("{op}: shape mismatch: {detail}")]
    Shape { op: &'static str, detail: String },
    /// A buffer would exceed what the adapter allows.
    #[error("{what} needs {bytes} bytes, over the adapter's limit of {limit} bytes")]
    TooLarge { what: String, bytes: u64, limit: u64 },
    /// A WGSL shader failed to compile or a pipeline failed to build.
    #[error("shader {name} (entry {entry}) failed to compile: {msg}")]
    Shader {
        name: String,
        entry: String,
        msg: String,
    },
    /// The device was lost (driver reset, out of memory, crash).
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    /// Any other error reported by wgpu (validation, out of memory).
    #[error("wgpu error: {0}")]
    Wgpu(String),
    /// An argument is outside what the operation accepts.
    #[error("{0}")]
    Invalid(String),
    /// File system or stream error, with the path it concerns.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Shape mismatch naming both shapes.
    #[must_use]
    pub fn shapes(op: &'static str, a: &[usize], b: &[usize], why: impl fmt::Display) -> Self {
        Error::Shape {
            op,
            detail: format!("{a:?} vs {b:?} ({why})"),
        }
    }

    /// A shape error with a free-form explanation.
    #[must_use]
    pub fn shape(op: &'static str, detail: impl Into<String>) -> Self {
        Error::Shape {
            op,
            detail: detail.into(),
        }
    }
}

/// `ensure!(cond, Error::...)`: return the error when the condition fails.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $err:expr) => {
        if !$cond {
            return Err($err);
        }
    };
}
