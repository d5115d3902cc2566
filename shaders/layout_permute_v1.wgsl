// layout_permute_v1: out = x with its axes reordered (rank <= 8):
// out[i_0, .., i_r] = x at offset sum_k i_k * x_stride[dims[k]].
//
// bindings
//   0 uniform Params: n (elements), rank, the output's sizes, and for each output
//     axis k the input stride of axis dims[k], packed as vec4s
//   1 storage read       x: array<f32>
//   2 storage read_write out: array<f32>, n elements
// One invocation per output element; it decodes its index into the input offset.
// WG 256.

struct Params {
    n: u32,
    rank: u32,
    _p0: u32,
    _p1: u32,
    shape: array<vec4<u32>, 2>,
    src_stride: array<vec4<u32>, 2>,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.n) {
        return;
    }
    var rest = i;
    var off = 0u;
    for (var d = i32(p.rank) - 1; d >= 0; d = d - 1) {
        let size = p.shape[d / 4][d % 4];
        off = off + (rest % size) * p.src_stride[d / 4][d % 4];
        rest = rest / size;
    }
    out[i] = x[off];
}
