//! The orders service's errors and their one mapping to gRPC status.

use shop_common::{DbError, Violations};
use tonic::{Code, Status};

/// Everything that can go wrong in the orders service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is invalid; each violation names a field.
    #[error(transparent)]
    Invalid(#[from] Violations),
    /// The caller has no order with this id.
    #[error("order {0:?} not found")]
    NotFound(String),
    /// The order cannot be placed or changed as asked (empty cart, short stock, final state).
    #[error("{0}")]
    FailedPrecondition(String),
    /// An order with this request id is still being placed; retry.
    #[error("an order with request_id {0:?} is still being placed; retry shortly")]
    InProgress(String),
    /// The caller is not signed in.
    #[error("{}", .0.message())]
    Unauthenticated(Status),
    /// An upstream (cart or catalog) failed.
    #[error("the {service} failed: {}", .status.message())]
    Upstream {
        /// "cart" or "catalog".
        service: &'static str,
        /// Its answer.
        status: Status,
    },
    /// An upstream URL is malformed.
    #[error("bad upstream URL {url:?}")]
    BadUpstreamUrl {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
    /// Something that should not happen.
    #[error("internal: {0}")]
    Internal(&'static str),
    /// Opening or migrating the database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A query failed.
    #[error("storage")]
    Storage(#[from] sqlx::Error),
    /// The server failed.
    #[error("serving")]
    Transport(#[from] tonic::transport::Error),
}

impl Error {
    /// Whether the failure is transient: the caller may retry the same request.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Upstream { status, .. } if transient(status.code()))
    }
}

/// Codes after which a retry may succeed.
fn transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted
    )
}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        match error {
            Error::Invalid(v) => v.to_status(),
            Error::NotFound(_) => Status::not_found(error.to_string()),
            Error::FailedPrecondition(_) => Status::failed_precondition(error.to_string()),
            Error::InProgress(_) => Status::aborted(error.to_string()),
            Error::Unauthenticated(status) => status,
            Error::Upstream {
                service,
                ref status,
            } if transient(status.code()) => {
                tracing::warn!(error = %error, "upstream unavailable");
                Status::unavailable(format!("the {service} is unavailable; try again"))
            }
            Error::Upstream { .. }
            | Error::BadUpstreamUrl { .. }
            | Error::Internal(_)
            | Error::Db(_)
            | Error::Storage(_)
            | Error::Transport(_) => {
                tracing::error!(error = %shop_common::cause_chain(&error), "orders call failed");
                Status::internal("internal error")
            }
        }
    }
}
