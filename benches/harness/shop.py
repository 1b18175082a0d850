"""Scenarios 4 and 5: the shop end to end through the gateway (SQLite, PostgreSQL), scaling of
catalog replicas, idle memory per instance, and the start-up time of `protomesh up`."""
import fcntl
import json
import os
import subprocess
import tempfile
import time
import urllib.request

from common import (LOAD_CPU, RELEASE, ROOT, CpuWindow, Procs, free_port, h2load, http, memory,
                    status_kib, wait_port)

PROTOMESH = os.path.join(RELEASE, "protomesh")
K6 = os.path.join(ROOT, ".tools", "bench-venv", "bin", "k6")
PG = os.environ.get("PROTOMESH_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
ADMIN = ("bench-admin@shop.test", "bench-admin-pass")
USERS = 16  # k6 virtual users, one shop user each


def pg_database(role):
    """A fresh PostgreSQL database for `role` (dropped first), so tests' databases are untouched."""
    name = f"protomesh_bench_{role}"
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", f"{PG}/postgres", "-qc", sql], check=True, capture_output=True)
    return f"{PG}/{name}"


def ready(admin_port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def start_shop(s, procs, db, catalog_replicas=1):
    """Starts registry, users, catalog x N, cart, orders and gateway, each its own process on the
    server core; waits until every instance is ready. Returns the gateway URL and instance pids."""
    data = tempfile.mkdtemp(prefix=f"shop-{db}-", dir=s.out_dir)
    registry = free_port()
    procs.start("registry", [PROTOMESH, "serve", "registry", "--listen", f"127.0.0.1:{registry}"], port=registry)
    roles = ["users"] + ["catalog"] * catalog_replicas + ["cart", "orders"]
    urls = {r: pg_database(r) for r in set(roles)} if db == "postgres" else {}
    admins, instances = [], {"registry": procs.pids[-1]}
    for i, role in enumerate(roles):
        port, admin = free_port(), free_port()
        argv = [PROTOMESH, "serve", role, "--listen", f"127.0.0.1:{port}", "--admin-listen",
                f"127.0.0.1:{admin}", "--registry", f"127.0.0.1:{registry}", "--data-dir", data,
                "--instance-id", f"{role}-{i}"]
        if role in urls:
            argv += ["--database-url", urls[role]]
        env = {"PROTOMESH_ADMIN_EMAIL": ADMIN[0], "PROTOMESH_ADMIN_PASSWORD": ADMIN[1]}
        procs.start(f"{role}-{i}", argv, env=env, port=port, timeout=60)
        admins.append(admin)
        instances[f"{role}-{i}"] = procs.pids[-1]
    gw = free_port()
    procs.start("gateway", [PROTOMESH, "serve", "gateway", "--listen", f"127.0.0.1:{gw}", "--registry",
                            f"127.0.0.1:{registry}", "--data-dir", data], port=gw)
    instances["gateway"] = procs.pids[-1]
    deadline = time.time() + 60
    while not all(ready(a) for a in admins):
        if time.time() > deadline:
            raise RuntimeError("shop instances never all ready")
        time.sleep(0.1)
    base = f"http://127.0.0.1:{gw}"
    while http("GET", f"{base}/v1/products?pageSize=1")[0] != 200:
        if time.time() > deadline:
            raise RuntimeError("gateway never served products")
        time.sleep(0.1)
    return base, instances


def seed(base, users):
    """A product with ample stock (created by the admin) and `users` logged-in shoppers."""
    status, login = http("POST", f"{base}/v1/sessions", {"email": ADMIN[0], "password": ADMIN[1]})
    if status != 200:
        raise RuntimeError(f"admin login: {status} {login}")
    sku = f"BENCH-{int(time.time() * 1000)}"
    status, created = http("POST", f"{base}/v1/products", {
        "sku": sku, "name": "Bench widget", "description": "for load runs", "category": "bench",
        "price": {"currencyCode": "USD", "minorUnits": 1999}, "stock": 1_000_000_000},
        token=login["accessToken"])
    if status != 200:
        raise RuntimeError(f"create product: {status} {created}")
    tokens = []
    for i in range(users):
        email = f"shopper{i}-{sku.lower()}@shop.test"
        status, reply = http("POST", f"{base}/v1/users", {"email": email, "password": "bench-pass-1",
                                                           "displayName": f"Shopper {i}"})
        if status != 200:
            raise RuntimeError(f"register: {status} {reply}")
        status, reply = http("POST", f"{base}/v1/sessions", {"email": email, "password": "bench-pass-1"})
        tokens.append(reply["accessToken"])
    return created["product"]["productId"], tokens


def k6(s, base, product, tokens, seconds, out):
    """One k6 run of the checkout flow, pinned to the load core; returns its summary JSON."""
    config = os.path.join(s.out_dir, "k6-config.json")
    with open(config, "w") as f:
        json.dump({"base": base, "product": product, "tokens": tokens}, f)
    env = {**os.environ, "BENCH_CONFIG": config, "BENCH_SUMMARY": out, "K6_NO_USAGE_REPORT": "true"}
    argv = ["taskset", "-c", LOAD_CPU, K6, "run", "-q", "--no-color", "--vus", str(len(tokens)),
            "--duration", f"{seconds}s", os.path.join(os.path.dirname(__file__), "checkout.js")]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc


def e2e(s, db):
    """4. get product, add to cart, create order through the gateway; one flow per k6 VU."""
    for run in range(s.runs):
        with Procs(s.out_dir) as procs:
            base, instances = start_shop(s, procs, db)
            product, tokens = seed(base, USERS)
            summary = os.path.join(s.out_dir, f"k6-{db}-{run}.json")
            k6(s, base, product, tokens, s.warmup, summary + ".warmup").communicate(timeout=120)
            proc = k6(s, base, product, tokens, s.duration, summary)
            window = CpuWindow(procs.pids)
            _, err = proc.communicate(timeout=s.duration + 120)
            with open(summary) as f:
                k = json.load(f)
            checkouts = k["iterations"]
            m = {"tool": "k6", "conc": len(tokens), "duration_s": s.duration,
                 "rps": checkouts / s.duration, "requests": 3 * checkouts, "errors": k["failed"],
                 "steps": k["steps"]}
            m.update(window.finish(checkouts))
            m.update(memory(procs.pids))
            m["p50_ms"], m["p99_ms"], m["p999_ms"] = k["iteration"]["p50"], k["iteration"]["p99"], k["iteration"]["p999"]
            if proc.returncode not in (0, 99):
                m["k6_error"] = err[-500:]
            s.record("shop", db, run, **m)


def scaling(s):
    """5a. GET /v1/products/{id} through the gateway with 1, 2, 3 catalog replicas (SQLite);
    5b. idle RSS per instance after start-up (first run of 1 replica)."""
    for run in range(s.runs):
        for replicas in (1, 2, 3):
            with Procs(s.out_dir) as procs:
                base, instances = start_shop(s, procs, "sqlite", replicas)
                product, _ = seed(base, 0)
                if run == 0 and replicas == 1:
                    time.sleep(2)
                    for name, pid in instances.items():
                        s.record("idle_rss", name.rsplit("-", 1)[0], 0, rss_mib=status_kib(pid, "VmRSS") / 1024)
                pids = [instances["gateway"]] + [p for n, p in instances.items() if n.startswith("catalog")]
                m = h2load(f"{base}/v1/products/{product}", s, pids, h1=True)
                m.update(memory(pids))
                s.record("scaling", f"{replicas} catalog", run, **m)


def startup(s):
    """5c. `protomesh up` (release build, fresh data dir) until every instance is ready and the
    gateway serves products; under the shared lock, since `up` uses the fixed ports."""
    admins = [9061, 9062, 9063, 9071, 9081]
    for run in range(s.runs):
        data = tempfile.mkdtemp(prefix="up-", dir=s.out_dir)
        lock = os.open("/tmp/protomesh-up.lock", os.O_CREAT | os.O_RDWR)
        try:
            # The same lock as `flock /tmp/protomesh-up.lock`; other sessions hold it while
            # their `up` runs, so wait for it, boundedly.
            waited = time.time()
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.time() - waited > 240:
                        raise RuntimeError("/tmp/protomesh-up.lock stayed busy for 240 s") from None
                    time.sleep(0.5)
            if wait_port(8080, 0.1) or wait_port(50051, 0.1):
                raise RuntimeError("ports of `protomesh up` are busy although the lock is ours")
            log = open(os.path.join(s.out_dir, f"up-{run}.log"), "wb")
            t0 = time.monotonic()
            proc = subprocess.Popen(["taskset", "-c", "0", PROTOMESH, "up", "--data-dir", data],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE)
            ok = False
            while time.monotonic() - t0 < 30 and proc.poll() is None:
                if all(ready(a) for a in admins) and wait_port(50051, 0.01) and \
                        http("GET", "http://127.0.0.1:8080/v1/products?pageSize=1", timeout=1)[0] == 200:
                    ok = True
                    break
                time.sleep(0.005)
            elapsed = time.monotonic() - t0
            hwm = memory([proc.pid])
            proc.send_signal(2)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for port in [8080, 50051] + admins:
                deadline = time.time() + 10
                while wait_port(port, 0.01) and time.time() < deadline:
                    time.sleep(0.05)
        finally:
            os.close(lock)
        if not ok:
            raise RuntimeError("`protomesh up` did not get ready within 30 s")
        s.record("startup", "protomesh up", run, seconds=elapsed, **hwm)
