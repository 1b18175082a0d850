//! Internal errors: logged in full on the server, answered with a safe message.

use std::error::Error;

use tonic::Status;

/// The message callers see for an internal error.
pub const INTERNAL_MESSAGE: &str = "internal error";

/// Logs `error` with its whole cause chain at ERROR level and returns an INTERNAL status
/// whose message reveals nothing about it.
pub fn internal(error: &(dyn Error + 'static)) -> Status {
    tracing::error!(error = %cause_chain(error), "internal error");
    Status::internal(INTERNAL_MESSAGE)
}

/// `error` and each of its sources, joined by `": "`, outermost first.
pub fn cause_chain(error: &(dyn Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a source.
    #[derive(Debug, thiserror::Error)]
    #[error("saving order")]
    struct Outer(#[source] std::io::Error);

    /// The chain lists every cause; the status hides them.
    #[test]
    fn chain_is_logged_not_sent() {
        let error = Outer(std::io::Error::other("disk full"));
        assert_eq!(cause_chain(&error), "saving order: disk full");
        let status = internal(&error);
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("disk"));
    }
}
