//! The catalog's errors and their one mapping to gRPC status.

use shop_common::{DbError, Violations};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Everything that can go wrong in the catalog.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is invalid; each violation names a field.
    #[error(transparent)]
    Invalid(#[from] Violations),
    /// No product has this id.
    #[error("product {0:?} not found")]
    NotFound(String),
    /// Another product has this SKU.
    #[error("a product with SKU {0:?} already exists")]
    SkuTaken(String),
    /// A product has fewer units in stock than a reservation asks for.
    #[error("not enough stock of product {product_id:?} for this reservation")]
    OutOfStock {
        /// The first product found short.
        product_id: String,
    },
    /// The caller lacks the role the call needs.
    #[error("this call needs the role {0:?}")]
    PermissionDenied(&'static str),
    /// The caller is not signed in.
    #[error("{}", .0.message())]
    Unauthenticated(Status),
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
            Error::NotFound(_) => Status::not_found(error.to_string()),
            Error::SkuTaken(_) => Status::already_exists(error.to_string()),
            Error::OutOfStock { ref product_id } => {
                let mut details = ErrorDetails::new();
                details.add_precondition_failure_violation(
                    "STOCK",
                    format!("products/{product_id}"),
                    "not enough units in stock",
                );
                Status::with_error_details(Code::FailedPrecondition, error.to_string(), details)
            }
            Error::PermissionDenied(_) => Status::permission_denied(error.to_string()),
            Error::Unauthenticated(status) => status,
            Error::Db(_) | Error::Storage(_) | Error::Transport(_) => {
                tracing::error!(error = %shop_common::cause_chain(&error), "catalog call failed");
                Status::internal("internal error")
            }
        }
    }
}
