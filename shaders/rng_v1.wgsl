// rng_v1: counter-based random numbers: element i of a draw with key (k0, k1) is a
// pure function of (i, k0, k1), so results do not depend on dispatch shape or order,
// and the CPU reference (`reference::rng`) reproduces them bit for bit.
//
// bindings
//   0 uniform Params { n, k0, k1: key from the seed, dist: 0 uniform / 1 normal,
//                      a, b: uniform on [a, b), or normal with mean a and std b }
//   1 storage read_write out: array<f32>, n elements
// Bits: h(i) = mix(mix(i ^ k0) + k1), mix = the "lowbias32" integer hash
// (Wellons). Uniform: u = (h >> 8) / 2^24 in [0, 1). Normal: Box-Muller on the
// uniforms of counters 2i and 2i + 1 (first one shifted into (0, 1] for the log).
// Not for cryptography. One invocation per element; WG 256.

struct Params {
    n: u32,
    k0: u32,
    k1: u32,
    dist: u32,
    a: f32,
    b: f32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

fn mix(v: u32) -> u32 {
    var x = v;
    x = x ^ (x >> 16u);
    x = x * 0x7feb352du;
    x = x ^ (x >> 15u);
    x = x * 0x846ca68bu;
    x = x ^ (x >> 16u);
    return x;
}

fn bits(i: u32) -> u32 {
    return mix(mix(i ^ p.k0) + p.k1);
}

fn unit(i: u32) -> f32 {
    return f32(bits(i) >> 8u) * (1.0 / 16777216.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.n) {
        return;
    }
    if (p.dist == 0u) {
        out[i] = p.a + (p.b - p.a) * unit(i);
    } else {
        let u1 = f32((bits(2u * i) >> 8u) + 1u) * (1.0 / 16777216.0);
        let u2 = unit(2u * i + 1u);
        let r = sqrt(-2.0 * log(u1));
        out[i] = p.a + p.b * r * cos(6.283185307179586 * u2);
    }
}
