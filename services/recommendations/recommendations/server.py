"""The gRPC server: the recommendations service, grpc.health.v1 and server reflection.

grpcio-reflection implements ``grpc.reflection.v1alpha``; its messages are the same on the
wire as ``grpc.reflection.v1``'s, so the same servicer answers under both names, as the
Rust kit's servers do.
"""

from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from shop.recommendations.v1 import recommendations_pb2_grpc

from . import GRPC_SERVICE
from .service import RecommendationService

#: The reflection service names answered.
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
REFLECTION_V1ALPHA = reflection.SERVICE_NAME
#: Worker threads (health Watch streams hold one each while open).
WORKERS = 16


def _reflection_v1_alias(servicer):
    """The v1alpha reflection servicer, served under the v1 name."""
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    return grpc.method_handlers_generic_handler(REFLECTION_V1, {"ServerReflectionInfo": handler})


def build(catalog, listen):
    """A server bound to ``listen``, not yet started; returns (server, port, health servicer)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS))
    recommendations_pb2_grpc.add_RecommendationServiceServicer_to_server(
        RecommendationService(catalog), server
    )
    health_servicer = health.HealthServicer(
        experimental_non_blocking=True,
        experimental_thread_pool=futures.ThreadPoolExecutor(max_workers=4),
    )
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [
        GRPC_SERVICE,
        health.SERVICE_NAME,
        REFLECTION_V1,
        REFLECTION_V1ALPHA,
    ]
    servicer = reflection.ReflectionServicer(names)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    server.add_generic_rpc_handlers((_reflection_v1_alias(servicer),))
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot bind {listen}")
    return server, port, health_servicer


def set_serving(health_servicer, serving):
    """Sets the overall and the service's health status."""
    status = (health_pb2.HealthCheckResponse.SERVING if serving
              else health_pb2.HealthCheckResponse.NOT_SERVING)
    for name in ("", GRPC_SERVICE):
        health_servicer.set(name, status)
