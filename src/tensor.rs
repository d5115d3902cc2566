//! Device tensors: an f32 buffer, a row-major shape, and the autograd links.
//!
//! A `Tensor` is a cheap handle (an `Arc`); clones share the buffer. Tensors are
//! always contiguous. `reshape` shares the buffer; ops write new tensors, except the
//! optimisers, which update parameters in place. The ops are also methods of
//! `Tensor` (`x.mul(&y)?`), gathered in `tensor/methods.rs`.

mod methods;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::autograd::{self, Node};
use crate::error::{Error, Result};
use crate::gpu::{Buf, Gpu};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh id; ids grow in creation order, which is the tape order autograd walks.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// An f32 tensor on the device.
#[derive(Clone)]
pub struct Tensor {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    gpu: Arc<Gpu>,
    buf: Arc<Buf>,
    shape: Vec<usize>,
    requires_grad: bool,
    /// The op that produced this tensor, when it was recorded for backward.
    node: Option<Arc<Node>>,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor#{}{:?}{}",
            self.id(),
            self.shape(),
            if self.requires_grad() { " (grad)" } else { "" }
        )
    }
}

/// Number of elements of a shape (1 for a scalar `[]`).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Tensor {
    fn from_parts(gpu: Arc<Gpu>, buf: Arc<Buf>, shape: Vec<usize>) -> Tensor {
        Tensor {
            inner: Arc::new(Inner {
                id: next_id(),
                gpu,
                buf,
                shape,
                requires_grad: false,
                node: None,
            }),
        }
    }

    /// An uninitialised tensor (NaN-filled when the device poisons outputs): the
    /// output of a kernel that writes every element.
    pub fn empty(gpu: &Arc<Gpu>, shape: &[usize]) -> Result<Tensor> {
        let n = numel(shape);
        let bytes = (n as u64) * 4;
        let buf = gpu.alloc(bytes, &format!("tensor {shape:?}"))?;
        let t = Tensor::from_parts(gpu.clone(), Arc::new(buf), shape.to_vec());
        if gpu.poison() && n > 0 {
            crate::ops::fill::fill_bits(&t, f32::NAN.to_bits())?;
        }
        Ok(t)
    }

    /// A tensor holding `data` (row-major), of the given shape.
    pub fn from_slice(gpu: &Arc<Gpu>, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != data.len() {
            return Err(Error::shape(
                "from_slice",
                format!("{} values do not fill shape {shape:?}", data.len()),
            ));
        }
        let buf = gpu.alloc(data.len() as u64 * 4, &format!("tensor {shape:?}"))?;
        gpu.write_fresh(&buf, bytemuck::cast_slice(data));
        Ok(Tensor::from_parts(gpu.clone(), Arc::new(buf), shape.to_vec()))
    }

    /// f16 storage read into an f32 tensor.
    pub fn from_f16(gpu: &Arc<Gpu>, data: &[half::f16], shape: &[usize]) -> Result<Tensor> {
        let v: Vec<f32> = data.iter().map(|h| h.to_f32()).collect();
        Tensor::from_slice(gpu, &v, shape)
    }

    /// A tensor filled with `value`.
    pub fn full(gpu: &Arc<Gpu>, shape: &[usize], value: f32) -> Result<Tensor> {
        let n = numel(shape);
        let buf = gpu.alloc(n as u64 * 4, &format!("tensor {shape:?}"))?;
        let t = Tensor::from_parts(gpu.clone(), Arc::new(buf), shape.to_vec());
        if n > 0 {
            crate::ops::fill::fill_bits(&t, value.to_bits())?;
        }
        Ok(t)
    }

    pub fn zeros(gpu: &Arc<Gpu>, shape: &[usize]) -> Result<Tensor> {
        Tensor::full(gpu, shape, 0.0)
    }

    pub fn ones(gpu: &Arc<Gpu>, shape: &[usize]) -> Result<Tensor> {
        Tensor::full(gpu, shape, 1.0)
    }

    /// A scalar tensor (shape `[]`).
    pub fn scalar(gpu: &Arc<Gpu>, value: f32) -> Result<Tensor> {
        Tensor::from_slice(gpu, &[value], &[])
    }

    /// Copies the values to the host.
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        let bytes = self.gpu().read(self.buf(), self.numel() as u64 * 4)?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// The value of a one-element tensor.
    pub fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::shape(
                "item",
                format!("{:?} has {} elements, not 1", self.shape(), self.numel()),
            ));
        }
        Ok(self.to_vec()?[0])
    }

    /// Copies the values to the host as f16 (storage format for checkpoints).
    pub fn to_f16_vec(&self) -> Result<Vec<half::f16>> {
        Ok(self.to_vec()?.into_iter().map(half::f16::from_f32).collect())
    }

    /// Overwrites the values in place from the host (pending kernels are submitted first).
    pub fn write(&self, data: &[f32]) -> Result<()> {
        if data.len() != self.numel() {
            return Err(Error::shape(
                "write",
                format!("{} values for a tensor of shape {:?}", data.len(), self.shape()),
            ));
        }
        self.gpu().write(self.buf(), 0, bytemuck::cast_slice(data))
    }

    pub fn id(&self) -> u64 {
        self.inner.id
    }
    pub fn shape(&self) -> &[usize] {
        &self.inner.shape
    }
    pub fn dims(&self) -> usize {
        self.inner.shape.len()
    }
    /// Size of dimension `d`; negative counts from the end.
    pub fn dim(&self, d: isize) -> usize {
        let r = self.dims() as isize;
        self.inner.shape[if d < 0 { (r + d) as usize } else { d as usize }]
    }
    pub fn numel(&self) -> usize {
        numel(&self.inner.shape)
    }
    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.inner.gpu
    }
    pub fn buf(&self) -> &Buf {
        &self.inner.buf
    }
    pub fn requires_grad(&self) -> bool {
        self.inner.requires_grad
    }
    pub(crate) fn node(&self) -> Option<&Arc<Node>> {
        self.inner.node.as_ref()
    }
    /// True for a tensor that gradients are collected for (no producing op recorded).
    pub fn is_leaf(&self) -> bool {
        self.inner.node.is_none()
    }

    /// The same values as a new leaf that gradients are collected for
    /// (a parameter, or an image an attack differentiates with respect to).
    /// Unlike torch's, it returns the new leaf and leaves `self` as it was.
    #[must_use = "requires_grad_ returns a new leaf and leaves self unchanged"]
    pub fn requires_grad_(&self) -> Tensor {
        Tensor {
            inner: Arc::new(Inner {
                id: next_id(),
                gpu: self.inner.gpu.clone(),
                buf: self.inner.buf.clone(),
                shape: self.inner.shape.clone(),
                requires_grad: true,
                node: None,
            }),
        }
    }

    /// The same values, cut from the graph.
    #[must_use = "detach returns a new tensor and leaves self on the graph"]
    pub fn detach(&self) -> Tensor {
        Tensor::from_parts(
            self.inner.gpu.clone(),
            self.inner.buf.clone(),
            self.inner.shape.clone(),
        )
    }

    /// A tensor sharing this buffer with another shape (same element count).
    /// One dimension may be given as `usize::MAX` to be inferred.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let shape = infer_shape(self.shape(), shape)?;
        let out = Tensor::from_parts(self.inner.gpu.clone(), self.inner.buf.clone(), shape);
        let from = self.shape().to_vec();
        Ok(autograd::record(out, &[self], move || ReshapeBackward { from }))
    }

    /// Flattens all dimensions after the first: [B, ...] -> [B, rest].
    pub fn flatten(&self) -> Result<Tensor> {
        let b = if self.dims() == 0 { 1 } else { self.shape()[0] };
        self.reshape(&[b, usize::MAX])
    }

    /// The same tensor (same id and buffer) as the recorded output of `node`.
    #[must_use]
    pub(crate) fn with_node(self, node: Arc<Node>) -> Tensor {
        let a = &self.inner;
        Tensor {
            inner: Arc::new(Inner {
                id: a.id,
                gpu: a.gpu.clone(),
                buf: a.buf.clone(),
                shape: a.shape.clone(),
                requires_grad: true,
                node: Some(node),
            }),
        }
    }

    /// Checks that this tensor has `shape`, naming both in the error.
    pub fn expect_shape(&self, op: &'static str, shape: &[usize]) -> Result<()> {
        if self.shape() != shape {
            return Err(Error::shapes(op, self.shape(), shape, "expected the second"));
        }
        Ok(())
    }
}

fn infer_shape(from: &[usize], to: &[usize]) -> Result<Vec<usize>> {
    let n = numel(from);
    let unknown = to.iter().filter(|&&d| d == usize::MAX).count();
    if unknown > 1 {
        return Err(Error::shapes(
            "reshape",
            from,
            to,
            "at most one inferred dimension",
        ));
    }
    let known: usize = to.iter().filter(|&&d| d != usize::MAX).product();
    let mut out = to.to_vec();
    if unknown == 1 {
        if known == 0 || !n.is_multiple_of(known) {
            return Err(Error::shapes(
                "reshape",
                from,
                to,
                "cannot infer the free dimension",
            ));
        }
        for d in out.iter_mut() {
            if *d == usize::MAX {
                *d = n / known;
            }
        }
    }
    if numel(&out) != n {
        return Err(Error::shapes("reshape", from, &out, "element counts differ"));
    }
    Ok(out)
}

struct ReshapeBackward {
    from: Vec<usize>,
}

impl autograd::Backward for ReshapeBackward {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.reshape(&self.from)?)])
    }
}
