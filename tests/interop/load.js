// A short, bounded mixed load on the running shop (`protomesh up`): gRPC (schemas by server
// reflection) and REST through the gateway, at once, with thresholds on the error rate and
// checks on the values returned. Run by tests/interop/run as a smoke test:
//   k6 run tests/interop/load.js          (K6_DURATION / K6_VUS to change the bounds)
import grpc from "k6/net/grpc";
import http from "k6/http";
import { check, fail } from "k6";
import { Rate } from "k6/metrics";

const host = __ENV.PROTOMESH_HOST || "127.0.0.1";
const gateway = `http://${host}:8080`;
const grpcErrors = new Rate("grpc_errors");
// Whether an iteration threw (a failed connect, a missing field): every iteration adds a sample,
// so this rate cannot pass vacuously the way `checks` does when nothing gets checked.
const iterationErrors = new Rate("iteration_errors");

export const options = {
  vus: Number(__ENV.K6_VUS || 4),
  duration: __ENV.K6_DURATION || "10s",
  thresholds: {
    http_req_failed: ["rate<0.01"],
    grpc_errors: ["rate<0.01"],
    iteration_errors: ["rate<0.01"],
    checks: ["rate>0.99"],
    // The load really ran: a floor far below what a loaded laptop does in 10 s.
    iterations: ["count>20"],
  },
};

const json = { headers: { "content-type": "application/json" } };

// One user for the run, with one product in its cart, so every read has a known answer.
export function setup() {
  const email = `k6-${Date.now()}-${Math.floor(Math.random() * 1e6)}@interop.test`;
  const password = "interop-pass-1";
  const post = (path, body, params) => http.post(`${gateway}${path}`, JSON.stringify(body), params);
  if (post("/v1/users", { email, password, displayName: "K6" }, json).status !== 200) fail("register");
  const token = post("/v1/sessions", { email, password }, json).json("accessToken");
  const product = http.get(`${gateway}/v1/products?pageSize=1`).json("products.0");
  const auth = { headers: { ...json.headers, authorization: `Bearer ${token}` } };
  const cart = post("/v1/cart/items", { productId: product.productId, quantity: 1 }, auth);
  if (cart.status !== 200) fail(`add to cart: ${cart.status} ${cart.body}`);
  return { token, productId: product.productId, price: String(product.price.minorUnits) };
}

const clients = {};

function client(port) {
  if (!clients[port]) {
    clients[port] = new grpc.Client();
    clients[port].connect(`${host}:${port}`, { plaintext: true, reflect: true, timeout: "10s" });
  }
  return clients[port];
}

function invoke(port, method, request, token) {
  const params = token ? { metadata: { authorization: `Bearer ${token}` } } : {};
  const reply = client(port).invoke(method, request, params);
  grpcErrors.add(reply.status !== grpc.StatusOK);
  return reply;
}

let reported = false;

export default function (data) {
  try {
    mixedCalls(data);
    iterationErrors.add(false);
  } catch (err) {
    iterationErrors.add(true);
    if (!reported) console.error(`iteration failed: ${err}`);
    reported = true;
  }
}

function mixedCalls(data) {
  // gRPC, spread over both catalog instances, and the caller's cart.
  const catalogPort = __ITER % 2 === 0 ? 50062 : 50063;
  const page = invoke(catalogPort, "shop.catalog.v1.CatalogService/ListProducts", { page_size: 5 });
  check(page, { "grpc ListProducts gives 5 products": (r) => r.message && r.message.products.length === 5 });
  const cart = invoke(50071, "shop.cart.v1.CartService/GetCart", {}, data.token);
  check(cart, {
    "grpc GetCart total is the product's price": (r) => r.message && String(r.message.cart.total.minorUnits) === data.price,
  });

  // REST through the gateway.
  const product = http.get(`${gateway}/v1/products/${data.productId}`);
  check(product, {
    "rest GetProduct price": (r) => r.status === 200 && String(r.json("product.price.minorUnits")) === data.price,
  });
  const restCart = http.get(`${gateway}/v1/cart`, { headers: { authorization: `Bearer ${data.token}` } });
  check(restCart, {
    "rest GetCart holds one item": (r) => r.status === 200 && r.json("cart.items.#") === 1,
  });
}

// A compact summary instead of k6's long default one.
export function handleSummary(data) {
  const m = data.metrics;
  const p95 = (name) => (m[name] ? `${m[name].values["p(95)"].toFixed(1)} ms` : "n/a");
  const failed = Object.entries(data.metrics)
    .filter(([, metric]) => metric.thresholds && Object.values(metric.thresholds).some((t) => !t.ok))
    .map(([name]) => name);
  const line =
    `k6 load: ${m.iterations.values.count} iterations in ${options.duration} with ${options.vus} VUs, ` +
    `checks ${(m.checks.values.rate * 100).toFixed(2)}%, http errors ${(m.http_req_failed.values.rate * 100).toFixed(2)}%, ` +
    `grpc errors ${(m.grpc_errors.values.rate * 100).toFixed(2)}%, ` +
    `failed iterations ${(m.iteration_errors.values.rate * 100).toFixed(2)}%, p95 http ${p95("http_req_duration")}, ` +
    `p95 grpc ${p95("grpc_req_duration")}; thresholds ${failed.length ? `FAILED: ${failed.join(", ")}` : "met"}\n`;
  return { stdout: line };
}
