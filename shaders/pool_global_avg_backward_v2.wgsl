// pool_global_avg_backward_v2: dx[r, i] = g[r] * scale (scale = 1 / (H*W)), four
// elements per invocation (H*W divisible by 4).
//
// bindings
//   0 uniform Params { n4: N*C*H*W / 4, len4: H*W / 4, scale }
//   1 storage read       g: array<f32>, [N*C]
//   2 storage read_write dx: array<vec4<f32>>, [N*C, H*W / 4]
// One division per four elements finds the plane. WG 256.

struct Params {
    n4: u32,
    len4: u32,
    scale: f32,
    _p0: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.n4) {
        return;
    }
    dx[i] = vec4<f32>(g[i / p.len4] * p.scale);
}
