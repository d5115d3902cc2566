# Generates a K-way merge step for WGSL: struct MergeK + fn takeK.
def gen(K):
    L = []
    L.append(f"// The state of a {K}-way merge: the next unread position of each run (runs are")
    L.append(f"// `w` long from `base`, the last one clipped at npad), and each run's head.")
    L.append(f"struct Merge{K} {{")
    L.append("    base: u32,")
    L.append("    w: u32,")
    for i in range(K):
        L.append(f"    p{i}: u32,")
    for i in range(K):
        L.append(f"    h{i}: vec2<u32>,")
    L.append("}")
    L.append("")
    L.append(f"fn init{K}(m: ptr<function, Merge{K}>, rowp: u32, base: u32, w: u32) {{")
    L.append("    (*m).base = base;")
    L.append("    (*m).w = w;")
    for i in range(K):
        L.append(f"    (*m).p{i} = base + {i}u * w;")
        L.append(f"    (*m).h{i} = next_pair(rowp, base + {i}u * w, base + {i+1}u * w);")
    L.append("}")
    L.append("")
    L.append(f"// One merge step: returns the smallest head (ties to the lower run) and replaces it")
    L.append(f"// by its run's next pair (PAD past the run's end): a tournament of {K-1} comparisons.")
    L.append(f"fn take{K}(m: ptr<function, Merge{K}>, rowp: u32) -> vec2<u32> {{")
    # leaves
    nodes = []
    for i in range(K):
        L.append(f"    let v{i}_{i} = (*m).h{i};")
        nodes.append((f"v{i}_{i}", f"{i}u", f"(*m).p{i}", i, i))
    lvl = 0
    while len(nodes) > 1:
        nxt = []
        for j in range(0, len(nodes), 2):
            (va, ia, pa, lo, _), (vb, ib, pb, _, hi) = nodes[j], nodes[j+1]
            c = f"c{lo}_{hi}"
            L.append(f"    let {c} = {vb}.x < {va}.x;")
            L.append(f"    let v{lo}_{hi} = select({va}, {vb}, {c});")
            L.append(f"    let i{lo}_{hi} = select({ia}, {ib}, {c});")
            L.append(f"    let p{lo}_{hi} = select({pa}, {pb}, {c});")
            nxt.append((f"v{lo}_{hi}", f"i{lo}_{hi}", f"p{lo}_{hi}", lo, hi))
        nodes = nxt
    v, i, pz, _, _ = nodes[0]
    L.append(f"    let win = {i};")
    L.append(f"    let pos = {pz} + 1u;")
    L.append(f"    let nv = next_pair(rowp, pos, (*m).base + (win + 1u) * (*m).w);")
    for k in range(K):
        L.append(f"    (*m).p{k} = select((*m).p{k}, pos, win == {k}u);")
        L.append(f"    (*m).h{k} = select((*m).h{k}, nv, win == {k}u);")
    L.append(f"    return {v};")
    L.append("}")
    return "\n".join(L)
if __name__ == "__main__":
    import sys
    print(gen(int(sys.argv[1])))
