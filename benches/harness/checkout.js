// k6 script of scenario 4: each virtual user is one logged-in shopper who, in a loop, gets
// the product, adds it to the cart and creates an order, all REST through the gateway.
// BENCH_CONFIG: JSON {base, product, tokens}; BENCH_SUMMARY: where the summary JSON goes.
import http from 'k6/http';
import exec from 'k6/execution';

const cfg = JSON.parse(open(__ENV.BENCH_CONFIG));
const STEPS = ['get_product', 'add_to_cart', 'create_order'];

export const options = {
  summaryTrendStats: ['p(50)', 'p(99)', 'p(99.9)', 'avg', 'max'],
  // Thresholds that always pass, so the summary carries each step's own latency.
  thresholds: Object.fromEntries(STEPS.map((s) => [`http_req_duration{name:${s}}`, ['max>=0']])),
};

export default function () {
  const vu = exec.vu.idInTest;
  const token = cfg.tokens[(vu - 1) % cfg.tokens.length];
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  http.get(`${cfg.base}/v1/products/${cfg.product}`, { tags: { name: 'get_product' } });
  http.post(`${cfg.base}/v1/cart/items`, JSON.stringify({ productId: cfg.product, quantity: 1 }),
    { headers, tags: { name: 'add_to_cart' } });
  const requestId = `bench-${vu}-${exec.scenario.iterationInTest}-${Date.now()}`;
  http.post(`${cfg.base}/v1/orders`, JSON.stringify({ requestId }),
    { headers, tags: { name: 'create_order' } });
}

function trend(values) {
  return { p50: values['p(50)'], p99: values['p(99)'], p999: values['p(99.9)'], avg: values.avg };
}

export function handleSummary(data) {
  const steps = Object.fromEntries(
    STEPS.map((s) => [s, trend(data.metrics[`http_req_duration{name:${s}}`].values)]));
  const out = {
    iterations: data.metrics.iterations ? data.metrics.iterations.values.count : 0,
    failed: data.metrics.http_req_failed ? data.metrics.http_req_failed.values.passes : 0,
    iteration: trend(data.metrics.iteration_duration.values),
    steps,
  };
  return { [__ENV.BENCH_SUMMARY]: JSON.stringify(out) };
}
