// loss_pointwise_backward_v1: the gradient of loss_pointwise_forward_v1,
// d[i] = sign * g * term'(pred[i] - tgt[i]) / n, with sign +1 for the prediction
// and -1 for the target. term' is 2d (mse), sign(d) with 0 at d = 0 (l1, torch's
// subgradient), and d where |d| < delta else delta * sign(d) (Huber).
//
// bindings
//   0 uniform Params { n (elements), delta, sign }
//   1 storage read       pred: array<f32>, n (array<vec4<f32>> for main4)
//   2 storage read       tgt: array<f32>, n (vec4 for main4)
//   3 storage read       g: array<f32>, 1 element, the gradient of the scalar loss
//   4 storage read_write d: array<f32>, n (vec4 for main4)
// Entry `main`: one element per invocation. `main4`: one vec4 (n divisible by 4),
// which also spreads the load of g over four elements. LOSS (override) as in the
// forward. WG 256.

struct Params {
    n: u32,
    delta: f32,
    sign: f32,
    _pad: u32,
}

override WG: u32 = 256u;
override LOSS: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> tgt: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> d: array<f32>;
// The same bindings seen as vec4s, for main4.
@group(0) @binding(1) var<storage, read> pred4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> tgt4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> d4: array<vec4<f32>>;

fn dterm(x: vec4<f32>) -> vec4<f32> {
    switch LOSS {
        case 0u: { return 2.0 * x; }
        case 1u: { return sign(x); }
        default: { return select(p.delta * sign(x), x, abs(x) < vec4<f32>(p.delta)); }
    }
}

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i >= p.n) {
        return;
    }
    d[i] = p.sign * g[0] * dterm(vec4<f32>(pred[i] - tgt[i])).x / f32(p.n);
}

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i >= p.n / 4u) {
        return;
    }
    d4[i] = p.sign * g[0] * dterm(pred4[i] - tgt4[i]) / f32(p.n);
}
