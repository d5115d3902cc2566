//! Kernels: WGSL sources compiled in, pipelines cached, dispatches recorded.
//!
//! Binding convention shared by every shader in `shaders/`: binding 0 is the
//! `Params` uniform (a struct declared with [`uniform!`](crate::uniform) on the Rust
//! side and held to the shader's by [`super::uniform`]), then one storage buffer per
//! [`Arg`], in order, from binding 1. Bind-group layouts are built from that list, so
//! the Rust call site is the one place that states each binding's access.

use std::sync::Arc;

use super::uniform::{UniformArg, check_shader};
use super::{Buf, Gpu, MAX_BATCH_DISPATCHES, UNIFORM_CAPACITY};
use crate::error::{Error, Result};

/// A WGSL file from `shaders/`, compiled into the binary.
#[derive(Debug)]
pub struct Kernel {
    /// File stem, e.g. `matmul_v1`.
    pub name: &'static str,
    /// WGSL source.
    pub source: &'static str,
}

/// `kernel!("matmul_v1")` includes `shaders/matmul_v1.wgsl`.
#[macro_export]
macro_rules! kernel {
    ($name:literal) => {
        $crate::gpu::Kernel {
            name: $name,
            source: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $name, ".wgsl")),
        }
    };
}

/// One storage binding of a dispatch.
#[derive(Clone, Copy)]
pub enum Arg<'a> {
    /// `var<storage, read>`
    R(&'a Buf),
    /// `var<storage, read_write>`
    W(&'a Buf),
}

impl Arg<'_> {
    fn buf(&self) -> &Buf {
        match self {
            Arg::R(b) | Arg::W(b) => b,
        }
    }
    fn read_only(&self) -> bool {
        matches!(self, Arg::R(_))
    }
}

/// Everything one dispatch needs.
pub struct Launch<'a> {
    pub kernel: &'static Kernel,
    pub entry: &'static str,
    /// Pipeline-overridable constants (`override` in WGSL), e.g. the workgroup size.
    pub constants: &'a [(&'static str, f64)],
    /// The uniform at binding 0: [`uniform`](crate::gpu::uniform)`(&params)`.
    pub params: UniformArg<'a>,
    pub args: &'a [Arg<'a>],
    /// Workgroup counts; build with [`grid_1d`] for a flat index space.
    pub workgroups: [u32; 3],
}

/// Splits `n` workgroups over x and y so that neither exceeds 65535 (WebGPU's limit
/// per dimension). Shaders rebuild the flat index as
/// `wid = wg_id.x + wg_id.y * num_workgroups.x` and guard `wid` against their size.
pub fn grid_1d(n: u64) -> [u32; 3] {
    const MAX: u64 = 65535;
    let n = n.max(1);
    if n <= MAX {
        return [n as u32, 1, 1];
    }
    let y = n.div_ceil(MAX);
    assert!(y <= MAX, "dispatch of {n} workgroups is beyond 65535^2");
    [MAX as u32, y as u32, 1]
}

