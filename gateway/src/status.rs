//! The one table between gRPC codes and HTTP statuses, and the `google.rpc.Status` JSON body
//! every error response carries, whether the upstream or the gateway produced it.

use bytes::Bytes;
use http::StatusCode;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// The encoded descriptors of `google.rpc.Status` and the standard error details.
pub const RPC_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/rpc_descriptor_set.bin"));

/// The HTTP status a gRPC code maps to (the Google API mapping).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        // 499 is nginx's "client closed request", the conventional mapping of CANCELLED.
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The gRPC code an HTTP status maps back to (used for the gateway's own HTTP-level failures).
pub fn grpc_code(status: StatusCode) -> Code {
    match status.as_u16() {
        200..=299 => Code::Ok,
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::Aborted,
        413 | 429 => Code::ResourceExhausted,
        499 => Code::Cancelled,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        405 | 415 | 406 | 411 | 414 => Code::InvalidArgument,
        _ => Code::Unknown,
    }
}

/// An INVALID_ARGUMENT status with a `google.rpc.BadRequest` naming `field`.
pub fn bad_field(field: &str, description: impl Into<String>) -> tonic::Status {
    let description = description.into();
    let message = format!("invalid value for field `{field}`: {description}");
    let details = ErrorDetails::with_bad_request_violation(field, description);
    tonic::Status::with_error_details(Code::InvalidArgument, message, details)
}

/// Renders statuses as `google.rpc.Status` JSON.
#[derive(Debug, Clone)]
pub struct StatusRenderer {
    status: MessageDescriptor,
}

impl StatusRenderer {
    /// Uses `google.rpc.Status` from `pool` (which [`with_rpc_types`] guarantees).
    pub fn new(pool: &DescriptorPool) -> Option<Self> {
        let status = pool.get_message_by_name("google.rpc.Status")?;
        Some(Self { status })
    }

    /// The JSON body for `status`: `{"code", "message", "details": [{"@type", ...}]}`.
    ///
    /// Details whose types the pool does not know are left out rather than failing the reply.
    pub fn json(&self, status: &tonic::Status) -> serde_json::Value {
        let details = DynamicMessage::decode(self.status.clone(), status.details())
            .ok()
            .and_then(|msg| serde_json::to_value(&msg).ok())
            .and_then(|mut value| value.get_mut("details").map(serde_json::Value::take))
            .unwrap_or_else(|| serde_json::Value::Array(Vec::new()));
        serde_json::json!({
            "code": status.code() as i32,
            "message": status.message(),
            "details": details,
        })
    }

    /// [`Self::json`], encoded.
    pub fn body(&self, status: &tonic::Status) -> Bytes {
        Bytes::from(self.json(status).to_string())
    }
}

/// Adds the `google.rpc` error model to `pool` unless it already holds `google.rpc.Status`.
pub fn with_rpc_types(
    mut pool: DescriptorPool,
) -> Result<DescriptorPool, prost_reflect::DescriptorError> {
    if pool.get_message_by_name("google.rpc.Status").is_none() {
        pool.decode_file_descriptor_set(RPC_DESCRIPTOR_SET)?;
    }
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every gRPC code has its documented HTTP status.
    #[test]
    fn table_matches_the_google_mapping() {
        let cases = [
            (Code::Ok, 200),
            (Code::Cancelled, 499),
            (Code::Unknown, 500),
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 400),
            (Code::Aborted, 409),
            (Code::OutOfRange, 400),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
            (Code::Unauthenticated, 401),
        ];
        for (code, http) in cases {
            assert_eq!(http_status(code).as_u16(), http, "{code:?}");
        }
    }

    /// A bad-field status renders with a BadRequest detail carrying `@type` and the field.
    #[test]
    fn bad_field_renders_bad_request_detail() {
        let pool = with_rpc_types(DescriptorPool::new()).unwrap();
        let renderer = StatusRenderer::new(&pool).unwrap();
        let json = renderer.json(&bad_field("shelf.name", "must not be empty"));
        assert_eq!(json["code"], 3);
        assert_eq!(
            json["details"][0]["@type"],
            "type.googleapis.com/google.rpc.BadRequest"
        );
        assert_eq!(
            json["details"][0]["fieldViolations"][0]["field"],
            "shelf.name"
        );
    }
}
