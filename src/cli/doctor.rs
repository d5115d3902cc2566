//! `cprl doctor`: which adapter cprl runs on, what it offers, and whether it works.

use anyhow::{Context, Result, ensure};
use cprl::{Gpu, Tensor, ops::elementwise};

#[derive(clap::Args)]
pub struct DoctorArgs {
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &DoctorArgs) -> Result<()> {
    let gpu = Gpu::new()?;
    let s = gpu.summary();
    let t0 = std::time::Instant::now();
    let check = smoke_test(&gpu).context("the adapter opened but failed to run a kernel")?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let cpu = gpu.is_cpu().then(CpuIsa::here);
    let advice = cpu
        .as_ref()
        .and_then(|c| cpu_driver_advice(&s.driver_info, c.avx512_used()));
    if args.json {
        let mut v = serde_json::to_value(&s)?;
        v["kernel_check"] = serde_json::json!({ "ok": true, "max_error": check, "ms": ms });
        if let Some(c) = &cpu {
            v["cpu"] = serde_json::json!({
                "model": c.model,
                "avx512": c.avx512,
                "avx2": c.avx2,
                "override": c.override_caps,
                "advice": advice,
            });
        }
        println!("{v}");
        return Ok(());
    }
    println!("adapter       {}", s.name);
    println!("backend       {}", s.backend);
    println!(
        "device type   {}{}",
        s.device_type,
        if gpu.is_cpu() {
            " (a CPU driver: correct, but slow)"
        } else {
            ""
        }
    );
    println!("driver        {} {}", s.driver, s.driver_info);
    if let Some(c) = &cpu {
        println!("cpu           {}", c.describe());
    }
    if let Some(a) = &advice {
        println!("advice        {a}");
    }
    println!(
        "limits used   storage binding {} MiB, buffer {} MiB, workgroup memory {} KiB,",
        s.max_storage_buffer_binding_size >> 20,
        s.max_buffer_size >> 20,
        s.max_compute_workgroup_storage_size >> 10
    );
    println!(
        "              {} invocations per workgroup, {} workgroups per dimension, {} storage buffers per stage",
        s.max_compute_invocations_per_workgroup,
        s.max_compute_workgroups_per_dimension,
        s.max_storage_buffers_per_shader_stage
    );
    let sub = s.subgroup_size.map_or("no".to_string(), |(a, b)| {
        if a == b {
            format!("yes, size {a}")
        } else {
            format!("yes, sizes {a}..{b}")
        }
    });
    println!("subgroups     {sub}");
    println!(
        "timestamps    {}",
        if gpu.has_timestamps() { "yes" } else { "no" }
    );
    println!("features      {}", s.features.join(", "));
    println!("kernel check  ok (max error {check:.1e}, {ms:.1} ms including compilation)");
    println!(
        "environment   WGPU_BACKEND={:?} CPRL_ADAPTER={:?}",
        std::env::var("WGPU_BACKEND").unwrap_or_default(),
        std::env::var("CPRL_ADAPTER").unwrap_or_default()
    );
    Ok(())
}

/// Runs one elementwise kernel over 1000 values and checks every result.
fn smoke_test(gpu: &std::sync::Arc<Gpu>) -> Result<f64> {
    let x: Vec<f32> = (0..1000).map(|i| i as f32 * 0.01 - 5.0).collect();
    let t = Tensor::from_slice(gpu, &x, &[1000])?;
    let y = elementwise::sigmoid(&t)?.to_vec()?;
    let err = x
        .iter()
        .zip(&y)
        .map(|(&a, &b)| (1.0 / (1.0 + (-(a as f64)).exp()) - b as f64).abs())
        .fold(0.0f64, f64::max);
    ensure!(err < 1e-5, "sigmoid of 1000 values off by {err:e}");
    Ok(err)
}

/// The CPU a CPU driver runs on, and the instruction set it compiles for.
struct CpuIsa {
    model: String,
    avx512: bool,
    avx2: bool,
    /// `GALLIUM_OVERRIDE_CPU_CAPS`, Mesa's switch that narrows the instruction set
    /// (`avx`: AVX2 without AVX-512).
    override_caps: Option<String>,
}

impl CpuIsa {
    fn here() -> CpuIsa {
        let model = cprl::host::cpu_model().unwrap_or_else(|| std::env::consts::ARCH.to_string());
        #[cfg(target_arch = "x86_64")]
        let (avx512, avx2) = (
            std::arch::is_x86_feature_detected!("avx512f"),
            std::arch::is_x86_feature_detected!("avx2"),
        );
        #[cfg(not(target_arch = "x86_64"))]
        let (avx512, avx2) = (false, false);
        CpuIsa {
            model,
            avx512,
            avx2,
            override_caps: cprl::host::mesa_cpu_caps_override(),
        }
    }

    /// Whether Mesa compiles with AVX-512: the CPU has it and no override removes it.
    fn avx512_used(&self) -> bool {
        self.avx512 && self.override_caps.is_none()
    }

    fn describe(&self) -> String {
        let isa = match (self.avx512, self.avx2) {
            (true, _) => "AVX-512",
            (false, true) => "AVX2, no AVX-512",
            _ => "no AVX2",
        };
        match &self.override_caps {
            Some(o) => format!(
                "{} ({isa}; GALLIUM_OVERRIDE_CPU_CAPS={o} narrows what Mesa uses)",
                self.model
            ),
            None => format!("{} ({isa})", self.model),
        }
    }
}

/// The major version of Mesa in a driver description such as "Mesa 22.3.6 (LLVM 15.0.6)".
fn mesa_major(driver_info: &str) -> Option<u32> {
    let rest = &driver_info[driver_info.find("Mesa ")? + 5..];
    rest.split('.').next()?.trim().parse().ok()
}

/// Advice for a CPU driver that is known to be slow on this CPU: Mesa before 25 turns
/// each storage-buffer load into a loop over the lanes, which without AVX-512 ran 2-5x
/// slower than with it (the soft rank, matmul and a training step on one machine,
/// benches/NOTES.md); Mesa 25.0.7 recovered most of it.
fn cpu_driver_advice(driver_info: &str, avx512_used: bool) -> Option<String> {
    let major = mesa_major(driver_info)?;
    (major < 25 && !avx512_used).then(|| {
        format!(
            "Mesa {major} compiles storage loads into per-lane loops, 2-5x slower without AVX-512 \
             (benches/NOTES.md); Mesa 25 ran the soft rank 2-3x and matmul 2x faster on such a \
             CPU: install a newer mesa-vulkan-drivers (Debian: bookworm-backports) for speed. \
             Results are the same either way."
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesa_version_is_read_from_the_driver_description() {
        assert_eq!(mesa_major("Mesa 22.3.6 (LLVM 15.0.6)"), Some(22));
        assert_eq!(
            mesa_major("llvmpipe Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)"),
            Some(25)
        );
        assert_eq!(mesa_major("NVIDIA 580.159.04"), None);
    }

    #[test]
    fn advice_only_for_an_old_mesa_without_avx512() {
        let old = "Mesa 22.3.6 (LLVM 15.0.6)";
        assert!(cpu_driver_advice(old, false).is_some_and(|a| a.contains("Mesa 22")));
        assert_eq!(cpu_driver_advice(old, true), None);
        assert_eq!(cpu_driver_advice("Mesa 25.0.7 (LLVM 15.0.6)", false), None);
        assert_eq!(cpu_driver_advice("NVIDIA 580.159.04", false), None);
    }
}
