//! Sets request fields from text: path variables and query parameters, including enums by
//! name or number and the well-known types in their JSON string forms.

use base64::Engine as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

/// The wrapper types, whose text form is the text form of their one `value` field.
const WRAPPERS: [&str; 9] = [
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
];

/// Sets (or, for a repeated leaf, appends) the field at `path` from `text`.
///
/// The error is a description of what is wrong with the value; the caller names the field.
pub fn set_text(
    msg: &mut DynamicMessage,
    path: &[FieldDescriptor],
    text: &str,
) -> Result<(), String> {
    let Some((leaf, parents)) = path.split_last() else {
        return Err("empty field path".into());
    };
    let mut target = msg;
    for field in parents {
        target = target
            .get_field_mut(field)
            .as_message_mut()
            .ok_or_else(|| format!("{} is not a message", field.name()))?;
    }
    if leaf.is_map() {
        return Err("map fields cannot be set from text".into());
    }
    let value = parse(&leaf.kind(), text)?;
    if leaf.is_list() {
        if let Some(list) = target.get_field_mut(leaf).as_list_mut() {
            list.push(value);
        }
    } else {
        target.set_field(leaf, value);
    }
    Ok(())
}

/// Parses `text` as a value of `kind`.
pub fn parse(kind: &Kind, text: &str) -> Result<Value, String> {
    let number = |what: &str| format!("{text:?} is not a valid {what}");
    Ok(match kind {
        Kind::Double => Value::F64(parse_float(text).ok_or_else(|| number("double"))?),
        Kind::Float => Value::F32(parse_float(text).ok_or_else(|| number("float"))? as f32),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(text.parse().map_err(|_| number("int32"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(text.parse().map_err(|_| number("int64"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(text.parse().map_err(|_| number("uint32"))?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(text.parse().map_err(|_| number("uint64"))?),
        Kind::Bool => Value::Bool(match text {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(number("bool")),
        }),
        Kind::String => Value::String(text.to_owned()),
        Kind::Bytes => Value::Bytes(
            decode_base64(text)
                .ok_or_else(|| number("base64 value"))?
                .into(),
        ),
        Kind::Enum(desc) => {
            let found = desc
                .get_value_by_name(text)
                .map(|v| v.number())
                .or_else(|| {
                    text.parse::<i32>()
                        .ok()
                        .filter(|n| desc.get_value(*n).is_some())
                });
            Value::EnumNumber(
                found.ok_or_else(|| format!("{text:?} is not a value of {}", desc.full_name()))?,
            )
        }
        Kind::Message(desc) => Value::Message(parse_message(desc, text)?),
    })
}

/// Parses the JSON string form of a well-known message type.
fn parse_message(desc: &MessageDescriptor, text: &str) -> Result<DynamicMessage, String> {
    let name = desc.full_name();
    if WRAPPERS.contains(&name) {
        let field = desc.get_field(1).ok_or("wrapper without value field")?;
        let mut msg = DynamicMessage::new(desc.clone());
        msg.set_field(&field, parse(&field.kind(), text)?);
        return Ok(msg);
    }
    if matches!(
        name,
        "google.protobuf.Timestamp" | "google.protobuf.Duration" | "google.protobuf.FieldMask"
    ) {
        return DynamicMessage::deserialize(
            desc.clone(),
            serde_json::Value::String(text.to_owned()),
        )
        .map_err(|e| format!("{text:?} is not a valid {name}: {e}"));
    }
    Err(format!(
        "{name} is a message; set its fields as `field.subfield`"
    ))
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok().filter(|f: &f64| f.is_finite()),
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}
