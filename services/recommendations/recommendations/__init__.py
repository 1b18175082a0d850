"""The shop's recommendations service: a Python member of the protomesh mesh.

It serves ``shop.recommendations.v1.RecommendationService`` over gRPC with grpc.health.v1
and server reflection (v1 and v1alpha), registers itself with the protomesh registry under
the logical name ``recommendations`` (lease, heartbeat, re-register, deregister on stop),
and reads products from the ``catalog`` instances it watches in the same registry.

Layout:
- ``__main__``: command line, signals, start and drain.
- ``stubs``: generates the Python stubs from ``proto/`` into the git-ignored ``gen/``.
- ``server``: the gRPC server: the service, health, reflection.
- ``service``: input validation and ranking.
- ``catalog``: a client of the catalog over the watched endpoint set.
- ``registry``: the announcer (lease and heartbeat) and the endpoint watcher.
"""

#: The logical service name in discovery.
SERVICE = "recommendations"
#: The fully-qualified gRPC service name.
GRPC_SERVICE = "shop.recommendations.v1.RecommendationService"
#: The version announced to the registry.
VERSION = "0.1.0"
