// norm_backward_apply_v2: dx = scale * g' + a * x + b, g' masked by the fused ReLU
// (x * scale + shift > 0, the forward's fma), four elements per load; planes (H*W
// divisible by 4) along the grid's y and z.
//
// bindings
//   0 uniform Params { hw4: vec4s per plane, planes: N*C, c: C, steps: vec4s per lane }
//   1 storage read       x: array<vec4<f32>>, [N, C, H*W/4] forward input
//   2 storage read       g: array<vec4<f32>>, [N, C, H*W/4] gradient of the output
//   3 storage read       bcoef: array<vec4<f32>>, (scale, shift, a, b) per channel
//     (MODE 0) or per plane (MODE 1)
//   4 storage read_write dx: array<vec4<f32>>, [N, C, H*W/4]
// Lanes walk their plane as in norm_apply_v2.
// WG (override) is the launch shape: 64 on GPUs (neighbouring lanes read neighbouring
// vec4s; a 28x28 plane of 196 vec4s still fills three quarters of them), 8 on CPU
// drivers (one SIMD row of lavapipe, which then walks a long run of its plane 128
// contiguous bytes at a time, with many steps per lane).

struct Params {
    hw4: u32,
    planes: u32,
    c: u32,
    steps: u32,
}

override WG: u32 = 64u;
override MODE: u32 = 0u;
override RELU: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bcoef: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dx: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let pl = wid.y + wid.z * nwg.y;
    if (pl >= p.planes) {
        return;
    }
    var ci = pl;
    if (MODE == 0u) {
        ci = pl % p.c;
    }
    let k = bcoef[ci];
    let scale = vec4<f32>(k.x);
    let shift = vec4<f32>(k.y);
    let a = vec4<f32>(k.z);
    let b = vec4<f32>(k.w);
    let base = pl * p.hw4;
    let j0 = wid.x * WG * p.steps + lid;
    for (var s = 0u; s < p.steps; s = s + 1u) {
        let j = j0 + s * WG;
        if (j >= p.hw4) {
            break;
        }
        let xv = x[base + j];
        var gv = g[base + j];
        if (RELU != 0u) {
            gv = select(vec4<f32>(0.0), gv, fma(xv, scale, shift) > vec4<f32>(0.0));
        }
        dx[base + j] = fma(scale, gv, fma(a, xv, b));
    }
}
