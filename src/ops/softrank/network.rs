//! (not yet written)
use super::{NetworkKind, Order, Relaxation};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Soft ranks of each row of `x` ([B, n]) through a relaxed sorting network.
pub fn soft_rank_network(
    _x: &Tensor,
    _kind: NetworkKind,
    _relax: Relaxation,
    _strength: f32,
    _order: Order,
) -> Result<Tensor> {
    Err(Error::Invalid(
        "soft_rank: the network method is not implemented yet".into(),
    ))
}
