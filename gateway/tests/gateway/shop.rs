//! The shop's own contracts through the gateway: create an order (body `*`), watch it as SSE
//! (the server-streaming example), cancel it (custom verb), against a dynamic OrderService.

use std::convert::Infallible;

use http::Request;
use http_body_util::Full;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use protomesh_gateway::{
    Gateway, TranscodeSettings, Transcoder, Upstreams, codec::DynamicCodec, upstream,
};
use serde_json::json;
use tonic::Status;

use crate::support::{request, send, spawn};

fn pool() -> DescriptorPool {
    DescriptorPool::decode(protomesh::FILE_DESCRIPTOR_SET).unwrap()
}

/// An order with `id`, `status` (enum number) and a total, as the upstream would send it.
fn order(pool: &DescriptorPool, id: &str, request_id: &str, status: i32) -> Value {
    let mut money = DynamicMessage::new(pool.get_message_by_name("shop.common.v1.Money").unwrap());
    money.set_field_by_name("currency_code", Value::String("EUR".into()));
    money.set_field_by_name("minor_units", Value::I64(1250));
    let mut order = DynamicMessage::new(pool.get_message_by_name("shop.orders.v1.Order").unwrap());
    order.set_field_by_name("order_id", Value::String(id.into()));
    order.set_field_by_name("request_id", Value::String(request_id.into()));
    order.set_field_by_name("status", Value::EnumNumber(status));
    order.set_field_by_name("total", Value::Message(money));
    Value::Message(order)
}

fn reply(pool: &DescriptorPool, name: &str, order: Value) -> DynamicMessage {
    let mut msg = DynamicMessage::new(pool.get_message_by_name(name).unwrap());
    msg.set_field_by_name("order", order);
    msg
}

fn text(msg: &DynamicMessage, field: &str) -> String {
    msg.get_field_by_name(field)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A dynamic OrderService: CreateOrder, CancelOrder, WatchOrder (PENDING then CONFIRMED).
async fn orders(
    request: Request<tonic::body::Body>,
) -> Result<http::Response<tonic::body::Body>, Infallible> {
    let pool = pool();
    let service = pool
        .get_service_by_name("shop.orders.v1.OrderService")
        .unwrap();
    let name = request
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_owned();
    let Some(method) = service.methods().find(|m| m.name() == name) else {
        return Ok(Status::unimplemented(name).into_http());
    };
    let mut grpc = tonic::server::Grpc::new(DynamicCodec::new(method.input()));
    let response = match name.as_str() {
        "CreateOrder" => {
            let svc = tower::service_fn(move |req: tonic::Request<DynamicMessage>| {
                let out = reply(
                    &pool,
                    "shop.orders.v1.CreateOrderResponse",
                    order(&pool, "o-1", &text(req.get_ref(), "request_id"), 2),
                );
                async move { Ok::<_, Status>(tonic::Response::new(out)) }
            });
            grpc.unary(svc, request).await
        }
        "CancelOrder" => {
            let svc = tower::service_fn(move |req: tonic::Request<DynamicMessage>| {
                let out = reply(
                    &pool,
                    "shop.orders.v1.CancelOrderResponse",
                    order(&pool, &text(req.get_ref(), "order_id"), "", 4),
                );
                async move { Ok::<_, Status>(tonic::Response::new(out)) }
            });
            grpc.unary(svc, request).await
        }
        _ => {
            let svc = tower::service_fn(move |req: tonic::Request<DynamicMessage>| {
                let id = text(req.get_ref(), "order_id");
                let events: Vec<Result<DynamicMessage, Status>> = [1, 2]
                    .into_iter()
                    .map(|status| {
                        Ok(reply(
                            &pool,
                            "shop.orders.v1.WatchOrderResponse",
                            order(&pool, &id, "", status),
                        ))
                    })
                    .collect();
                async move { Ok::<_, Status>(tonic::Response::new(futures_util::stream::iter(events))) }
            });
            grpc.server_streaming(svc, request).await
        }
    };
    Ok(response)
}

/// Create with a request_id, watch as SSE, cancel: the shop's REST tour on its contracts.
#[tokio::test]
async fn order_tour() {
    let upstream_server = spawn(tower::service_fn(|r: Request<hyper::body::Incoming>| {
        orders(r.map(tonic::body::Body::new))
    }))
    .await;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", upstream_server.addr))
            .unwrap()
            .connect_lazy();
    let transcoder = Transcoder::new(pool(), TranscodeSettings::default()).unwrap();
    let upstreams = Upstreams::new().with_service("shop.orders.v1.OrderService", upstream(channel));
    let gateway = spawn(Gateway::new(transcoder, upstreams)).await;

    let created = send(
        gateway.addr,
        request("POST", "/v1/orders", r#"{"requestId":"r-42"}"#),
    )
    .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(
        created.json()["order"],
        json!({"orderId": "o-1", "requestId": "r-42", "status": "ORDER_STATUS_CONFIRMED", "total": {"currencyCode": "EUR", "minorUnits": "1250"}})
    );

    let watch = Request::get("/v1/orders/o-1:watch")
        .header("accept", "text/event-stream")
        .body(Full::default())
        .unwrap();
    let events = send(gateway.addr, watch).await;
    let text = String::from_utf8(events.body.to_vec()).unwrap();
    let statuses: Vec<String> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| {
            serde_json::from_str::<serde_json::Value>(d).unwrap()["order"]["status"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(statuses, ["ORDER_STATUS_PENDING", "ORDER_STATUS_CONFIRMED"]);

    let cancelled = send(gateway.addr, request("POST", "/v1/orders/o-1:cancel", "{}")).await;
    assert_eq!(
        cancelled.json()["order"]["status"],
        "ORDER_STATUS_CANCELLED"
    );
    assert_eq!(cancelled.json()["order"]["orderId"], "o-1");

    // Services without an upstream are UNAVAILABLE, not a crash.
    let products = send(gateway.addr, request("GET", "/v1/products", "")).await;
    assert_eq!(products.status, 503);
}

/// Which of the shop's routes take the direct JSON-wire path (`wirejson`): every request
/// body that is a whole plain message goes straight to the wire, and every reply but the
/// registry's (which has maps) straight to JSON, timestamps included.
#[test]
fn shop_routes_take_the_direct_path() {
    let table = protomesh_gateway::routes::RouteTable::build(&pool()).unwrap();
    let pick = |wanted: fn(&protomesh_gateway::routes::Route) -> bool| {
        let mut picked: Vec<String> = table
            .routes
            .iter()
            .filter(|r| wanted(r))
            .map(|r| format!("{} {}", r.http_method, r.template_text))
            .collect();
        picked.sort();
        picked
    };
    assert_eq!(
        pick(|r| r.direct_request),
        [
            "POST /v1/cart/items",
            "POST /v1/orders",
            "POST /v1/products",
            "POST /v1/sessions",
            "POST /v1/users",
        ]
    );
    assert_eq!(pick(|r| !r.direct_response), ["GET /v1/registry/instances"]);
}
