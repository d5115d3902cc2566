"""The unrolled register block shared by gen_fwd.py (conv2d_forward_v2.wgsl) and gen_bd.py
(conv2d_backward_data_v2.wgsl); not run by itself.

Both shaders are an implicit GEMM: one invocation computes P pixels times a tile of
32 * H channels, held as mat4x4 accumulators a{pixel}{block} (a block: 16 channels).
Per step it loads the 2 x 32 * H weights as mat4x4 blocks w{block}{k} (k: the 2 reduced
channels of the step) and one vec2 x{pixel} per pixel, and runs
a{pixel}{block} += x.x * w{block}0 + x.y * w{block}1. P = P_MAX only with H = 1 (P * H
is fixed), so pixels from P_MIN on have only the blocks of H = 1, under P == P_MAX;
blocks from BLOCKS_MIN on load their weights and are stored only when H == H_MAX.

The functions return lines without indentation; the generators indent them. The
uniform struct (`PARAMS`) serves every conv generator, and the line helpers (`lines`,
`indent`, `guarded`) gen_bw.py as well.
"""

P_MAX = 16  # most pixels per invocation (override P: P_MIN or P_MAX)
P_MIN = 8
H_MAX = 2  # channel tile 32 * H, H = 1 or H_MAX
BLOCKS = 2 * H_MAX  # mat4x4 blocks of 16 channels per pixel
BLOCKS_MIN = 2  # those of H = 1
STEP = 2  # reduced channels per step (the vec2 of inputs() / grads())

P_WIDE = f"P == {P_MAX}u"
H_WIDE = f"H == {H_MAX}u"
XYZW = "xyzw"

# The conv uniform (ops/conv2d/geometry.rs), as every conv2d shader declares it.
PARAMS = """struct Params {
    n: u32, c: u32, h: u32, w: u32,
    o: u32, kh: u32, kw: u32, groups: u32,
    oh: u32, ow: u32, cg: u32, og: u32,
    sh: u32, sw: u32, ph: u32, pw: u32,
    dh: u32, dw: u32, total: u32, chunk: u32,
    n_chunks: u32, rh: u32, rw: u32, cls_h: u32,
    cls_w: u32, og_pad: u32, cg_pad: u32, _p0: u32,
}"""


def lines(text):
    return text.split("\n")


def indent(body, n=4):
    return [" " * n + s if s else s for s in body]


def guarded(cond, body):
    """body under `if (cond)` (nothing when body is empty)."""
    return [f"if ({cond}) {{"] + indent(body) + ["}"] if body else []


def plus(*terms):
    """The sum of the non-empty terms, e.g. plus("row", "og4", "3u")."""
    return " + ".join(t for t in terms if t)


def num(k):
    """`ku`, or nothing for 0 (a term of plus())."""
    return f"{k}u" if k else ""


def blocks(m):
    """The accumulator blocks of pixel m."""
    return range(BLOCKS if m < P_MIN else BLOCKS_MIN)


def store_block_body(off, limit, buf, stride):
    """store_block(): one guarded store per channel of the 16 of block `a`."""
    return [f"    if ({off} + {i}u < p.{limit}) {{ {buf}[base + {i}u * {stride}] = a[{i // 4}].{XYZW[i % 4]}; }}"
            for i in range(16)]


def pixels(fn):
    """v{m}: what `fn` makes of pixel m0 + m (clamped to the last)."""
    return [f"let v{m} = {fn}(min(m0 + {m}u, last), g);" for m in range(P_MAX)]


def accumulators(init):
    """a{m}{b}, each started from init(b)."""
    return [f"var a{m}{b} = {init(b)};" for m in range(P_MAX) for b in blocks(m)]


def taps(args):
    """t{m}: the offset the current tap reads for pixel m."""
    return [f"let t{m} = tap(v{m}, {args});" for m in range(P_MAX)]


def weight_block(b, k, stride, decl):
    """w{b}{k}: the weights of channel k of the step for block b, a vec4 per column;
    the rows of the step are `stride` vec4s apart."""
    at = [f"wp[{plus('row', stride if k else '', num(4 * b + j))}]" for j in range(4)]
    return [f"{decl}w{b}{k} = mat4x4<f32>({at[0]}, {at[1]},", f"    {at[2]}, {at[3]});"]


def weights(stride):
    """The step's weights: every block, those from BLOCKS_MIN on only when H == H_MAX."""
    out = []
    for b in range(BLOCKS_MIN):
        for k in range(STEP):
            out += weight_block(b, k, stride, "let ")
    out += [f"var w{b}{k} = mat4x4<f32>();" for b in range(BLOCKS_MIN, BLOCKS) for k in range(STEP)]
    wide = []
    for b in range(BLOCKS_MIN, BLOCKS):
        for k in range(STEP):
            wide += weight_block(b, k, stride, "")
    return out + guarded(H_WIDE, wide) + [f"row += {STEP}u * {stride};"]


def madds(load):
    """x{m} = load(m), then the multiply-adds of pixel m; pixels from P_MIN on only
    when P == P_MAX."""
    def pixel(m):
        out = [f"let x{m} = {load(m)};"]
        for b in blocks(m):
            terms = " + ".join(f"x{m}.{XYZW[k]} * w{b}{k}" for k in range(STEP))
            out.append(f"a{m}{b} += {terms};")
        return out
    out = []
    for m in range(P_MIN):
        out += pixel(m)
    wide = []
    for m in range(P_MIN, P_MAX):
        wide += pixel(m)
    return out + guarded(P_WIDE, wide)


def stores(base):
    """store_block of every accumulator; channel block b at base + 16 b."""
    def store(m, b):
        return f"store_block(m0 + {m}u, g, {plus(base, num(16 * b))}, a{m}{b});"
    narrow = [store(m, b) for m in range(P_MIN) for b in range(BLOCKS_MIN)]
    wide_h = [store(m, b) for m in range(P_MIN) for b in range(BLOCKS_MIN, BLOCKS)]
    wide_p = [store(m, b) for m in range(P_MIN, P_MAX) for b in blocks(m)]
    return narrow + guarded(H_WIDE, wide_h) + guarded(P_WIDE, wide_p)
