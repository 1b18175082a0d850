"""docs/benchmarks.md and its plots from one results directory (runs.jsonl + meta.json)."""
import json
import os
import statistics
from collections import defaultdict

PLOTS = "benchmarks"  # folder beside the page


def load(out_dir):
    with open(os.path.join(out_dir, "runs.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    meta_path = os.path.join(out_dir, "meta.json")
    meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
    groups = defaultdict(list)
    for r in records:
        groups[(r["scenario"], r["variant"])].append(r)
    return groups, meta


def spread(values):
    """(median, min, max) of the values that are present, or None."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def stat(groups, scenario, variant, key):
    return spread([r.get(key) for r in groups.get((scenario, variant), [])])


def fmt(s, digits=0, unit=""):
    if s is None:
        return "-"
    med, lo, hi = s
    if lo == hi:
        return f"{med:,.{digits}f}{unit}"
    return f"{med:,.{digits}f}{unit} ({lo:,.{digits}f}-{hi:,.{digits}f})"


def paired(groups, scenario, a, b, key, fn):
    """fn(a, b) per run index where both exist, as (median, min, max)."""
    ra = {r["run"]: r.get(key) for r in groups.get((scenario, a), [])}
    rb = {r["run"]: r.get(key) for r in groups.get((scenario, b), [])}
    return spread([fn(ra[i], rb[i]) for i in ra if i in rb and ra[i] and rb[i]])


def verdict(s, ok):
    if s is None:
        return "not run"
    return "**met**" if ok(s[0]) else "**not met**"


VARIANTS = {
    "stack": (["bare", "kit"], "1. unary gRPC: bare tonic vs kit stack"),
    "stack_shared": (["bare", "kit"], "1b. the same, both servers sharing one core at once"),
    "gateway": (["protomesh", "grpc-gateway"], "2. REST POST /v1/echo via gateway"),
    "balancing": (["p2c", "rr"], "3. 3 replicas, one +50 ms: P2C vs RR"),
    "client_overhead": (["direct", "balanced"], "3. one replica: direct vs balanced client"),
    "shop": (["sqlite", "postgres"], "4. shop checkout (3 REST calls) via gateway"),
    "scaling": (["1 catalog", "2 catalog", "3 catalog"], "5. GET product via gateway, catalog replicas"),
}


def latency_rows(groups):
    rows = []
    for scenario, (variants, title) in VARIANTS.items():
        for v in variants:
            if (scenario, v) not in groups:
                continue
            n = len(groups[(scenario, v)])
            unit = "checkouts/s" if scenario == "shop" else "req/s"
            rows.append(f"| {title} | {v} | {n} | {fmt(stat(groups, scenario, v, 'rps'))} {unit} | "
                        f"{fmt(stat(groups, scenario, v, 'p50_ms'), 2)} | {fmt(stat(groups, scenario, v, 'p99_ms'), 2)} | "
                        f"{fmt(stat(groups, scenario, v, 'p999_ms'), 2)} | {fmt(stat(groups, scenario, v, 'cpu_us_per_req'), 1)} | "
                        f"{fmt(stat(groups, scenario, v, 'peak_mib_max'), 1)} | {fmt(stat(groups, scenario, v, 'errors'))} |")
    return rows


def targets(groups):
    rows = []
    r = paired(groups, "stack", "kit", "bare", "rps", lambda a, b: 100 * a / b)
    rows.append(("1. kit stack throughput vs bare tonic", ">= 85 %", fmt(r, 1, " %"), verdict(r, lambda x: x >= 85)))
    r = paired(groups, "stack", "kit", "bare", "cpu_us_per_req", lambda a, b: 100 * b / a)
    rows.append(("1. (same, from CPU) bare CPU per call / kit CPU per call", "(shown, less noisy)", fmt(r, 1, " %"), "-"))
    r = paired(groups, "stack_shared", "kit", "bare", "rps", lambda a, b: 100 * a / b)
    rows.append(("1b. kit stack throughput vs bare tonic, sharing one core at once", ">= 85 %", fmt(r, 1, " %"), verdict(r, lambda x: x >= 85)))
    r = paired(groups, "gateway", "protomesh", "grpc-gateway", "cpu_us_per_req", lambda a, b: b / a)
    rows.append(("2. (same, from CPU) grpc-gateway CPU per request / protomesh", "(shown, less noisy)", fmt(r, 2, "x"), "-"))
    r = paired(groups, "gateway", "protomesh", "grpc-gateway", "rps", lambda a, b: a / b)
    rows.append(("2. gateway throughput vs grpc-gateway", ">= 2.5x", fmt(r, 2, "x"), verdict(r, lambda x: x >= 2.5)))
    r = paired(groups, "gateway", "protomesh", "grpc-gateway", "p99_ms", lambda a, b: a / b)
    rows.append(("2. gateway p99 vs grpc-gateway p99", "lower (< 1x)", fmt(r, 2, "x"), verdict(r, lambda x: x < 1)))
    r = paired(groups, "balancing", "rr", "p2c", "p99_ms", lambda a, b: a / b)
    rows.append(("3. round-robin p99 / P2C peak-EWMA p99, one slow replica", ">= 5x", fmt(r, 1, "x"), verdict(r, lambda x: x >= 5)))
    r = paired(groups, "client_overhead", "balanced", "direct", "rps", lambda a, b: 100 * (1 - a / b))
    rows.append(("3. balanced client throughput loss vs direct channel", "< 5 %", fmt(r, 1, " %"), verdict(r, lambda x: x < 5)))
    r = paired(groups, "client_overhead", "balanced", "direct", "client_cpu_us_per_req", lambda a, b: 100 * (a / b - 1))
    rows.append(("3. (same) client CPU per call, balanced vs direct", "(shown, not a target)", fmt(r, 1, " %"), "-"))
    for db in ("sqlite", "postgres"):
        s = stat(groups, "shop", db, "rps")
        rows.append((f"4. shop checkouts through the gateway, {db}", "(measured, no target)", fmt(s, 0, "/s"), "-" if s else "not run"))
    r = paired(groups, "scaling", "3 catalog", "1 catalog", "rps", lambda a, b: a / b)
    rows.append(("5. throughput 3 catalog replicas / 1 replica", "(measured, no target)", fmt(r, 2, "x"), "-" if r else "not run"))
    rss = [(v, r["rss_mib"]) for (sc, v), rs in groups.items() if sc == "idle_rss" for r in rs]
    worst = spread([x for _, x in rss])
    rows.append(("5. idle RSS per service instance (largest)", "< 15 MiB", fmt(worst and (worst[2],) * 3, 1, " MiB"),
                 verdict(worst and (worst[2],) * 3, lambda x: x < 15)))
    s = stat(groups, "startup", "protomesh up", "seconds")
    rows.append(("5. `protomesh up` until every instance serves", "< 1 s", fmt(s, 2, " s"), verdict(s, lambda x: x < 1)))
    return rows


def plots(groups, plot_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(plot_dir, exist_ok=True)
    present = [(sc, vs, t) for sc, (vs, t) in VARIANTS.items() if any((sc, v) in groups for v in vs)]
    made = []
    if present:
        fig, axes = plt.subplots(1, len(present), figsize=(3.2 * len(present), 3.6), squeeze=False)
        for ax, (sc, vs, title) in zip(axes[0], present):
            vs = [v for v in vs if (sc, v) in groups]
            s = [stat(groups, sc, v, "rps") for v in vs]
            meds = [x[0] for x in s]
            err = [[x[0] - x[1] for x in s], [x[2] - x[0] for x in s]]
            ax.bar(vs, meds, yerr=err, capsize=4, color=["#2b6cb0", "#c05621", "#2f855a"][: len(vs)])
            ax.set_title(title.split(":")[0][:34], fontsize=8)
            ax.set_ylabel("checkouts/s" if sc == "shop" else "req/s", fontsize=8)
            ax.tick_params(labelsize=7)
        fig.suptitle("Throughput: median of runs, bars = min-max", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(plot_dir, "throughput.png"), dpi=90)
        plt.close(fig)
        made.append("throughput.png")

        fig, axes = plt.subplots(1, len(present), figsize=(3.2 * len(present), 3.6), squeeze=False)
        for ax, (sc, vs, title) in zip(axes[0], present):
            vs = [v for v in vs if (sc, v) in groups]
            width = 0.8 / 3
            for i, (key, label) in enumerate([("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")]):
                meds = [(stat(groups, sc, v, key) or (0,))[0] for v in vs]
                ax.bar([j + (i - 1) * width for j in range(len(vs))], meds, width, label=label)
            ax.set_xticks(range(len(vs)))
            ax.set_xticklabels(vs, fontsize=7)
            ax.set_yscale("log")
            ax.set_title(title.split(":")[0][:34], fontsize=8)
            ax.set_ylabel("ms (log)", fontsize=8)
            ax.tick_params(labelsize=7)
        axes[0][0].legend(fontsize=7)
        fig.suptitle("Latency percentiles (median of runs)", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(plot_dir, "latency.png"), dpi=90)
        plt.close(fig)
        made.append("latency.png")

    micro = sorted((v, r["mean_ns"]) for (sc, v), rs in groups.items() if sc == "micro" for r in rs)
    if micro:
        fig, ax = plt.subplots(figsize=(7, 0.28 * len(micro) + 1))
        ax.barh([m[0] for m in micro], [m[1] for m in micro], color="#2b6cb0")
        ax.set_xscale("log")
        ax.set_xlabel("ns per operation (criterion mean, log)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(os.path.join(plot_dir, "micro.png"), dpi=90)
        plt.close(fig)
        made.append("micro.png")
    return made


def shop_steps(groups):
    rows = []
    for db in ("sqlite", "postgres"):
        recs = groups.get(("shop", db), [])
        if not recs:
            continue
        for step in ("get_product", "add_to_cart", "create_order"):
            vals = lambda k: spread([r["steps"][step][k] for r in recs if r.get("steps")])  # noqa: E731
            rows.append(f"| {db} | {step} | {fmt(vals('p50'), 2)} | {fmt(vals('p99'), 2)} | {fmt(vals('p999'), 2)} |")
    return rows


def write(out_dir, page):
    groups, meta = load(out_dir)
    plot_dir = os.path.join(os.path.dirname(page), PLOTS)
    made = plots(groups, plot_dir)
    m = meta.get("machine", {})
    rel = os.path.relpath(out_dir, os.path.dirname(os.path.dirname(page)))
    lines = open(os.path.join(os.path.dirname(__file__), "page_head.md")).read().rstrip().split("\n")
    lines += [
        "",
        "## This run",
        "",
        f"- Started {meta.get('started', '?')}, commit `{m.get('commit', '?')}`, "
        f"{meta.get('runs', '?')} run(s) per scenario, {meta.get('warmup_s', '?')} s warm-up + "
        f"{meta.get('duration_s', '?')} s measured each{' (**--quick**)' if meta.get('quick') else ''}; "
        f"whole run {meta.get('seconds', '?')} s. Records: `{rel}/runs.jsonl` (git-ignored).",
        f"- Machine: {m.get('cpu', '?')}, {m.get('nproc', '?')} CPUs, {m.get('memory_gib', '?')} GiB, "
        f"kernel {m.get('kernel', '?')}; load average at start {fmt_load(m.get('loadavg_start'))}, "
        f"at end {fmt_load(m.get('loadavg_end'))}.",
        f"- Tools: {m.get('rustc', '?')}; {m.get('h2load', '?')}; k6 {m.get('k6', '?')}; {m.get('go', '?')}.",
    ]
    for name, err in meta.get("failures", {}).items():
        lines.append(f"- Scenario `{name}` **failed** in this run: {err}")
    lines += ["", "## Targets", "", "| target | wanted | measured: median (min-max) | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets(groups)]
    lines += ["", "## Every scenario", "",
              "Median (min-max) over the runs. CPU = server processes' (utime+stime) per request from "
              "`/proc/PID/stat` (for the shop: per checkout, all six processes); peak = largest VmHWM of "
              "one server process.", "",
              "| scenario | variant | runs | throughput | p50 ms | p99 ms | p99.9 ms | server CPU us/req | peak MiB | errors |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    lines += latency_rows(groups)
    steps = shop_steps(groups)
    if steps:
        lines += ["", "Shop, each step of the checkout (ms):", "", "| database | step | p50 | p99 | p99.9 |", "|---|---|---|---|---|"]
        lines += steps
    rss = sorted((v, r["rss_mib"]) for (sc, v), rs in groups.items() if sc == "idle_rss" for r in rs)
    if rss:
        lines += ["", "Idle RSS after start-up (SQLite, 1 catalog replica): " +
                  ", ".join(f"{v} {x:.1f} MiB" for v, x in rss) + "."]
    bal = groups.get(("balancing", "rr"), []) + groups.get(("balancing", "p2c"), [])
    if bal:
        shares = {v: spread([r.get("slow_share") for r in groups.get(("balancing", v), [])]) for v in ("p2c", "rr")}
        lines += ["", "Share of calls the slow replica served: " +
                  ", ".join(f"{v} {fmt(s and tuple(100 * x for x in s), 1, ' %')}" for v, s in shares.items()) + "."]
    micro = sorted((v, r) for (sc, v), rs in groups.items() if sc == "micro" for r in rs)
    if micro:
        lines += ["", "## Micro-benchmarks (criterion)", "", "| benchmark | mean | 95 % interval |", "|---|---|---|"]
        lines += [f"| {v} | {ns(r['mean_ns'])} | {ns(r['low_ns'])} - {ns(r['high_ns'])} |" for v, r in micro]
    if made:
        lines += ["", "## Plots", ""] + [f"![{p}]({PLOTS}/{p})" for p in made]
    notes = os.path.join(out_dir, "notes.md")
    if os.path.exists(notes):
        lines += ["", "## Notes on this run", "", open(notes).read().strip()]
    with open(page, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {page} and {len(made)} plot(s)")


def ns(x):
    return f"{x / 1000:.2f} us" if x >= 1000 else f"{x:.1f} ns"


def fmt_load(v):
    return "/".join(f"{x:.1f}" for x in v) if v else "?"
