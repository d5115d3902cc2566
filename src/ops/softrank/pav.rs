//! (not yet written)
use super::{Order, Regularization};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Soft ranks of each row of `x` ([B, n]) by permutahedron projection.
pub fn soft_rank_pav(_x: &Tensor, _reg: Regularization, _strength: f32, _order: Order) -> Result<Tensor> {
    Err(Error::Invalid(
        "soft_rank: the pav method is not implemented yet".into(),
    ))
}
