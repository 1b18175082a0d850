"""The shop tour over gRPC from Python, with the stubs generated from proto/.

Run by tests/interop/run against a running `protomesh up`, with `gen/python` (made by
scripts/gen-clients) on PYTHONPATH. Registers its own user, logs in, lists products, adds one
to the cart, orders it and cancels the order, asserting on every answer.
"""

import os
import sys
import uuid

import grpc

from shop.cart.v1 import cart_pb2, cart_pb2_grpc
from shop.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from shop.orders.v1 import orders_pb2, orders_pb2_grpc
from shop.users.v1 import users_pb2, users_pb2_grpc

HOST = os.environ.get("PROTOMESH_HOST", "127.0.0.1")


def check(ok: bool, what: str) -> None:
    """Fails the tour with `what` unless `ok`."""
    if not ok:
        raise AssertionError(what)


def tour() -> str:
    """Walks the shop once; returns the cancelled order's id."""
    email = f"py-{uuid.uuid4().hex[:12]}@interop.test"
    password = "interop-pass-1"

    # -- README: python (begin)
    users = users_pb2_grpc.UserServiceStub(grpc.insecure_channel(f"{HOST}:50061"))
    catalog = catalog_pb2_grpc.CatalogServiceStub(grpc.insecure_channel(f"{HOST}:50062"))
    carts = cart_pb2_grpc.CartServiceStub(grpc.insecure_channel(f"{HOST}:50071"))
    orders = orders_pb2_grpc.OrderServiceStub(grpc.insecure_channel(f"{HOST}:50081"))

    user = users.RegisterUser(users_pb2.RegisterUserRequest(
        email=email, password=password, display_name="Py")).user
    login = users.Login(users_pb2.LoginRequest(email=email, password=password))
    auth = [("authorization", f"Bearer {login.access_token}")]

    page = catalog.ListProducts(catalog_pb2.ListProductsRequest(page_size=3))
    product = page.products[0]
    cart = carts.AddCartItem(cart_pb2.AddCartItemRequest(
        product_id=product.product_id, quantity=2), metadata=auth).cart
    order = orders.CreateOrder(orders_pb2.CreateOrderRequest(
        request_id=str(uuid.uuid4())), metadata=auth).order
    cancelled = orders.CancelOrder(orders_pb2.CancelOrderRequest(
        order_id=order.order_id), metadata=auth).order
    # -- README: python (end)

    check(user.email == email and user.user_id, f"registered user: {user}")
    check(user.role == users_pb2.ROLE_CUSTOMER, f"a new user is a customer: {user.role}")
    check(login.access_token and login.user.user_id == user.user_id, f"login: {login.user}")
    check(len(page.products) == 3 and page.next_page_token, "a page of 3 products and a next page")
    price = product.price.minor_units
    check(price > 0 and product.price.currency_code, f"a priced product: {product}")
    check(cart.user_id == user.user_id, "the cart is the caller's")
    check([(i.product_id, i.quantity) for i in cart.items] == [(product.product_id, 2)],
          f"the cart holds the product twice: {cart.items}")
    check(cart.total.minor_units == 2 * price, f"cart total {cart.total.minor_units} != 2 * {price}")
    check(order.status == orders_pb2.ORDER_STATUS_CONFIRMED,
          f"order status {orders_pb2.OrderStatus.Name(order.status)}")
    check(order.user_id == user.user_id and order.order_id, "the order is the caller's")
    check(order.total.minor_units == 2 * price, f"order total {order.total.minor_units}")
    check([(l.product_id, l.quantity, l.line_total.minor_units) for l in order.lines]
          == [(product.product_id, 2, 2 * price)], f"order lines: {order.lines}")
    check(cancelled.order_id == order.order_id, "cancel answers the same order")
    check(cancelled.status == orders_pb2.ORDER_STATUS_CANCELLED,
          f"cancelled status {orders_pb2.OrderStatus.Name(cancelled.status)}")
    fetched = orders.GetOrder(orders_pb2.GetOrderRequest(order_id=order.order_id), metadata=auth)
    check(fetched.order.status == orders_pb2.ORDER_STATUS_CANCELLED, "GetOrder sees the cancel")
    check(len(carts.GetCart(cart_pb2.GetCartRequest(), metadata=auth).cart.items) == 0,
          "ordering emptied the cart")
    try:
        carts.GetCart(cart_pb2.GetCartRequest())
        check(False, "GetCart without a token must fail")
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.UNAUTHENTICATED, f"no token: {err.code()}")
    return f"order {order.order_id}, total {order.total.minor_units} {order.total.currency_code}"


if __name__ == "__main__":
    try:
        print(f"python grpc tour: passed ({tour()})")
    except (AssertionError, grpc.RpcError) as err:
        print(f"python grpc tour: FAILED: {err}", file=sys.stderr)
        sys.exit(1)
