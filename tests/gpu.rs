//! The device layer: dispatch splitting, the pipeline cache, the buffer pool, and
//! clear errors for shape mismatches, oversized buffers, broken shaders and a lost
//! device.

mod common;

use common::*;
use cprl::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use cprl::ops::{elementwise as ew, fill, reduce};
use cprl::{Error, Gpu, Tensor, autograd};

#[test]
fn dispatches_beyond_65535_workgroups_are_split_and_cover_every_element() {
    // 20M elements at 256 per workgroup = 78,125 workgroups: more than one dimension holds.
    let gpu = gpu();
    let n = 20_000_000;
    assert!(grid_1d((n as u64).div_ceil(256))[1] > 1);
    let t = Tensor::full(&gpu, &[n], 1.5).unwrap();
    let y = ew::affine(&t, 2.0, 1.0).unwrap();
    let v = y.to_vec().unwrap();
    // 2 * 1.5 + 1 = 4 everywhere, the last element included (poison would show NaN).
    assert!(
        v.iter().all(|&x| x == 4.0),
        "first bad at {:?}",
        v.iter().position(|&x| x != 4.0)
    );
}

#[test]
fn pipelines_are_built_once_per_kernel_and_constants() {
    let gpu = Gpu::new().unwrap();
    let x = Tensor::full(&gpu, &[10], 1.0).unwrap();
    let _ = ew::relu(&x).unwrap();
    let after_one = gpu.stats().pipelines;
    for _ in 0..5 {
        let _ = ew::relu(&x).unwrap();
    }
    assert_eq!(gpu.stats().pipelines, after_one);
    let _ = ew::sigmoid(&x).unwrap();
    assert_eq!(
        gpu.stats().pipelines,
        after_one + 1,
        "another override constant is another pipeline"
    );
}

#[test]
fn a_steady_state_step_allocates_no_new_buffers() {
    // A private device, so that no other test's allocations count.
    let gpu = Gpu::new().unwrap();
    let w = Tensor::from_slice(&gpu, &rand_vec(1, 4096), &[64, 64])
        .unwrap()
        .requires_grad_();
    let x = Tensor::from_slice(&gpu, &rand_vec(2, 4096), &[64, 64]).unwrap();
    let step = || {
        let y = ew::tanh(&ew::mul(&w, &x).unwrap()).unwrap();
        let loss = reduce::mean(&ew::square(&y).unwrap()).unwrap();
        let grads = autograd::backward(&loss).unwrap();
        let g = grads.of(&w).unwrap().to_vec().unwrap();
        assert!(g.iter().all(|v| v.is_finite()));
    };
    step();
    step();
    let before = gpu.stats();
    for _ in 0..3 {
        step();
    }
    let after = gpu.stats();
    assert_eq!(
        after.buffers_created, before.buffers_created,
        "{before:?} -> {after:?}"
    );
    assert!(after.reused > before.reused);
}

