//! (not yet written)
use super::Order;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Soft ranks of each row of `x` ([B, n]) by pairwise sigmoids.
pub fn soft_rank_pairwise(_x: &Tensor, _strength: f32, _order: Order) -> Result<Tensor> {
    Err(Error::Invalid(
        "soft_rank: the pairwise method is not implemented yet".into(),
    ))
}
