//! Direct transcoding between proto3 JSON and the protobuf wire format, for plain messages,
//! without building a `DynamicMessage` in between.
//!
//! A unary REST call used to decode its JSON body into a `DynamicMessage`, encode that to
//! the wire, decode the reply into another `DynamicMessage` and serialize that to JSON: four
//! passes and a tree of allocations for what is one pass each way. These functions do each
//! direction in one pass over the input.
//!
//! They cover the messages most APIs are made of, "plain" ones (see [`is_plain`]), and only
//! the common spellings of values. Anything else, and every error, is declined (`None`):
//! the caller then runs prost-reflect's full mapping, which gives the answer or the error
//! message. So the two paths never disagree on what is accepted or produced; the tests below
//! check that against prost-reflect on generated messages.

mod to_json;
mod to_wire;

use prost_reflect::{Kind, MessageDescriptor, Syntax};

pub use to_json::to_json;
pub use to_wire::to_wire;

/// Whether requests of `desc` can go through the direct path: a proto3 message whose
/// fields, and those of every message inside it, are scalars, strings, bytes, enums and
/// messages, singular or repeated; no maps, oneofs (`optional` fields included), extensions or
/// well-known types (which have JSON forms of their own, as `google.protobuf.NullValue` has).
pub fn is_plain(desc: &MessageDescriptor) -> bool {
    plain(desc, false, &mut Vec::new())
}

/// Whether replies of `desc` can go through the direct path: as [`is_plain`], and they may
/// also hold `google.protobuf.Timestamp` and `Duration` fields (written as their JSON strings).
pub fn is_plain_reply(desc: &MessageDescriptor) -> bool {
    plain(desc, true, &mut Vec::new())
}

/// Whether `desc` is a `Timestamp` or `Duration`, which [`to_json`] writes as strings.
fn is_time(desc: &MessageDescriptor) -> bool {
    matches!(
        desc.full_name(),
        "google.protobuf.Timestamp" | "google.protobuf.Duration"
    )
}

fn plain(desc: &MessageDescriptor, reply: bool, seen: &mut Vec<String>) -> bool {
    if seen.iter().any(|name| name == desc.full_name()) {
        return true;
    }
    seen.push(desc.full_name().to_owned());
    if desc.parent_file().syntax() != Syntax::Proto3
        || desc.package_name() == "google.protobuf"
        || desc.is_map_entry()
        || desc.oneofs().len() > 0
        || desc.extensions().len() > 0
    {
        return false;
    }
    desc.fields().all(|field| {
        !field.is_map()
            && !field.is_group()
            && match field.kind() {
                Kind::Message(inner) if reply && is_time(&inner) => true,
                Kind::Message(inner) => plain(&inner, reply, seen),
                // `google.protobuf.NullValue` is JSON `null`.
                Kind::Enum(e) if e.package_name() == "google.protobuf" => false,
                _ => !field.supports_presence(),
            }
    })
}

#[cfg(test)]
mod tests;
