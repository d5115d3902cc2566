// layout_copy_v1: copies a block of rows between two row-major matrices, the step of
// concat (each input into its slab of the output), slice (a column range out) and
// their backwards: dst[o, dst_off + j] = src[o, src_off + j], o < outer, j < width.
//
// bindings
//   0 uniform Params { outer, width, src_row: src row length, src_off,
//     dst_row: dst row length, dst_off }
//   1 storage read       src: array<f32>, [outer, src_row]
//   2 storage read_write dst: array<f32>, [outer, dst_row]; only the block is written
// One invocation per copied element. WG 256: fewest workgroups.

struct Params {
    outer: u32,
    width: u32,
    src_row: u32,
    src_off: u32,
    dst_row: u32,
    dst_off: u32,
    _p0: u32,
    _p1: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if (t >= p.outer * p.width) {
        return;
    }
    let o = t / p.width;
    let j = t % p.width;
    dst[o * p.dst_row + p.dst_off + j] = src[o * p.src_row + p.src_off + j];
}
