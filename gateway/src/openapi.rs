//! The OpenAPI 3.1 document generated from the route table: one operation per binding, path
//! and query parameters, request and response schemas from the messages, comments as
//! descriptions, and the `google.rpc.Status` error schema.

pub mod schema;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use crate::{
    routes::{BodyRule, Route, RouteTable},
    template::Segment,
};
use schema::{Components, comments, reference};

/// How deep query parameters are flattened into nested messages.
const QUERY_DEPTH: usize = 3;

/// The document for `table`.
pub fn document(table: &RouteTable) -> Value {
    let mut components = Components::default();
    let mut paths = Map::new();
    for (index, route) in table.routes.iter().enumerate() {
        let verb = route.http_method.as_str().to_ascii_lowercase();
        if !matches!(
            verb.as_str(),
            "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
        ) {
            continue;
        }
        let (path, wildcards) = openapi_path(route);
        let operation = operation(route, index, &wildcards, &mut components);
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[verb.as_str()] = operation;
    }
    let status = json!({
        "type": "object",
        "description": "A google.rpc.Status: the gRPC code, a message and typed details.",
        "properties": {
            "code": { "type": "integer", "format": "int32" },
            "message": { "type": "string" },
            "details": { "type": "array", "items": {
                "type": "object",
                "properties": { "@type": { "type": "string" } },
                "additionalProperties": true
            } }
        }
    });
    components.finish();
    let mut schemas: Map<String, Value> = components.schemas.into_iter().collect();
    schemas.insert("google.rpc.Status".into(), status);
    json!({
        "openapi": "3.1.0",
        "info": { "title": "protomesh gateway", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

/// The OpenAPI path (`{a.b}` per variable, `{_n}` per unnamed wildcard) and the wildcard names.
fn openapi_path(route: &Route) -> (String, Vec<String>) {
    let t = &route.template;
    let mut out = String::new();
    let mut wildcards = Vec::new();
    let mut i = 0;
    while i < t.segments.len() {
        out.push('/');
        if let Some(var) = t.variables.iter().find(|v| v.start == i) {
            out.push_str(&format!("{{{}}}", var.field_path.join(".")));
            i = var.end.max(i + 1);
            continue;
        }
        match &t.segments[i] {
            Segment::Literal(text) => out.push_str(text),
            Segment::Single | Segment::Multi => {
                let name = format!("_{}", wildcards.len() + 1);
                out.push_str(&format!("{{{name}}}"));
                wildcards.push(name);
            }
        }
        i += 1;
    }
    if let Some(verb) = &t.verb {
        out.push(':');
        out.push_str(verb);
    }
    (out, wildcards)
}

fn operation(
    route: &Route,
    index: usize,
    wildcards: &[String],
    components: &mut Components,
) -> Value {
    let method = &route.method;
    let service = method.parent_service();
    let mut parameters = Vec::new();
    for (var, fields) in route.template.variables.iter().zip(&route.path_fields) {
        let leaf = fields.last().expect("resolved path is never empty");
        let mut param = json!({
            "name": var.field_path.join("."),
            "in": "path",
            "required": true,
            "schema": components.field(leaf),
        });
        if var.is_multi_segment(&route.template.segments) {
            param["description"] = json!("May span several path segments.");
        }
        parameters.push(param);
    }
    for name in wildcards {
        parameters.push(
            json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }),
        );
    }
    if !matches!(route.body, BodyRule::Whole) {
        let mut prefix = Vec::new();
        query_parameters(
            route,
            &method.input(),
            &mut prefix,
            components,
            &mut parameters,
        );
    }
    let mut op = json!({
        "operationId": format!("{}_{}_{index}", service.name(), method.name()),
        "tags": [service.full_name()],
        "parameters": parameters,
        "responses": {
            "200": response(route, components),
            "default": {
                "description": "An error: the gRPC status mapped to its HTTP status.",
                "content": { "application/json": { "schema": reference("google.rpc.Status") } }
            }
        }
    });
    if let Some(text) = comments(&method.parent_file(), method.path()) {
        op["description"] = json!(text);
        op["summary"] = json!(text.lines().next().unwrap_or_default());
    }
    let body_schema = match &route.body {
        BodyRule::None => None,
        BodyRule::Whole => Some(components.message(&method.input())),
        BodyRule::Field(field) => Some(components.field(field)),
    };
    if let Some(schema) = body_schema {
        op["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": schema } } });
    }
    op
}

fn response(route: &Route, components: &mut Components) -> Value {
    let schema = match &route.response_body {
        Some(field) => components.field(field),
        None => components.message(&route.method.output()),
    };
    if route.server_streaming() {
        return json!({
            "description": "A stream: one JSON document per line, or server-sent events when the \
                            request accepts text/event-stream; a failure ends it with an error item.",
            "content": {
                "application/x-ndjson": { "schema": schema.clone() },
                "text/event-stream": { "schema": { "type": "string" } }
            }
        });
    }
    json!({ "description": "OK", "content": { "application/json": { "schema": schema } } })
}

/// Query parameters for every field not bound by the path or the body, flattened through
/// singular messages (`a.b`).
fn query_parameters(
    route: &Route,
    message: &MessageDescriptor,
    prefix: &mut Vec<FieldDescriptor>,
    components: &mut Components,
    out: &mut Vec<Value>,
) {
    for field in message.fields() {
        prefix.push(field.clone());
        let bound = route.path_fields.iter().any(|p| same(p, prefix))
            || matches!(&route.body, BodyRule::Field(b) if prefix[0].number() == b.number());
        let name = prefix
            .iter()
            .map(FieldDescriptor::name)
            .collect::<Vec<_>>()
            .join(".");
        match field.kind() {
            _ if bound || field.is_map() => {}
            Kind::Message(inner) if !field.is_list() && !is_text_form(&inner) => {
                if prefix.len() < QUERY_DEPTH {
                    query_parameters(route, &inner, prefix, components, out);
                }
            }
            Kind::Message(inner) if field.is_list() && !is_text_form(&inner) => {}
            _ => {
                let mut param =
                    json!({ "name": name, "in": "query", "schema": components.field(&field) });
                if field.is_list() {
                    param["explode"] = json!(true);
                }
                out.push(param);
            }
        }
        prefix.pop();
    }
}

fn same(a: &[FieldDescriptor], b: &[FieldDescriptor]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.number() == y.number())
}

/// Messages with a string form usable in a query parameter.
fn is_text_form(message: &MessageDescriptor) -> bool {
    let name = message.full_name();
    matches!(
        name,
        "google.protobuf.Timestamp" | "google.protobuf.Duration" | "google.protobuf.FieldMask"
    ) || (name.starts_with("google.protobuf.")
        && name.ends_with("Value")
        && name != "google.protobuf.Value")
}
