//! The cart's errors and their one mapping to gRPC status.

use shop_common::{DbError, Violations};
use tonic::{Code, Status};

use crate::domain::{MAX_ITEMS, MAX_LINE_QUANTITY};

/// Everything that can go wrong in the cart.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is invalid; each violation names a field.
    #[error(transparent)]
    Invalid(#[from] Violations),
    /// The catalog has no such product.
    #[error("product {0:?} not found")]
    ProductNotFound(String),
    /// The line would exceed its unit cap.
    #[error("the cart may hold at most {MAX_LINE_QUANTITY} units of product {0:?}")]
    LineFull(String),
    /// The cart would exceed its line cap.
    #[error("the cart may hold at most {MAX_ITEMS} different products")]
    CartFull,
    /// A product in the cart is gone from the catalog or priced in another currency.
    #[error("product {0:?} in the cart can no longer be priced")]
    Unpriceable(String),
    /// The caller is not signed in.
    #[error("{}", .0.message())]
    Unauthenticated(Status),
    /// The catalog failed or could not be reached.
    #[error("the catalog failed: {}", .0.message())]
    Catalog(Status),
    /// The catalog URL is malformed.
    #[error("bad catalog URL {url:?}")]
    BadUpstreamUrl {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
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

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        match error {
            Error::Invalid(v) => v.to_status(),
            Error::ProductNotFound(_) => Status::not_found(error.to_string()),
            Error::LineFull(_) | Error::CartFull | Error::Unpriceable(_) => {
                Status::failed_precondition(error.to_string())
            }
            Error::Unauthenticated(status) => status,
            Error::Catalog(ref status)
                if matches!(
                    status.code(),
                    Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted
                ) =>
            {
                tracing::warn!(error = %error, "catalog unavailable");
                Status::unavailable("the catalog is unavailable; try again")
            }
            Error::Catalog(_)
            | Error::BadUpstreamUrl { .. }
            | Error::Db(_)
            | Error::Storage(_)
            | Error::Transport(_) => {
                tracing::error!(error = %shop_common::cause_chain(&error), "cart call failed");
                Status::internal("internal error")
            }
        }
    }
}
