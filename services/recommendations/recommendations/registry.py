"""The protomesh registry, seen from a Python instance.

``Announcer`` registers the instance with a lease, heartbeats at a third of the granted
TTL, registers again when a heartbeat answers NOT_FOUND (lease expired, registry
restarted), and deregisters on ``withdraw``. ``EndpointWatcher`` follows one service's
live endpoint set through ``Watch``: a snapshot, then upserts and removals.
"""

import logging
import threading

import grpc
from google.protobuf import duration_pb2

from protomesh.registry.v1 import registry_pb2, registry_pb2_grpc

log = logging.getLogger(__name__)

#: The lease time asked for, in seconds (the Rust announcer's default).
DEFAULT_TTL = 10.0
#: How long a withdrawal waits for the registry before leaving the lease to expire.
WITHDRAW_TIMEOUT = 2.0
#: The longest wait between retries when the registry is unreachable.
MAX_BACKOFF = 5.0


class Announcer:
    """Keeps ``instance`` registered while running; see the module docs."""

    def __init__(self, channel, instance, ttl=DEFAULT_TTL):
        self._stub = registry_pb2_grpc.RegistryServiceStub(channel)
        self._instance = instance
        self._ttl = ttl
        self._lease = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="announcer", daemon=True)

    @property
    def lease_id(self):
        """The lease held, or None before the first registration."""
        with self._lock:
            return self._lease

    def start(self):
        """Registers in the background (retrying until the registry answers) and heartbeats."""
        self._thread.start()

    def _register(self):
        ttl = duration_pb2.Duration()
        ttl.FromNanoseconds(int(self._ttl * 1e9))
        reply = self._stub.Register(
            registry_pb2.RegisterRequest(instance=self._instance, ttl=ttl), timeout=self._ttl / 3
        )
        granted = reply.ttl.ToNanoseconds() / 1e9 or self._ttl
        with self._lock:
            self._lease = reply.lease_id
        log.info("registered %s as %s (lease %.1fs)", self._instance.address,
                 self._instance.instance_id, granted)
        return granted

    def _run(self):
        granted, backoff = None, 0.25
        while not self._stop.is_set():
            try:
                if granted is None:
                    granted = self._register()
                    backoff = 0.25
                if self._stop.wait(granted / 3):
                    return
                self._stub.Heartbeat(
                    registry_pb2.HeartbeatRequest(lease_id=self.lease_id), timeout=granted / 3
                )
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.NOT_FOUND:
                    log.info("lease lost; registering again")
                    granted = None
                    continue
                log.warning("registry: %s: %s", e.code().name, e.details())
                if granted is None and self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, MAX_BACKOFF)

    def withdraw(self):
        """Stops heartbeating, then deregisters the lease held (at most WITHDRAW_TIMEOUT)."""
        self._stop.set()
        self._thread.join(timeout=WITHDRAW_TIMEOUT)
        lease = self.lease_id
        if lease is None:
            return
        try:
            self._stub.Deregister(
                registry_pb2.DeregisterRequest(lease_id=lease), timeout=WITHDRAW_TIMEOUT
            )
            log.info("deregistered %s", self._instance.instance_id)
        except grpc.RpcError as e:
            log.warning("deregistering failed (%s); the lease will expire", e.code().name)


class EndpointWatcher:
    """The live addresses of one logical service, kept current by the registry's Watch."""

    def __init__(self, channel, service):
        self._stub = registry_pb2_grpc.RegistryServiceStub(channel)
        self._service = service
        self._instances = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._call = None
        self._thread = threading.Thread(target=self._run, name=f"watch-{service}", daemon=True)

    def start(self):
        """Starts following the service in the background."""
        self._thread.start()

    def stop(self):
        """Stops following."""
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()

    def addresses(self, wait=0.0):
        """The live addresses, sorted; waits up to ``wait`` seconds for a first one."""
        with self._changed:
            self._changed.wait_for(lambda: self._instances, timeout=wait)
            return sorted(i.address for i in self._instances.values())

    def _apply(self, event):
        kind = event.WhichOneof("event")
        with self._changed:
            if kind == "snapshot":
                self._instances = {i.instance_id: i for i in event.snapshot.instances}
            elif kind == "upserted":
                self._instances[event.upserted.instance_id] = event.upserted
            elif kind == "removed":
                self._instances.pop(event.removed.instance_id, None)
            self._changed.notify_all()

    def _run(self):
        backoff = 0.25
        while not self._stop.is_set():
            try:
                self._call = self._stub.Watch(registry_pb2.WatchRequest(service=self._service))
                for event in self._call:
                    backoff = 0.25
                    self._apply(event)
            except grpc.RpcError as e:
                if self._stop.is_set():
                    return
                log.warning("watching %s: %s", self._service, e.code().name)
            # The last known set stays in use until the registry answers again.
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, MAX_BACKOFF)
