// group_norm_plane_sums_v1: per plane (sample, channel), the sums of its backward
// partials: a = sum g, b = sum g * xhat.
//
// bindings
//   0 uniform Params { planes: N*C, parts: partials per plane }
//   1 storage read       parts: array<vec2<f32>>, [N*C, parts] from norm_backward_sums
//   2 storage read_write a: array<f32>, [N, C]
//   3 storage read_write b: array<f32>, [N, C]
// Summed in order (deterministic; parts <= 16384 iterations). One invocation per
// plane; WG 64.

struct Params {
    planes: u32,
    parts: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> parts: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> a: array<f32>;
@group(0) @binding(3) var<storage, read_write> b: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let pl = (wid.x + wid.y * nwg.x) * WG + lid;
    if (pl >= p.planes) {
        return;
    }
    var s = vec2<f32>(0.0);
    for (var i = 0u; i < p.parts; i = i + 1u) {
        s = s + parts[pl * p.parts + i];
    }
    a[pl] = s.x;
    b[pl] = s.y;
}
