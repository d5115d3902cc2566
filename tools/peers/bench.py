#!/usr/bin/env python3
"""Times the peers of cprl's benchmark rows on this machine, in the benchmark's terms.

    VENV/bin/python tools/peers/bench.py [--out target/peers.jsonl] [--quick] [--threads N]

Each row has the benchmark's own op and shape strings, so `cargo bench --bench
kernels` (which reads target/peers.jsonl, or the file named by CPRL_PEERS) prints the
ratio peer time / cprl time beside its own row, and only when the file was measured
on the same CPU model:

- softrank.pav.{l2,kl}.fwd and .fwd+bwd, "B=256 n={256,1024,4096}" and the " wide"
  rows: torchsort.soft_rank(x, regularization_strength=1.0, regularization=l2|kl)
  on the same inputs' distribution (uniform in [-1, 1), times n / 2 for "wide");
  forward + backward is soft_rank then (r * g).sum().backward() with a fixed g.
- cnn.train_step "[32, 3, 224, 224] [32, 64, 128]" (with --quick, batch 8 at 112
  pixels): the benchmark's SmallCnn in torch (three 3x3 stride-2 convs without bias,
  each followed by batch norm and ReLU, global average pool, linear 128 -> 1), MSE
  loss, backward and an Adam step (lr 1e-3).
- matmul: every shape of benches/kernels/matmul.rs, torch.matmul on the same
  transposes.

Timing: warm-up, then the median of --reps calls (fewer when one call takes over a
second), with the interquartile spread; the machine must be idle (this waits up to 5
minutes for it, and records how busy it was). The file is rewritten, one JSON line per
row, with the CPU model, torch's thread count and the versions.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

# The shapes of benches/kernels/matmul.rs: (name, m, n, k, transposed A, transposed B).
MATMUL = [
    ("square", 512, 512, 512, False, False),
    ("square", 1024, 1024, 1024, False, False),
    ("conv2 fwd", 100_352, 64, 288, False, True),
    ("conv2 bwd-data", 100_352, 288, 64, False, False),
    ("conv2 bwd-weight", 288, 64, 100_352, True, False),
    ("conv2 bwd-weight", 64, 288, 100_352, True, False),
    ("conv1 fwd", 401_408, 32, 27, False, True),
    ("conv1 bwd-weight", 27, 32, 401_408, True, False),
    ("conv3 fwd", 25_088, 128, 576, False, True),
    ("conv3 bwd-data", 25_088, 576, 128, False, False),
    ("conv3 bwd-weight", 576, 128, 25_088, True, False),
]


def cpu_model():
    """The `model name` of /proc/cpuinfo, as lscpu prints it."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_busy(interval=1.0):
    """Fraction of all CPUs busy over `interval` seconds."""
    def snap():
        v = list(map(int, open("/proc/stat").readline().split()[1:]))
        return sum(v), v[3] + v[4]
    t0, i0 = snap()
    time.sleep(interval)
    t1, i1 = snap()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def wait_idle(max_wait_s=300, threshold=0.15):
    """Waits until other processes leave the CPUs alone; returns how busy they were."""
    t0 = time.time()
    busy = cpu_busy()
    while busy > threshold and time.time() - t0 < max_wait_s:
        time.sleep(2)
        busy = cpu_busy()
    return round(busy, 3)


