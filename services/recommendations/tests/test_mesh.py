"""The recommendations service as a real member of the mesh.

Starts the real protomesh registry, catalog and gateway (``protomesh serve``) and this
service, every one on 127.0.0.1:0, and checks: it registers, answers health SERVING, serves
reflection (v1alpha and v1, with its HTTP rule), recommends real catalog products without the
given one, rejects bad input naming the field, reports unknown products, is reached by REST
through the gateway (routes read by reflection), and deregisters on SIGTERM.

Run by ``services/recommendations/test``; needs ``PROTOMESH_BIN`` (the protomesh binary).
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from recommendations import stubs  # noqa: E402

stubs.ensure()

import grpc  # noqa: E402
from google.api import annotations_pb2  # noqa: E402
from google.protobuf import descriptor_pb2  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from grpc_reflection.v1alpha import reflection_pb2  # noqa: E402
from protomesh.registry.v1 import registry_pb2, registry_pb2_grpc  # noqa: E402
from shop.catalog.v1 import catalog_pb2, catalog_pb2_grpc  # noqa: E402
from shop.recommendations.v1 import recommendations_pb2, recommendations_pb2_grpc  # noqa: E402

SERVICE = "shop.recommendations.v1.RecommendationService"
WAIT = 20.0


def wait_for(what, probe, timeout=WAIT, every=0.1):
    """Polls ``probe`` until it returns a truthy value; fails naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


