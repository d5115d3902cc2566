// gate_forward_v1: the CPR gate after the soft rank, fused: mask, CPR and N-CPR.
//
// bindings
//   0 uniform Params: count (elements), a, b: m = sigmoid(a * r + b), where
//     a r + b = (u - q) / T with u = (r - 1) / (C - 1) (a = 0, b = (1 - q) / T when C = 1)
//   1 storage read       z: array<f32>, [B, C]
//   2 storage read       r: array<f32>, [B, C], soft ranks of the key in [1, C]
//   3 storage read_write c: array<f32>, [B, C], CPR z * m
//   4 storage read_write nc: array<f32>, [B, C], N-CPR z * (1 - m)
//   5 storage read_write m: array<f32>, [B, C], the mask
// One invocation per element. WG 256: fewest workgroups.

struct Params {
    count: u32,
    a: f32,
    b: f32,
    _p0: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> r: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> nc: array<f32>;
@group(0) @binding(5) var<storage, read_write> m: array<f32>;

fn sigm(t: f32) -> f32 {
    let e = exp(-abs(t));
    let s = 1.0 / (1.0 + e);
    return select(e * s, s, t >= 0.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.count) {
        return;
    }
    let mv = sigm(p.a * r[i] + p.b);
    let zv = z[i];
    m[i] = mv;
    c[i] = zv * mv;
    nc[i] = zv * (1.0 - mv);
}