/// The kernel's WGSL: the built-in copy, or `$CPRL_SHADER_DIR/<name>.wgsl` where that
/// variable is set and the file exists, so that a kernel can be edited and measured on
/// another machine without rebuilding the program (a developer aid; tests never set it).
pub(crate) fn shader_source(k: &Kernel) -> Result<std::borrow::Cow<'static, str>> {
    if let Some(dir) = std::env::var_os("CPRL_SHADER_DIR") {
        let path = std::path::Path::new(&dir).join(format!("{}.wgsl", k.name));
        if path.exists() {
            return std::fs::read_to_string(&path)
                .map(Into::into)
                .map_err(|source| Error::Io {
                    path: path.display().to_string(),
                    source,
                });
        }
    }
    Ok(k.source.into())
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct PipelineKey {
    kernel: &'static str,
    entry: &'static str,
    constants: Vec<(&'static str, u64)>,
    /// Read-only flag per storage binding.
    access: Vec<bool>,
    /// The bound uniform's layout (its address), so that every uniform type a kernel is
    /// launched with is held to the shader once.
    uniform: usize,
}

impl Gpu {
    fn module(&self, k: &'static Kernel) -> Result<Arc<wgpu::ShaderModule>> {
        let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = modules.get(k.name) {
            return Ok(m.clone());
        }
        let source = shader_source(k)?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let m = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(k.name),
            source: wgpu::ShaderSource::Wgsl(source),
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Shader {
                name: k.name.to_string(),
                entry: "-".into(),
                msg: e.to_string(),
            });
        }
        let m = Arc::new(m);
        modules.insert(k.name, m.clone());
        Ok(m)
    }

    /// Holds the launch's uniform to the shader's struct, once per (kernel, uniform
    /// type): a kernel's pipelines for other constants share its source, so parsing it
    /// again for each would only repeat the same answer.
    fn check_uniform(&self, l: &Launch) -> Result<()> {
        let pair = (l.kernel.name, std::ptr::from_ref(l.params.layout) as usize);
        let mut checked = self.uniforms_checked.lock().unwrap_or_else(|p| p.into_inner());
        if checked.contains(&pair) {
            return Ok(());
        }
        check_shader(&shader_source(l.kernel)?, l.params.layout).map_err(|msg| Error::Shader {
            name: l.kernel.name.to_string(),
            entry: l.entry.to_string(),
            msg,
        })?;
        checked.insert(pair);
        Ok(())
    }

    fn pipeline(&self, l: &Launch) -> Result<Arc<wgpu::ComputePipeline>> {
        let key = PipelineKey {
            kernel: l.kernel.name,
            entry: l.entry,
            constants: l.constants.iter().map(|&(n, v)| (n, v.to_bits())).collect(),
            access: l.args.iter().map(Arg::read_only).collect(),
            uniform: std::ptr::from_ref(l.params.layout) as usize,
        };
        if let Some(p) = self.pipelines.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(p.clone());
        }
        let module = self.module(l.kernel)?;
        self.check_uniform(l)?;
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            // binding 0: Params
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        }];
        for (i, a) in l.args.iter().enumerate() {
            entries.push(wgpu::BindGroupLayoutEntry {
                // binding 1..: storage, read-only or read-write as the call site says
                binding: 1 + i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage {
                        read_only: a.read_only(),
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            });
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let bgl = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(l.kernel.name),
                entries: &entries,
            });
        let layout = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(l.kernel.name),
                bind_group_layouts: &[Some(&bgl)],
                immediate_size: 0,
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(l.kernel.name),
                layout: Some(&layout),
                module: &module,
                entry_point: Some(l.entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: l.constants,
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Shader {
                name: l.kernel.name.to_string(),
                entry: l.entry.to_string(),
                msg: e.to_string(),
            });
        }
        let p = Arc::new(pipeline);
        self.pipelines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, p.clone());
        Ok(p)
    }

    /// Records one dispatch into the pending batch.
    pub fn launch(&self, l: Launch) -> Result<()> {
        self.check_lost()?;
        if l.workgroups.contains(&0) {
            return Ok(());
        }
        let max = self.limits.max_compute_workgroups_per_dimension;
        if l.workgroups.iter().any(|&w| w > max) {
            return Err(Error::Invalid(format!(
                "{}: dispatch {:?} exceeds {max} workgroups per dimension",
                l.kernel.name, l.workgroups
            )));
        }
        let align = self.limits.min_uniform_buffer_offset_alignment as u64;
        let param_len = (l.params.bytes.len() as u64).max(16).next_multiple_of(16);
        // Pipelines are built under the state lock too: see `Gpu::wait_locked`.
        let mut st = self.lock();
        let pipeline = self.pipeline(&l)?;
        if st.batch_dispatches >= MAX_BATCH_DISPATCHES
            || st.uniform_data.len() as u64 + param_len + align > UNIFORM_CAPACITY
        {
            self.submit_locked(&mut st);
        }
        // Profiling: the work before this dispatch finishes first, so the time taken
        // below is this kernel's own (see `profile`).
        let profiling = super::profile::enabled();
        if profiling {
            self.submit_locked(&mut st);
            self.wait_locked(&st)?;
        }
        let start = std::time::Instant::now();
        let offset = (st.uniform_data.len() as u64).next_multiple_of(align);
        st.uniform_data.resize(offset as usize, 0);
        st.uniform_data.extend_from_slice(l.params.bytes);
        st.uniform_data.resize((offset + param_len) as usize, 0);
        if st.uniform_buf.is_none() {
            let buf = st.spare_uniform_bufs.pop().unwrap_or_else(|| {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("cprl params"),
                    size: UNIFORM_CAPACITY,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            });
            st.uniform_buf = Some(buf);
        }
        let ubuf = st.uniform_buf.as_ref().expect("set above");
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: ubuf,
                offset,
                size: std::num::NonZeroU64::new(param_len),
            }),
        }];
        for (i, a) in l.args.iter().enumerate() {
            let b = a.buf();
            entries.push(wgpu::BindGroupEntry {
                binding: 1 + i as u32,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: b.raw(),
                    offset: 0,
                    size: std::num::NonZeroU64::new(b.binding_size()),
                }),
            });
        }
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(l.kernel.name),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        if st.pass.is_none() {
            let pass = self
                .encoder(&mut st)
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("cprl kernels"),
                    timestamp_writes: None,
                })
                .forget_lifetime();
            st.pass = Some(pass);
        }
        let pass = st.pass.as_mut().expect("opened above");
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        let [x, y, z] = l.workgroups;
        pass.dispatch_workgroups(x, y, z);
        st.batch_dispatches += 1;
        self.dispatches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if profiling {
            self.submit_locked(&mut st);
            self.wait_locked(&st)?;
            super::profile::record(l.kernel.name, l.entry, start.elapsed());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::grid_1d;

    #[test]
    fn grid_1d_splits_over_65535() {
        assert_eq!(grid_1d(1), [1, 1, 1]);
        assert_eq!(grid_1d(65535), [65535, 1, 1]);
        let g = grid_1d(65536);
        assert_eq!(g, [65535, 2, 1]);
        let g = grid_1d(10_000_000);
        assert!(g[0] as u64 * g[1] as u64 >= 10_000_000);
    }
}
