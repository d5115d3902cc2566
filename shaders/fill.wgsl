// fill: out[i] = bits (an f32 bit pattern, e.g. NaN to poison or a constant).
//
// bindings
//   0 uniform Params { n: element count, bits: the u32 pattern written }
//   1 storage read_write out: array<u32>, n elements
// One invocation writes one element. Workgroup size WG (default 256): the WebGPU
// default maximum, so the fewest workgroups are dispatched.

struct Params {
    n: u32,
    bits: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.n) {
        return;
    }
    out[i] = p.bits;
}
