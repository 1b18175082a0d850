"""Scenarios 1-3 (kit stack, gateway vs grpc-gateway, balancing) and the criterion benches."""
import glob
import json
import os
import subprocess
import threading

import time

from common import (LOAD_CPU, RELEASE, ROOT, ChildCpu, CpuWindow, Procs, free_port, grpc_frame, h2load,
                    http, memory, write_tmp)

RIG = os.path.join(RELEASE, "examples", "bench_rig")
ECHO_RIG = os.path.join(RELEASE, "examples", "echo_rig")
PEERS = os.environ.get("PEERS_DIR", os.path.join(ROOT, ".tools", "peers"))
LIST = "/protomesh.registry.v1.RegistryService/ListInstances"


def rig_load(mode, targets, conc, warmup, seconds, watch_pids):
    """Runs `bench_rig load` pinned to the load core; its JSON plus server and client CPU."""
    argv = ["taskset", "-c", LOAD_CPU, RIG, "load", mode, ",".join(targets), str(conc),
            str(warmup), str(seconds)]
    client = ChildCpu()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = CpuWindow(watch_pids)
    # Both windows include the warm-up, whose calls are counted at the measured rate.
    out, err = proc.communicate(timeout=warmup + seconds + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"bench_rig load failed: {err.strip()}")
    result = json.loads(out.strip().splitlines()[-1])
    requests_all = max(1.0, result["rps"] * (warmup + seconds))
    s = server.finish(requests_all)
    result.update({"tool": "bench_rig", "conc": conc, "duration_s": seconds,
                   "cpu_us_per_req": s["cpu_us_per_req"], "cpu_util": s["cpu_util"],
                   "client_cpu_us_per_req": client.seconds() * 1e6 / requests_all,
                   "load_cpu_util": client.util()})
    return result


def smoke_grpc(port):
    """One real gRPC call through the rig's client; raises unless it succeeded."""
    result = json.loads(subprocess.run([RIG, "load", "direct", f"127.0.0.1:{port}", "1", "0", "0.2"],
                                       capture_output=True, text=True, timeout=30, check=True).stdout)
    if result["errors"] or not result["requests"]:
        raise RuntimeError(f"gRPC smoke call failed: {result}")


def stack(s):
    """1. Unary gRPC on a bare tonic server vs the kit's full stack, h2load 50 connections."""
    body = write_tmp(s.out_dir, "list.grpc", grpc_frame(b"\x0a\x07catalog"))
    for run in range(s.runs):
        order = ["bare", "kit"] if run % 2 == 0 else ["kit", "bare"]
        for variant in order:
            port = free_port()
            with Procs(s.out_dir) as procs:
                procs.start(f"s1-{variant}", [RIG, variant, f"127.0.0.1:{port}"], port=port)
                smoke_grpc(port)
                m = h2load(f"http://127.0.0.1:{port}{LIST}", s, procs.pids, grpc_body=body)
                m.update(memory(procs.pids))
                s.record("stack", variant, run, **m)


def stack_shared(s):
    """1b. The same comparison with both servers on the server core at once, each under its
    own h2load (50 connections): the scheduler splits the core between them, so their
    throughput ratio is their cost ratio, and noise from the machine hits both alike."""
    body = write_tmp(s.out_dir, "list.grpc", grpc_frame(b"\x0a\x07catalog"))
    for run in range(s.runs):
        ports = {"bare": free_port(), "kit": free_port()}
        with Procs(s.out_dir) as procs:
            pids = {}
            for variant, port in ports.items():
                pids[variant] = procs.start(f"s1b-{variant}", [RIG, variant, f"127.0.0.1:{port}"],
                                            port=port).pid
                smoke_grpc(port)
            results = {}

            def load(variant):
                results[variant] = h2load(f"http://127.0.0.1:{ports[variant]}{LIST}", s,
                                          [pids[variant]], grpc_body=body)

            threads = [threading.Thread(target=load, args=(v,)) for v in ports]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for variant in ports:
                if variant not in results:
                    raise RuntimeError(f"stack_shared: the {variant} load failed")
                m = results[variant]
                m.update(memory([pids[variant]]))
                s.record("stack_shared", variant, run, **m)


