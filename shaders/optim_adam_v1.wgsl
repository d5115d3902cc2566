// optim_adam_v1: one torch.optim.Adam step (AdamW when `decoupled`), amsgrad off,
// on one parameter tensor, in place:
//   p = p * (1 - lr * weight_decay)               (decoupled, weight_decay != 0)
//   g = g + weight_decay * p                      (coupled, weight_decay != 0)
//   m = m + (1 - beta1) * (g - m)                 (torch's lerp)
//   v = beta2 * v + (1 - beta2) * g * g
//   p = p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
// with step_size = lr / (1 - beta1^t) and bc2_sqrt = sqrt(1 - beta2^t) computed on
// the host in f64 for the step count t (as torch does for non-capturable steps), as
// are 1 - beta1, 1 - beta2 and the decay factor.
// Entry `main4` moves one vec4 per invocation (the element count must divide by 4),
// `main` one element; both share `update`.
//
// bindings
//   0 uniform Params { n (elements, or vec4s for main4), decoupled, weight_decay,
//     decay, beta2, one_minus_beta1, one_minus_beta2, eps, step_size, bc2_sqrt }
//   1 storage read_write p: array<f32> (or array<vec4<f32>>), the parameter
//   2 storage read       g: array<f32> (or vec4), its gradient
//   3 storage read_write m: array<f32> (or vec4), first moment (exp_avg)
//   4 storage read_write v: array<f32> (or vec4), second moment (exp_avg_sq)
// WG 256: a memory-bound update, the fewest workgroups.

struct Params {
    n: u32,
    decoupled: u32,
    weight_decay: f32,
    decay: f32,
    beta2: f32,
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    eps: f32,
    step_size: f32,
    bc2_sqrt: f32,
    _pad0: u32,
    _pad1: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> p1: array<f32>;
@group(0) @binding(2) var<storage, read> g1: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> v1: array<f32>;
// The same bindings seen as vec4s, for main4.
@group(0) @binding(1) var<storage, read_write> p4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v4: array<vec4<f32>>;

struct State {
    p: vec4<f32>,
    m: vec4<f32>,
    v: vec4<f32>,
}

fn update(x0: vec4<f32>, g0: vec4<f32>, m0: vec4<f32>, v0: vec4<f32>) -> State {
    var x = x0;
    var g = g0;
    if (u.weight_decay != 0.0) {
        if (u.decoupled != 0u) {
            x = x * u.decay;
        } else {
            g = g + u.weight_decay * x;
        }
    }
    let m = m0 + u.one_minus_beta1 * (g - m0);
    let v = u.beta2 * v0 + u.one_minus_beta2 * g * g;
    let denom = sqrt(v) / u.bc2_sqrt + u.eps;
    return State(x - u.step_size * m / denom, m, v);
}

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i >= u.n) {
        return;
    }
    let s = update(vec4<f32>(p1[i]), vec4<f32>(g1[i]), vec4<f32>(m1[i]), vec4<f32>(v1[i]));
    p1[i] = s.p.x;
    m1[i] = s.m.x;
    v1[i] = s.v.x;
}

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i >= u.n) {
        return;
    }
    let s = update(p4[i], g4[i], m4[i], v4[i]);
    p4[i] = s.p;
    m4[i] = s.m;
    v4[i] = s.v;
}
