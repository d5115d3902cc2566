//! The device layer: adapter choice, the pipeline cache, the buffer pool and
//! batched dispatch.
//!
//! One [`Gpu`] owns the wgpu device and queue. Kernels are recorded into one open
//! compute pass of a pending command encoder and submitted in batches (on readback,
//! when the batch is full, or on [`Gpu::flush`]), because a submit costs far more than
//! a dispatch on CPU drivers. Buffers freed while a batch is pending become reusable
//! only once that batch is submitted, so a host write into a recycled buffer can never
//! overtake a kernel that still reads it.

mod adapter;
mod kernel;
pub(crate) mod launch_override;
mod pool;
pub mod profile;
mod timing;
mod uniform;

pub use adapter::{AdapterChoice, DeviceSummary};
pub use kernel::{Arg, Kernel, Launch, grid_1d};
pub use launch_override::{LaunchOverride, with_launch_override};
pub use pool::{Buf, PoolStats};
pub use uniform::{
    Field as UniformField, Layout as UniformLayout, Scalar as UniformScalar, Uniform, UniformArg,
    Words as UniformWords, check_shader, uniform,
};

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Dispatches recorded before a batch is submitted on its own.
const MAX_BATCH_DISPATCHES: usize = 512;
/// Bytes of uniform data one batch can carry (each dispatch takes an aligned slot).
const UNIFORM_CAPACITY: u64 = 256 * 1024;

/// The device, its queue and everything cached on them.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: wgpu::Adapter,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    features: wgpu::Features,
    state: Mutex<State>,
    pipelines: Mutex<HashMap<kernel::PipelineKey, Arc<wgpu::ComputePipeline>>>,
    modules: Mutex<HashMap<&'static str, Arc<wgpu::ShaderModule>>>,
    /// (kernel, uniform layout address) pairs already held to the shader's struct.
    uniforms_checked: Mutex<std::collections::HashSet<(&'static str, usize)>>,
    /// Fill every new output buffer with NaN, so that unwritten elements show in tests.
    poison: AtomicBool,
    /// First error wgpu reported outside an error scope; returned at the next flush.
    uncaptured: Arc<Mutex<Option<String>>>,
    lost: Arc<Mutex<Option<String>>>,
    dispatches: AtomicU64,
    submits: AtomicU64,
}

/// Mutable state behind one lock: the pending batch and the buffer pool.
/// No pooled buffer is dropped while this lock is held (see `pool.rs`).
struct State {
    encoder: Option<wgpu::CommandEncoder>,
    pass: Option<wgpu::ComputePass<'static>>,
    uniform_data: Vec<u8>,
    uniform_buf: Option<wgpu::Buffer>,
    spare_uniform_bufs: Vec<wgpu::Buffer>,
    batch_dispatches: usize,
    pool: pool::Pool,
}

impl Gpu {
    /// Opens the adapter chosen from the environment (`WGPU_BACKEND`, `CPRL_ADAPTER`).
    pub fn new() -> Result<Arc<Gpu>> {
        Self::with_choice(&AdapterChoice::from_env())
    }

