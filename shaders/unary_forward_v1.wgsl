// unary_forward_v1: y = f(x) elementwise, for the activations and simple maths.
//
// bindings
//   0 uniform Params { n: element count, alpha, beta: op arguments }
//   1 storage read       x: array<f32>
//   2 storage read_write y: array<f32>, n elements
// OP (override), with its arguments:
//   0 affine  y = alpha * x + beta        6 square  y = x * x
//   1 relu    y = max(x, 0)               7 sqrt    y = sqrt(x)
//   2 leaky   y = x > 0 ? x : alpha * x   8 exp     y = exp(x)
//   3 sigmoid y = 1 / (1 + exp(-x))       9 log     y = log(x)
//   4 tanh    y = tanh(x)                10 sign    y = sign(x)
//   5 abs     y = |x|                    11 clamp   y = clamp(x, alpha, beta)
// One invocation per element; WG 256.

struct Params {
    n: u32,
    alpha: f32,
    beta: f32,
}

override WG: u32 = 256u;
override OP: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn f(v: f32) -> f32 {
    switch OP {
        case 0u: { return p.alpha * v + p.beta; }
        case 1u: { return max(v, 0.0); }
        case 2u: { return select(p.alpha * v, v, v > 0.0); }
        case 3u: { return 1.0 / (1.0 + exp(-v)); }
        case 4u: { return tanh(v); }
        case 5u: { return abs(v); }
        case 6u: { return v * v; }
        case 7u: { return sqrt(v); }
        case 8u: { return exp(v); }
        case 9u: { return log(v); }
        case 10u: { return sign(v); }
        default: { return clamp(v, p.alpha, p.beta); }
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.n) {
        return;
    }
    y[i] = f(x[i]);
}