class Process:
    """A child process logging to a file, whose log is searched for its bound address."""

    def __init__(self, name, argv, workdir, cwd=None):
        self.name = name
        self.log_path = Path(workdir) / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=cwd)

    def text(self):
        return self.log_path.read_text(errors="replace")

    def address(self, pattern):
        """The first ``host:port`` the log shows after ``pattern``."""
        def find():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.text()}")
            m = re.search(pattern + r"(127\.0\.0\.1:\d+)", self.text())
            return m and m.group(1)
        return wait_for(f"{self.name} to listen", find)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def http_get(url):
    """(status, JSON body) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class MeshTest(unittest.TestCase):
    """One mesh for every test, started once; the SIGTERM test runs last."""

    @classmethod
    def setUpClass(cls):
        binary = os.environ["PROTOMESH_BIN"]
        cls.tmp = tempfile.TemporaryDirectory(prefix="recommendations-test-")
        work = cls.tmp.name
        cls.procs = []

        def start(name, argv, cwd=None):
            p = Process(name, argv, work, cwd)
            cls.procs.append(p)
            return p

        try:
            registry = start("registry", [binary, "serve", "registry", "--listen", "127.0.0.1:0"])
            cls.registry_addr = registry.address("address=")
            common = ["--registry", cls.registry_addr, "--data-dir", work]
            catalog = start("catalog", [binary, "serve", "catalog", "--listen", "127.0.0.1:0",
                                        "--instance-id", "catalog-t", *common])
            cls.catalog_addr = catalog.address("address=")
            cls.service = start("recommendations", [
                sys.executable, "-m", "recommendations", "--listen", "127.0.0.1:0",
                "--registry", cls.registry_addr, "--instance-id", "recommendations-t",
            ], cwd=HERE)
            gateway = start("gateway", [binary, "serve", "gateway", "--listen", "127.0.0.1:0",
                                        *common])
            cls.gateway = f"http://{gateway.address('address=')}"
        except BaseException:
            cls.tearDownClass()
            raise
        cls.registry = registry_pb2_grpc.RegistryServiceStub(
            grpc.insecure_channel(cls.registry_addr))

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.procs):
            p.stop()
        cls.tmp.cleanup()

    def instances(self, service):
        reply = self.registry.ListInstances(
            registry_pb2.ListInstancesRequest(service=service), timeout=5)
        return list(reply.instances)

    def service_address(self):
        """The address the service registered (waits for the registration)."""
        found = wait_for("the service to register", lambda: self.instances("recommendations"))
        return found[0].address

    def stub(self):
        channel = grpc.insecure_channel(self.service_address())
        return recommendations_pb2_grpc.RecommendationServiceStub(channel)

    def catalog_products(self):
        stub = catalog_pb2_grpc.CatalogServiceStub(grpc.insecure_channel(self.catalog_addr))
        reply = stub.ListProducts(catalog_pb2.ListProductsRequest(page_size=100), timeout=5)
        self.assertGreaterEqual(len(reply.products), 4)
        return {p.product_id: p for p in reply.products}

    def test_1_registers_with_its_address(self):
        """ListInstances shows the instance, with the port it bound and its metadata."""
        found = wait_for("the service to register", lambda: self.instances("recommendations"))
        self.assertEqual([i.instance_id for i in found], ["recommendations-t"])
        self.assertRegex(found[0].address, r"^127\.0\.0\.1:\d+$")
        self.assertIn(f"serving recommendations on {found[0].address}", self.service.text())
        self.assertEqual(found[0].metadata["language"], "python")

    def test_2_health_serving(self):
        """grpc.health.v1 answers SERVING overall and for the service."""
        health = health_pb2_grpc.HealthStub(grpc.insecure_channel(self.service_address()))
        for name in ("", SERVICE):
            reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            self.assertEqual(reply.status, health_pb2.HealthCheckResponse.SERVING, name)

    def reflect(self, method_path, request):
        channel = grpc.insecure_channel(self.service_address())
        call = channel.stream_stream(
            method_path,
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        return list(call(iter([request]), timeout=5))[0]

    def test_3_reflection_v1alpha_and_v1(self):
        """Both reflection versions list the service and serve its file with the HTTP rule."""
        for version in ("v1alpha", "v1"):
            path = f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo"
            listed = self.reflect(path, reflection_pb2.ServerReflectionRequest(list_services=""))
            names = {s.name for s in listed.list_services_response.service}
            self.assertIn(SERVICE, names, version)
            self.assertIn("grpc.health.v1.Health", names, version)
            reply = self.reflect(path, reflection_pb2.ServerReflectionRequest(
                file_containing_symbol=SERVICE))
            files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                     for b in reply.file_descriptor_response.file_descriptor_proto]
            ours = next(f for f in files if f.package == "shop.recommendations.v1")
            method = ours.service[0].method[0]
            self.assertEqual(method.name, "ListRecommendations")
            rule = method.options.Extensions[annotations_pb2.http]
            self.assertEqual(rule.get, "/v1/products/{product_id}/recommendations", version)

    def test_4_recommends_catalog_products(self):
        """Recommendations are catalog products, never the given one, its category first."""
        products = self.catalog_products()
        given = next(iter(products.values()))
        reply = self.stub().ListRecommendations(
            recommendations_pb2.ListRecommendationsRequest(product_id=given.product_id,
                                                           page_size=3), timeout=10)
        ids = [p.product_id for p in reply.products]
        self.assertEqual(len(ids), 3)
        self.assertNotIn(given.product_id, ids)
        self.assertTrue(set(ids) <= set(products), ids)
        self.assertEqual(reply.products[0].category, given.category)
        self.assertEqual(reply.products[0], products[ids[0]])
        default = self.stub().ListRecommendations(
            recommendations_pb2.ListRecommendationsRequest(product_id=given.product_id),
            timeout=10)
        self.assertEqual(len(default.products), 4)
        self.assertEqual([p.product_id for p in default.products][:3], ids)

    def test_5_bad_input_names_the_field(self):
        """INVALID_ARGUMENT names product_id or page_size; NOT_FOUND for an unknown product."""
        stub = self.stub()
        cases = [("", 1, "product_id"), ("bad id!", 1, "product_id"), ("x" * 129, 1, "product_id"),
                 ("p1", -1, "page_size"), ("p1", 21, "page_size")]
        for product_id, page_size, field in cases:
            with self.assertRaises(grpc.RpcError) as caught:
                stub.ListRecommendations(recommendations_pb2.ListRecommendationsRequest(
                    product_id=product_id, page_size=page_size), timeout=5)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertTrue(caught.exception.details().startswith(f"{field}:"),
                            caught.exception.details())
        with self.assertRaises(grpc.RpcError) as caught:
            stub.ListRecommendations(recommendations_pb2.ListRecommendationsRequest(
                product_id="no-such-product"), timeout=5)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def routed_get(self, url):
        """GET ``url`` once the gateway has read the route by reflection."""
        def routed():
            status, body = http_get(url)
            return None if "no route" in body.get("message", "") else (status, body)
        return wait_for("the gateway to read the route by reflection", routed)

    def test_6_rest_through_the_gateway(self):
        """The gateway serves the route read by reflection, with the same answer as gRPC."""
        given = next(iter(self.catalog_products()))
        status, body = self.routed_get(
            f"{self.gateway}/v1/products/{given}/recommendations?pageSize=3")
        self.assertEqual(status, 200, body)
        grpc_reply = self.stub().ListRecommendations(
            recommendations_pb2.ListRecommendationsRequest(product_id=given, page_size=3),
            timeout=10)
        self.assertEqual([p["productId"] for p in body["products"]],
                         [p.product_id for p in grpc_reply.products])
        status, body = http_get(f"{self.gateway}/v1/products/{given}/recommendations?pageSize=99")
        self.assertEqual((status, body["code"]), (400, 3))
        self.assertIn("page_size", body["message"])
        status, body = http_get(f"{self.gateway}/v1/products/no-such-product/recommendations")
        self.assertEqual((status, body["code"]), (404, 5))

    def test_7_deregisters_on_sigterm(self):
        """SIGTERM: the instance leaves the registry at once (not by lease expiry), exits 0,
        and the gateway's route answers 503."""
        given = next(iter(self.catalog_products()))
        url = f"{self.gateway}/v1/products/{given}/recommendations"
        self.assertEqual(self.routed_get(url)[0], 200)
        self.service.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.service.proc.wait(10), 0, self.service.text())
        self.assertEqual(self.instances("recommendations"), [])
        self.assertIn("deregistered recommendations-t", self.service.text())
        last = []
        try:
            wait_for("the gateway to answer 503",
                     lambda: last.append(http_get(url)) or last[-1][0] == 503, timeout=10)
        except AssertionError:
            self.fail(f"the gateway answered {last[-1]}, not 503")


if __name__ == "__main__":
    unittest.main(verbosity=2)
