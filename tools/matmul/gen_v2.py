import sys
RB = int(sys.argv[1]) if len(sys.argv) > 1 else 2   # A row blocks (of 4 rows) per lane
CV = int(sys.argv[2]) if len(sys.argv) > 2 else 2   # vec4 column groups per lane
R = 4 * RB
C = 4 * CV
helpers = open(__import__('os').path.join(__import__('os').path.dirname(__file__), 'helpers.txt')).read().replace('{{', '{').replace('}}', '}')
out = []
w = out.append
w(f'''// matmul_v2: C = op(A) op(B) (+ bias), register-blocked: {R} x {C} outputs per invocation.
//
// bindings
//   0 uniform Params: as matmul_v1 (m, n, k, batch, stride_a, stride_b, splits,
//     k_chunk, tiles_n, tiles_m, batch_base)
//   1 storage read       a: array<f32>, [batch_a, m, k] ([batch_a, k, m] when TA)
//   2 storage read       a4: array<vec4<f32>>, the same buffer read 4 floats at a time
//     (used when VA: rows of A hold a multiple of 4 values)
//   3 storage read       b: array<f32>, [batch_b, k, n] ([batch_b, n, k] when TB)
//   4 storage read       b4: array<vec4<f32>>, the same buffer (used when VB)
//   5 storage read       bias: array<f32>, [n] (BIAS 1) or [m] (BIAS 2); unused (BIAS 0)
//   6 storage read_write out: array<f32>, [batch, m, n], or [splits, batch, m, n]
//     partial sums when splits > 1 (bias left to matmul_reduce_v1)
//   7 storage read_write out4: array<vec4<f32>>, the same buffer (used when VC: n is a
//     multiple of 4)
// Each invocation computes {R} rows x {C} columns ({R * CV} vec4 accumulators) from its own
// loads: per step of 4 k, {RB * 4} vec4 of A and {CV * 4} vec4 of B for {R * C * 4} multiply-adds.
// No subgroups, no workgroup memory: the portable CPU-driver version (llvmpipe GL).
// WG = 64 invocations as 8 x 8 (row, column) lanes: a {8 * R} x {8 * C} tile per workgroup.
// Grid: (x, y) flat over tiles_m * tiles_n (tile column fastest), z = batch entry *
// splits + K chunk. Out-of-range rows and columns read clamped indices, are not stored.
// The K loop runs ceil(k_chunk / 4) times (the host keeps it under llvmpipe's cap).

struct Params {{
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    stride_a: u32,
    stride_b: u32,
    splits: u32,
    k_chunk: u32,
    tiles_n: u32,
    tiles_m: u32,
    batch_base: u32,
    _p0: u32,
}}

override WG: u32 = 64u;
override TA: bool = false;
override TB: bool = false;
override VA: bool = false;
override VB: bool = false;
override VC: bool = false;
override BIAS: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read_write> out4: array<vec4<f32>>;

''')
w(helpers)
w(f'''@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {{
    let tile = wid.x + wid.y * nwg.x;
    if (tile / p.tiles_n >= p.tiles_m) {{
        return;
    }}
    let tm = tile / p.tiles_n;
    let tn = tile % p.tiles_n;
    let bat = p.batch_base + wid.z / p.splits;
    let s = wid.z % p.splits;
    let k0 = s * p.k_chunk;
    let k1 = min(p.k, k0 + p.k_chunk);
    let row0 = tm * {8 * R}u + (lid / 8u) * {R}u;
    let col = tn * {8 * C}u + (lid % 8u) * {C}u;
    if (row0 >= p.m || col >= p.n) {{
        return;
    }}
    let a0 = bat * p.stride_a;
    let b0 = bat * p.stride_b;
    // First row of each A block and first column of each B block, clamped; with vec4
    // reads whole groups of 4 are clamped (m, n are then multiples of 4).
    let lm = select(p.m - 1u, p.m - 4u, TA && VA);
    let ln = select(p.n - 1u, p.n - 4u, !TB && VB);
''')
for q in range(RB):
    w(f"    let ar{q} = min(row0 + {4*q}u, lm);\n")
for g in range(CV):
    w(f"    let cb{g} = min(col + {4*g}u, ln);\n")
for rr in range(R):
    for g in range(CV):
        w(f"    var c{rr}_{g} = vec4(0.0);\n")
w('''
    for (var kk = k0; kk < k1; kk = kk + 4u) {
        let valid = min(k1 - kk, 4u);
''')
for q in range(RB):
    w(f"        let x{q} = a_block(a0, ar{q}, kk, valid);\n")
for g in range(CV):
    w(f"        let y{g} = b_block(b0, cb{g}, kk, valid);\n")
for rr in range(R):
    q, i = divmod(rr, 4)
    for g in range(CV):
        w(f"        c{rr}_{g} = fma4(c{rr}_{g}, x{q}[{i}], y{g}[0], y{g}[1], y{g}[2], y{g}[3]);\n")
w('''    }

    // The host sets BIAS = 0 when K is split (matmul_reduce_v1 adds it).
    let base = select(bat, s * p.batch + bat, p.splits > 1u) * p.m * p.n;
''')
for g in range(CV):
    w(f"""    var bias{g} = vec4(0.0);
    if (BIAS == 1u) {{
        bias{g} = vec4(bias[min(col + {4*g}u, p.n - 1u)], bias[min(col + {4*g+1}u, p.n - 1u)],
                       bias[min(col + {4*g+2}u, p.n - 1u)], bias[min(col + {4*g+3}u, p.n - 1u)]);
    }}
""")
for rr in range(R):
    w(f"    let r{rr} = row_bias(row0 + {rr}u);\n")
    for g in range(CV):
        w(f"    store4(base, row0 + {rr}u, col + {4*g}u, c{rr}_{g} + bias{g} + r{rr});\n")
w("}\n")
print("".join(out), end="")
