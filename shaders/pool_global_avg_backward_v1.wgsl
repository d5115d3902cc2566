// pool_global_avg_backward_v1: dx[r, i] = g[r] * scale (scale = 1 / (H*W)), the naive
// port: one element per invocation.
//
// bindings
//   0 uniform Params { n: N*C*H*W, len: H*W, scale }
//   1 storage read       g: array<f32>, [N*C]
//   2 storage read_write dx: array<f32>, [N*C, H*W]
// WG 256: fewest workgroups.

struct Params {
    n: u32,
    len: u32,
    scale: f32,
    _p0: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.n) {
        return;
    }
    dx[i] = g[i / p.len] * p.scale;
}
