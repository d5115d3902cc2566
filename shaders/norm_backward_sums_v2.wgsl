// norm_backward_sums_v2: partial sums (sum g', sum g' * xhat) per (plane, lane), four
// elements per load; g' = g, or g where the fused ReLU passed (x * scale + shift > 0),
// and xhat = (x - mean) * rstd. Planes (H*W divisible by 4) along the grid's y and z.
//
// bindings
//   0 uniform Params { hw4, planes: N*C, c: C, n: N, steps: vec4s per lane at most,
//     slots: partials per plane (grid x * WG) }
//   1 storage read       x: array<vec4<f32>>, [N, C, H*W/4]
//   2 storage read       g: array<vec4<f32>>, [N, C, H*W/4]
//   3 storage read       coef: array<vec4<f32>>: (scale, shift, mean, rstd) per channel
//     (MODE 0) or per plane (MODE 1)
//   4 storage read_write parts: array<vec2<f32>>, [rows, slots], rows as in
//     norm_stats_v2 (MODE 0: c*N + n, channel-major; MODE 1: the plane)
// Lanes read vec4s as in norm_stats_v2 (steps <= 4096); a lane past the plane writes 0.
// WG (override) is the launch shape: 64 on GPUs (neighbouring lanes read neighbouring
// vec4s; a 28x28 plane of 196 vec4s still fills three quarters of them), 8 on CPU
// drivers (one SIMD row of lavapipe, which then walks a long run of its plane 128
// contiguous bytes at a time, with many steps per lane).

struct Params {
    hw4: u32,
    planes: u32,
    c: u32,
    n: u32,
    steps: u32,
    slots: u32,
    _p0: u32,
    _p1: u32,
}

override WG: u32 = 64u;
override MODE: u32 = 0u;
override RELU: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> coef: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> parts: array<vec2<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let pl = wid.y + wid.z * nwg.y;
    if (pl >= p.planes) {
        return;
    }
    var row = pl;
    var ci = pl;
    if (MODE == 0u) {
        ci = pl % p.c;
        row = ci * p.n + pl / p.c;
    }
    let cf = coef[ci];
    let scale = vec4<f32>(cf.x);
    let shift = vec4<f32>(cf.y);
    let mean = vec4<f32>(cf.z);
    let rstd = vec4<f32>(cf.w);
    let base = pl * p.hw4;
    let j0 = wid.x * WG * p.steps + lid;
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);
    for (var k = 0u; k < p.steps; k = k + 1u) {
        let j = j0 + k * WG;
        if (j >= p.hw4) {
            break;
        }
        let xv = x[base + j];
        var gv = g[base + j];
        if (RELU != 0u) {
            gv = select(vec4<f32>(0.0), gv, fma(xv, scale, shift) > vec4<f32>(0.0));
        }
        a = a + gv;
        b = b + gv * ((xv - mean) * rstd);
    }
    parts[row * p.slots + wid.x * WG + lid] = vec2<f32>((a.x + a.y) + (a.z + a.w), (b.x + b.y) + (b.z + b.w));
}
