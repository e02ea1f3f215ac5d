"""The PyTorch reference for `deno task bench`: the same Madry CNN (conv 5x5 "same" of 2s and 4s filters, each
followed by a relu and a 2x2 max pool, dense 64s, dense 10), the same tasks (one Adam training step on the
cross-entropy, one l-inf PGD step with its projection and clipping, one inference pass), the same batches, and
the median of the same number of timed runs after untimed warm-up ones, on as many threads as the machine has
cores (or --threads). One JSON line per measurement on stdout, in the fields of `deno task bench`'s records,
with "framework": "pytorch"; a table follows on stderr.

    python3 tools/bench_torch.py [--scales 1,2,4,8,16] [--batches 100,256] [--runs 5] [--warmup 2]
                                 [--tasks train,pgd-step,inference] [--threads 2]

Run both on the same machine, one after the other, and compare images per second: speed claims are those
ratios. It needs Debian's python3-torch; nothing else of advex does (tests and CI do not run it).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F


class MadryCnn(torch.nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale
        self.conv1 = torch.nn.Conv2d(1, 2 * scale, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(2 * scale, 4 * scale, 5, padding=2)
        self.fc1 = torch.nn.Linear(7 * 7 * 4 * scale, 64 * scale)
        self.fc2 = torch.nn.Linear(64 * scale, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def median_ms(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description="PyTorch reference timings for deno task bench")
    p.add_argument("--scales", default="1,2,4,8,16")
    p.add_argument("--batches", default="100,256")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--tasks", default="train,pgd-step,inference")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    tasks = a.tasks.split(",")
    unknown = [t for t in tasks if t not in ("train", "pgd-step", "inference")]
    if unknown:
        p.error(f"unknown task(s) {', '.join(unknown)}; known: train, pgd-step, inference")
    scales = [int(s) for s in a.scales.split(",")]
    batches = [int(b) for b in a.batches.split(",")]
    if any(s < 1 for s in scales) or any(b < 1 for b in batches) or a.runs < 1 or a.warmup < 0:
        p.error("scales, batches and runs must be positive integers, warmup >= 0")
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    machine = {"cpu": cpu_name(), "cores": a.threads, "os": f"{sys.platform}-{platform.machine()}"}
    rows = []
    for scale in scales:
        model = MadryCnn(scale)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        for batch in batches:
            x = torch.rand(batch, 1, 28, 28)
            y = torch.arange(batch) % 10
            eps, size = 0.3, 0.01
            lo, hi = (x - eps).clamp(0, 1), (x + eps).clamp(0, 1)

            def train():
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(x), y).backward()
                opt.step()

            def pgd_step():
                xa = x.clone().requires_grad_(True)
                (g,) = torch.autograd.grad(F.cross_entropy(model(xa), y, reduction="sum"), xa)
                with torch.no_grad():
                    torch.maximum(torch.minimum(xa + size * g.sign(), hi), lo)

            def inference():
                with torch.no_grad():
                    model(x)

            fns = {"train": train, "pgd-step": pgd_step, "inference": inference}
            for task in tasks:
                ms = median_ms(fns[task], a.runs, a.warmup)
                record = {
                    "task": task,
                    "model": f"madry-cnn x{scale}",
                    "batch": batch,
                    "framework": "pytorch",
                    "version": torch.__version__,
                    "msPerStep": round(ms, 2),
                    "imagesPerSecond": round(batch * 1000 / ms),
                    "runs": a.runs,
                    "machine": machine,
                }
                print(json.dumps(record), flush=True)
                rows.append(record)
    print(f"\n{'model':<14} {'batch':>5}  {'task':<10} {'ms/step':>8} {'images/s':>9}", file=sys.stderr)
    for r in rows:
        print(
            f"{r['model']:<14} {r['batch']:>5}  {r['task']:<10} {r['msPerStep']:>8.1f} {r['imagesPerSecond']:>9,}",
            file=sys.stderr,
        )
    print(f"(PyTorch {torch.__version__}, {a.threads} threads; {machine['cpu']})", file=sys.stderr)


if __name__ == "__main__":
    main()
