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
    if args.json {
        let mut v = serde_json::to_value(&s)?;
        v["kernel_check"] = serde_json::json!({ "ok": true, "max_error": check, "ms": ms });
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
