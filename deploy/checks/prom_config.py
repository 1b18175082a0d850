"""Makes the Kubernetes Prometheus config checkable by Debian's promtool.

Debian builds Prometheus without Kubernetes service discovery, so its promtool rejects
`kubernetes_sd_configs`. This checks those blocks here (known roles and fields, relabelling
that reads only labels the pod role produces) and writes a copy with each block replaced by a
static target, for `promtool check config` to check everything else (relabel rules, rule
files, alerting).

    python prom_config.py PROMETHEUS_YML OUT_YML
"""

import pathlib
import sys

import yaml

SD_FIELDS = {"role", "namespaces", "selectors", "api_server", "kubeconfig_file", "attach_metadata"}
ROLES = {"node", "service", "pod", "endpoints", "endpointslice", "ingress"}


def main(src: str, out: str) -> int:
    config = yaml.safe_load(pathlib.Path(src).read_text())
    errors = []
    for job in config.get("scrape_configs", []):
        sds = job.pop("kubernetes_sd_configs", None)
        if sds is None:
            continue
        for sd in sds:
            if set(sd) - SD_FIELDS:
                errors.append(f"{job['job_name']}: unknown kubernetes_sd_configs fields {set(sd) - SD_FIELDS}")
            if sd.get("role") not in ROLES:
                errors.append(f"{job['job_name']}: role {sd.get('role')!r} is not one of {sorted(ROLES)}")
            prefix = f"__meta_kubernetes_{sd.get('role')}_"
            for rc in job.get("relabel_configs", []):
                for label in rc.get("source_labels", []):
                    if label.startswith("__meta_kubernetes_") and not (
                            label.startswith(prefix) or label == "__meta_kubernetes_namespace"):
                        errors.append(f"{job['job_name']}: {label} is not a label of role {sd.get('role')}")
        job["static_configs"] = [{"targets": ["127.0.0.1:9090"]}]
    # Rule files are relative to the config's folder; keep them resolvable from OUT.
    base = pathlib.Path(src).resolve().parent
    config["rule_files"] = [str(base / p) for p in config.get("rule_files", [])]
    pathlib.Path(out).write_text(yaml.safe_dump(config, sort_keys=False))
    for e in errors:
        print(f"prometheus config: {src}: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(main(*sys.argv[1:]))
