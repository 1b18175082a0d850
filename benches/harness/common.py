"""Shared parts of the load harness: pinned processes, /proc readings, load tools, records.

Everything listens on 127.0.0.1; every process started here is stopped by its PID.
"""
import json
import os
import resource
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
RELEASE = os.path.join(TARGET, "release")
SERVER_CPU = os.environ.get("BENCH_SERVER_CPUS", "0")
LOAD_CPU = os.environ.get("BENCH_LOAD_CPUS", "1")


class Settings:
    """Durations and repetitions of one harness run."""

    def __init__(self, quick, runs, out_dir):
        self.quick = quick
        self.runs = runs
        self.warmup = 1 if quick else 3
        self.duration = 3 if quick else 10
        self.conc = 50
        self.out_dir = out_dir
        self.records = os.path.join(out_dir, "runs.jsonl")

    def record(self, scenario, variant, run, **metrics):
        """Appends one run's JSON record and echoes it."""
        rec = {"scenario": scenario, "variant": variant, "run": run, "time": time.time(), **metrics}
        with open(self.records, "a") as f:
            f.write(json.dumps(rec) + "\n")
        brief = {k: v for k, v in metrics.items() if k in ("rps", "p50_ms", "p99_ms", "p999_ms", "cpu_us_per_req", "errors")}
        print(f"  [{scenario}/{variant} #{run}] {json.dumps(brief)}", flush=True)
        return rec


def free_port():
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30.0):
    """Waits until 127.0.0.1:port accepts a connection."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.02)
    return False


def http(method, url, body=None, token=None, timeout=5):
    """One HTTP request; returns (status, parsed JSON or text)."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as e:
        text, status = e.read().decode(), e.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Procs:
    """Processes started pinned to the server core; stopped (SIGINT, then SIGKILL) on exit."""

    def __init__(self, log_dir, cpus=None):
        self.log_dir = log_dir
        self.cpus = cpus or SERVER_CPU
        self.items = []

    def start(self, label, argv, env=None, port=None, timeout=30.0):
        if not os.path.exists(argv[0]):
            raise RuntimeError(f"{label}: {argv[0]} is not built")
        log = open(os.path.join(self.log_dir, f"{label}.log"), "ab")
        proc = subprocess.Popen(["taskset", "-c", self.cpus] + argv, env={**os.environ, **(env or {})},
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.items.append((label, proc))
        if port is not None and not wait_port(port, timeout):
            raise RuntimeError(f"{label} did not listen on {port} (log: {log.name})")
        return proc

    @property
    def pids(self):
        return [p.pid for _, p in self.items]

    def stop(self):
        for _, p in self.items:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for _, p in self.items:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.items = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def cpu_ticks(pids):
    """utime + stime of these processes, in clock ticks."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def status_kib(pid, key):
    """A `/proc/PID/status` field in KiB (VmHWM, VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class ChildCpu:
    """CPU seconds of child processes reaped while it is open (the load generator)."""

    def __init__(self):
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.t0, self.c0 = time.time(), usage.ru_utime + usage.ru_stime

    def seconds(self):
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime - self.c0

    def util(self):
        return self.seconds() / (time.time() - self.t0)


class CpuWindow:
    """CPU time of server processes (and optionally the load process) over a window."""

    def __init__(self, pids):
        self.pids = pids
        self.t0 = time.time()
        self.c0 = cpu_ticks(pids)

    def finish(self, requests):
        wall = time.time() - self.t0
        secs = (cpu_ticks(self.pids) - self.c0) / CLK_TCK
        return {
            "cpu_us_per_req": secs * 1e6 / requests if requests else None,
            "cpu_util": secs / wall if wall else None,
        }


def memory(pids):
    """Peak (VmHWM) of the largest process and summed over all, in MiB."""
    hwm = [status_kib(p, "VmHWM") for p in pids]
    return {"peak_mib_max": max(hwm) / 1024 if hwm else None, "peak_mib_sum": sum(hwm) / 1024}


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def h2load(url, settings, server_pids, grpc_body=None, json_body=None, h1=False, conc=None,
           method=None, extra_headers=()):
    """One bounded h2load run pinned to the load core, with warm-up; returns the metrics.

    Latencies come from h2load's per-request log (main phase only); server CPU is read from
    /proc over the main phase (warm-up excluded by starting the window after it).
    """
    conc = conc or settings.conc
    argv = ["taskset", "-c", LOAD_CPU, "h2load", "-c", str(conc), "-t", "1",
            "--warm-up-time", str(settings.warmup), "-D", str(settings.duration)]
    if h1:
        argv.append("--h1")
    else:
        argv += ["-m", "1"]
    if grpc_body:
        argv += ["-d", grpc_body, "-H", "content-type: application/grpc", "-H", "te: trailers"]
    if json_body:
        argv += ["-d", json_body, "-H", "content-type: application/json"]
    if method:
        argv += ["--header", f":method: {method}"]
    for h in extra_headers:
        argv += ["-H", h]
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        argv += ["--log-file", log.name, url]
        load_cpu = ChildCpu()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(settings.warmup + 0.3)
        window = CpuWindow(server_pids)
        out, _ = proc.communicate(timeout=settings.warmup + settings.duration + 60)
        latencies = []
        with open(log.name) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    latencies.append(int(parts[2]) / 1000.0)
    latencies.sort()
    rps, errors = 0.0, 0
    for line in out.splitlines():
        if line.startswith("finished in"):
            rps = float(line.split(",")[1].split()[0])
        if line.startswith("status codes:"):  # N 2xx, N 3xx, N 4xx, N 5xx
            errors += sum(int(part.split()[0]) for part in line.split(":")[1].split(",")[1:])
        if line.startswith("requests:"):  # total, started, done, succeeded, failed, errored, timeout
            errors += sum(int(part.split()[0]) for part in line.split(":")[1].split(",")[4:6])
    if not rps:
        raise RuntimeError(f"h2load gave no rate:\n{out}")
    metrics = {"tool": "h2load", "conc": conc, "duration_s": settings.duration, "rps": rps,
               "requests": len(latencies), "errors": errors,
               "p50_ms": percentile(latencies, 0.50), "p99_ms": percentile(latencies, 0.99),
               "p999_ms": percentile(latencies, 0.999)}
    metrics.update(window.finish(rps * settings.duration))
    metrics["load_cpu_util"] = load_cpu.util()
    return metrics


def grpc_frame(message):
    """A gRPC length-prefixed frame of an encoded message."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def write_tmp(out_dir, name, data):
    path = os.path.join(out_dir, name)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path
