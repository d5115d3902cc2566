#!/usr/bin/env python3
"""Builds softrank_pav_forward_v4.wgsl from softrank_pav_forward_v3.wgsl: the same
kernel except its header, its overrides (C fixed at 4, SG added), the sort helpers and
phase 2 (the sort), which come from v4_template.wgsl. One source for the phases the two
versions share.

    python3 gen_v4.py <v3.wgsl> <v4_template.wgsl> <out.wgsl>
"""
import sys


def sections(template):
    """The template's sections, keyed by their //@@NAME marker lines."""
    out, name = {}, None
    for line in template.splitlines(keepends=True):
        if line.startswith("//@@"):
            name = line[4:].strip()
            out[name] = ""
        elif name is not None:
            out[name] += line
    return out


def replace_once(text, old, new, what):
    if text.count(old) != 1:
        sys.exit(f"gen_v4: {what} not found exactly once in the v3 shader")
    return text.replace(old, new)


def cut(text, start, end, new, what):
    """Replaces text[start marker, end marker) by new."""
    a, b = text.find(start), text.find(end)
    if a < 0 or b < a:
        sys.exit(f"gen_v4: {what} not found in the v3 shader")
    return text[:a] + new + text[b:]


def main():
    v3_path, template_path, out_path = sys.argv[1:4]
    v3 = open(v3_path).read()
    t = sections(open(template_path).read())
    body = v3[v3.index("struct Params"):]
    body = replace_once(
        body,
        "override WG: u32 = 256u;\noverride C: u32 = 16u;",
        "override WG: u32 = 1024u;\n"
        "// Sorted positions per thread: fixed at 4 (the vec4 registers of the sort).\n"
        "const C: u32 = 4u;\n"
        "// Subgroup size (the host passes the adapter's fixed size).\n"
        "override SG: u32 = 32u;",
        "the WG and C overrides",
    )
    body = replace_once(
        body,
        "// Size of the private arrays: the host compiles this source with CMAX = C.\n"
        "const CMAX: u32 = 16u;",
        "// Size of the private arrays.\nconst CMAX: u32 = 4u;",
        "the CMAX declaration",
    )
    body = cut(body, "// Compare-exchange of sorted positions i < l in workgroup memory",
               "fn load_chunk", t["HELPERS"], "the compare-exchange helper")
    body = cut(body, "    // 2. Bitonic sort.", "    // 3. PAV on the chunk.", t["PHASE2"],
               "phase 2")
    open(out_path, "w").write(t["HEADER"] + body)


if __name__ == "__main__":
    main()
