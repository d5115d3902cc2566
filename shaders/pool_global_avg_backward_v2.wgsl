// pool_global_avg_backward_v2: dx[r, i] = g[r] * scale (scale = 1 / (H*W)), four
// elements per store; planes (H*W divisible by 4) along the grid's y and z, so no
// lane divides to find its plane.
//
// bindings
//   0 uniform Params { hw4: vec4s per plane, planes: N*C, steps: vec4s per lane, scale }
//   1 storage read       g: array<f32>, [N*C]
//   2 storage read_write dx: array<vec4<f32>>, [N*C, H*W / 4]
// Lane l of workgroup (x, plane) writes vec4s x*WG*steps + l + k*WG, k < steps.
// Grid: x = ceil(hw4 / (WG*steps)), plane = wid.y + wid.z * nwg.y.
// WG (override) is the launch shape: 64 on GPUs, 8 on CPU drivers (one SIMD row of
// lavapipe, with many steps per lane), as in norm_apply_v2.

struct Params {
    hw4: u32,
    planes: u32,
    steps: u32,
    scale: f32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let pl = wid.y + wid.z * nwg.y;
    if (pl >= p.planes) {
        return;
    }
    let v = vec4<f32>(g[pl] * p.scale);
    let base = pl * p.hw4;
    let j0 = wid.x * WG * p.steps + lid;
    for (var s = 0u; s < p.steps; s = s + 1u) {
        let j = j0 + s * WG;
        if (j >= p.hw4) {
            break;
        }
        dx[base + j] = v;
    }
}
