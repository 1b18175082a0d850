"""Checks the OpenTelemetry collector config's wiring (no collector binary runs here).

Every component a pipeline names is defined, every defined component is used, extensions are
enabled, memory_limiter comes first and batch last in each pipeline's processors.

    python otel_config.py COLLECTOR_YAML
"""

import sys

import yaml


def main(path: str) -> int:
    with open(path) as f:
        config = yaml.safe_load(f)
    errors = []
    service = config.get("service", {})
    used = {"receivers": set(), "processors": set(), "exporters": set()}
    if not service.get("pipelines"):
        errors.append("no pipelines")
    for name, pipeline in service.get("pipelines", {}).items():
        if name.split("/")[0] not in ("traces", "metrics", "logs"):
            errors.append(f"pipeline {name}: unknown signal")
        for kind in used:
            for component in pipeline.get(kind, []):
                used[kind].add(component)
                if component not in (config.get(kind) or {}):
                    errors.append(f"pipeline {name}: {kind[:-1]} {component} is not defined")
        for kind in ("receivers", "exporters"):
            if not pipeline.get(kind):
                errors.append(f"pipeline {name}: no {kind}")
        procs = pipeline.get("processors", [])
        if procs and (procs[0] != "memory_limiter" or procs[-1] != "batch"):
            errors.append(f"pipeline {name}: processors must start with memory_limiter and end with batch")
    for kind, names in used.items():
        for defined in config.get(kind) or {}:
            if defined not in names:
                errors.append(f"{kind[:-1]} {defined} is defined but no pipeline uses it")
    for ext in config.get("extensions") or {}:
        if ext not in service.get("extensions", []):
            errors.append(f"extension {ext} is defined but not enabled")
    for e in errors:
        print(f"otel collector: {path}: {e}", file=sys.stderr)
    if not errors:
        print(f"otel collector: {path}: {len(service['pipelines'])} pipeline(s) wired")
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1]))
