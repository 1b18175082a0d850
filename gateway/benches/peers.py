#!/usr/bin/env python3
"""REST POST /v1/echo through the protomesh gateway vs the peer rigs (stdlib only).

Not a timed test: a bounded load run per rig, the same method as ../shared/peers/README.md.
Server processes are pinned to core 1, h2load (--h1, 50 connections) to core 0; every rig is
started, smoke-checked with one POST, loaded once (3 s warm-up + DURATION s), then stopped by PID.

  python3 gateway/benches/peers.py [--duration 15] [--runs 1] [rig ...]

Rigs: pm-standalone (gateway -> tonic-echo peer, thread per core as `protomesh serve gateway`
runs it), pm-standalone-mt (the same gateway on one multi-thread runtime), pm-embedded (the kit
server with `.front(RestLayer)`, no hop, multi-thread runtime; -ct: current-thread), and the
peers when built:
gw-go (grpc-gateway -> go), gw-tonic (grpc-gateway -> tonic-echo), gw-rustzero, rog-tonic.
Prints one markdown row per run: req/s, p50/p99 ms, server CPU us/req; then, for each of the
issue's comparisons whose two rigs both ran, the ratio in every round (throughput, and the
inverse ratio of server CPU per request) with their medians and the rounds that meet the target.
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

# The load harness's /proc and port helpers, shared with scripts/bench.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benches", "harness"))
from common import cpu_ticks, wait_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.environ.get("PEERS_DIR", os.path.join(HERE, "..", "..", ".tools", "peers"))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "..", "..", "target"))
RIG = os.path.join(TARGET, "release", "examples", "echo_rig")
TONIC = f"{PEERS}/tonic-echo/target/release/tonic-echo"
BODY = f"{PEERS}/load/echo_req.json"
CLK_TCK = os.sysconf("SC_CLK_TCK")

TONIC_UP = ("tonic-echo", [TONIC], {"ADDR": "127.0.0.1:50052"}, 50052)
RIGS = {
    "pm-standalone": [TONIC_UP, ("protomesh-gateway", [RIG, "standalone", "127.0.0.1:8080", "127.0.0.1:50052"], {}, 8080)],
    "pm-standalone-mt": [TONIC_UP, ("protomesh-gateway", [RIG, "standalone", "127.0.0.1:8080", "127.0.0.1:50052"], {"RIG_RUNTIME": "multi"}, 8080)],
    "pm-embedded": [("protomesh-embedded", [RIG, "embedded", "127.0.0.1:8081"], {"RIG_RUNTIME": "multi"}, 8081)],
    "pm-embedded-ct": [("protomesh-embedded", [RIG, "embedded", "127.0.0.1:8081"], {"RIG_RUNTIME": "current"}, 8081)],
    "gw-go": [
        ("go-grpc", [f"{PEERS}/bin/goserver", "-addr", "127.0.0.1:50051"], {}, 50051),
        ("grpc-gateway", [f"{PEERS}/bin/gateway", "-addr", "127.0.0.1:8080", "-backend", "127.0.0.1:50051"], {}, 8080),
    ],
    "gw-tonic": [TONIC_UP, ("grpc-gateway", [f"{PEERS}/bin/gateway", "-addr", "127.0.0.1:8080", "-backend", "127.0.0.1:50052"], {}, 8080)],
    "gw-rustzero": [TONIC_UP, ("rust-zero-gateway", [f"{PEERS}/rustzero-gw/target/release/rustzero-gw"], {"ADDR": "127.0.0.1:8080", "BACKEND": "127.0.0.1:50052"}, 8080)],
    "rog-tonic": [("rog-tonic", [f"{PEERS}/rog-echo/target/release/rog-echo"], {"ADDR": "127.0.0.1:8081"}, 8081)],
}


def smoke(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/echo", data=open(BODY, "rb").read(),
                                 headers={"content-type": "application/json"})
    for _ in range(50):
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                return r.status, r.read().decode()
        except OSError:
            time.sleep(0.1)
    return None, ""


def percentiles(log):
    durations = []
    with open(log) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                durations.append(int(parts[2]))
    durations.sort()
    if not durations:
        return 0.0, 0.0
    pick = lambda q: durations[min(len(durations) - 1, int(q * len(durations)))] / 1000.0
    return pick(0.50), pick(0.99)


def run(name, duration, cpus):
    procs = []
    try:
        for label, argv, env, port in RIGS[name]:
            if not os.path.exists(argv[0]):
                print(f"| {name} | not built ({argv[0]}) |", flush=True)
                return
            procs.append(subprocess.Popen(["taskset", "-c", cpus[0]] + argv, env={**os.environ, **env},
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            if not wait_port(port, 20):
                print(f"| {name} | {label} did not listen |", flush=True)
                return
        port = RIGS[name][-1][3]
        status, body = smoke(port)
        if status != 200:
            print(f"| {name} | smoke failed: {status} {body} |", flush=True)
            return
        with tempfile.NamedTemporaryFile(suffix=".log") as log:
            pids = [p.pid for p in procs]
            t0, c0 = time.time(), cpu_ticks(pids)
            out = subprocess.run(
                ["taskset", "-c", cpus[1], "h2load", "--h1", "-c", "50", "-t", "1", "--warm-up-time", "3",
                 "-D", str(duration), "-d", BODY, "-H", "content-type: application/json",
                 "--log-file", log.name, f"http://127.0.0.1:{port}/v1/echo"],
                capture_output=True, text=True, timeout=duration + 60).stdout
            t1, c1 = time.time(), cpu_ticks(pids)
            p50, p99 = percentiles(log.name)
        rps = 0.0
        ok = "?"
        for line in out.splitlines():
            if line.startswith("finished in"):
                rps = float(line.split(",")[1].split()[0])
            if line.startswith("status codes:"):
                ok = line.split(":")[1].strip()
        cpu_frac = (c1 - c0) / CLK_TCK / (t1 - t0)
        us = cpu_frac * 1e6 / rps if rps else 0.0
        print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {us:.1f} | {cpu_frac * 100:.0f}% | {ok} | {body.strip()[:60]} |", flush=True)
        return rps, us
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# The comparisons: (ours, peer, target ratio of throughput).
TARGETS = [
    ("pm-standalone", "gw-tonic", 2.5),
    ("pm-standalone", "gw-go", 2.5),
    ("pm-standalone", "gw-rustzero", 1.0),
    ("pm-embedded", "rog-tonic", 1.0),
]


def summarize(rounds):
    """Per-round ratios of each comparison whose rigs both ran in that round."""
    for ours, peer, target in TARGETS:
        pairs = [(r[ours], r[peer]) for r in rounds if ours in r and peer in r]
        if not pairs:
            continue
        rate = [a[0] / b[0] for a, b in pairs if b[0]]
        cpu = [b[1] / a[1] for a, b in pairs if a[1]]
        met = sum(1 for x in rate if x >= target)
        print(f"\n{ours} / {peer} (target {target}x throughput), by round:")
        print("- throughput: " + ", ".join(f"{x:.2f}x" for x in rate) + f" (median {statistics.median(rate):.2f}x; "
              f"{met} of {len(rate)} rounds at or over {target}x)")
        print("- server CPU per request, theirs / ours: " + ", ".join(f"{x:.2f}x" for x in cpu)
              + f" (median {statistics.median(cpu):.2f}x)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--server-cpus", default="1")
    parser.add_argument("--load-cpus", default="0")
    parser.add_argument("rigs", nargs="*", default=["pm-standalone", "pm-embedded", "gw-go", "gw-rustzero", "rog-tonic"])
    args = parser.parse_args()
    print("| rig | req/s | p50 ms | p99 ms | server CPU us/req | server CPU | status codes | smoke reply |")
    print("|---|---|---|---|---|---|---|---|")
    rounds = []
    for _ in range(args.runs):
        measured = {}
        for name in args.rigs:
            result = run(name, args.duration, (args.server_cpus, args.load_cpus))
            if result and result[0]:
                measured[name] = result
        rounds.append(measured)
    summarize(rounds)


if __name__ == "__main__":
    sys.exit(main())
