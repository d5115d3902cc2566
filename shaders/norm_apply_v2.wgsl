// norm_apply_v2: y = x * scale + shift (then max(y, 0) when RELU), four elements per
// load, planes (H*W divisible by 4) along the grid's y and z.
//
// bindings
//   0 uniform Params { hw4: vec4s per plane, planes: N*C, c: C, steps: vec4s per lane }
//   1 storage read       x: array<vec4<f32>>, [N, C, H*W/4]
//   2 storage read       coef: array<vec4<f32>>, (scale, shift, mean, rstd) per
//     channel (MODE 0) or per plane (MODE 1)
//   3 storage read_write y: array<vec4<f32>>, [N, C, H*W/4]
// Lane l of workgroup (x, plane) handles vec4s x*WG*steps + l + k*WG, k < steps: the
// coefficient lookup is once per lane and the channel comes from the workgroup id, so
// no lane divides. Grid: x = ceil(hw4 / (WG*steps)), plane = wid.y + wid.z * nwg.y.
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
@group(0) @binding(2) var<storage, read> coef: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

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
    let k = coef[ci];
    let scale = vec4<f32>(k.x);
    let shift = vec4<f32>(k.y);
    let base = pl * p.hw4;
    let j0 = wid.x * WG * p.steps + lid;
    for (var s = 0u; s < p.steps; s = s + 1u) {
        let j = j0 + s * WG;
        if (j >= p.hw4) {
            break;
        }
        var v = fma(x[base + j], scale, shift);
        if (RELU != 0u) {
            v = max(v, vec4<f32>(0.0));
        }
        y[base + j] = v;
    }
}
