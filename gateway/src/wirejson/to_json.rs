//! Protobuf wire bytes to proto3 JSON, in one pass over the bytes.

use base64::Engine as _;
use prost::{
    Message as _,
    encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field},
};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

/// How deep messages may nest (prost's decoding limit).
const MAX_DEPTH: u32 = 100;

/// The proto3 JSON of `wire`, an encoded message `desc` (see [`super::is_plain_reply`]),
/// exactly as prost-reflect writes it (lowerCamelCase names, fields in number order, default
/// values left out, 64-bit integers as strings, enums by name); `None` when the direct path
/// declines: bytes that do not decode, and known fields out of number order or given twice
/// (which decode by merging), left to prost-reflect.
pub fn to_json(desc: &MessageDescriptor, wire: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(16 + 2 * wire.len());
    message(desc, wire, &mut out, MAX_DEPTH)?;
    Some(out)
}

/// Writes one message as a JSON object.
fn message(desc: &MessageDescriptor, mut buf: &[u8], out: &mut Vec<u8>, depth: u32) -> Option<()> {
    let depth = depth.checked_sub(1)?;
    out.push(b'{');
    let mut object = Object::default();
    while !buf.is_empty() {
        let (tag, wire_type) = decode_key(&mut buf).ok()?;
        let Some(field) = desc.get_field(tag) else {
            skip_field(wire_type, tag, &mut buf, DecodeContext::default()).ok()?;
            continue;
        };
        object.enter(tag, out)?;
        let kind = field.kind();
        match &kind {
            Kind::Message(inner) => {
                let bytes = delimited(wire_type, &mut buf)?;
                object.value(&field, out);
                match inner.full_name() {
                    "google.protobuf.Timestamp" => timestamp(bytes, out)?,
                    "google.protobuf.Duration" => duration(bytes, out)?,
                    _ => message(inner, bytes, out, depth)?,
                }
            }
            _ if field.is_list()
                && wire_type == WireType::LengthDelimited
                && !matches!(kind, Kind::String | Kind::Bytes) =>
            {
                // Packed numbers.
                let mut values = delimited(wire_type, &mut buf)?;
                while !values.is_empty() {
                    let value = Scalar::read(&kind, natural(&kind), &mut values)?;
                    object.value(&field, out);
                    value.write(&kind, out);
                }
            }
            _ => {
                let value = Scalar::read(&kind, wire_type, &mut buf)?;
                if field.is_list() || !value.is_default() {
                    object.value(&field, out);
                    value.write(&kind, out);
                }
            }
        }
    }
    object.close(out);
    out.push(b'}');
    Some(())
}

/// The range the JSON mapping gives a `Timestamp`: 0001-01-01 to 9999-12-31, in seconds.
const TIMESTAMP_SECONDS: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;
/// The largest `Duration` the JSON mapping writes: 10,000 years, in seconds.
const MAX_DURATION_SECONDS: u64 = 315_576_000_000;

/// Writes a `google.protobuf.Timestamp` as its RFC 3339 string; `None` out of range.
fn timestamp(bytes: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let value = prost_types::Timestamp::decode(bytes).ok()?;
    TIMESTAMP_SECONDS.contains(&value.seconds).then_some(())?;
    display(&value, out);
    Some(())
}

/// Writes a `google.protobuf.Duration` as its string of seconds (`1.5s`); `None` out of range.
fn duration(bytes: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let value = prost_types::Duration::decode(bytes).ok()?;
    (value.seconds.unsigned_abs() <= MAX_DURATION_SECONDS
        && value.nanos.unsigned_abs() <= 999_999_999)
        .then_some(())?;
    display(&value, out);
    Some(())
}

/// A JSON string of `value`'s `Display`, as prost-reflect writes these types (their text
/// has nothing JSON escapes: digits, signs, `-:.TZs`).
fn display(value: &dyn std::fmt::Display, out: &mut Vec<u8>) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "\"{value}\"");
}

/// Where one object's writing stands: which members it has, and the open array.
#[derive(Default)]
struct Object {
    /// Whether a member was written (so the next one needs a comma).
    members: bool,
    /// The highest known field number met.
    last: u32,
    /// The repeated field whose array is open.
    list: Option<u32>,
}

impl Object {
    /// A record of field `tag` begins: closes the array of another field, and declines
    /// fields out of number order or met again (other than a repeated field's records in a
    /// row).
    fn enter(&mut self, tag: u32, out: &mut Vec<u8>) -> Option<()> {
        if self.list == Some(tag) {
            return Some(());
        }
        self.close(out);
        if tag <= self.last {
            return None;
        }
        self.last = tag;
        Some(())
    }

    /// Writes what goes before one value of `field`: its name (once, with `[` for a
    /// repeated field) or the comma between array elements.
    fn value(&mut self, field: &FieldDescriptor, out: &mut Vec<u8>) {
        if self.list.is_some() {
            // `enter` closed any other field's array: this is the next element.
            out.push(b',');
            return;
        }
        if self.members {
            out.push(b',');
        }
        self.members = true;
        name(field.json_name(), out);
        out.push(b':');
        if field.is_list() {
            out.push(b'[');
            self.list = Some(field.number());
        }
    }

    /// Closes the open array, if any.
    fn close(&mut self, out: &mut Vec<u8>) {
        if self.list.take().is_some() {
            out.push(b']');
        }
    }
}

/// The bytes of a length-delimited record.
fn delimited<'a>(wire_type: WireType, buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    if wire_type != WireType::LengthDelimited {
        return None;
    }
    let len = usize::try_from(decode_varint(buf).ok()?).ok()?;
    let bytes = buf.get(..len)?;
    *buf = &buf[len..];
    Some(bytes)
}

