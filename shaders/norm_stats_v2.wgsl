// norm_stats_v2: partial statistics (count, mean, M2) of x per (plane, lane), four
// elements per load; planes (H*W, divisible by 4) along the grid's y and z.
//
// bindings
//   0 uniform Params { hw4: vec4s per plane, planes: N*C, c: C, n: N, steps: vec4s
//     per lane at most, slots: partials per plane (grid x * WG) }
//   1 storage read       x: array<vec4<f32>>, [N, C, H*W/4]
//   2 storage read_write parts: array<vec4<f32>>, [rows, slots]: (count, mean, M2, 0),
//     count 0 for a lane past the plane's end. Row of plane p = n*C + c:
//     MODE 0 (batch norm) c*N + n, so that a channel's partials are contiguous;
//     MODE 1 (group norm) p, so that a group's planes are contiguous.
// Lane l of workgroup (x, p) reads vec4s j = x*WG*steps + l + k*WG, k < steps, of
// plane p (neighbouring lanes read neighbouring vec4s), summing x - shift and its
// square with the lane's first value as the shift. Loops: steps <= 4096.
// Grid: x = ceil(hw4 / (WG*steps)), plane = wid.y + wid.z * nwg.y.
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

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> parts: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let pl = wid.y + wid.z * nwg.y;
    if (pl >= p.planes) {
        return;
    }
    var row = pl;
    if (MODE == 0u) {
        row = (pl % p.c) * p.n + pl / p.c;
    }
    let o = row * p.slots + wid.x * WG + lid;
    let j0 = wid.x * WG * p.steps + lid;
    if (j0 >= p.hw4) {
        parts[o] = vec4<f32>(0.0);
        return;
    }
    let base = pl * p.hw4;
    let shift = vec4<f32>(x[base + j0].x);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var cnt = 0u;
    for (var k = 0u; k < p.steps; k = k + 1u) {
        let j = j0 + k * WG;
        if (j >= p.hw4) {
            break;
        }
        let d = x[base + j] - shift;
        s1 = s1 + d;
        s2 = s2 + d * d;
        cnt = cnt + 1u;
    }
    let n = f32(cnt * 4u);
    let t1 = (s1.x + s1.y) + (s1.z + s1.w);
    let t2 = (s2.x + s2.y) + (s2.z + s2.w);
    parts[o] = vec4<f32>(n, shift.x + t1 / n, max(t2 - t1 * t1 / n, 0.0), 0.0);
}
