//! GPU-side timing with timestamp queries, for the benchmark.
//!
//! Two empty compute passes bracket the work: the first writes a timestamp at its
//! end, the second at its beginning, so the difference covers every pass and copy
//! recorded in between, and none of the host's submit or wait time.

use super::Gpu;
use crate::error::{Error, Result};

impl Gpu {
    /// Whether `time_gpu` can measure on this device.
    pub fn has_timestamps(&self) -> bool {
        self.features().contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// Device time in seconds of the work `f` records, or None without timestamp
    /// queries. Waits for the device.
    pub fn time_gpu(&self, f: impl FnOnce() -> Result<()>) -> Result<Option<f64>> {
        if !self.has_timestamps() {
            f()?;
            self.sync()?;
            return Ok(None);
        }
        let set = {
            let _st = self.lock();
            self.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("cprl timing"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            })
        };
        self.bracket_pass(&set, Some(0), None);
        f()?;
        self.bracket_pass(&set, None, Some(1));
        // Every device call under the state lock: see `Gpu::wait_locked`.
        let mut st = self.lock();
        let buffer = |label, usage| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 16,
                usage,
                mapped_at_creation: false,
            })
        };
        let resolve = buffer(
            "cprl timing resolve",
            wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        );
        let readback = buffer(
            "cprl timing readback",
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let enc = self.encoder(&mut st);
        enc.resolve_query_set(&set, 0..2, &resolve, 0);
        enc.copy_buffer_to_buffer(&resolve, 0, &readback, 0, 16);
        self.submit_locked(&mut st);
        let slice = readback.slice(..);
        slice.map_async(wgpu::MapMode::Read, |_| {});
        self.wait_locked(&st)?;
        let ticks: Vec<u64> = {
            let view = slice.get_mapped_range().map_err(|e| Error::Wgpu(e.to_string()))?;
            bytemuck::pod_collect_to_vec(&view)
        };
        readback.unmap();
        drop((readback, resolve, set));
        drop(st);
        self.check_errors()?;
        let period_ns = self.queue.get_timestamp_period() as f64;
        Ok(Some(ticks[1].saturating_sub(ticks[0]) as f64 * period_ns * 1e-9))
    }

    /// Records an empty compute pass that writes the given timestamps.
    fn bracket_pass(&self, set: &wgpu::QuerySet, end: Option<u32>, begin: Option<u32>) {
        let mut st = self.lock();
        st.pass = None;
        let enc = self.encoder(&mut st);
        let pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("cprl timestamp"),
            timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                query_set: set,
                beginning_of_pass_write_index: begin,
                end_of_pass_write_index: end,
            }),
        });
        drop(pass);
    }
}
