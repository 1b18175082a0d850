//! Building `tonic::Status` values the same way in every service.
//!
//! Bad input is INVALID_ARGUMENT naming the field, with a `google.rpc.BadRequest` detail the
//! gateway and typed clients can read; a missing resource is NOT_FOUND with a `ResourceInfo`;
//! an internal failure is logged with its cause chain and answered with a safe message.
//!
//! ```
//! use protomesh::error::{FieldViolations, internal, not_found};
//!
//! fn check(name: &str, price_cents: i64) -> Result<(), tonic::Status> {
//!     let mut violations = FieldViolations::new();
//!     if name.trim().is_empty() {
//!         violations.add("name", "must not be empty");
//!     }
//!     if price_cents < 0 {
//!         violations.add("price.cents", "must not be negative");
//!     }
//!     violations.into_result()
//! }
//!
//! let status = check("", -1).unwrap_err();
//! assert_eq!(status.code(), tonic::Code::InvalidArgument);
//! assert_eq!(
//!     protomesh::error::field_violations(&status),
//!     vec![
//!         ("name".to_string(), "must not be empty".to_string()),
//!         ("price.cents".to_string(), "must not be negative".to_string()),
//!     ]
//! );
//! assert_eq!(not_found("product", "p-1").code(), tonic::Code::NotFound);
//! let io = std::io::Error::other("disk on fire");
//! assert_eq!(internal(&io).message(), "internal error");
//! ```
//!
//! # Layout
//! - [`violations`]: [`FieldViolations`] and [`invalid_argument`] (INVALID_ARGUMENT).
//! - [`internal`](mod@internal): logging internal errors, [`cause_chain`].

pub mod internal;
pub mod violations;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub use internal::{cause_chain, internal};
pub use violations::{FieldViolations, field_violations, invalid_argument};

/// NOT_FOUND for a resource, with a `google.rpc.ResourceInfo` detail.
pub fn not_found(resource_type: &str, resource_name: &str) -> Status {
    Status::with_error_details(
        Code::NotFound,
        format!("{resource_type} {resource_name} not found"),
        ErrorDetails::with_resource_info(resource_type, resource_name, "", ""),
    )
}

/// ALREADY_EXISTS for a resource, with a `google.rpc.ResourceInfo` detail.
pub fn already_exists(resource_type: &str, resource_name: &str) -> Status {
    Status::with_error_details(
        Code::AlreadyExists,
        format!("{resource_type} {resource_name} already exists"),
        ErrorDetails::with_resource_info(resource_type, resource_name, "", ""),
    )
}

/// FAILED_PRECONDITION with a `google.rpc.PreconditionFailure` detail: `kind` is a short
/// type such as `STOCK`, `subject` what failed (`product/p-1`), `description` why.
pub fn failed_precondition(kind: &str, subject: &str, description: &str) -> Status {
    Status::with_error_details(
        Code::FailedPrecondition,
        format!("{subject}: {description}"),
        ErrorDetails::with_precondition_failure(vec![tonic_types::PreconditionViolation::new(
            kind,
            subject,
            description,
        )]),
    )
}
