//! Proto3 JSON to protobuf wire bytes, in one pass over the JSON.

use std::fmt;

use base64::Engine as _;
use prost::encoding::{WireType, encode_key, encode_varint};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The wire encoding of `body`, the JSON of a message `desc` (plain, see
/// [`super::is_plain`]), or `None` when the direct path declines it: any error, and any
/// spelling it leaves to prost-reflect (numbers in strings other than plain 64-bit integers,
/// integers written with a fraction or an exponent, `NaN` and `Infinity`, unpadded or
/// URL-safe base64, unknown enum names, `null` in a list, a name given twice, unknown names
/// unless `discard_unknown`).
pub fn to_wire(desc: &MessageDescriptor, body: &[u8], discard_unknown: bool) -> Option<Vec<u8>> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut out = Vec::with_capacity(body.len());
    MessageSeed {
        desc,
        out: &mut out,
        discard_unknown,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(out)
}

/// The error that hands a body over to prost-reflect.
fn decline<E: de::Error>() -> E {
    E::custom("left to prost-reflect")
}

/// One message: a JSON object whose members are written to `out` as they are read.
struct MessageSeed<'a> {
    desc: &'a MessageDescriptor,
    out: &'a mut Vec<u8>,
    discard_unknown: bool,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let MessageSeed {
            desc,
            out,
            discard_unknown,
        } = self;
        let mut seen = Seen::default();
        while let Some(field) = map.next_key_seed(KeySeed(desc))? {
            match field {
                Some(field) if seen.insert(field.number()) => {
                    map.next_value_seed(FieldSeed {
                        field: &field,
                        out: &mut *out,
                        discard_unknown,
                    })?;
                }
                None if discard_unknown => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => return Err(decline()),
            }
        }
        Ok(())
    }
}

/// The field numbers met in one object (a name given twice is left to prost-reflect).
#[derive(Default)]
struct Seen {
    low: u128,
    high: Vec<u32>,
}

impl Seen {
    /// Records `number`; false when it was met before.
    fn insert(&mut self, number: u32) -> bool {
        if number < 128 {
            let bit = 1u128 << number;
            let new = self.low & bit == 0;
            self.low |= bit;
            new
        } else if self.high.contains(&number) {
            false
        } else {
            self.high.push(number);
            true
        }
    }
}

/// A member name: the field it names by JSON name or proto name, `None` for no field.
struct KeySeed<'a>(&'a MessageDescriptor);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<FieldDescriptor>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<FieldDescriptor>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(field_named(self.0, name))
    }
}

/// The field `name` names: by JSON name first, then by proto name. A small message's fields
/// are compared in turn, which costs less than hashing `name` for prost-reflect's maps.
fn field_named(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    const SCAN: usize = 4;
    if message.fields().len() > SCAN {
        return message
            .get_field_by_json_name(name)
            .or_else(|| message.get_field_by_name(name));
    }
    message
        .fields()
        .find(|f| f.json_name() == name)
        .or_else(|| message.fields().find(|f| f.name() == name))
}

/// One member's value: `null` leaves the field unset, as the JSON mapping says.
struct FieldSeed<'a> {
    field: &'a FieldDescriptor,
    out: &'a mut Vec<u8>,
    discard_unknown: bool,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field value")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let FieldSeed {
            field,
            out,
            discard_unknown,
        } = self;
        let tag = field.number();
        let kind = field.kind();
        if field.is_list() {
            return d.deserialize_seq(ListSeed {
                tag,
                kind: &kind,
                packed: field.is_packed(),
                out,
                discard_unknown,
            });
        }
        match &kind {
            Kind::Message(desc) => NestedSeed {
                tag,
                desc,
                out,
                discard_unknown,
            }
            .deserialize(d),
            Kind::String | Kind::Bytes => TextSeed {
                tag,
                kind: &kind,
                out,
                singular: true,
            }
            .deserialize(d),
            _ => {
                let (num, default) = NumSeed(&kind).deserialize(d)?;
                // A proto3 field without presence does not go on the wire at its default.
                if !default {
                    encode_key(tag, num.wire_type(), out);
                    num.put(out);
                }
                Ok(())
            }
        }
    }
}

/// A repeated field: a JSON array, numbers packed when the field is.
struct ListSeed<'a> {
    tag: u32,
    kind: &'a Kind,
    packed: bool,
    out: &'a mut Vec<u8>,
    discard_unknown: bool,
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ListSeed {
            tag,
            kind,
            packed,
            out,
            discard_unknown,
        } = self;
        match kind {
            Kind::Message(desc) => {
                while let Some(()) = seq.next_element_seed(NestedSeed {
                    tag,
                    desc,
                    out: &mut *out,
                    discard_unknown,
                })? {}
            }
            Kind::String | Kind::Bytes => {
                while let Some(()) = seq.next_element_seed(TextSeed {
                    tag,
                    kind,
                    out: &mut *out,
                    singular: false,
                })? {}
            }
            _ if packed => {
                let mut values = Vec::new();
                while let Some((num, _)) = seq.next_element_seed(NumSeed(kind))? {
                    num.put(&mut values);
                }
                if !values.is_empty() {
                    put_delimited(tag, &values, out);
                }
            }
            _ => {
                while let Some((num, _)) = seq.next_element_seed(NumSeed(kind))? {
                    encode_key(tag, num.wire_type(), out);
                    num.put(out);
                }
            }
        }
        Ok(())
    }
}

