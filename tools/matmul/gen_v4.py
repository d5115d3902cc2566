import sys
# The helpers shared with matmul_v2 (fma4, loads, stores).
helpers = open(__import__('os').path.join(__import__('os').path.dirname(__file__), 'helpers.txt')).read().replace('{{', '{').replace('}}', '}')
CV = 2   # vec4 column groups per lane (the second only when WIDE)
C = 4 * CV
NB = int(sys.argv[2]) if len(sys.argv) > 2 else 1
R = 32 * NB
out = []
w = out.append
w(f'''// matmul_v4: C = op(A) op(B) (+ bias) with subgroup broadcasts of A.
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
// A workgroup computes a 32-row x (8 * WG)-column tile (WIDE) or 32 x (4 * WG); each
// invocation 32 rows x 8 columns (64 vec4 accumulators) or 32 x 4. Per step of 4 k,
// every lane loads its own B block (4 k x 8 or 4 columns) and a 4x4 block of the
// 32 x 4 A panel: lane j (subgroup lane mod 8) loads rows 4j .. 4j+3; then lanes 0..7
// broadcast their blocks to the whole subgroup with subgroupBroadcast, so each A value
// is loaded once per subgroup instead of once per lane. Any subgroup size >= 8 works
// (lanes 8 and up load copies of lanes 0..7).
// Every lane runs to the end (broadcasts need the whole subgroup): out-of-range rows
// and columns read clamped indices and are not stored.
// Why: on CPU drivers (lavapipe) every per-lane load is a scalar loop over the lanes,
// so loads per FMA decide the speed; broadcasts and vec4 loads cut them. The 32 rows
// are unrolled into separate variables: gallivm turns every access to a local array
// (even at a constant index) into per-lane memory traffic.
// Grid: (x, y) flat over tiles_m * tiles_n (tile column fastest), z = batch entry *
// splits + K chunk. WG (a multiple of the subgroup size, >= 8) is set by the host.
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

override WG: u32 = 16u;
override TA: bool = false;
override TB: bool = false;
override VA: bool = false;
override VB: bool = false;
override VC: bool = false;
override WIDE: bool = true;
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
        @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) sg_lane: u32) {{
    // No early return before the K loop: every lane takes part in the broadcasts.
    let tile = wid.x + wid.y * nwg.x;
    let tm = min(tile / p.tiles_n, p.tiles_m - 1u);
    let tn = tile % p.tiles_n;
    let bat = p.batch_base + wid.z / p.splits;
    let s = wid.z % p.splits;
    let k0 = s * p.k_chunk;
    let k1 = min(p.k, k0 + p.k_chunk);
    let row0 = tm * {R}u;
    let cw = select(4u, 8u, WIDE);
    let col = tn * cw * WG + lid * cw;
    let a0 = bat * p.stride_a;
    let b0 = bat * p.stride_b;
    // First row of this lane's A block and first column of each B block, clamped; with
    // vec4 reads whole groups of 4 are clamped (m, n are then multiples of 4).
    let lm = select(p.m - 1u, p.m - 4u, TA && VA);
''')
for g in range(CV):
    off = f" + {4*g}u" if g else ""
    w(f'''    var cb{g} = min(col{off}, p.n - 1u);
    if (!TB && VB) {{
        cb{g} = min(col{off}, p.n - 4u);
    }}
''')
for rr in range(R):
    for g in range(CV):
        w(f"    var c{rr}_{g} = vec4(0.0);\n")
w('''
    for (var kk = k0; kk < k1; kk = kk + 4u) {
        let valid = min(k1 - kk, 4u);
''')
for q in range(NB):
    off = f" + {32*q}u" if q else ""
    w(f"        let x_{q} = a_block(a0, min(row0{off} + 4u * (sg_lane % 8u), lm), kk, valid);\n")
w(f"        let y0 = b_block(b0, cb0, kk, valid);\n")
w("        // Panel row 4l + i is column i of lane l's block.\n")
for rr in range(R):
    q, rem = divmod(rr, 32)
    l, i = divmod(rem, 4)
    w(f"        let x{rr} = subgroupBroadcast(x_{q}[{i}], {l}u);\n")
    w(f"        c{rr}_0 = fma4(c{rr}_0, x{rr}, y0[0], y0[1], y0[2], y0[3]);\n")
w("        if (WIDE) {\n")
w(f"            let y1 = b_block(b0, cb1, kk, valid);\n")
for rr in range(R):
    w(f"            c{rr}_1 = fma4(c{rr}_1, x{rr}, y1[0], y1[1], y1[2], y1[3]);\n")
w("        }\n")
w('''    }

    if (tile / p.tiles_n >= p.tiles_m) {
        return;
    }
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
    w(f"    store4(base, row0 + {rr}u, col, c{rr}_0 + bias0 + r{rr});\n")
w("    if (!WIDE) {\n        return;\n    }\n")
for rr in range(R):
    w(f"    store4(base, row0 + {rr}u, col + 4u, c{rr}_1 + bias1 + r{rr});\n")
w("}\n")
print("".join(out), end="")
