"""The shop tour over gRPC with grpcurl, the tool operators reach for.

    grpcurl_tour.py                      # schemas from server reflection alone
    grpcurl_tour.py --protoset IMAGE     # schemas from `buf build -o IMAGE`, no reflection

Run by tests/interop/run against a running `protomesh up`, with grpcurl on PATH. Each mode
registers its own user and asserts on the JSON grpcurl prints (proto3 JSON: int64 as strings).
"""

import argparse
import json
import os
import subprocess
import sys
import uuid

HOST = os.environ.get("PROTOMESH_HOST", "127.0.0.1")


class Grpcurl:
    """Calls `grpcurl -plaintext`, with a protoset when given, and parses the reply."""

    def __init__(self, protoset: str | None):
        self.schema = ["-protoset", protoset] if protoset else []
        self.token: str | None = None

    def run(self, *args: str) -> str:
        command = ["grpcurl", "-plaintext", "-max-time", "10", *self.schema, *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(command)}: {done.stderr.strip()}")
        return done.stdout

    def call(self, port: int, method: str, request: dict) -> dict:
        headers = ["-H", f"authorization: Bearer {self.token}"] if self.token else []
        out = self.run(*headers, "-d", json.dumps(request), f"{HOST}:{port}", method)
        return json.loads(out)


def check(ok: bool, what: str) -> None:
    """Fails the tour with `what` unless `ok`."""
    if not ok:
        raise AssertionError(what)


def tour(protoset: str | None) -> str:
    """Walks the shop once; returns the cancelled order's id."""
    g = Grpcurl(protoset)
    if protoset is None:
        # Reflection lists every service the server runs, the standard ones included.
        listed = g.run(f"{HOST}:50081", "list").split()
        for name in ("shop.orders.v1.OrderService", "grpc.health.v1.Health"):
            check(name in listed, f"reflection lists {name}: {listed}")
        described = g.run(f"{HOST}:50081", "describe", "shop.orders.v1.Order")
        check("shop.orders.v1.OrderStatus status = 4;" in described, f"describe: {described}")
    email = f"grpcurl-{'protoset' if protoset else 'reflection'}-{uuid.uuid4().hex[:8]}@interop.test"
    password = "interop-pass-1"
    user = g.call(50061, "shop.users.v1.UserService/RegisterUser",
                  {"email": email, "password": password, "display_name": "Curl"})["user"]
    check(user["email"] == email and user["role"] == "ROLE_CUSTOMER", f"registered: {user}")
    login = g.call(50061, "shop.users.v1.UserService/Login", {"email": email, "password": password})
    check(login["user"]["userId"] == user["userId"], f"login: {login['user']}")
    page = g.call(50063, "shop.catalog.v1.CatalogService/ListProducts", {"page_size": 3})
    check(len(page["products"]) == 3 and page["nextPageToken"], "a page of 3 and a next page")
    product = page["products"][0]
    price = int(product["price"]["minorUnits"])
    g.token = login["accessToken"]
    cart = g.call(50071, "shop.cart.v1.CartService/AddCartItem",
                  {"product_id": product["productId"], "quantity": 2})["cart"]
    check(int(cart["total"]["minorUnits"]) == 2 * price, f"cart total: {cart['total']}")
    order = g.call(50081, "shop.orders.v1.OrderService/CreateOrder",
                   {"request_id": str(uuid.uuid4())})["order"]
    check(order["status"] == "ORDER_STATUS_CONFIRMED", f"order status: {order['status']}")
    check(int(order["total"]["minorUnits"]) == 2 * price, f"order total: {order['total']}")
    check(order["userId"] == user["userId"], "the order is the caller's")
    check([(l["productId"], l["quantity"]) for l in order["lines"]] == [(product["productId"], "2")],
          f"order lines: {order['lines']}")
    cancelled = g.call(50081, "shop.orders.v1.OrderService/CancelOrder",
                       {"order_id": order["orderId"]})["order"]
    check(cancelled["orderId"] == order["orderId"], "cancel answers the same order")
    check(cancelled["status"] == "ORDER_STATUS_CANCELLED", f"cancelled: {cancelled['status']}")
    return f"order {order['orderId']}, total {order['total']['minorUnits']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protoset", help="a FileDescriptorSet (buf build -o) instead of reflection")
    args = parser.parse_args()
    mode = "protoset" if args.protoset else "reflection"
    try:
        print(f"grpcurl tour ({mode}): passed ({tour(args.protoset)})")
    except (AssertionError, KeyError, ValueError) as err:
        print(f"grpcurl tour ({mode}): FAILED: {err!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
