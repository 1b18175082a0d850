"""A client of the catalog over the endpoints the registry reports: round-robin across
them, the next one tried when one is unreachable, the caller's deadline passed on."""

import itertools
import threading

import grpc

from shop.catalog.v1 import catalog_pb2, catalog_pb2_grpc

#: The largest page the catalog serves.
PAGE_SIZE = 100
#: The most pages read for one recommendation (a catalog of 2000 products).
MAX_PAGES = 20
#: The deadline of a call when the caller has none, in seconds.
DEFAULT_TIMEOUT = 5.0
#: How long to wait for a first catalog endpoint, in seconds.
DISCOVERY_WAIT = 2.0

_RETRY_ON = (grpc.StatusCode.UNAVAILABLE,)


class NoEndpoint(Exception):
    """No catalog instance is registered."""


class Catalog:
    """Calls the catalog; ``endpoints`` is an ``EndpointWatcher``."""

    def __init__(self, endpoints):
        self._endpoints = endpoints
        self._channels = {}
        self._lock = threading.Lock()
        self._turn = itertools.count()

    def close(self):
        """Closes every channel."""
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()

    def _stub(self, address):
        with self._lock:
            channel = self._channels.get(address)
            if channel is None:
                channel = self._channels[address] = grpc.insecure_channel(address)
            return catalog_pb2_grpc.CatalogServiceStub(channel)

    def _call(self, method, request, timeout):
        addresses = self._endpoints.addresses(wait=DISCOVERY_WAIT)
        if not addresses:
            raise NoEndpoint("no catalog instance is registered")
        start = next(self._turn)
        last = None
        for i in range(len(addresses)):
            stub = self._stub(addresses[(start + i) % len(addresses)])
            try:
                return getattr(stub, method)(request, timeout=timeout or DEFAULT_TIMEOUT)
            except grpc.RpcError as e:
                if e.code() not in _RETRY_ON:
                    raise
                last = e
        raise last

    def get_product(self, product_id, timeout=None):
        """The product with that id; raises the catalog's RpcError (NOT_FOUND...)."""
        request = catalog_pb2.GetProductRequest(product_id=product_id)
        return self._call("GetProduct", request, timeout).product

    def list_products(self, category="", timeout=None):
        """Every product (of ``category`` when set), at most MAX_PAGES pages."""
        products, token = [], ""
        for _ in range(MAX_PAGES):
            request = catalog_pb2.ListProductsRequest(
                page_size=PAGE_SIZE, page_token=token, category=category
            )
            reply = self._call("ListProducts", request, timeout)
            products.extend(reply.products)
            token = reply.next_page_token
            if not token:
                break
        return products