    /// A process-wide device, opened on first use. Tests and the CLI share it.
    pub fn shared() -> Result<Arc<Gpu>> {
        static SHARED: OnceLock<std::result::Result<Arc<Gpu>, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Gpu::new().map_err(|e| e.to_string()))
            .clone()
            .map_err(Error::NoAdapter)
    }

    /// Opens the adapter that `choice` names.
    pub fn with_choice(choice: &AdapterChoice) -> Result<Arc<Gpu>> {
        let (adapter, device, queue) = adapter::open(choice)?;
        let info = adapter.get_info();
        let limits = device.limits();
        let features = device.features();
        let uncaptured = Arc::new(Mutex::new(None));
        let lost = Arc::new(Mutex::new(None));
        {
            let slot = uncaptured.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
                if s.is_none() {
                    *s = Some(e.to_string());
                }
            }));
            let slot = lost.clone();
            device.set_device_lost_callback(move |reason, msg| {
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{reason:?}: {msg}"));
            });
        }
        let poison = std::env::var("CPRL_POISON").is_ok_and(|v| v == "1");
        Ok(Arc::new(Gpu {
            device,
            queue,
            adapter,
            info,
            limits,
            features,
            state: Mutex::new(State {
                encoder: None,
                pass: None,
                uniform_data: Vec::new(),
                uniform_buf: None,
                spare_uniform_bufs: Vec::new(),
                batch_dispatches: 0,
                pool: pool::Pool::default(),
            }),
            pipelines: Mutex::new(HashMap::new()),
            modules: Mutex::new(HashMap::new()),
            uniforms_checked: Mutex::new(std::collections::HashSet::new()),
            poison: AtomicBool::new(poison),
            uncaptured,
            lost,
            dispatches: AtomicU64::new(0),
            submits: AtomicU64::new(0),
        }))
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }
    pub fn adapter(&self) -> &wgpu::Adapter {
        &self.adapter
    }
    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }
    pub fn features(&self) -> wgpu::Features {
        self.features
    }
    /// Subgroup operations are enabled on this device (never on GL).
    pub fn has_subgroups(&self) -> bool {
        self.features.contains(wgpu::Features::SUBGROUP)
    }
    /// The subgroup size kernels may rely on: min == max on the adapter, else None.
    pub fn fixed_subgroup_size(&self) -> Option<u32> {
        (self.has_subgroups() && self.info.subgroup_min_size == self.info.subgroup_max_size)
            .then_some(self.info.subgroup_min_size)
    }
    /// Adapter runs on the CPU (lavapipe, llvmpipe, WARP).
    pub fn is_cpu(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }
    /// The subgroup size launch choices build workgroups on: the adapter's largest, or
    /// the one a test forces ([`with_launch_override`]).
    pub fn launch_lanes(&self) -> u32 {
        launch_override::current()
            .lanes
            .unwrap_or(self.info.subgroup_max_size)
    }
    /// Whether launch-shape choices take their CPU-driver branch: [`Gpu::is_cpu`], or
    /// what a test forces. Candidate lists and defaults follow `is_cpu` alone.
    pub fn launch_as_cpu(&self) -> bool {
        launch_override::current().cpu.unwrap_or(self.is_cpu())
    }
    /// A short stable string naming the adapter, for tuning caches and reports.
    pub fn adapter_key(&self) -> String {
        format!("{:?}/{}", self.info.backend, self.info.name)
    }

    /// Turns NaN poisoning of new output buffers on or off.
    pub fn set_poison(&self, on: bool) {
        self.poison.store(on, Ordering::Relaxed);
    }
    pub fn poison(&self) -> bool {
        self.poison.load(Ordering::Relaxed)
    }

    /// Counters of the pool and the queue.
    pub fn stats(&self) -> PoolStats {
        let st = self.lock();
        let mut s = st.pool.stats();
        s.dispatches = self.dispatches.load(Ordering::Relaxed);
        s.submits = self.submits.load(Ordering::Relaxed);
        s.pipelines = self.pipelines.lock().unwrap_or_else(|p| p.into_inner()).len() as u64;
        s
    }

    /// Largest buffer a kernel may bind.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fails once the device is lost, so no work is recorded on a dead device.
    pub fn check_lost(&self) -> Result<()> {
        match self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            Some(msg) => Err(Error::DeviceLost(msg)),
            None => Ok(()),
        }
    }

    /// Checks for a lost device or an error wgpu reported asynchronously.
    pub fn check_errors(&self) -> Result<()> {
        self.check_lost()?;
        if let Some(msg) = self.uncaptured.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(Error::Wgpu(msg));
        }
        Ok(())
    }

    /// Submits everything recorded so far. Does not wait for it.
    pub fn flush(&self) -> Result<()> {
        let mut st = self.lock();
        self.submit_locked(&mut st);
        drop(st);
        self.check_errors()
    }

    /// Submits pending work and waits until the device has finished it.
    pub fn sync(&self) -> Result<()> {
        let mut st = self.lock();
        self.submit_locked(&mut st);
        self.wait_locked(&st)?;
        drop(st);
        self.check_errors()
    }

    /// Waits for the device while holding the state lock (the `_st` argument proves it):
    /// wgpu's GL backend holds its context through the wait and panics when another
    /// thread waits more than a few seconds for that context, so every device call of
    /// this crate goes through the one state lock instead, where waiting is harmless.
    fn wait_locked(&self, _st: &MutexGuard<'_, State>) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(drop)
            .map_err(|e| Error::Wgpu(e.to_string()))
    }

    fn submit_locked(&self, st: &mut State) {
        st.pass = None;
        let Some(encoder) = st.encoder.take() else {
            st.pool.batch_submitted();
            return;
        };
        if let Some(ubuf) = st.uniform_buf.take() {
            if !st.uniform_data.is_empty() {
                self.queue.write_buffer(&ubuf, 0, &st.uniform_data);
            }
            st.spare_uniform_bufs.push(ubuf);
        }
        st.uniform_data.clear();
        st.batch_dispatches = 0;
        self.queue.submit([encoder.finish()]);
        self.submits.fetch_add(1, Ordering::Relaxed);
        st.pool.batch_submitted();
    }

    /// The open encoder of the batch, created on demand.
    fn encoder<'s>(&self, st: &'s mut State) -> &'s mut wgpu::CommandEncoder {
        st.encoder.get_or_insert_with(|| {
            self.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("cprl batch"),
                })
        })
    }

    /// Copies `bytes` from `src` to `dst` inside the pending batch.
    pub fn copy(&self, src: &Buf, src_off: u64, dst: &Buf, dst_off: u64, bytes: u64) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        let mut st = self.lock();
        st.pass = None;
        self.encoder(&mut st)
            .copy_buffer_to_buffer(src.raw(), src_off, dst.raw(), dst_off, bytes);
        Ok(())
    }

    /// Writes host bytes into `dst`. Pending kernels are submitted first, so that a
    /// write into a live buffer cannot overtake work recorded before it.
    pub fn write(&self, dst: &Buf, offset: u64, data: &[u8]) -> Result<()> {
        let mut st = self.lock();
        if st.encoder.is_some() {
            self.submit_locked(&mut st);
        }
        self.queue.write_buffer(dst.raw(), offset, data);
        Ok(())
    }

    /// Writes host bytes into a buffer nobody has seen yet: no flush is needed.
    pub(crate) fn write_fresh(&self, dst: &Buf, data: &[u8]) {
        let _st = self.lock();
        self.queue.write_buffer(dst.raw(), 0, data);
    }

    /// Reads `bytes` bytes of `src` back to the host, submitting pending work first.
    pub fn read(&self, src: &Buf, bytes: u64) -> Result<Vec<u8>> {
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let mut st = self.lock();
        let staging = st.pool.acquire_staging(&self.device, bytes);
        st.pass = None;
        self.encoder(&mut st)
            .copy_buffer_to_buffer(src.raw(), 0, &staging, 0, bytes);
        self.submit_locked(&mut st);
        let slice = staging.slice(0..bytes);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait_locked(&st)?;
        drop(st);
        self.check_errors()?;
        rx.recv()
            .map_err(|_| Error::Wgpu("readback callback never ran".into()))?
            .map_err(|e| Error::Wgpu(format!("mapping the readback buffer failed: {e}")))?;
        let mut st = self.lock();
        let out = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| Error::Wgpu(format!("readback view: {e}")))?;
            view.to_vec()
        };
        staging.unmap();
        st.pool.release_staging(staging);
        Ok(out)
    }

    /// A buffer of at least `bytes` bytes for a tensor, from the pool when one fits.
    pub fn alloc(self: &Arc<Self>, bytes: u64, what: &str) -> Result<Buf> {
        self.check_lost()?;
        let limit = self.max_binding_bytes();
        if bytes > limit {
            return Err(Error::TooLarge {
                what: what.to_string(),
                bytes,
                limit,
            });
        }
        let raw = self.lock().pool.acquire(&self.device, bytes);
        Ok(Buf::new(raw, bytes, Arc::downgrade(self)))
    }

    pub(crate) fn release(&self, raw: wgpu::Buffer) {
        let mut st = self.lock();
        let pending = st.encoder.is_some();
        st.pool.release(raw, pending);
    }

    /// Drops every idle pooled buffer (memory goes back to the driver).
    pub fn trim_pool(&self) {
        self.lock().pool.trim();
    }
}

/// Writes a one-line description of the device, for logs and benchmark headers.
impl std::fmt::Display for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({:?}, {:?}, driver {} {})",
            self.info.name, self.info.backend, self.info.device_type, self.info.driver, self.info.driver_info
        )
    }
}
