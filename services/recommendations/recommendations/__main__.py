"""``python -m recommendations``: serve, register, and drain on SIGTERM/SIGINT.

Drain order, as in the Rust kit: NOT_SERVING, deregister, then a grace period in which
in-flight calls finish.
"""

import argparse
import logging
import os
import signal
import sys
import threading

from . import SERVICE, VERSION, stubs

#: The port `protomesh up` runs the service on.
DEFAULT_PORT = 50091
#: How long in-flight calls may run on after a stop signal, in seconds.
GRACE = 5.0


def parse_args(argv):
    """The command line."""
    p = argparse.ArgumentParser(prog="recommendations", description=__doc__)
    p.add_argument("--listen", default=f"127.0.0.1:{DEFAULT_PORT}",
                   help="host:port to serve gRPC on (port 0 picks a free one)")
    p.add_argument("--registry", default="127.0.0.1:50051",
                   help="the protomesh registry's host:port")
    p.add_argument("--instance-id", default=None,
                   help="this instance's id in discovery (default recommendations-<pid>)")
    p.add_argument("--advertise-host", default=None,
                   help="the host to register instead of the bound one")
    p.add_argument("--proto-dir", default=str(stubs.DEFAULT_PROTO_DIR),
                   help="the contracts to generate the stubs from")
    p.add_argument("--exit-with-stdin", action="store_true",
                   help="drain and exit when standard input closes (set by protomesh up)")
    return p.parse_args(argv)


def main(argv=None):
    """Runs until SIGTERM, SIGINT or (with --exit-with-stdin) the end of stdin."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stubs.ensure(args.proto_dir)

    # The stubs exist only now: import what needs them.
    import grpc
    from protomesh.registry.v1 import registry_pb2

    from . import server as grpc_server
    from .catalog import Catalog
    from .registry import Announcer, EndpointWatcher

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.exit_with_stdin:
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()

    registry = grpc.insecure_channel(args.registry)
    catalog_endpoints = EndpointWatcher(registry, "catalog")
    catalog = Catalog(catalog_endpoints)
    server, port, health = grpc_server.build(catalog, args.listen)
    host = args.advertise_host or args.listen.rsplit(":", 1)[0].strip("[]")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    instance = registry_pb2.Instance(
        service=SERVICE,
        instance_id=args.instance_id or f"{SERVICE}-{os.getpid()}",
        address=address,
        version=VERSION,
        metadata={"language": "python"},
    )
    announcer = Announcer(registry, instance)

    catalog_endpoints.start()
    server.start()
    grpc_server.set_serving(health, True)
    logging.info("serving %s on %s", SERVICE, address)
    announcer.start()

    while not stop.wait(1.0):
        pass
    logging.info("draining")
    grpc_server.set_serving(health, False)
    announcer.withdraw()
    catalog_endpoints.stop()
    server.stop(GRACE).wait()
    catalog.close()
    registry.close()
    logging.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
