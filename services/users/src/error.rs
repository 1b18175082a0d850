//! The users service's errors and their one mapping to gRPC status.

use shop_common::{DbError, Violations};
use tonic::Status;

use crate::password::PasswordError;

/// The message of every failed login, whichever part was wrong.
pub const LOGIN_FAILED: &str = "wrong email or password";

/// Everything that can go wrong in the users service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is invalid; each violation names a field.
    #[error(transparent)]
    Invalid(#[from] Violations),
    /// An account has this email (case-insensitively).
    #[error("an account with this email already exists")]
    EmailTaken,
    /// The email and password do not match an account.
    #[error("{LOGIN_FAILED}")]
    LoginFailed,
    /// The caller is not signed in.
    #[error("{}", .0.message())]
    Unauthenticated(Status),
    /// The signed-in caller has no account (a service token, or a deleted user).
    #[error("no account for the signed-in caller")]
    NoAccount,
    /// The configured admin account is invalid.
    #[error("the configured admin account is invalid: {0}")]
    BadAdmin(Violations),
    /// Hashing or checking a password failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// Signing a token failed.
    #[error("signing a token")]
    Signing(#[from] protomesh::auth::KeyError),
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
            Error::EmailTaken => Status::already_exists(error.to_string()),
            Error::LoginFailed => Status::unauthenticated(error.to_string()),
            Error::Unauthenticated(status) => status,
            Error::NoAccount => Status::not_found(error.to_string()),
            Error::BadAdmin(_)
            | Error::Password(_)
            | Error::Signing(_)
            | Error::Db(_)
            | Error::Storage(_)
            | Error::Transport(_) => {
                tracing::error!(error = %shop_common::cause_chain(&error), "users call failed");
                Status::internal("internal error")
            }
        }
    }
}
