// layout_pad_v1: the backward of slice: places each row of src at column `off` of a
// wider row and fills the rest with zeros: dst[o, j] = src[o, j - off] for
// off <= j < off + width, else 0.
//
// bindings
//   0 uniform Params { outer, width: src row length, off, dst_row: dst row length }
//   1 storage read       src: array<f32>, [outer, width]
//   2 storage read_write dst: array<f32>, [outer, dst_row], every element written
// One invocation per dst element. WG 256.

struct Params {
    outer: u32,
    width: u32,
    off: u32,
    dst_row: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if (t >= p.outer * p.dst_row) {
        return;
    }
    let o = t / p.dst_row;
    let j = t % p.dst_row;
    var v = 0.0;
    if (j >= p.off && j < p.off + p.width) {
        v = src[o * p.width + j - p.off];
    }
    dst[t] = v;
}
