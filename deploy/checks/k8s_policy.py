"""Rules a rendered overlay must follow beyond its schema (kubernetes-validate checks that).

Each Deployment: RollingUpdate with maxUnavailable 0; readiness and liveness probes, native
gRPC ones on the port named `grpc` for the shop's services; a termination grace period that
covers the drain (preStop sleep + PROTOMESH_DRAIN_GRACE + the in-flight bound + a margin);
requests and limits; non-root, read-only root filesystem, no privilege escalation, no
capabilities; a PodDisruptionBudget; for the services, a headless Service. Every referenced
ConfigMap, Secret and key exists (a Secret made outside the overlay by its documented keys),
the Ingress and HPAs point at what exists, a default-deny NetworkPolicy is there.

    python k8s_policy.py RENDERED.yaml --replicas N [--external-secret NAME=KEYS_FILE]
"""

import argparse
import re
import sys

import yaml

# How long the kit lets in-flight calls finish once draining (its bounded drain), and the
# margin kept before the kubelet's SIGKILL. Must match the kit's default; see deploy/README.md.
INFLIGHT_BOUND_SECONDS = 15
MARGIN_SECONDS = 5
HPA_TARGETS = {"gateway", "catalog"}


def duration_seconds(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", text)
    if not m:
        raise ValueError(f"unreadable duration {text!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def check(docs: list[dict], replicas: int, external: dict[str, set[str]]) -> list[str]:
    errors = []
    by_kind: dict[str, dict[str, dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    configmaps = by_kind.get("ConfigMap", {})
    secrets = {name: set(s.get("data", {})) | set(s.get("stringData", {}))
               for name, s in by_kind.get("Secret", {}).items()}
    secrets.update(external)

    def secret_key(where, name, key):
        if name not in secrets:
            errors.append(f"{where}: Secret {name} is neither rendered nor documented")
        elif key not in secrets[name]:
            errors.append(f"{where}: Secret {name} has no key {key}")

    for name, dep in by_kind.get("Deployment", {}).items():
        where = f"Deployment {name}"
        spec, pod = dep["spec"], dep["spec"]["template"]["spec"]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        service_role = labels.get("app.kubernetes.io/component") == "service"
        strategy = spec.get("strategy", {})
        if strategy.get("type") != "RollingUpdate" or strategy.get("rollingUpdate", {}).get("maxUnavailable") != 0:
            errors.append(f"{where}: needs RollingUpdate with maxUnavailable 0")
        hpa = [h for h in by_kind.get("HorizontalPodAutoscaler", {}).values()
               if h["spec"]["scaleTargetRef"]["name"] == name]
        if hpa and "replicas" in spec:
            errors.append(f"{where}: an HPA owns its replica count; `replicas` would reset it on apply")
        elif not hpa and spec.get("replicas") != replicas:
            errors.append(f"{where}: {spec.get('replicas')} replicas, expected {replicas}")
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            errors.append(f"{where}: pod must set runAsNonRoot")
        if not any(selects(p["spec"]["selector"], labels) for p in by_kind.get("PodDisruptionBudget", {}).values()):
            errors.append(f"{where}: no PodDisruptionBudget selects it")
        if service_role and not any(
                s["spec"].get("clusterIP") == "None" and selects({"matchLabels": s["spec"].get("selector", {})}, labels)
                and any(p["name"] == "grpc" for p in s["spec"]["ports"])
                for s in by_kind.get("Service", {}).values()):
            errors.append(f"{where}: no headless Service with a `grpc` port selects it")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for v in volumes.values():
            if "secret" in v:
                for item in v["secret"].get("items", []):
                    secret_key(f"{where} volume {v['name']}", v["secret"]["secretName"], item["key"])
        for c in pod["containers"]:
            cw = f"{where} container {c['name']}"
            env = {}
            for src in c.get("envFrom", []):
                ref = src.get("configMapRef", {}).get("name")
                if ref not in configmaps:
                    errors.append(f"{cw}: ConfigMap {ref} is not rendered")
                else:
                    env.update(configmaps[ref].get("data", {}))
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secret_key(cw, ref["name"], ref["key"])
                ref = e.get("valueFrom", {}).get("configMapKeyRef")
                if ref and ref["key"] not in configmaps.get(ref["name"], {}).get("data", {}):
                    errors.append(f"{cw}: ConfigMap {ref['name']} has no key {ref['key']}")
                env[e["name"]] = e.get("value")
            res = c.get("resources", {})
            for kind, key in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
                if key not in res.get(kind, {}):
                    errors.append(f"{cw}: no {kind}.{key}")
            sc = c.get("securityContext", {})
            if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
                    and sc.get("capabilities", {}).get("drop") == ["ALL"]):
                errors.append(f"{cw}: needs readOnlyRootFilesystem, no privilege escalation, drop ALL")
            if c["image"].endswith(":latest") or ":" not in c["image"]:
                errors.append(f"{cw}: image {c['image']} must carry a pinned tag")
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c:
                    errors.append(f"{cw}: no {probe}")
                elif service_role and c[probe].get("grpc", {}).get("port") != ports.get("grpc"):
                    errors.append(f"{cw}: {probe} must be a grpc probe on the `grpc` port")
            pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds")
            grace = env.get("PROTOMESH_DRAIN_GRACE")
            if pre_stop is None or grace is None:
                errors.append(f"{cw}: needs a preStop sleep and PROTOMESH_DRAIN_GRACE")
                continue
            need = pre_stop + duration_seconds(grace) + INFLIGHT_BOUND_SECONDS + MARGIN_SECONDS
            have = pod.get("terminationGracePeriodSeconds", 30)
            if have < need:
                errors.append(f"{cw}: terminationGracePeriodSeconds {have} < preStop {pre_stop}s + "
                              f"drain grace {grace} + in-flight {INFLIGHT_BOUND_SECONDS}s + margin {MARGIN_SECONDS}s")

    deployments = by_kind.get("Deployment", {})
    hpas = by_kind.get("HorizontalPodAutoscaler", {})
    for target in HPA_TARGETS:
        if not any(h["spec"]["scaleTargetRef"]["name"] == target for h in hpas.values()):
            errors.append(f"no HorizontalPodAutoscaler for {target}")
    for name, h in hpas.items():
        if h["spec"]["scaleTargetRef"]["name"] not in deployments:
            errors.append(f"HPA {name}: target {h['spec']['scaleTargetRef']['name']} is not rendered")
        if h["spec"].get("minReplicas", 1) != replicas:
            errors.append(f"HPA {name}: minReplicas {h['spec'].get('minReplicas')}, expected {replicas}")
    for name, ing in by_kind.get("Ingress", {}).items():
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                svc = path["backend"]["service"]
                target = by_kind.get("Service", {}).get(svc["name"])
                if not target or svc["port"].get("name") not in [p["name"] for p in target["spec"]["ports"]]:
                    errors.append(f"Ingress {name}: backend {svc} does not exist")
    if not any(p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]
               for p in by_kind.get("NetworkPolicy", {}).values()):
        errors.append("no default-deny ingress NetworkPolicy")
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rendered")
    parser.add_argument("--replicas", type=int, required=True)
    parser.add_argument("--external-secret", action="append", default=[], metavar="NAME=KEYS_FILE")
    args = parser.parse_args()
    external = {}
    for spec in args.external_secret:
        name, path = spec.split("=", 1)
        keys = set()
        for line in open(path):
            line = line.strip()
            if line and not line.startswith("#"):
                keys.add(line.split("=", 1)[0])
            keys.update(re.findall(r"^#file:\s*(\S+)", line))
        external[name] = keys
    with open(args.rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    errors = check(docs, args.replicas, external)
    for e in errors:
        print(f"k8s policy: {args.rendered}: {e}", file=sys.stderr)
    if not errors:
        print(f"k8s policy: {args.rendered}: {len(docs)} objects follow the rules")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
