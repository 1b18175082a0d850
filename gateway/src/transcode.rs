//! JSON and text to a request message, and a response message to JSON, per one route.

use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, ReflectMessage, SerializeOptions,
};
use serde::Serialize as _;

use crate::{
    fields,
    routes::{BodyRule, Route, resolve_path},
    status::bad_field,
};

/// Builds the request message for `route` from the path values, the query string and the body.
///
/// Fields bound by the path win over the body and the query; the query fills the remaining
/// fields (never the body field, nor anything when the body is `*`).
pub fn request(
    route: &Route,
    values: &[String],
    query: Option<&str>,
    body: &[u8],
    discard_unknown: bool,
) -> Result<DynamicMessage, tonic::Status> {
    let input = route.method.input();
    let options = DeserializeOptions::new().deny_unknown_fields(!discard_unknown);
    let mut msg = match &route.body {
        BodyRule::Whole if !is_blank(body) => json_message(input.clone(), body, &options, "")?,
        BodyRule::Field(field) if !is_blank(body) => {
            let mut msg = DynamicMessage::new(input.clone());
            let value = json_field(field, body, &options)?;
            msg.set_field(field, value);
            msg
        }
        _ => DynamicMessage::new(input.clone()),
    };
    for (fields, value) in route.path_fields.iter().zip(values) {
        fields::set_text(&mut msg, fields, value).map_err(|e| bad_field(&dotted(fields), e))?;
    }
    if let (Some(query), false) = (query, matches!(route.body, BodyRule::Whole)) {
        apply_query(route, &mut msg, query, discard_unknown)?;
    }
    Ok(msg)
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

fn dotted(fields: &[FieldDescriptor]) -> String {
    fields
        .iter()
        .map(FieldDescriptor::name)
        .collect::<Vec<_>>()
        .join(".")
}

fn json_message(
    desc: prost_reflect::MessageDescriptor,
    body: &[u8],
    options: &DeserializeOptions,
    prefix: &str,
) -> Result<DynamicMessage, tonic::Status> {
    let mut de = serde_json::Deserializer::from_slice(body);
    match DynamicMessage::deserialize_with_options(desc.clone(), &mut de, options)
        .and_then(|msg| de.end().map(|()| msg))
    {
        Ok(msg) => Ok(msg),
        Err(e) => Err(json_error(
            &e,
            &join(prefix, &error_path(desc, body, options)),
        )),
    }
}

/// Where in `body` reading it as `desc` fails: a field path such as `inner.level` or
/// `nums[1]`, empty for the body itself. Read again, tracking the path, only once it failed.
fn error_path(
    desc: prost_reflect::MessageDescriptor,
    body: &[u8],
    options: &DeserializeOptions,
) -> String {
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut de, &mut track);
    if DynamicMessage::deserialize_with_options(desc, tracked, options).is_ok() {
        return String::new();
    }
    let mut path = String::new();
    for segment in &track.path() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => path = join(&path, key),
            // Where serde_path_to_error cannot tell, the path so far is the answer.
            _ => break,
        }
    }
    path
}

/// `a.b`, or whichever of the two is not empty.
fn join(a: &str, b: &str) -> String {
    match (a, b) {
        ("", b) => b.to_owned(),
        (a, "") => a.to_owned(),
        (a, b) => format!("{a}.{b}"),
    }
}

/// Decodes the body as the JSON of one field (a message, a list, a scalar).
fn json_field(
    field: &FieldDescriptor,
    body: &[u8],
    options: &DeserializeOptions,
) -> Result<prost_reflect::Value, tonic::Status> {
    if let (Kind::Message(desc), false, false) = (field.kind(), field.is_list(), field.is_map()) {
        return json_message(desc, body, options, field.name()).map(prost_reflect::Value::Message);
    }
    // Wrap the value as `{"field": <body>}` and decode the parent, which knows the field's type.
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| json_error(&e, field.name()))?;
    let wrapped = serde_json::json!({ field.name(): value });
    let parent =
        DynamicMessage::deserialize_with_options(field.parent_message().clone(), wrapped, options)
            .map_err(|e| bad_field(field.name(), e.to_string()))?;
    Ok(parent.get_field(field).into_owned())
}

