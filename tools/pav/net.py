import itertools, sys
def oddeven(n):
    # Batcher's odd-even merge sort, all comparators ascending (a < b).
    ces = []
    p = 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(0, min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        ces.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return ces
def check(n, ces):
    import random
    for _ in range(20000):
        v = [random.randint(0, 5) for _ in range(n)]
        w = list(v)
        for a, b in ces:
            if w[a] > w[b]: w[a], w[b] = w[b], w[a]
        assert w == sorted(v)
for n in (16, 32, 64):
    c = oddeven(n); check(n, c); print(n, len(c), file=sys.stderr)

def emit(n, indent="    "):
    c = oddeven(n)
    lines = []
    line = indent
    for a, b in c:
        s = f"ce(&v{a}, &v{b}); "
        if len(line) + len(s) > 100:
            lines.append(line.rstrip())
            line = indent
        line += s
    lines.append(line.rstrip())
    return "\n".join(lines)
if len(sys.argv) > 1:
    print(emit(int(sys.argv[1])))
