"""Shader variants: a base WGSL file with the replacements of a .variant file.

Kernel versions that differ from another version in a few places (a subgroup load
path, a different sort) are kept as the base shader plus their differences, so the
code they share has one source. A .variant file reads:

    //@@ base shaders/conv2d_forward_v2.wgsl
    //@@ out shaders/conv2d_forward_v4.wgsl
    //@@ replace
    <lines of the base, found exactly once>
    //@@ with
    <their replacement>
    //@@ end
    ... more replace / with / end blocks, applied in order

tools/shaders.py makes every variant (and checks the committed files) with these
functions; it is the one way to remake generated shaders.
"""


class VariantError(Exception):
    pass


def parse(text, name):
    """(base, out, [(old, new)]) of a .variant file's text."""
    base = out = None
    blocks, state, old, new = [], None, [], []
    for line in text.splitlines(keepends=True):
        tag = line.strip()
        if tag.startswith("//@@ base "):
            base = tag[len("//@@ base "):]
        elif tag.startswith("//@@ out "):
            out = tag[len("//@@ out "):]
        elif tag == "//@@ replace":
            state, old, new = "old", [], []
        elif tag == "//@@ with":
            state = "new"
        elif tag == "//@@ end":
            blocks.append(("".join(old), "".join(new)))
            state = None
        elif state == "old":
            old.append(line)
        elif state == "new":
            new.append(line)
    if base is None or out is None or state is not None:
        raise VariantError(f"{name}: a variant needs '//@@ base', '//@@ out' and closed blocks")
    return base, out, blocks


def apply(base_text, blocks, name):
    """The base with each block's lines replaced (each must occur exactly once)."""
    text = base_text
    for k, (old, new) in enumerate(blocks):
        if text.count(old) != 1:
            raise VariantError(f"{name}: block {k + 1} is not found exactly once in its base")
        text = text.replace(old, new)
    return text