/// A 400 naming the field: the one serde names (an unknown field) under `prefix`, else
/// `prefix` itself (the field whose value was malformed), else the body.
fn json_error(e: &serde_json::Error, prefix: &str) -> tonic::Status {
    let text = e.to_string();
    // serde and prost-reflect name unknown fields as "field `x`" or "field name 'x'".
    let named = [("field `", '`'), ("field name '", '\'')]
        .iter()
        .find_map(|(open, close)| {
            let (_, rest) = text.split_once(open)?;
            rest.split_once(*close).map(|(name, _)| name.to_owned())
        });
    let field = match (named, prefix) {
        (Some(name), "") => name,
        (Some(name), p) => format!("{p}.{name}"),
        (None, "") => "body".to_owned(),
        (None, p) => p.to_owned(),
    };
    bad_field(&field, text)
}

fn apply_query(
    route: &Route,
    msg: &mut DynamicMessage,
    query: &str,
    discard_unknown: bool,
) -> Result<(), tonic::Status> {
    let input = route.method.input();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key =
            decode_query(key).ok_or_else(|| bad_field("query", "malformed percent-encoding"))?;
        let value =
            decode_query(value).ok_or_else(|| bad_field(&key, "malformed percent-encoding"))?;
        let names: Vec<String> = key.split('.').map(str::to_owned).collect();
        let fields = match resolve_path(&input, &names) {
            Ok(fields) => fields,
            Err(_) if discard_unknown => continue,
            Err(e) => return Err(bad_field(&key, format!("unknown query parameter: {e}"))),
        };
        if is_bound(route, &fields) {
            continue;
        }
        fields::set_text(msg, &fields, &value).map_err(|e| bad_field(&key, e))?;
    }
    Ok(())
}

/// Whether the path or the body already binds this field (or a field containing it).
fn is_bound(route: &Route, fields: &[FieldDescriptor]) -> bool {
    let same = |a: &[FieldDescriptor], b: &[FieldDescriptor]| {
        a.iter().zip(b).all(|(x, y)| x.number() == y.number())
    };
    if let BodyRule::Field(body) = &route.body
        && fields[0].number() == body.number()
    {
        return true;
    }
    route.path_fields.iter().any(|bound| same(bound, fields))
}

/// Decodes one query component: `+` is a space, then percent-decoding.
fn decode_query(text: &str) -> Option<String> {
    let spaced = text.replace('+', " ");
    crate::router::decode(&spaced, false)
}

/// The JSON of the response (or of its `response_body` field), proto3 JSON mapping.
pub fn response(route: &Route, msg: &DynamicMessage) -> Result<Vec<u8>, tonic::Status> {
    let options = SerializeOptions::new();
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::new(&mut out);
    let result = match &route.response_body {
        None => msg.serialize_with_options(&mut ser, &options),
        Some(field) => match (field.kind(), field.is_list() || field.is_map()) {
            (Kind::Message(_), false) => match msg.get_field(field).as_message() {
                Some(inner) => inner.serialize_with_options(&mut ser, &options),
                None => ().serialize(&mut ser),
            },
            _ => {
                let mut only = DynamicMessage::new(msg.descriptor());
                only.set_field(field, msg.get_field(field).into_owned());
                let options = SerializeOptions::new().skip_default_fields(false);
                let value = only
                    .serialize_with_options(serde_json::value::Serializer, &options)
                    .map_err(|e| tonic::Status::internal(format!("response to JSON: {e}")))?;
                return Ok(value
                    .get(field.json_name())
                    .unwrap_or(&serde_json::Value::Null)
                    .to_string()
                    .into_bytes());
            }
        },
    };
    result.map_err(|e| tonic::Status::internal(format!("response to JSON: {e}")))?;
    Ok(out)
}
