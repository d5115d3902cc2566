//! Tape-based reverse-mode autograd.
//!
//! Every op that runs while recording is on, and has an input that requires a
//! gradient, attaches a [`Node`] to its output: the inputs and a [`Backward`] that maps
//! the output's gradient to one gradient per input. Tensor ids grow in creation order,
//! so the tape is the set of nodes reachable from the loss, walked in decreasing id:
//! every consumer of a tensor runs before the tensor itself. That order is fixed, so
//! gradients are deterministic.

pub mod gradcheck;

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The backward of one op. The struct holds what the forward saved.
pub trait Backward: Send + Sync {
    /// Op name, for error messages.
    fn name(&self) -> &'static str;
    /// Gradients of the inputs, given the gradient `g` of the output. `needs[i]` says
    /// whether input `i` wants one; return `None` where it does not. The result has
    /// exactly one slot per input.
    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>>;
}

/// A recorded op: its inputs and its backward.
pub struct Node {
    inputs: Vec<Tensor>,
    backward: Box<dyn Backward>,
}

thread_local! {
    static NO_GRAD_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// While the guard lives, ops on this thread record nothing.
pub struct NoGradGuard(());

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        NO_GRAD_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Starts a no-grad scope: `let _g = no_grad();`.
#[must_use = "the scope ends when the guard is dropped: bind it, `let _g = no_grad();`"]
pub fn no_grad() -> NoGradGuard {
    NO_GRAD_DEPTH.with(|d| d.set(d.get() + 1));
    NoGradGuard(())
}

/// Ops record for backward on this thread now.
pub fn is_recording() -> bool {
    NO_GRAD_DEPTH.with(|d| d.get() == 0)
}

/// Attaches a node to `out` when recording is on and some input requires a gradient.
/// `make` builds the backward only in that case, so saving tensors costs nothing in
/// inference.
pub fn record<B: Backward + 'static>(out: Tensor, inputs: &[&Tensor], make: impl FnOnce() -> B) -> Tensor {
    if !is_recording() || !inputs.iter().any(|t| t.requires_grad()) {
        return out;
    }
    let node = Node {
        inputs: inputs.iter().map(|&t| t.clone()).collect(),
        backward: Box::new(make()),
    };
    out.with_node(Arc::new(node))
}

/// Gradients of leaf tensors, keyed by tensor id.
#[derive(Default, Clone, Debug)]
pub struct Grads {
    map: HashMap<u64, Tensor>,
}

impl Grads {
    /// The gradient of `t`, if it took part in the loss.
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.map.get(&t.id())
    }
    /// The gradient of `t`, or an error naming the tensor.
    pub fn of(&self, t: &Tensor) -> Result<&Tensor> {
        self.get(t)
            .ok_or_else(|| Error::Invalid(format!("no gradient for {t:?}: it did not take part in the loss")))
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &Tensor)> {
        self.map.iter()
    }
    /// Replaces the gradient of the tensor with id `id`.
    pub fn insert(&mut self, id: u64, g: Tensor) {
        self.map.insert(id, g);
    }
    /// Gradient accumulation: adds `other` into `self` (e.g. over micro-batches).
    pub fn accumulate(&mut self, other: Grads) -> Result<()> {
        for (id, g) in other.map {
            add_into(&mut self.map, id, g)?;
        }
        Ok(())
    }
}

fn add_into(map: &mut HashMap<u64, Tensor>, id: u64, g: Tensor) -> Result<()> {
    let sum = match map.remove(&id) {
        Some(prev) => crate::ops::elementwise::add(&prev, &g)?,
        None => g,
    };
    map.insert(id, sum);
    Ok(())
}

/// Gradients of a scalar `loss` with respect to every leaf that requires one.
pub fn backward(loss: &Tensor) -> Result<Grads> {
    if loss.numel() != 1 {
        return Err(Error::shape(
            "backward",
            format!(
                "loss of shape {:?} is not a scalar; use backward_with",
                loss.shape()
            ),
        ));
    }
    let seed = Tensor::ones(loss.gpu(), loss.shape())?;
    backward_with(loss, &seed)
}

