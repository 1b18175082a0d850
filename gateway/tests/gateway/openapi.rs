//! The generated OpenAPI 3.1 document.

use serde_json::Value;

use crate::support::{fixture, get};

/// Collects every `$ref` in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

/// /openapi.json lists every binding with parameters, bodies, comments, and resolvable refs.
#[tokio::test]
async fn document_describes_every_route() {
    let fx = fixture().await;
    let doc = get(fx.gateway.addr, "/openapi.json").await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let echo = &paths["/v1/echo/{id}"];
    assert_eq!(
        echo["get"]["description"],
        "Returns the request as the upstream received it."
    );
    let params = echo["get"]["parameters"].as_array().unwrap();
    let param = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(param("id")["in"], "path");
    assert_eq!(param("tags")["in"], "query");
    assert_eq!(param("tags")["schema"]["type"], "array");
    assert_eq!(param("nested.inner.level")["schema"]["format"], "int32");
    assert_eq!(param("when")["schema"]["format"], "date-time");
    assert_eq!(param("kind")["schema"]["enum"][2], "KIND_SECOND");
    assert_eq!(
        echo["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/gwtest.v1.EchoRequest"
    );
    assert!(
        echo["post"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["in"] == "path")
    );
    for path in [
        "/v1/{nested.name}",
        "/v1/files/{path}",
        "/v1/wild/{_1}/x/{id}",
        "/v1/echo/{id}:cancel",
        "/v1/head/{id}",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
    assert!(paths["/v1/head/{id}"].get("head").is_some());
    let count = &paths["/v1/count/{n}"]["get"]["responses"]["200"]["content"];
    assert!(count.get("application/x-ndjson").is_some());
    let nested = &paths["/v1/echo/{id}/nested"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert_eq!(nested["$ref"], "#/components/schemas/gwtest.v1.Nested");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert_eq!(
        schemas["gwtest.v1.EchoRequest"]["properties"]["big"]["type"],
        "string"
    );
    assert_eq!(
        schemas["gwtest.v1.Inner"]["description"],
        "Two levels deep."
    );
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas.contains_key(name), "dangling {r}");
    }
    assert_eq!(
        paths
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>(),
        16
    );
}
