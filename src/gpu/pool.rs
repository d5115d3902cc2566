//! Buffer pool: a steady-state training step allocates no new buffers.
//!
//! Sizes are rounded up to one of four classes per octave (at most 25% waste), and
//! freed buffers are kept per class. A buffer freed while a batch is pending is parked
//! until that batch is submitted: the queue then orders any later host write or kernel
//! after the kernels that still read it.

use std::collections::HashMap;
use std::sync::Weak;

use super::Gpu;

/// Usage of every tensor buffer: bound as storage, copied both ways.
const TENSOR_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Counters of allocation and traffic, for tests and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Tensor buffers created on the device since it opened.
    pub buffers_created: u64,
    /// Bytes of those buffers.
    pub bytes_created: u64,
    /// Buffers served from the pool.
    pub reused: u64,
    /// Idle buffers in the pool now.
    pub idle: u64,
    /// Kernel dispatches recorded since the device opened.
    pub dispatches: u64,
    /// Queue submissions since the device opened.
    pub submits: u64,
    /// Compute pipelines built (one per kernel, entry point, constants and layout).
    pub pipelines: u64,
}

#[derive(Default)]
pub(super) struct Pool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    parked: Vec<wgpu::Buffer>,
    staging: Vec<wgpu::Buffer>,
    stats: PoolStats,
}

/// Rounds a byte count up to its size class: 4 classes per power of two, minimum 256.
pub(super) fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(256);
    let top = 63 - b.leading_zeros() as u64; // 2^top <= b
    let step = (1u64 << top) / 4;
    b.div_ceil(step) * step
}

impl Pool {
    pub fn acquire(&mut self, device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
        let class = size_class(bytes);
        if let Some(buf) = self.free.get_mut(&class).and_then(Vec::pop) {
            self.stats.reused += 1;
            return buf;
        }
        self.stats.buffers_created += 1;
        self.stats.bytes_created += class;
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("cprl tensor"),
            size: class,
            usage: TENSOR_USAGE,
            mapped_at_creation: false,
        })
    }

    /// Takes a buffer back; `pending` says a batch that may use it is not yet submitted.
    pub fn release(&mut self, buf: wgpu::Buffer, pending: bool) {
        if pending {
            self.parked.push(buf);
        } else {
            self.free.entry(buf.size()).or_default().push(buf);
        }
    }

    /// The pending batch was submitted: parked buffers are safe to hand out again.
    pub fn batch_submitted(&mut self) {
        for buf in self.parked.drain(..) {
            self.free.entry(buf.size()).or_default().push(buf);
        }
    }

    pub fn acquire_staging(&mut self, device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
        let class = size_class(bytes);
        if let Some(i) = self.staging.iter().position(|b| b.size() == class) {
            return self.staging.swap_remove(i);
        }
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("cprl readback"),
            size: class,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    pub fn release_staging(&mut self, buf: wgpu::Buffer) {
        // Keep a few; readback sizes in a training loop repeat.
        if self.staging.len() < 16 {
            self.staging.push(buf);
        }
    }

    pub fn trim(&mut self) {
        self.free.clear();
        self.staging.clear();
    }

    pub fn stats(&self) -> PoolStats {
        let mut s = self.stats;
        s.idle = self.free.values().map(|v| v.len() as u64).sum();
        s
    }
}

/// A device buffer holding `len` meaningful bytes; it returns to the pool when dropped.
pub struct Buf {
    raw: Option<wgpu::Buffer>,
    len: u64,
    gpu: Weak<Gpu>,
}

impl Buf {
    pub(super) fn new(raw: wgpu::Buffer, len: u64, gpu: Weak<Gpu>) -> Buf {
        Buf {
            raw: Some(raw),
            len,
            gpu,
        }
    }
    /// The wgpu buffer (possibly larger than `len`).
    pub fn raw(&self) -> &wgpu::Buffer {
        self.raw.as_ref().expect("buffer is only taken in drop")
    }
    /// Meaningful bytes.
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Bytes bound to a kernel: `len` rounded up to 4, and never 0 (wgpu forbids it).
    pub fn binding_size(&self) -> u64 {
        self.len.div_ceil(4).max(1) * 4
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if let (Some(raw), Some(gpu)) = (self.raw.take(), self.gpu.upgrade()) {
            gpu.release(raw);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_cover_and_waste_at_most_a_quarter() {
        for b in [
            1u64,
            255,
            256,
            257,
            1000,
            4096,
            5000,
            1 << 20,
            (1 << 20) + 1,
            123_456_789,
        ] {
            let c = size_class(b);
            assert!(c >= b, "{b} -> {c}");
            assert!(c >= 256);
            assert!(c as f64 <= (b.max(256) as f64) * 1.25 + 1.0, "{b} -> {c}");
            assert_eq!(c % 4, 0);
        }
    }
}
