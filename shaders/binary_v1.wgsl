// binary_v1: out = a OP b with NumPy broadcasting (rank <= 8).
//
// bindings
//   0 uniform Params: n (output elements), rank, and per output dimension its size
//     and the strides of a and b (0 along broadcast dimensions), packed as vec4s
//   1 storage read       a: array<f32>
//   2 storage read       b: array<f32>
//   3 storage read_write out: array<f32>, n elements (row-major output shape)
// One invocation per output element; it decodes its index into the two input offsets.
// OP (override): 0 add, 1 sub, 2 mul, 3 div. WG 256: fewest workgroups.

struct Params {
    n: u32,
    rank: u32,
    _p0: u32,
    _p1: u32,
    shape: array<vec4<u32>, 2>,
    sa: array<vec4<u32>, 2>,
    sb: array<vec4<u32>, 2>,
}

override WG: u32 = 256u;
override OP: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn apply(x: f32, y: f32) -> f32 {
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
    if (i >= p.n) {
        return;
    }
    var rest = i;
    var oa = 0u;
    var ob = 0u;
    for (var d = i32(p.rank) - 1; d >= 0; d = d - 1) {
        let size = p.shape[d / 4][d % 4];
        let k = rest % size;
        rest = rest / size;
        oa = oa + k * p.sa[d / 4][d % 4];
        ob = ob + k * p.sb[d / 4][d % 4];
    }
    out[i] = apply(a[oa], b[ob]);
}
