"""RecommendationService: validates the request, reads the catalog, ranks.

Ranking: products of the same category first, then by distance from the product's price
(same currency before others), then by id, so answers are stable; never the product itself.
"""

import logging
import re

import grpc

from shop.recommendations.v1 import recommendations_pb2, recommendations_pb2_grpc

from .catalog import NoEndpoint

log = logging.getLogger(__name__)

#: The longest product id accepted (the catalog's own limit).
MAX_ID_LEN = 128
#: The largest page.
MAX_PAGE_SIZE = 20
#: The page size when the request asks for 0.
DEFAULT_PAGE_SIZE = 4
#: Remaining deadlines longer than this (seconds) count as none.
MAX_PROPAGATED_TIMEOUT = 3600.0

_ID = re.compile(r"^[A-Za-z0-9_-]+$")


class InvalidArgument(ValueError):
    """A bad request field: ``field`` names it."""

    def __init__(self, field, reason):
        super().__init__(f"{field}: {reason}")
        self.field = field


def validate(request):
    """The (product_id, page_size) of a valid request; raises InvalidArgument."""
    product_id = request.product_id
    if not product_id:
        raise InvalidArgument("product_id", "must not be empty")
    if len(product_id) > MAX_ID_LEN:
        raise InvalidArgument("product_id", f"must be at most {MAX_ID_LEN} characters")
    if not _ID.match(product_id):
        raise InvalidArgument("product_id", "may hold only ASCII letters, digits, '-' and '_'")
    page_size = request.page_size
    if page_size < 0 or page_size > MAX_PAGE_SIZE:
        raise InvalidArgument("page_size", f"must be between 0 and {MAX_PAGE_SIZE}")
    return product_id, page_size or DEFAULT_PAGE_SIZE


def rank(product, candidates, page_size):
    """The best ``page_size`` of ``candidates`` to show beside ``product``."""

    def key(other):
        same_currency = other.price.currency_code == product.price.currency_code
        distance = abs(other.price.minor_units - product.price.minor_units)
        return (other.category != product.category, not same_currency, distance,
                other.product_id)

    others = [c for c in candidates if c.product_id != product.product_id]
    return sorted(others, key=key)[:page_size]


def caller_timeout(context):
    """The caller's remaining deadline in seconds, to pass on; None when it set none
    (grpcio then reports a time far in the future, which must not be passed on)."""
    remaining = context.time_remaining()
    if remaining is None or remaining > MAX_PROPAGATED_TIMEOUT:
        return None
    return max(remaining, 0.0)


class RecommendationService(recommendations_pb2_grpc.RecommendationServiceServicer):
    """The gRPC service over a ``Catalog``."""

    def __init__(self, catalog):
        self._catalog = catalog

    def ListRecommendations(self, request, context):
        try:
            product_id, page_size = validate(request)
        except InvalidArgument as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        timeout = caller_timeout(context)
        try:
            product = self._catalog.get_product(product_id, timeout=timeout)
            candidates = self._catalog.list_products(timeout=timeout)
        except NoEndpoint as e:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                context.abort(grpc.StatusCode.NOT_FOUND, f"product {product_id} not found")
            log.warning("catalog: %s: %s", e.code().name, e.details())
            code = e.code()
            if code not in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
                code = grpc.StatusCode.UNAVAILABLE
            context.abort(code, f"catalog: {e.details()}")
        return recommendations_pb2.ListRecommendationsResponse(
            products=rank(product, candidates, page_size)
        )