def timeit(fn, reps):
    """Median and interquartile spread (% of the median) in ms after two warm-ups."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    fn()
    if first > 1.0:
        reps = max(5, min(reps, int(20.0 / first)))
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    med = statistics.median(ts)
    spread = (ts[len(ts) * 3 // 4] - ts[len(ts) // 4]) / med * 100.0
    return med * 1e3, spread, len(ts)


def softrank_rows(torch, quick):
    import torchsort
    from importlib.metadata import version
    peer = f"torchsort {version('torchsort')}"
    for reg in ("l2", "kl"):
        for n in (256, 1024, 4096):
            for wide in (False, True):
                b = 256
                gen = torch.Generator().manual_seed(11)
                spread = n / 2 if wide else 1.0
                x = (torch.rand(b, n, generator=gen) * 2 - 1) * spread
                g = torch.rand(b, n, generator=gen) * 2 - 1
                shape = f"B={b} n={n}{' wide' if wide else ''}"

                def fwd():
                    with torch.no_grad():
                        torchsort.soft_rank(x, regularization_strength=1.0, regularization=reg)

                def fwd_bwd():
                    xv = x.clone().requires_grad_()
                    r = torchsort.soft_rank(xv, regularization_strength=1.0, regularization=reg)
                    (r * g).sum().backward()

                yield f"softrank.pav.{reg}.fwd", shape, peer, fwd
                yield f"softrank.pav.{reg}.fwd+bwd", shape, peer, fwd_bwd


def cnn_row(torch, quick):
    nn = torch.nn
    n, s = (8, 112) if quick else (32, 224)
    ch = [32, 64, 128]
    layers, cin = [], 3
    for c in ch:
        layers += [nn.Conv2d(cin, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
        cin = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1)]
    net = nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(n, 3, s, s, generator=gen) * 2 - 1
    y = torch.rand(n, 1, generator=gen) * 2 - 1

    def step():
        opt.zero_grad(set_to_none=True)
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()

    yield "cnn.train_step", f"[{n}, 3, {s}, {s}] {ch}", f"torch {torch.__version__}", step


def matmul_rows(torch, quick):
    for name, m, n, k, ta, tb in (MATMUL[:3] if quick else MATMUL):
        gen = torch.Generator().manual_seed(11)
        a = torch.rand(*((k, m) if ta else (m, k)), generator=gen)
        b = torch.rand(*((n, k) if tb else (k, n)), generator=gen)

        def mm(a=a, b=b, ta=ta, tb=tb):
            with torch.no_grad():
                torch.matmul(a.t() if ta else a, b.t() if tb else b)

        shape = f"{name} {m}x{n}x{k}{' tA' if ta else ''}{' tB' if tb else ''}"
        yield "matmul", shape, f"torch {torch.__version__}", mm


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="target/peers.jsonl")
    ap.add_argument("--quick", action="store_true", help="the benchmark's --quick shapes")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--only", nargs="*", default=[], help="ops containing one of these strings")
    ap.add_argument("--max-wait", type=float, default=300, help="seconds to wait for an idle machine per row")
    ap.add_argument("--isa", choices=["native", "avx2"], default="native",
                    help="avx2: restrict torch's kernels, MKL and oneDNN to AVX2, to pair with cprl's "
                         "benchmark under GALLIUM_OVERRIDE_CPU_CAPS=avx (an AVX2 machine's speeds on an "
                         "AVX-512 one)")
    a = ap.parse_args()
    if a.isa == "avx2":
        # Read when torch loads, so set before the import.
        os.environ.update(ATEN_CPU_CAPABILITY="avx2", MKL_ENABLE_INSTRUCTIONS="AVX2",
                          ONEDNN_MAX_CPU_ISA="AVX2")
    import torch
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"torch {torch.__version__}, CPU capability {capability}", flush=True)
    if a.threads:
        torch.set_num_threads(a.threads)
    cpu = cpu_model()
    rows = []
    for source in (softrank_rows, cnn_row, matmul_rows):
        for op, shape, peer, fn in source(torch, a.quick):
            if a.only and not any(o in op for o in a.only):
                continue
            busy = wait_idle(a.max_wait)
            ms, spread, reps = timeit(fn, a.reps)
            rec = {"bench": "cprl-peers", "op": op, "shape": shape, "peer": peer, "ms": round(ms, 4),
                   "spread_pct": round(spread, 1), "reps": reps, "threads": torch.get_num_threads(),
                   "cpu": cpu, "isa": a.isa, "torch_cpu_capability": capability, "busy_before": busy, "python": sys.version.split()[0],
                   "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            print(f"{op:<26} {shape:<32} {peer:<18} {ms:>10.3f} ms  spread {spread:4.1f}%", flush=True)
            rows.append(rec)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    os.replace(tmp, a.out)
    print(f"wrote {len(rows)} rows to {a.out} (CPU: {cpu}, instruction set: {a.isa})")


if __name__ == "__main__":
    main()
