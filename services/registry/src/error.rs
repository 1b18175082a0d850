//! The registry's errors and their gRPC status.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// What can go wrong in the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A request field is missing or malformed.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The request field, such as `instance.address`.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The lease is unknown: it expired or was never granted. Register again.
    #[error("lease not found; register again")]
    LeaseNotFound,
    /// The server could not run.
    #[error("registry server: {0}")]
    Serve(#[from] tonic::transport::Error),
}

impl From<RegistryError> for Status {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::InvalidArgument { field, reason } => Status::with_error_details(
                Code::InvalidArgument,
                format!("invalid {field}: {reason}"),
                ErrorDetails::with_bad_request_violation(field, reason),
            ),
            RegistryError::LeaseNotFound => Status::not_found(error.to_string()),
            RegistryError::Serve(error) => {
                tracing::error!(%error, "registry server error");
                Status::internal("internal error")
            }
        }
    }
}
