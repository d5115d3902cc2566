// binary_v3: out = a OP b where one operand has the output's shape and the other,
// `small`, varies along one block of dimensions only, with the elements after that
// block (`inner`) a multiple of 4: a per-channel [1, C, 1, 1] against [B, C, H, W], or a
// scalar. Four elements per invocation share one element of `small`, so there is no
// per-element index decode (binary_v1's) and the full operand moves as vec4s.
//
// bindings
//   0 uniform Params { n4: output vec4s, inner4: inner / 4, mid: elements of small }
//   1 storage read       full: array<vec4<f32>>, the operand of the output's shape
//   2 storage read       small: array<f32>, mid elements
//   3 storage read_write out: array<vec4<f32>>, n4 vec4s
// OP (override): 0 add, 1 sub, 2 mul, 3 div. SMALL_IS_A (override): 1 when `small` is
// the left operand a. WG 256.
// ROW_GRID (override): 1 = one row of `inner` elements (one element of small) per
// workgroup row, workgroup_id.x along the row and (y, z) the row, so the element of
// small is the same for the whole workgroup and no lane divides (a vector integer
// division is a scalar loop on CPU drivers); 0 = a flat index with one division per
// lane, for rows shorter than a workgroup.

struct Params {
    n4: u32,
    inner4: u32,
    mid: u32,
    _p0: u32,
}

override WG: u32 = 256u;
override OP: u32 = 0u;
override SMALL_IS_A: u32 = 0u;
override ROW_GRID: u32 = 1u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> full: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> small: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

fn apply(x: vec4<f32>, y: vec4<f32>) -> vec4<f32> {
    switch OP {
        case 0u: { return x + y; }
        case 1u: { return x - y; }
        case 2u: { return x * y; }
        default: { return x / y; }
    }
}

fn put(i: u32, s: vec4<f32>) {
    if (SMALL_IS_A == 1u) {
        out[i] = apply(s, full[i]);
    } else {
        out[i] = apply(full[i], s);
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    if (ROW_GRID == 1u) {
        let row = wid.y + wid.z * nwg.y;
        let col = wid.x * WG + lid;
        if (col >= p.inner4 || row >= p.n4 / p.inner4) {
            return;
        }
        put(row * p.inner4 + col, vec4<f32>(small[row % p.mid]));
    } else {
        let i = (wid.x + wid.y * nwg.x) * WG + lid;
        if (i >= p.n4) {
            return;
        }
        put(i, vec4<f32>(small[(i / p.inner4) % p.mid]));
    }
}