def gateway(s):
    """2. REST POST /v1/echo via the protomesh gateway vs grpc-gateway, same upstream."""
    body = os.path.join(PEERS, "load", "echo_req.json")
    rigs = {
        "protomesh": lambda gw, up: [ECHO_RIG, "standalone", f"127.0.0.1:{gw}", f"127.0.0.1:{up}"],
        "grpc-gateway": lambda gw, up: [os.path.join(PEERS, "bin", "gateway"), "-addr",
                                        f"127.0.0.1:{gw}", "-backend", f"127.0.0.1:{up}"],
    }
    env = {"PEERS_PROTO": os.path.join(PEERS, "proto")}
    for run in range(s.runs):
        order = list(rigs) if run % 2 == 0 else list(reversed(rigs))
        for variant in order:
            up, gw = free_port(), free_port()
            with Procs(s.out_dir) as procs:
                procs.start("s2-upstream", [ECHO_RIG, "upstream", f"127.0.0.1:{up}"], env=env, port=up)
                procs.start(f"s2-{variant}", rigs[variant](gw, up), env=env, port=gw)
                status, reply = http("POST", f"http://127.0.0.1:{gw}/v1/echo", {"message": "hello world"})
                if status != 200 or reply.get("message") != "hello world":
                    raise RuntimeError(f"{variant} smoke: {status} {reply}")
                m = h2load(f"http://127.0.0.1:{gw}/v1/echo", s, procs.pids, json_body=body, h1=True)
                m.update(memory(procs.pids))
                m["gateway_peak_mib"] = memory(procs.pids[1:])["peak_mib_max"]
                s.record("gateway", variant, run, **m)


def balancing(s):
    """3. P2C peak-EWMA vs round-robin over 3 replicas, one 50 ms slower; then the balanced
    client's overhead against a direct channel to one replica."""
    for run in range(s.runs):
        for variant in (["p2c", "rr"] if run % 2 == 0 else ["rr", "p2c"]):
            ports = [free_port() for _ in range(3)]
            with Procs(s.out_dir) as procs:
                for i, (port, delay) in enumerate(zip(ports, [0, 0, 50])):
                    name = "slow" if delay else f"r{i + 1}"
                    procs.start(f"s3-{name}", [RIG, "replica", f"127.0.0.1:{port}", name, str(delay)], port=port)
                m = rig_load(variant, [f"127.0.0.1:{p}" for p in ports], 8, s.warmup, s.duration, procs.pids)
                m.update(memory(procs.pids))
                served = m.get("served_by", {})
                m["slow_share"] = served.get("slow", 0) / max(1, sum(served.values()))
                s.record("balancing", variant, run, **m)
        for variant in (["direct", "balanced"] if run % 2 == 0 else ["balanced", "direct"]):
            port = free_port()
            with Procs(s.out_dir) as procs:
                procs.start("s3-solo", [RIG, "replica", f"127.0.0.1:{port}", "solo", "0"], port=port)
                mode = "direct" if variant == "direct" else "p2c"
                m = rig_load(mode, [f"127.0.0.1:{port}"], s.conc, s.warmup, s.duration, procs.pids)
                m.update(memory(procs.pids))
                s.record("client_overhead", variant, run, **m)


def micro(s):
    """The criterion micro-benchmarks; one record per benchmark (mean and its interval)."""
    started = time.time()
    extra = ["--warm-up-time", "0.3", "--measurement-time", "1"] if s.quick else []
    for package, bench in [("protomesh", "hot_paths"), ("protomesh-gateway", "transcode")]:
        subprocess.run(["nice", "cargo", "bench", "-q", "-p", package, "--bench", bench, "--", "--noplot"]
                       + extra, cwd=ROOT, check=True, stdout=open(os.path.join(s.out_dir, f"criterion-{bench}.log"), "w"))
        for est in glob.glob(os.path.join(os.path.dirname(RELEASE), "criterion", "*", "*", "new", "estimates.json")):
            parts = est.split(os.sep)
            group, name = parts[-4], parts[-3]
            if group not in GROUPS[bench] or os.path.getmtime(est) < started:
                continue
            with open(est) as f:
                mean = json.load(f)["mean"]
            s.record("micro", f"{group}/{name}", 0, mean_ns=mean["point_estimate"],
                     low_ns=mean["confidence_interval"]["lower_bound"],
                     high_ns=mean["confidence_interval"]["upper_bound"])


GROUPS = {"hot_paths": {"balancer_pick", "metrics_recording"}, "transcode": {"route_match", "transcode"}}
