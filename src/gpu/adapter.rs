//! Choosing and opening an adapter.
//!
//! `WGPU_BACKEND` (vulkan, gl, metal, dx12; comma-separated) restricts the backends;
//! `CPRL_ADAPTER` picks the first adapter whose name contains the given text
//! (case-insensitive). Without either, wgpu's default choice stands (a real GPU
//! before a CPU driver, Vulkan before GL).

use crate::error::{Error, Result};

/// Which adapter to open.
#[derive(Debug, Clone, Default)]
pub struct AdapterChoice {
    /// Substring of the adapter name; None takes wgpu's default.
    pub name: Option<String>,
}

impl AdapterChoice {
    /// Reads `CPRL_ADAPTER`.
    #[must_use]
    pub fn from_env() -> Self {
        AdapterChoice {
            name: std::env::var("CPRL_ADAPTER").ok().filter(|s| !s.is_empty()),
        }
    }
}

/// Facts about the opened device, as `cprl doctor` prints them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub subgroup_size: Option<(u32, u32)>,
    pub features: Vec<String>,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_storage_buffers_per_shader_stage: u32,
}

/// How to get a working driver, appended to every "no adapter" message.
pub const DRIVER_HELP: &str = "cprl needs a wgpu adapter: a GPU driver (Vulkan, Metal, DX12) or, \
without a GPU, Mesa's CPU drivers. On Debian/Ubuntu: \
`sudo apt-get install mesa-vulkan-drivers libvulkan1` (lavapipe, Vulkan on the CPU) or \
`sudo apt-get install libegl1 libgl1-mesa-dri` (llvmpipe, GL on the CPU). \
WGPU_BACKEND=vulkan|gl forces a backend; CPRL_ADAPTER=<name> picks an adapter by name; \
an empty WGPU_BACKEND disables every backend.";

/// Features the engine uses when the adapter has them.
fn wanted_features() -> wgpu::Features {
    wgpu::Features::SUBGROUP | wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SHADER_F16
}

pub(super) fn open(choice: &AdapterChoice) -> Result<(wgpu::Adapter, wgpu::Device, wgpu::Queue)> {
    let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    let backends = desc.backends;
    let instance = wgpu::Instance::new(desc);
    let adapter = match &choice.name {
        Some(name) => {
            let all = pollster::block_on(instance.enumerate_adapters(backends));
            let names: Vec<String> = all
                .iter()
                .map(|a| {
                    let i = a.get_info();
                    format!("{} ({:?})", i.name, i.backend)
                })
                .collect();
            let want = name.to_lowercase();
            all.into_iter()
                .find(|a| a.get_info().name.to_lowercase().contains(&want))
                .ok_or_else(|| {
                    Error::NoAdapter(format!(
                        "no adapter named like {name:?} (CPRL_ADAPTER); found: [{}]. {DRIVER_HELP}",
                        names.join(", ")
                    ))
                })?
        }
        None => pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference:
                wgpu::PowerPreference::from_env().unwrap_or(wgpu::PowerPreference::HighPerformance),
            ..Default::default()
        }))
        .map_err(|e| {
            let forced = std::env::var("WGPU_BACKEND")
                .map(|b| format!(" (WGPU_BACKEND={b:?})"))
                .unwrap_or_default();
            Error::NoAdapter(format!("no usable wgpu adapter{forced}: {e}. {DRIVER_HELP}"))
        })?,
    };
    let have = adapter.limits();
    // WebGPU's defaults, except the sizes that decide how large a tensor may be and how
    // large a workgroup may be: those take the adapter's values, and kernels that go
    // beyond the defaults check `Gpu::limits()` first.
    let mut limits = wgpu::Limits::default().or_worse_values_from(&have);
    limits.max_storage_buffer_binding_size = have.max_storage_buffer_binding_size;
    limits.max_buffer_size = have.max_buffer_size;
    limits.max_compute_workgroup_storage_size = have.max_compute_workgroup_storage_size;
    limits.max_compute_invocations_per_workgroup = have.max_compute_invocations_per_workgroup;
    limits.max_compute_workgroup_size_x = have.max_compute_workgroup_size_x;
    limits.max_compute_workgroup_size_y = have.max_compute_workgroup_size_y;
    limits.max_storage_buffers_per_shader_stage = have.max_storage_buffers_per_shader_stage;
    let features = adapter.features() & wanted_features();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("cprl"),
        required_features: features,
        required_limits: limits,
        ..Default::default()
    }))
    .map_err(|e| {
        let i = adapter.get_info();
        Error::NoAdapter(format!(
            "adapter {} ({:?}) refused to open a device: {e}. {DRIVER_HELP}",
            i.name, i.backend
        ))
    })?;
    Ok((adapter, device, queue))
}

impl super::Gpu {
    /// What `cprl doctor` reports.
    pub fn summary(&self) -> DeviceSummary {
        let i = self.info();
        let l = self.limits();
        DeviceSummary {
            name: i.name.clone(),
            backend: format!("{:?}", i.backend),
            device_type: format!("{:?}", i.device_type),
            driver: i.driver.clone(),
            driver_info: i.driver_info.clone(),
            subgroup_size: self
                .has_subgroups()
                .then_some((i.subgroup_min_size, i.subgroup_max_size)),
            features: self.features().iter_names().map(|(n, _)| n.to_string()).collect(),
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
        }
    }
}
