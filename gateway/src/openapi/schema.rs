//! JSON Schemas (OpenAPI 3.1 dialect) for messages and fields under the proto3 JSON mapping.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Value, json};

/// Comments from a file's source info for the element at `path`.
pub fn comments(file: &prost_reflect::FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == path)?;
    let text = location
        .leading_comments
        .as_deref()
        .or(location.trailing_comments.as_deref())?;
    let text = text.lines().map(str::trim).collect::<Vec<_>>().join("\n");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Collects component schemas, following references from the messages asked for.
#[derive(Debug, Default)]
pub struct Components {
    /// Full name to schema.
    pub schemas: BTreeMap<String, Value>,
    pending: Vec<MessageDescriptor>,
    seen: BTreeSet<String>,
}

/// A `$ref` to a component.
pub fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

impl Components {
    /// The schema of `message`, queuing it as a component when it is not a well-known type.
    pub fn message(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(wkt) = well_known(message) {
            return wkt;
        }
        if self.seen.insert(message.full_name().to_owned()) {
            self.pending.push(message.clone());
        }
        reference(message.full_name())
    }

    /// The schema of one field's value (arrays and maps included).
    pub fn field(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map()
            && let Kind::Message(entry) = field.kind()
        {
            let value = self.kind(&entry.map_entry_value_field().kind());
            return json!({ "type": "object", "additionalProperties": value });
        }
        let item = self.kind(&field.kind());
        let mut schema = if field.is_list() {
            json!({ "type": "array", "items": item })
        } else {
            item
        };
        if let Some(text) = comments(&field.parent_file(), field.path()) {
            schema = with_description(schema, text);
        }
        schema
    }

    /// The schema of a singular value of `kind`.
    pub fn kind(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Double => json!({ "type": "number", "format": "double" }),
            Kind::Float => json!({ "type": "number", "format": "float" }),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({ "type": "integer", "format": "int32" })
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({ "type": "integer", "format": "int64", "minimum": 0 })
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({ "type": "string", "format": "int64" })
            }
            Kind::Uint64 | Kind::Fixed64 => json!({ "type": "string", "format": "uint64" }),
            Kind::Bool => json!({ "type": "boolean" }),
            Kind::String => json!({ "type": "string" }),
            Kind::Bytes => json!({ "type": "string", "contentEncoding": "base64" }),
            Kind::Enum(e) => enum_schema(e),
            Kind::Message(m) => self.message(m),
        }
    }

    /// Builds the schemas of every queued message (and what they reference).
    pub fn finish(&mut self) {
        while let Some(message) = self.pending.pop() {
            let mut properties = serde_json::Map::new();
            for field in message.fields() {
                properties.insert(field.json_name().to_owned(), self.field(&field));
            }
            let mut schema = json!({ "type": "object", "properties": properties });
            if let Some(text) = comments(&message.parent_file(), message.path()) {
                schema = with_description(schema, text);
            }
            self.schemas.insert(message.full_name().to_owned(), schema);
        }
    }
}

/// Adds a description next to a schema (beside a `$ref` too, which 3.1 allows).
pub fn with_description(mut schema: Value, text: String) -> Value {
    if let Value::Object(map) = &mut schema {
        map.insert("description".into(), Value::String(text));
    }
    schema
}

fn enum_schema(e: &EnumDescriptor) -> Value {
    let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
    let mut schema = json!({ "type": "string", "enum": names });
    if let Some(text) = comments(&e.parent_file(), e.path()) {
        schema = with_description(schema, text);
    }
    schema
}

/// The JSON forms of the well-known types, which never appear as objects of their fields.
fn well_known(message: &MessageDescriptor) -> Option<Value> {
    let wrapped = |schema: Value| {
        let mut schema = schema;
        if let Some(Value::String(t)) = schema.get("type").cloned() {
            schema["type"] = json!([t, "null"]);
        }
        schema
    };
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
        "google.protobuf.Duration" => {
            json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$" })
        }
        "google.protobuf.FieldMask" => json!({ "type": "string" }),
        "google.protobuf.Empty" => json!({ "type": "object" }),
        "google.protobuf.Struct" => json!({ "type": "object", "additionalProperties": true }),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({ "type": "array" }),
        "google.protobuf.Any" => json!({
            "type": "object",
            "properties": { "@type": { "type": "string" } },
            "additionalProperties": true
        }),
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => {
            wrapped(json!({ "type": "number" }))
        }
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
            wrapped(json!({ "type": "integer" }))
        }
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            wrapped(json!({ "type": "string", "format": "int64" }))
        }
        "google.protobuf.BoolValue" => wrapped(json!({ "type": "boolean" })),
        "google.protobuf.StringValue" => wrapped(json!({ "type": "string" })),
        "google.protobuf.BytesValue" => {
            wrapped(json!({ "type": "string", "contentEncoding": "base64" }))
        }
        _ => return None,
    })
}