/// A message-typed value, written length-delimited.
struct NestedSeed<'a> {
    tag: u32,
    desc: &'a MessageDescriptor,
    out: &'a mut Vec<u8>,
    discard_unknown: bool,
}

impl<'de> DeserializeSeed<'de> for NestedSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let mut inner = Vec::new();
        MessageSeed {
            desc: self.desc,
            out: &mut inner,
            discard_unknown: self.discard_unknown,
        }
        .deserialize(d)?;
        put_delimited(self.tag, &inner, self.out);
        Ok(())
    }
}

/// A string, or bytes in standard base64; an empty singular one stays off the wire.
struct TextSeed<'a> {
    tag: u32,
    kind: &'a Kind,
    out: &'a mut Vec<u8>,
    singular: bool,
}

impl<'de> DeserializeSeed<'de> for TextSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TextSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        if matches!(self.kind, Kind::Bytes) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| decline())?;
            if !(self.singular && bytes.is_empty()) {
                put_delimited(self.tag, &bytes, self.out);
            }
        } else if !(self.singular && text.is_empty()) {
            put_delimited(self.tag, text.as_bytes(), self.out);
        }
        Ok(())
    }
}

/// `bytes` as one length-delimited record of field `tag`.
fn put_delimited(tag: u32, bytes: &[u8], out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// One value of a numeric, bool or enum field, as it goes on the wire.
#[derive(Debug, Clone, Copy)]
enum Num {
    Varint(u64),
    Fixed32(u32),
    Fixed64(u64),
}

impl Num {
    fn wire_type(self) -> WireType {
        match self {
            Num::Varint(_) => WireType::Varint,
            Num::Fixed32(_) => WireType::ThirtyTwoBit,
            Num::Fixed64(_) => WireType::SixtyFourBit,
        }
    }

    fn put(self, out: &mut Vec<u8>) {
        match self {
            Num::Varint(v) => encode_varint(v, out),
            Num::Fixed32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Num::Fixed64(v) => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
}

/// A numeric, bool or enum value of `kind`, and whether it is the kind's default.
struct NumSeed<'a>(&'a Kind);

impl<'de> DeserializeSeed<'de> for NumSeed<'_> {
    type Value = (Num, bool);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NumSeed<'_> {
    type Value = (Num, bool);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, bool or enum name")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        match self.0 {
            Kind::Bool => Ok((Num::Varint(u64::from(v)), !v)),
            _ => Err(decline()),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        integer(self.0, i128::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        integer(self.0, i128::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        match self.0 {
            Kind::Double => Ok((Num::Fixed64(v.to_bits()), v == 0.0)),
            Kind::Float if v.abs() <= f64::from(f32::MAX) => {
                let v = v as f32;
                Ok((Num::Fixed32(v.to_bits()), v == 0.0))
            }
            _ => Err(decline()),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let signed = matches!(self.0, Kind::Int64 | Kind::Sint64 | Kind::Sfixed64);
        let unsigned = matches!(self.0, Kind::Uint64 | Kind::Fixed64);
        match self.0 {
            Kind::Enum(desc) => {
                let number = desc.get_value_by_name(v).ok_or_else(decline)?.number();
                Ok((Num::Varint(number as i64 as u64), number == 0))
            }
            _ if (signed || unsigned) && decimal(v, signed) => {
                integer(self.0, v.parse::<i128>().map_err(|_| decline())?)
            }
            _ => Err(decline()),
        }
    }
}

/// Whether `text` is a plain decimal integer (a minus sign only when `signed`).
fn decimal(text: &str, signed: bool) -> bool {
    let digits = match text.strip_prefix('-') {
        Some(rest) if signed => rest,
        Some(_) => return false,
        None => text,
    };
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// An integer as a value of `kind`, when in its range.
fn integer<E: de::Error>(kind: &Kind, v: i128) -> Result<(Num, bool), E> {
    fn fit<T: TryFrom<i128>, E: de::Error>(v: i128) -> Result<T, E> {
        T::try_from(v).map_err(|_| decline())
    }
    let num = match kind {
        Kind::Int32 | Kind::Enum(_) => Num::Varint(fit::<i32, E>(v)? as i64 as u64),
        Kind::Sint32 => {
            let n = fit::<i32, E>(v)?;
            Num::Varint(u64::from(((n << 1) ^ (n >> 31)) as u32))
        }
        Kind::Sfixed32 => Num::Fixed32(fit::<i32, E>(v)? as u32),
        Kind::Uint32 => Num::Varint(u64::from(fit::<u32, E>(v)?)),
        Kind::Fixed32 => Num::Fixed32(fit(v)?),
        Kind::Int64 => Num::Varint(fit::<i64, E>(v)? as u64),
        Kind::Sint64 => {
            let n = fit::<i64, E>(v)?;
            Num::Varint(((n << 1) ^ (n >> 63)) as u64)
        }
        Kind::Sfixed64 => Num::Fixed64(fit::<i64, E>(v)? as u64),
        Kind::Uint64 => Num::Varint(fit(v)?),
        Kind::Fixed64 => Num::Fixed64(fit(v)?),
        // Integers exactly representable in the float type only; rounding is left to
        // prost-reflect.
        Kind::Double if v.unsigned_abs() <= 1 << 53 => Num::Fixed64((v as f64).to_bits()),
        Kind::Float if v.unsigned_abs() <= 1 << 24 => Num::Fixed32((v as f32).to_bits()),
        _ => return Err(decline()),
    };
    Ok((num, v == 0))
}