/// Gradients of a scalar `loss` with respect to `targets` alone: backward nodes whose
/// inputs lead to no target are skipped. An input gradient (an attack's, or a
/// training-time intervention's) then costs no weight gradients: through a
/// convolution the backward-weight kernel is left out.
pub fn backward_to(loss: &Tensor, targets: &[&Tensor]) -> Result<Grads> {
    if loss.numel() != 1 {
        return Err(Error::shape(
            "backward_to",
            format!("loss of shape {:?} is not a scalar", loss.shape()),
        ));
    }
    let seed = Tensor::ones(loss.gpu(), loss.shape())?;
    let wanted: HashSet<u64> = targets.iter().map(|t| t.id()).collect();
    run_backward(loss, &seed, Some(&wanted))
}

/// Vector-Jacobian product: gradients of `sum(out * grad_out)` w.r.t. the leaves.
pub fn backward_with(out: &Tensor, grad_out: &Tensor) -> Result<Grads> {
    run_backward(out, grad_out, None)
}

/// The ids of the tensors of `order` (decreasing id) from which some tensor of
/// `wanted` can be reached backwards, i.e. those whose gradient a target needs.
fn leading_to(order: &[Tensor], wanted: &HashSet<u64>) -> HashSet<u64> {
    let mut reach = HashSet::new();
    // Inputs have smaller ids than their outputs: increasing id is a topological order.
    for t in order.iter().rev() {
        let hit = wanted.contains(&t.id())
            || t.node()
                .is_some_and(|n| n.inputs.iter().any(|i| reach.contains(&i.id())));
        if hit {
            reach.insert(t.id());
        }
    }
    reach
}

fn run_backward(out: &Tensor, grad_out: &Tensor, wanted: Option<&HashSet<u64>>) -> Result<Grads> {
    if out.shape() != grad_out.shape() {
        return Err(Error::shapes(
            "backward",
            out.shape(),
            grad_out.shape(),
            "output vs its gradient",
        ));
    }
    let _g = no_grad();
    let order = tape(out);
    let reach = wanted.map(|w| leading_to(&order, w));
    let needed = |t: &Tensor| t.requires_grad() && reach.as_ref().is_none_or(|r| r.contains(&t.id()));
    let mut grads: HashMap<u64, Tensor> = HashMap::new();
    grads.insert(out.id(), grad_out.clone());
    for t in order {
        let Some(node) = t.node() else { continue };
        let Some(g) = grads.remove(&t.id()) else { continue };
        let needs: Vec<bool> = node.inputs.iter().map(needed).collect();
        let gs = node.backward.backward(&g, &needs)?;
        if gs.len() != node.inputs.len() {
            return Err(Error::Invalid(format!(
                "backward of {} returned {} gradients for {} inputs",
                node.backward.name(),
                gs.len(),
                node.inputs.len()
            )));
        }
        for (input, gi) in node.inputs.iter().zip(gs) {
            let Some(gi) = gi else { continue };
            if !needed(input) {
                continue;
            }
            if gi.shape() != input.shape() {
                return Err(Error::shapes(
                    node.backward.name(),
                    gi.shape(),
                    input.shape(),
                    "backward gave a gradient of the wrong shape",
                ));
            }
            add_into(&mut grads, input.id(), gi)?;
        }
    }
    // What is left are the gradients of leaves (and of the output itself, when it is one).
    Ok(Grads { map: grads })
}

/// Tensors with a recorded node, reachable from `out`, in decreasing id (tape order
/// reversed). Leaves are included so that their gradients stay in the map.
fn tape(out: &Tensor) -> Vec<Tensor> {
    let mut seen = HashSet::new();
    let mut stack = vec![out.clone()];
    let mut all = Vec::new();
    while let Some(t) = stack.pop() {
        if !seen.insert(t.id()) {
            continue;
        }
        if let Some(node) = t.node() {
            stack.extend(node.inputs.iter().filter(|i| i.requires_grad()).cloned());
        }
        all.push(t);
    }
    all.sort_by_key(|t| std::cmp::Reverse(t.id()));
    all
}
