// unary_backward_v1: dx = g * f'(x), the backward of unary_forward_v1.
//
// bindings
//   0 uniform Params { n, alpha, beta } as in the forward
//   1 storage read       x: array<f32>  forward input
//   2 storage read       y: array<f32>  forward output (sigmoid, tanh, sqrt, exp use it)
//   3 storage read       g: array<f32>  gradient of y
//   4 storage read_write dx: array<f32>, n elements
// OP codes as in unary_forward_v1. Kinks (relu at 0, abs at 0, clamp at its bounds)
// take the subgradient torch takes: relu'(0) = 0, abs'(0) = 0, clamp passes g on
// [alpha, beta] inclusive. One invocation per element; WG 256.

struct Params {
    n: u32,
    alpha: f32,
    beta: f32,
}

override WG: u32 = 256u;
override OP: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

fn df(v: f32, o: f32, gv: f32) -> f32 {
    switch OP {
        case 0u: { return gv * p.alpha; }
        case 1u: { return select(0.0, gv, v > 0.0); }
        case 2u: { return select(p.alpha * gv, gv, v > 0.0); }
        case 3u: { return gv * o * (1.0 - o); }
        case 4u: { return gv * (1.0 - o * o); }
        case 5u: { return gv * sign(v); }
        case 6u: { return 2.0 * v * gv; }
        case 7u: { return gv * 0.5 / o; }
        case 8u: { return gv * o; }
        case 9u: { return gv / v; }
        case 10u: { return 0.0; }
        default: { return select(0.0, gv, v >= p.alpha && v <= p.beta); }
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.n) {
        return;
    }
    dx[i] = df(x[i], y[i], g[i]);
}
