//! Differentiable ranking along the last axis of a tensor: the one public entry
//! [`soft_rank`] and its methods.
//!
//! Methods (each in its own module, with its kernels, reference and tests):
//! - [`Method::Pav`]: projection onto the permutahedron (Blondel et al. 2020), solved
//!   by sorting plus isotonic regression; the operator of torchsort and
//!   fast-soft-sort. `strength` is torchsort's regularization strength.
//! - [`Method::Pairwise`]: `r_i = 1 + sum_{j != i} sigmoid((x_i - x_j) / strength)`.
//! - [`Method::Network`]: relaxed sorting networks (Petersen et al.), steepness
//!   `1 / strength`.
//!
//! In every method a smaller `strength` gives ranks closer to the hard ranks
//! (1 for the smallest value, n for the largest, ascending).

pub mod network;
pub mod pairwise;
pub mod pav;
pub mod sort;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Regularisation of the permutahedron projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regularization {
    /// Euclidean projection (torchsort `regularization="l2"`).
    L2,
    /// KL projection (torchsort `regularization="kl"`).
    Kl,
}

/// Which sorting network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkKind {
    OddEven,
    Bitonic,
}

/// The relaxation of a conditional swap in a sorting network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relaxation {
    Logistic,
    Cauchy,
}

/// How ranks are made differentiable. In JSON (serde): `{"pav": "l2"}`, `"pairwise"`,
/// `{"network": {"kind": "bitonic", "relaxation": "logistic"}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Pav(Regularization),
    Pairwise,
    Network {
        kind: NetworkKind,
        relaxation: Relaxation,
    },
}

/// Rank order: ascending gives the largest value rank n.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    #[default]
    Ascending,
    Descending,
}

/// Soft ranks of `x` along its last axis, ascending (the smallest value gets the
/// rank nearest 1). Any shape; every row of the last axis is ranked on its own.
pub fn soft_rank(x: &Tensor, method: Method, strength: f32) -> Result<Tensor> {
    soft_rank_ordered(x, method, strength, Order::Ascending)
}

/// Soft ranks in the given order.
pub fn soft_rank_ordered(x: &Tensor, method: Method, strength: f32, order: Order) -> Result<Tensor> {
    if !(strength > 0.0 && strength.is_finite()) {
        return Err(Error::Invalid(format!(
            "soft_rank: strength must be positive and finite, got {strength}"
        )));
    }
    if x.dims() == 0 {
        return Err(Error::shape("soft_rank", "a scalar has no axis to rank along"));
    }
    let n = x.dim(-1);
    let rows = x.reshape(&[x.numel() / n.max(1), n])?;
    let ranked = match method {
        Method::Pav(reg) => pav::soft_rank_pav(&rows, reg, strength, order)?,
        Method::Pairwise => pairwise::soft_rank_pairwise(&rows, strength, order)?,
        Method::Network { kind, relaxation } => {
            network::soft_rank_network(&rows, kind, relaxation, strength, order)?
        }
    };
    ranked.reshape(x.shape())
}
