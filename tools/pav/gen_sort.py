"""Prints softrank_pav_sort_v2.wgsl: sort_template.wgsl with the odd-even sorting network
of R pairs (net.py) and the 4- and 16-way merges (gen_merge.py) unrolled.

    python3 tools/pav/gen_sort.py 64   (tools/shaders.py runs it)
"""
import os, sys, importlib.util
HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("net", os.path.join(HERE, "net.py"))
R = int(sys.argv[1])
sys.argv = sys.argv[:1]
net = importlib.util.module_from_spec(spec); spec.loader.exec_module(net)
decl = "\n".join(f"    var v{i}: vec2<u32>;" for i in range(R))
decl1 = "\n".join(f"        v{i} = load_elem(row_x, j0 + {i}u);" for i in range(R))
decl4 = "\n".join(
    f"        let q{i} = load4(row_x, j0 + {4*i}u);\n" +
    "\n".join(f"        v{4*i+c} = make_pair(q{i}[{c}], j0 + {4*i+c}u);" for c in range(4))
    for i in range(R // 4))
stores = "\n".join(f"    dst4[o4 + {i}u] = vec4<u32>(v{2*i}, v{2*i+1});" for i in range(R // 2))
ncmp = len(net.oddeven(R))
TEMPLATE = open(os.path.join(HERE, 'sort_template.wgsl')).read()
src = (TEMPLATE.replace("@R@", str(R)).replace("@NCMP@", str(ncmp)).replace("@DECL@", decl)
       .replace("@DECL1@", decl1).replace("@DECL4@", decl4).replace("@NET@", net.emit(R))
       .replace("@STORES@", stores))
import importlib.util as _u
_spec = _u.spec_from_file_location("gm", os.path.join(HERE, "gen_merge.py"))
gm = _u.module_from_spec(_spec); _spec.loader.exec_module(gm)
src = src.replace("@MERGE4@", gm.gen(4)).replace("@MERGE16@", gm.gen(16))
sys.stdout.write(src)
