//! Criterion micro-benchmarks of the gateway's per-request hot paths over the project's own
//! contracts: route matching, JSON -> protobuf (request) and protobuf -> JSON (response).
//!
//! `cargo bench -p protomesh-gateway --bench transcode`

use std::{hint::black_box, time::Duration};

use criterion::{Criterion, Throughput};
use http::Method;
use prost::Message;
use prost_reflect::{DynamicMessage, ReflectMessage};
use protomesh_gateway::{
    TranscodeSettings, Transcoder,
    router::Match,
    routes::{Route, RouteTable},
    transcode, wirejson,
};

/// The route `method path` matches, with its path values.
fn route<'a>(table: &'a RouteTable, method: &Method, path: &str) -> (&'a Route, Vec<String>) {
    match table.router.find(method, path) {
        Match::Found { route, values } => (&table.routes[route], values),
        other => panic!("{method} {path}: {other:?}"),
    }
}

const PRODUCT_JSON: &str = r#"{"product":{"productId":"0192f5a4-7c1e-7d2a-9b1e-3c4d5e6f7a8b",
"sku":"BOOK-0001","name":"The Rust Programming Language","description":"The official book.",
"category":"books","price":{"currencyCode":"USD","minorUnits":3999},"stock":120,
"createTime":"2026-11-23T10:00:00Z","updateTime":"2026-11-23T10:05:00Z"}}"#;

fn routing(c: &mut Criterion) {
    let transcoder = Transcoder::compiled(TranscodeSettings::default()).expect("contracts");
    let table = RouteTable::build(transcoder.pool()).expect("routes");
    let mut group = c.benchmark_group("route_match");
    for (name, method, path) in [
        ("literal", Method::POST, "/v1/cart/items"),
        (
            "variable",
            Method::GET,
            "/v1/products/0192f5a4-7c1e-7d2a-9b1e-3c4d5e6f7a8b",
        ),
        (
            "custom_verb",
            Method::POST,
            "/v1/orders/0192f5a4-7c1e:cancel",
        ),
        ("not_found", Method::GET, "/v2/nothing/here"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| table.router.find(black_box(&method), black_box(path)))
        });
    }
    group.finish();
}

fn transcoding(c: &mut Criterion) {
    let transcoder = Transcoder::compiled(TranscodeSettings::default()).expect("contracts");
    let table = RouteTable::build(transcoder.pool()).expect("routes");
    let mut group = c.benchmark_group("transcode");

    let (add, values) = route(&table, &Method::POST, "/v1/cart/items");
    let body = br#"{"productId":"0192f5a4-7c1e-7d2a-9b1e-3c4d5e6f7a8b","quantity":2}"#;
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("json_to_proto/add_cart_item", |b| {
        b.iter(|| {
            let msg = transcode::request(add, &values, None, black_box(body), false).unwrap();
            msg.encode_to_vec()
        })
    });

    // The same body straight to the wire (a plain message: `wirejson`).
    assert!(add.direct_request, "AddItem takes the direct path");
    let input = add.method.input();
    group.bench_function("json_to_wire_direct/add_cart_item", |b| {
        b.iter(|| wirejson::to_wire(&input, black_box(body), false).unwrap())
    });

    let (get, values) = route(
        &table,
        &Method::GET,
        "/v1/products/0192f5a4-7c1e-7d2a-9b1e-3c4d5e6f7a8b",
    );
    group.bench_function("path_to_proto/get_product", |b| {
        b.iter(|| {
            let msg = transcode::request(get, black_box(&values), None, b"", false).unwrap();
            msg.encode_to_vec()
        })
    });

    let output = get.method.output();
    let mut json = serde_json::Deserializer::from_str(PRODUCT_JSON);
    let reply = DynamicMessage::deserialize(output.clone(), &mut json).expect("product JSON");
    let wire = reply.encode_to_vec();
    assert_eq!(
        reply.descriptor().full_name(),
        "shop.catalog.v1.GetProductResponse"
    );
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("proto_to_json/get_product", |b| {
        b.iter(|| {
            let msg = DynamicMessage::decode(output.clone(), black_box(wire.as_slice())).unwrap();
            transcode::response(get, &msg).unwrap()
        })
    });

    // The same reply straight from the wire (plain, with timestamps: `wirejson`).
    assert!(
        get.direct_response,
        "GetProduct's reply takes the direct path"
    );
    group.bench_function("wire_to_json_direct/get_product", |b| {
        b.iter(|| wirejson::to_json(&output, black_box(wire.as_slice())).unwrap())
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .configure_from_args();
    routing(&mut criterion);
    transcoding(&mut criterion);
    criterion.final_summary();
}
