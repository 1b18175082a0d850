//! Fuzzes the template parser, the router and request/response transcoding together.
//!
//! Input layout (split on the first three NUL bytes): template, path with query, body, method
//! selector. The route table is the compiled-in protomesh contracts.
//!
//! Run (nightly): `cargo +nightly fuzz run gateway corpus/gateway seeds -- -max_total_time=180`
//! from `gateway/fuzz/`; new inputs land in the git-ignored `corpus/`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage};
use protomesh_gateway::{
    router::{Match, match_template},
    routes::RouteTable,
    template, transcode, wirejson,
};

fn table() -> &'static RouteTable {
    static TABLE: OnceLock<RouteTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let pool = DescriptorPool::decode(protomesh::FILE_DESCRIPTOR_SET).expect("descriptors");
        RouteTable::build(&pool).expect("routes")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == 0);
    let template_text = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let target = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();
    let selector = parts.next().and_then(|s| s.first().copied()).unwrap_or(0);

    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target.as_ref(), None),
    };
    if let Ok(t) = template::parse(&template_text) {
        let _ = t.to_string();
        let _ = match_template(&t, path);
    }
    let methods = [http::Method::GET, http::Method::POST, http::Method::PUT, http::Method::PATCH, http::Method::DELETE];
    let method = &methods[usize::from(selector) % methods.len()];
    let table = table();
    if let Match::Found { route, values } = table.router.find(method, path) {
        let route = &table.routes[route];
        for discard in [false, true] {
            let slow = transcode::request(route, &values, query, body, discard);
            if let Ok(message) = &slow {
                let _ = transcode::response(route, &DynamicMessage::new(route.method.output()));
                let _ = message;
            }
            // The direct path takes nothing prost-reflect's path refuses, and reads it the
            // same; the body as reply bytes never panics either.
            if route.direct_request {
                if let Some(wire) = wirejson::to_wire(&route.method.input(), body, discard) {
                    let slow = slow.expect("the direct path took a body prost-reflect refuses");
                    let fast = DynamicMessage::decode(route.method.input(), wire.as_slice())
                        .expect("the direct path wrote bytes that decode");
                    assert_eq!(fast.encode_to_vec(), slow.encode_to_vec());
                }
            }
            let _ = wirejson::to_json(&route.method.output(), body);
        }
    }
});
