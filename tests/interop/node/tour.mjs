// The shop tour over gRPC from Node: the messages and service descriptors generated from
// proto/ by protoc-gen-es (gen/ts, made by scripts/gen-clients), the calls made by
// @grpc/grpc-js. Run by tests/interop/run against a running `protomesh up`.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";

import { connect } from "./grpc_client.mjs";
import { UserService, Role } from "../../../gen/ts/shop/users/v1/users_pb.js";
import { CatalogService } from "../../../gen/ts/shop/catalog/v1/catalog_pb.js";
import { CartService } from "../../../gen/ts/shop/cart/v1/cart_pb.js";
import { OrderService, OrderStatus } from "../../../gen/ts/shop/orders/v1/orders_pb.js";

const host = process.env.PROTOMESH_HOST ?? "127.0.0.1";
const email = `node-${randomUUID().slice(0, 12)}@interop.test`;
const password = "interop-pass-1";

// -- README: node (begin)
const users = connect(UserService, `${host}:50061`);
const catalog = connect(CatalogService, `${host}:50062`);
const carts = connect(CartService, `${host}:50071`);
const orders = connect(OrderService, `${host}:50081`);

const { user } = await users.registerUser({ email, password, displayName: "Node" });
const { accessToken } = await users.login({ email, password });
const page = await catalog.listProducts({ pageSize: 3 });
const product = page.products[0];
const { cart } = await carts.addCartItem({ productId: product.productId, quantity: 2n }, accessToken);
const { order } = await orders.createOrder({ requestId: randomUUID() }, accessToken);
const cancelled = (await orders.cancelOrder({ orderId: order.orderId }, accessToken)).order;
// -- README: node (end)

try {
  assert.equal(user.email, email);
  assert.equal(user.role, Role.CUSTOMER);
  assert.ok(accessToken.length > 0, "an access token");
  assert.equal(page.products.length, 3);
  assert.ok(page.nextPageToken, "a next page token");
  const price = product.price.minorUnits;
  assert.ok(price > 0n, "a priced product");
  assert.equal(cart.userId, user.userId);
  assert.deepEqual(cart.items.map((i) => [i.productId, i.quantity]), [[product.productId, 2n]]);
  assert.equal(cart.total.minorUnits, 2n * price, "cart total = 2 x price");
  assert.equal(order.status, OrderStatus.CONFIRMED);
  assert.equal(order.userId, user.userId);
  assert.equal(order.total.minorUnits, 2n * price, "order total = 2 x price");
  assert.deepEqual(
    order.lines.map((l) => [l.productId, l.quantity, l.lineTotal.minorUnits]),
    [[product.productId, 2n, 2n * price]],
  );
  assert.equal(cancelled.orderId, order.orderId);
  assert.equal(cancelled.status, OrderStatus.CANCELLED);
  const fetched = await orders.getOrder({ orderId: order.orderId }, accessToken);
  assert.equal(fetched.order.status, OrderStatus.CANCELLED, "GetOrder sees the cancel");
  await assert.rejects(carts.getCart({}), (err) => err.code === status.UNAUTHENTICATED);
  console.log(`node grpc tour: passed (order ${order.orderId}, total ${order.total.minorUnits} ${order.total.currencyCode})`);
} finally {
  for (const client of [users, catalog, carts, orders]) client.close();
}
