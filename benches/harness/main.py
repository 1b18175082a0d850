"""The load harness behind `scripts/bench`: builds the rigs, runs every scenario of the
benchmark page N times, writes one JSON record per run and regenerates docs/benchmarks.md.

  scripts/bench [--quick] [--runs N] [--only stack,gateway,...] [--report-only RESULTS_DIR]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import report  # noqa: E402
import scenarios  # noqa: E402
import shop  # noqa: E402
from common import ROOT, Settings  # noqa: E402

SCENARIOS = {
    "stack": scenarios.stack,
    "stack_shared": scenarios.stack_shared,
    "gateway": scenarios.gateway,
    "balancing": scenarios.balancing,
    "shop-sqlite": lambda s: shop.e2e(s, "sqlite"),
    "shop-postgres": lambda s: shop.e2e(s, "postgres"),
    "scaling": shop.scaling,
    "micro": scenarios.micro,
    "startup": shop.startup,
}


def command(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "missing"


def machine():
    """What the numbers were measured on."""
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "cpu": model, "nproc": os.cpu_count(), "kernel": platform.release(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1), "loadavg_start": os.getloadavg(),
        "rustc": command(["rustc", "-V"]), "h2load": command(["h2load", "--version"]),
        "k6": command([shop.K6, "version"]), "go": command(["go", "version"]),
        "commit": command(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
    }


def build():
    """Release builds of everything the scenarios start (the criterion benches build themselves)."""
    # Two commands: `--example` would otherwise narrow the CLI package to examples too.
    subprocess.run(["nice", "cargo", "build", "--release", "-q", "-p", "protomesh", "--example", "bench_rig",
                    "-p", "protomesh-gateway", "--example", "echo_rig"], cwd=ROOT, check=True)
    subprocess.run(["nice", "cargo", "build", "--release", "-q", "-p", "protomesh-cli"], cwd=ROOT, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 s warm-up, 3 s runs (a shake-down)")
    parser.add_argument("--runs", type=int, help="repetitions of each scenario (default 3, quick 1)")
    parser.add_argument("--only", help=f"comma-separated subset of: {','.join(SCENARIOS)}")
    parser.add_argument("--no-build", action="store_true", help="use the release binaries as they are")
    parser.add_argument("--report-only", metavar="DIR", help="regenerate the page from a results dir")
    parser.add_argument("--page", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    args = parser.parse_args()

    if args.report_only:
        report.write(args.report_only, args.page)
        return 0
    runs = args.runs or (1 if args.quick else 3)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out_dir = os.path.join(ROOT, "bench-results", stamp + ("-quick" if args.quick else ""))
    os.makedirs(out_dir)
    settings = Settings(args.quick, runs, out_dir)
    chosen = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [c for c in chosen if c not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; known: {list(SCENARIOS)}")
    if not args.no_build:
        build()
    meta = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "quick": args.quick,
            "runs": runs, "warmup_s": settings.warmup, "duration_s": settings.duration,
            "scenarios": chosen, "machine": machine(), "failures": {}}
    began = time.time()
    for name in chosen:
        print(f"== {name}", flush=True)
        t0 = time.time()
        try:
            SCENARIOS[name](settings)
        except Exception as e:  # noqa: BLE001 - one failed scenario must not lose the others
            print(f"!! {name} failed: {e}", flush=True)
            meta["failures"][name] = str(e)
        print(f"   {name}: {time.time() - t0:.0f} s", flush=True)
    meta["seconds"] = round(time.time() - began)
    meta["machine"]["loadavg_end"] = os.getloadavg()
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(f"records: {settings.records}")
    report.write(out_dir, args.page)
    return 1 if meta["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
