// binary_v2: out = a OP b for two inputs of the same shape, four elements per
// invocation (vec4 loads halve the per-element cost on CPU drivers).
//
// bindings
//   0 uniform Params { n4: number of vec4s (element count / 4, which must divide) }
//   1 storage read       a: array<vec4<f32>>
//   2 storage read       b: array<vec4<f32>>
//   3 storage read_write out: array<vec4<f32>>, n4 vec4s
// OP (override): 0 add, 1 sub, 2 mul, 3 div. WG 256.

struct Params {
    n4: u32,
}

override WG: u32 = 256u;
override OP: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

fn apply(x: vec4<f32>, y: vec4<f32>) -> vec4<f32> {
    switch OP {
        case 0u: { return x + y; }
        case 1u: { return x - y; }
        case 2u: { return x * y; }
        default: { return x / y; }
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.n4) {
        return;
    }
    out[i] = apply(a[i], b[i]);
}
