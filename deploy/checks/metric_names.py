"""The metric names the alerting rules and the Grafana dashboard query, against deploy/metrics.txt.

deploy/metrics.txt is the contract between these assets and the code: one series name per line,
exactly as it appears in /metrics (histograms by their `_bucket` series). This check fails when
a rule or panel queries a name missing from the file, or when the file lists a name nothing
queries, so the file stays the exact list a Rust test can check the code against. It also writes
every dashboard expression into a rule file, so `promtool check rules` parses them.

    python metric_names.py METRICS_TXT RULES_DIR DASHBOARD_JSON DASHBOARD_RULES_OUT
"""

import json
import pathlib
import re
import sys

import yaml

# Series Prometheus makes itself; the code cannot emit them.
SYNTHETIC = {"up"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "atan2", "start", "end"}
# Grafana's variables, and what they stand for when an expression is parsed outside Grafana.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def grafana_to_promql(expr: str) -> str:
    """Replaces Grafana's variables by values promtool accepts."""
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    # Template variables sit inside label matchers, as regexes: any value.
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", ".+", expr)


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects, by a small PromQL scanner."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+)?[smhdwy]?\b", " ", expr)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        rest = expr[m.end():].lstrip()
        if rest.startswith("(") or m.group(0).lower() in KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def dashboard_exprs(dashboard: dict) -> list[tuple[str, str]]:
    """(where, expr) for every panel target, nested rows included, and every variable query."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if "expr" not in t or not t["expr"].strip():
                    raise SystemExit(f"dashboard: panel {p.get('title')!r} has a target without expr")
                out.append((f"panel {p.get('id')} {p.get('title')!r} {t.get('refId')}", t["expr"]))
            walk(p.get("panels", []))

    walk(dashboard.get("panels", []))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", query)
        out.append((f"variable {var['name']}", m.group(1) if m else query))
    return out


def main(metrics_txt, rules_dir, dashboard_json, dashboard_rules_out) -> int:
    declared = [line.strip() for line in pathlib.Path(metrics_txt).read_text().splitlines()]
    if any(not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", n) for n in declared):
        raise SystemExit(f"{metrics_txt}: every line must be one metric name, nothing else")
    declared_set = set(declared)
    used: dict[str, list[str]] = {}

    for rules_file in sorted(pathlib.Path(rules_dir).glob("*.yml")):
        for group in yaml.safe_load(rules_file.read_text())["groups"]:
            for rule in group["rules"]:
                where = f"{rules_file.name}: {rule.get('alert') or rule.get('record')}"
                for name in metric_names(rule["expr"]):
                    used.setdefault(name, []).append(where)
    recorded = {r.get("record") for f in pathlib.Path(rules_dir).glob("*.yml")
                for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]}

    dashboard = json.loads(pathlib.Path(dashboard_json).read_text())
    ids = [p["id"] for p in dashboard.get("panels", [])]
    if len(ids) != len(set(ids)):
        raise SystemExit("dashboard: panel ids are not unique")
    rules = []
    for i, (where, expr) in enumerate(dashboard_exprs(dashboard)):
        for name in metric_names(grafana_to_promql(expr)):
            used.setdefault(name, []).append(f"dashboard {where}")
        rules.append({"record": f"dashboard:expr_{i}", "expr": grafana_to_promql(expr)})
    pathlib.Path(dashboard_rules_out).write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False))

    failures = []
    for name, places in sorted(used.items()):
        if name not in declared_set and name not in SYNTHETIC and name not in recorded:
            failures.append(f"{name} is queried ({places[0]}) but missing from {metrics_txt}")
    for name in declared:
        if name not in used:
            failures.append(f"{name} is in {metrics_txt} but no rule or panel queries it")
    for f in failures:
        print(f"metric names: {f}", file=sys.stderr)
    if not failures:
        print(f"metric names: {len(declared)} names in metrics.txt, exactly those queried "
              f"(plus {sorted(SYNTHETIC & used.keys())}); {len(rules)} dashboard expressions")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    sys.exit(main(*sys.argv[1:]))
