// gate_backward_v1: gradients of one output of gate_forward_v1 w.r.t. z and the ranks.
//
// bindings
//   0 uniform Params: count, a, b (as the forward)
//   1 storage read       z: array<f32>, [B, C]
//   2 storage read       r: array<f32>, [B, C]
//   3 storage read       g: array<f32>, [B, C], gradient of the output named by MODE
//   4 storage read_write dr: array<f32>, [B, C]
//   5 storage read_write dz: array<f32>, [B, C] (MODE 0, 1; unused for MODE 2)
// MODE (override): 0 for c = z m (dz = g m, dr = g z m' a), 1 for n = z (1 - m)
// (dz = g (1 - m), dr = -g z m' a), 2 for m (dr = g m' a), with m' = sigmoid'(a r + b).
// One invocation per element. WG 256: fewest workgroups.

struct Params {
    count: u32,
    a: f32,
    b: f32,
    _p0: u32,
}

override WG: u32 = 256u;
override MODE: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> r: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> dr: array<f32>;
@group(0) @binding(5) var<storage, read_write> dz: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.count) {
        return;
    }
    let t = p.a * r[i] + p.b;
    let e = exp(-abs(t));
    let s = 1.0 / (1.0 + e);
    let mv = select(e * s, s, t >= 0.0);
    let dm = e * s * s * p.a;
    let gv = g[i];
    if (MODE == 0u) {
        dz[i] = gv * mv;
        dr[i] = gv * z[i] * dm;
    } else if (MODE == 1u) {
        dz[i] = gv * (1.0 - mv);
        dr[i] = -gv * z[i] * dm;
    } else {
        dr[i] = gv * dm;
    }
}
