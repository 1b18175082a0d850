"""Generates the Python stubs of the contracts this service uses, from ``proto/``.

The stubs go to ``gen/`` beside the package (git-ignored) and are regenerated when a
contract is newer than them, under a file lock so concurrent starts do not collide.
"""

import fcntl
import os
import shutil
import sys
import tempfile
from pathlib import Path

#: The contracts to compile (their imports are compiled too, when ours).
PROTOS = [
    "google/api/annotations.proto",
    "google/api/http.proto",
    "protomesh/auth/v1/auth.proto",
    "protomesh/registry/v1/registry.proto",
    "shop/common/v1/money.proto",
    "shop/catalog/v1/catalog.proto",
    "shop/recommendations/v1/recommendations.proto",
]

#: Where the stubs are written.
GEN_DIR = Path(__file__).resolve().parent.parent / "gen"
#: The repository's contracts.
DEFAULT_PROTO_DIR = Path(__file__).resolve().parents[3] / "proto"


def _newest(paths):
    return max(p.stat().st_mtime for p in paths)


def _fresh(proto_dir, gen_dir):
    stamp = gen_dir / ".stamp"
    if not stamp.exists():
        return False
    return stamp.stat().st_mtime >= _newest(proto_dir / p for p in PROTOS)


def ensure(proto_dir=DEFAULT_PROTO_DIR, gen_dir=GEN_DIR):
    """Generates the stubs when missing or stale, and puts them on ``sys.path``."""
    proto_dir = Path(proto_dir)
    missing = [p for p in PROTOS if not (proto_dir / p).is_file()]
    if missing:
        raise FileNotFoundError(f"contracts missing under {proto_dir}: {', '.join(missing)}")
    gen_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(gen_dir.parent / ".gen.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _fresh(proto_dir, gen_dir):
            _generate(proto_dir, gen_dir)
    if str(gen_dir) not in sys.path:
        sys.path.insert(0, str(gen_dir))


def _generate(proto_dir, gen_dir):
    from grpc_tools import protoc
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    out = Path(tempfile.mkdtemp(prefix=".gen-", dir=gen_dir.parent))
    try:
        args = [
            "grpc_tools.protoc",
            f"-I{proto_dir}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            *PROTOS,
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {proto_dir}")
        (out / ".stamp").touch()
        if gen_dir.exists():
            shutil.rmtree(gen_dir)
        os.replace(out, gen_dir)
    finally:
        shutil.rmtree(out, ignore_errors=True)