#[test]
fn a_buffer_over_the_adapter_limit_is_a_clear_error() {
    let gpu = gpu();
    let limit = gpu.max_binding_bytes();
    let n = (limit / 4 + 1) as usize;
    match Tensor::empty(&gpu, &[n]) {
        Err(Error::TooLarge {
            bytes,
            limit: l,
            what,
        }) => {
            assert!(bytes > l && what.contains(&n.to_string()), "{what} {bytes} {l}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

cprl::uniform! {
    struct Words4 {
        v: [u32; 4],
    }
}

cprl::uniform! {
    /// What `SCALE_KERNEL` declares, but with `scale` a u32 where the shader has f32.
    struct WrongScale {
        n: u32,
        scale: u32,
    }
}

cprl::uniform! {
    struct RightScale {
        n: u32,
        scale: f32,
    }
}

static SCALE_KERNEL: Kernel = Kernel {
    name: "scale_test_kernel",
    source: "struct Params { n: u32, scale: f32 }\n\
             @group(0) @binding(0) var<uniform> p: Params;\n\
             @group(0) @binding(1) var<storage, read_write> y: array<f32>;\n\
             @compute @workgroup_size(64)\n\
             fn main(@builtin(global_invocation_id) g: vec3<u32>) {\n\
                 if g.x < p.n { y[g.x] = y[g.x] * p.scale; }\n\
             }\n",
};

fn scale_launch<'a>(params: cprl::gpu::UniformArg<'a>, args: &'a [Arg<'a>]) -> Launch<'a> {
    Launch {
        kernel: &SCALE_KERNEL,
        entry: "main",
        constants: &[],
        params,
        args,
        workgroups: [1, 1, 1],
    }
}

#[test]
fn a_uniform_that_differs_from_the_shaders_struct_is_refused_before_it_runs() {
    let gpu = gpu();
    let y = Tensor::full(&gpu, &[8], 2.0).unwrap();
    let args = [Arg::W(y.buf())];
    let wrong = WrongScale { n: 8, scale: 3 };
    let e = gpu.launch(scale_launch(uniform(&wrong), &args)).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Shader { .. }), "{e:?}");
    assert!(
        msg.contains("scale_test_kernel") && msg.contains("`scale: u32`") && msg.contains("`scale: f32`"),
        "{msg}"
    );
    // The same kernel with the right struct runs, and reads the f32 as an f32.
    let right = RightScale { n: 8, scale: 3.0 };
    gpu.launch(scale_launch(uniform(&right), &args)).unwrap();
    assert_eq!(y.to_vec().unwrap(), vec![6.0; 8]);
}

#[test]
fn a_shader_that_does_not_compile_names_itself() {
    let gpu = gpu();
    let broken: &'static Kernel = Box::leak(Box::new(Kernel {
        name: "broken_test_kernel",
        source: "@group(0) @binding(0) var<uniform> p: vec4<u32>;\n@compute @workgroup_size(1)\nfn main() { let x: f32 = 1u; }\n",
    }));
    let t = Tensor::zeros(&gpu, &[4]).unwrap();
    let e = gpu
        .launch(Launch {
            kernel: broken,
            entry: "main",
            constants: &[],
            params: uniform(&Words4 { v: [0; 4] }),
            args: &[Arg::W(t.buf())],
            workgroups: [1, 1, 1],
        })
        .unwrap_err();
    assert!(matches!(e, Error::Shader { .. }), "{e:?}");
    assert!(e.to_string().contains("broken_test_kernel"), "{e}");
}

#[test]
fn a_lost_device_gives_errors_not_panics() {
    let gpu = Gpu::new().unwrap();
    let t = Tensor::full(&gpu, &[16], 1.0).unwrap();
    gpu.device().destroy();
    let _ = gpu.sync();
    let r = fill::fill(&t, 2.0).and_then(|_| t.to_vec());
    match r {
        Err(Error::DeviceLost(msg)) => assert!(!msg.is_empty()),
        other => panic!("expected DeviceLost, got {other:?}"),
    }
}

#[test]
fn writes_into_a_live_tensor_wait_for_earlier_kernels() {
    // y = 2x is recorded, then x is overwritten from the host: y must still see the old x.
    let gpu = gpu();
    let x = Tensor::from_slice(&gpu, &[1.0, 2.0, 3.0], &[3]).unwrap();
    let y = ew::scale(&x, 2.0).unwrap();
    x.write(&[10.0, 20.0, 30.0]).unwrap();
    assert_eq!(y.to_vec().unwrap(), vec![2.0, 4.0, 6.0]);
    assert_eq!(x.to_vec().unwrap(), vec![10.0, 20.0, 30.0]);
}

