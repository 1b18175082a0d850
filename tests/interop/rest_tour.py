"""The shop tour over REST through the gateway with plain Python HTTP, checked against the
gateway's own OpenAPI document: every path and method the tour calls must be described there.

Run by tests/interop/run against a running `protomesh up` (gateway on port 8080).
"""

import json
import os
import sys
import urllib.error
import urllib.request
import uuid

GATEWAY = os.environ.get("PROTOMESH_GATEWAY", "http://127.0.0.1:8080")


class Rest:
    """A JSON client that records each (method, path template) it calls."""

    def __init__(self):
        self.token: str | None = None
        self.called: set[tuple[str, str]] = set()

    def call(self, method: str, template: str, body: dict | None = None, **path) -> dict:
        self.called.add((method.lower(), template))
        url = GATEWAY + template.format(**path)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("accept", "application/json")
        if data is not None:
            request.add_header("content-type", "application/json")
        if self.token:
            request.add_header("authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.load(reply)


def check(ok: bool, what: str) -> None:
    """Fails the tour with `what` unless `ok`."""
    if not ok:
        raise AssertionError(what)


def tour() -> str:
    """Walks the shop once, then checks the OpenAPI document; returns a summary."""
    rest = Rest()
    email = f"rest-{uuid.uuid4().hex[:12]}@interop.test"
    password = "interop-pass-1"
    user = rest.call("POST", "/v1/users",
                     {"email": email, "password": password, "displayName": "Rest"})["user"]
    check(user["email"] == email and user["role"] == "ROLE_CUSTOMER", f"registered: {user}")
    login = rest.call("POST", "/v1/sessions", {"email": email, "password": password})
    check(login["user"]["userId"] == user["userId"], f"login: {login['user']}")
    page = rest.call("GET", "/v1/products?pageSize=3")
    check(len(page["products"]) == 3 and page["nextPageToken"], "a page of 3 and a next page")
    product = page["products"][0]
    price = int(product["price"]["minorUnits"])
    same = rest.call("GET", "/v1/products/{product_id}", product_id=product["productId"])
    check(same["product"] == product, "GetProduct returns the listed product")

    rest.token = login["accessToken"]
    cart = rest.call("POST", "/v1/cart/items", {"productId": product["productId"], "quantity": 2})
    check(int(cart["cart"]["total"]["minorUnits"]) == 2 * price, f"cart total: {cart['cart']}")
    order = rest.call("POST", "/v1/orders", {"requestId": str(uuid.uuid4())})["order"]
    check(order["status"] == "ORDER_STATUS_CONFIRMED", f"order status: {order['status']}")
    check(int(order["total"]["minorUnits"]) == 2 * price, f"order total: {order['total']}")
    check(order["userId"] == user["userId"], "the order is the caller's")
    cancelled = rest.call("POST", "/v1/orders/{order_id}:cancel", {},
                          order_id=order["orderId"])["order"]
    check(cancelled["orderId"] == order["orderId"], "cancel answers the same order")
    check(cancelled["status"] == "ORDER_STATUS_CANCELLED", f"cancelled: {cancelled['status']}")
    fetched = rest.call("GET", "/v1/orders/{order_id}", order_id=order["orderId"])["order"]
    check(fetched["status"] == "ORDER_STATUS_CANCELLED", "GetOrder sees the cancel")
    cart = rest.call("GET", "/v1/cart")["cart"]
    check(not cart.get("items"), f"ordering emptied the cart: {cart}")
    rest.token = None
    try:
        rest.call("GET", "/v1/cart")
        check(False, "GET /v1/cart without a token must fail")
    except urllib.error.HTTPError as err:
        check(err.code == 401, f"no token gives 401, got {err.code}")

    described = openapi_operations()
    for method, template in sorted(rest.called):
        path = template.split("?")[0]
        check((method, path) in described, f"OpenAPI describes {method.upper()} {path}")
    return f"order {order['orderId']}, {len(rest.called)} operations described in /openapi.json"


def openapi_operations() -> set[tuple[str, str]]:
    """The (method, path) pairs of the gateway's /openapi.json, with their schemas checked."""
    with urllib.request.urlopen(GATEWAY + "/openapi.json", timeout=10) as reply:
        document = json.load(reply)
    check(document["openapi"].startswith("3."), f"an OpenAPI 3 document: {document['openapi']}")
    operations = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            check(operation.get("operationId") and operation.get("responses"),
                  f"{method} {path} has an operationId and responses")
            operations.add((method, path))
    create = document["paths"]["/v1/orders"]["post"]
    check("requestBody" in create, "POST /v1/orders documents its body")
    return operations


if __name__ == "__main__":
    try:
        print(f"rest tour: passed ({tour()})")
    except (AssertionError, KeyError, urllib.error.URLError) as err:
        print(f"rest tour: FAILED: {err!r}", file=sys.stderr)
        sys.exit(1)