/// The wire type a scalar of `kind` travels in.
fn natural(kind: &Kind) -> WireType {
    match kind {
        Kind::Fixed32 | Kind::Sfixed32 | Kind::Float => WireType::ThirtyTwoBit,
        Kind::Fixed64 | Kind::Sfixed64 | Kind::Double => WireType::SixtyFourBit,
        Kind::String | Kind::Bytes | Kind::Message(_) => WireType::LengthDelimited,
        _ => WireType::Varint,
    }
}

/// One decoded scalar.
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F32(f32),
    F64(f64),
    Bool(bool),
    Enum(i32),
    Str(&'a str),
    Bytes(&'a [u8]),
}

impl<'a> Scalar<'a> {
    /// Reads one value of `kind` sent as `wire_type`.
    fn read(kind: &Kind, wire_type: WireType, buf: &mut &'a [u8]) -> Option<Self> {
        if wire_type != natural(kind) {
            return None;
        }
        let fixed32 = |buf: &mut &[u8]| -> Option<u32> {
            let (bytes, rest) = buf.split_first_chunk::<4>()?;
            *buf = rest;
            Some(u32::from_le_bytes(*bytes))
        };
        let fixed64 = |buf: &mut &[u8]| -> Option<u64> {
            let (bytes, rest) = buf.split_first_chunk::<8>()?;
            *buf = rest;
            Some(u64::from_le_bytes(*bytes))
        };
        Some(match kind {
            Kind::Fixed32 => Scalar::U32(fixed32(buf)?),
            Kind::Sfixed32 => Scalar::I32(fixed32(buf)? as i32),
            Kind::Float => Scalar::F32(f32::from_bits(fixed32(buf)?)),
            Kind::Fixed64 => Scalar::U64(fixed64(buf)?),
            Kind::Sfixed64 => Scalar::I64(fixed64(buf)? as i64),
            Kind::Double => Scalar::F64(f64::from_bits(fixed64(buf)?)),
            Kind::String => Scalar::Str(std::str::from_utf8(delimited(wire_type, buf)?).ok()?),
            Kind::Bytes => Scalar::Bytes(delimited(wire_type, buf)?),
            _ => {
                let v = decode_varint(buf).ok()?;
                match kind {
                    Kind::Int32 => Scalar::I32(v as i32),
                    Kind::Uint32 => Scalar::U32(v as u32),
                    Kind::Sint32 => {
                        let n = v as u32;
                        Scalar::I32((n >> 1) as i32 ^ -((n & 1) as i32))
                    }
                    Kind::Int64 => Scalar::I64(v as i64),
                    Kind::Uint64 => Scalar::U64(v),
                    Kind::Sint64 => Scalar::I64((v >> 1) as i64 ^ -((v & 1) as i64)),
                    Kind::Bool => Scalar::Bool(v != 0),
                    Kind::Enum(_) => Scalar::Enum(v as i32),
                    _ => return None,
                }
            }
        })
    }

    /// Whether this is its kind's default, which a field without presence leaves out.
    fn is_default(self) -> bool {
        match self {
            Scalar::I32(v) | Scalar::Enum(v) => v == 0,
            Scalar::U32(v) => v == 0,
            Scalar::I64(v) => v == 0,
            Scalar::U64(v) => v == 0,
            Scalar::F32(v) => v == 0.0,
            Scalar::F64(v) => v == 0.0,
            Scalar::Bool(v) => !v,
            Scalar::Str(v) => v.is_empty(),
            Scalar::Bytes(v) => v.is_empty(),
        }
    }

    /// Writes the value's JSON (`kind` names enum values).
    fn write(self, kind: &Kind, out: &mut Vec<u8>) {
        match self {
            Scalar::I32(v) => json(&v, out),
            Scalar::U32(v) => json(&v, out),
            Scalar::I64(v) => quoted(&v, out),
            Scalar::U64(v) => quoted(&v, out),
            Scalar::F32(v) if v.is_finite() => json(&v, out),
            Scalar::F64(v) if v.is_finite() => json(&v, out),
            Scalar::F32(v) => json(non_finite(f64::from(v)), out),
            Scalar::F64(v) => json(non_finite(v), out),
            Scalar::Bool(v) => json(&v, out),
            Scalar::Enum(v) => match kind {
                Kind::Enum(desc) => match desc.get_value(v) {
                    Some(value) => json(value.name(), out),
                    None => json(&v, out),
                },
                _ => json(&v, out),
            },
            Scalar::Str(v) => json(v, out),
            Scalar::Bytes(v) => {
                let start = out.len() + 1;
                let len = base64::encoded_len(v.len(), true).unwrap_or(0);
                out.resize(start + len, b'"');
                // The buffer has exactly the encoded length.
                let _ =
                    base64::engine::general_purpose::STANDARD.encode_slice(v, &mut out[start..]);
                out.push(b'"');
            }
        }
    }
}

/// `Infinity`, `-Infinity` or `NaN`, as the JSON mapping spells them.
fn non_finite(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// A number, string or bool as serde_json writes it (as prost-reflect's output goes).
/// A member name as a JSON string: written as it is when it is a plain identifier, as JSON
/// names almost always are (nothing to escape), escaped otherwise.
fn name(name: &str, out: &mut Vec<u8>) {
    if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
    } else {
        json(name, out);
    }
}

fn json<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// A 64-bit integer as a JSON string, as the JSON mapping writes them.
fn quoted<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) {
    out.push(b'"');
    json(value, out);
    out.push(b'"');
}