#[test]
fn recycled_buffers_never_alias_live_data() {
    // Many short-lived temporaries inside one batch; the long-lived results must hold.
    let gpu = gpu();
    let mut keep = Vec::new();
    for i in 0..50 {
        let a = Tensor::full(&gpu, &[1000], i as f32).unwrap();
        let b = ew::affine(&a, 1.0, 0.5).unwrap();
        keep.push(ew::add(&b, &a).unwrap());
    }
    for (i, t) in keep.iter().enumerate() {
        let v = t.to_vec().unwrap();
        assert!(
            v.iter().all(|&x| x == 2.0 * i as f32 + 0.5),
            "tensor {i}: {}",
            v[0]
        );
    }
}

#[test]
fn f16_storage_round_trips() {
    let gpu = gpu();
    let v = [0.5f32, -1.25, 3.0, 65504.0];
    let t = Tensor::from_slice(&gpu, &v, &[4]).unwrap();
    let h = t.to_f16_vec().unwrap();
    let back = Tensor::from_f16(&gpu, &h, &[4]).unwrap().to_vec().unwrap();
    assert_eq!(back, v.to_vec(), "these values are exact in f16");
}

#[test]
fn doctor_without_any_backend_exits_2_and_names_the_driver_packages() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cprl"))
        .arg("doctor")
        .env("WGPU_BACKEND", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mesa-vulkan-drivers") && err.contains("libvulkan1"),
        "{err}"
    );
}

/// `CPRL_PROFILE=1` prints, when the command ends, a table of the kernels that ran with
/// their calls and times; without it, nothing.
#[test]
fn profile_prints_the_kernels_that_ran() {
    let run = |profile: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cprl"))
            .args(["tiny-train", "--steps", "2", "--batch", "2", "--size", "8"])
            .env("CPRL_PROFILE", profile)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run("1");
    assert!(err.contains("CPRL_PROFILE: time per kernel"), "{err}");
    // A row's calls: the fourth column from the right (calls, total, mean, share),
    // the second in the last row (calls, total).
    let calls = |prefix: &str, from_right: usize| -> u64 {
        err.lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| {
                let t: Vec<&str> = l.split_whitespace().collect();
                t[t.len() - from_right].parse::<u64>().unwrap()
            })
            .sum()
    };
    // Two steps of the small CNN's three convolutions, and more kernels besides.
    let conv = calls("conv2d_forward", 4);
    assert!(conv >= 6, "{err}");
    assert!(calls("all kernels", 2) > conv, "{err}");
    assert!(!run("0").contains("CPRL_PROFILE"));
}

#[test]
fn gradient_accumulation_adds_micro_batches() {
    let gpu = gpu();
    let w = Tensor::from_slice(&gpu, &[1.0, -2.0], &[2])
        .unwrap()
        .requires_grad_();
    let x1 = Tensor::from_slice(&gpu, &[3.0, 4.0], &[2]).unwrap();
    let x2 = Tensor::from_slice(&gpu, &[5.0, 6.0], &[2]).unwrap();
    // d/dw sum(w * x) = x, so the accumulated gradient is x1 + x2 = [8, 10].
    let mut g = autograd::backward(&reduce::sum(&ew::mul(&w, &x1).unwrap()).unwrap()).unwrap();
    g.accumulate(autograd::backward(&reduce::sum(&ew::mul(&w, &x2).unwrap()).unwrap()).unwrap())
        .unwrap();
    assert_eq!(g.of(&w).unwrap().to_vec().unwrap(), vec![8.0, 10.0]);
}

#[test]
fn no_grad_scopes_record_nothing_and_inputs_get_gradients() {
    let gpu = gpu();
    let x = Tensor::from_slice(&gpu, &[0.5, -0.5], &[2])
        .unwrap()
        .requires_grad_();
    {
        let _g = autograd::no_grad();
        let y = ew::square(&x).unwrap();
        assert!(!y.requires_grad() && y.is_leaf());
    }
    // d/dx sum(x^2) = 2x: the gradient with respect to an input, as attacks need.
    let y = reduce::sum(&ew::square(&x).unwrap()).unwrap();
    let g = autograd::backward(&y).unwrap();
    assert_eq!(g.of(&x).unwrap().to_vec().unwrap(), vec![1.0, -1.0]);
    let e = autograd::backward(&ew::square(&x).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a scalar"), "{e}");
}

#[test]
fn autotuning_picks_the_fastest_and_gives_up_early_on_far_slower_candidates() {
    if !cprl::ops::tune::enabled() {
        println!("CPRL_TUNE=off: measuring is switched off, nothing to check");
        return;
    }
    // A device of its own: the tuner syncs after every run, and the shared device's
    // lock can be held for seconds by the other tests' kernels on a CPU driver.
    let gpu = Gpu::new().unwrap();
    // 'fast' sleeps 5 ms a run, 'medium' 50 ms (margins far above a loaded machine's
    // wake-up jitter), 'slow' 1.5 s: over 4 x 50 ms + 0.5 s, so it is dropped after its
    // warm-up run and one confirming run instead of being timed 3-5 times more.
    let mut runs = std::collections::HashMap::<&str, usize>::new();
    let key = format!("test-{}", base_seed());
    let chosen = cprl::ops::tune::choose(&gpu, "tune_test", &key, &["medium", "fast", "slow"], |c| {
        *runs.entry(c).or_default() += 1;
        let ms = match c {
            "fast" => 5,
            "medium" => 50,
            _ => 1500,
        };
        std::thread::sleep(std::time::Duration::from_millis(ms));
        Ok(())
    })
    .unwrap();
    assert_eq!(chosen, "fast");
    assert_eq!(
        runs["slow"], 2,
        "the far slower candidate ran {} times",
        runs["slow"]
    );
    assert!(runs["fast"] >= 4 && runs["medium"] >= 4, "{runs:?}");
    // Cached: a second call measures nothing.
    let again = cprl::ops::tune::choose(&gpu, "tune_test", &key, &["medium", "fast", "slow"], |_| {
        panic!("measured again")
    })
    .unwrap();
    assert_eq!(again, "fast");
    // Another candidate set under the same shape key has an entry of its own: it is
    // measured, and the first set's choice stays.
    let mut measured = 0;
    let other = cprl::ops::tune::choose(&gpu, "tune_test", &key, &["medium", "slow"], |c| {
        measured += 1;
        std::thread::sleep(std::time::Duration::from_millis(if c == "medium" {
            5
        } else {
            50
        }));
        Ok(())
    })
    .unwrap();
    assert_eq!(other, "medium");
    assert!(measured > 0, "a new candidate set is measured");
    let first = cprl::ops::tune::choose(&gpu, "tune_test", &key, &["medium", "fast", "slow"], |_| {
        panic!("measured again")
    })
    .unwrap();
    assert_eq!(first, "fast");
}

/// A launch override reaches the launch choices only on its thread and only inside
/// its closure, and under one the tuner takes the first candidate without measuring
/// (nothing cached under a forced launch).
#[test]
fn a_launch_override_is_scoped_and_keeps_the_tuner_out() {
    use cprl::gpu::{LaunchOverride, with_launch_override};
    let gpu = gpu();
    let (lanes, cpu) = (gpu.launch_lanes(), gpu.launch_as_cpu());
    let forced = LaunchOverride {
        lanes: Some(if lanes == 32 { 16 } else { 32 }),
        cpu: Some(!cpu),
        ..Default::default()
    };
    let mut measured = 0;
    with_launch_override(forced, || {
        assert_eq!(gpu.launch_lanes(), forced.lanes.unwrap());
        assert_eq!(gpu.launch_as_cpu(), !cpu);
        let other = std::thread::scope(|s| s.spawn(|| gpu.launch_lanes()).join().unwrap());
        assert_eq!(other, lanes, "the override leaked to another thread");
        let pick = cprl::ops::tune::choose(&gpu, "override-test", "k", &["b", "a"], |_| {
            measured += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(pick, "b");
    });
    assert_eq!(measured, 0, "the tuner measured under an override");
    assert_eq!((gpu.launch_lanes(), gpu.launch_as_cpu()), (lanes, cpu));
}
