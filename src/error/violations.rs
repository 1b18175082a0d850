//! INVALID_ARGUMENT with `google.rpc.BadRequest` field violations.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// INVALID_ARGUMENT for one bad field: the message names it, and a `BadRequest` detail
/// carries it. `field` is the field path in the request (`"price.cents"`).
pub fn invalid_argument(field: &str, description: impl Into<String>) -> Status {
    let mut violations = FieldViolations::new();
    violations.add(field, description);
    violations.into_status()
}

/// Collects every bad field of a request, so the caller learns all of them at once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldViolations {
    /// (field path, description) in the order they were found.
    violations: Vec<(String, String)>,
}

impl FieldViolations {
    /// No violations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is invalid, and why.
    pub fn add(&mut self, field: &str, description: impl Into<String>) -> &mut Self {
        self.violations
            .push((field.to_string(), description.into()));
        self
    }

    /// Records a violation of `field` unless `ok` holds.
    pub fn require(&mut self, ok: bool, field: &str, description: &str) -> &mut Self {
        if !ok {
            self.add(field, description);
        }
        self
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }

    /// `Ok(())` when nothing was recorded, else the INVALID_ARGUMENT status.
    pub fn into_result(self) -> Result<(), Status> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into_status())
        }
    }

    /// The INVALID_ARGUMENT status: the message lists each field and reason, and a
    /// `google.rpc.BadRequest` detail carries them as field violations.
    pub fn into_status(self) -> Status {
        let message = if self.violations.is_empty() {
            "invalid argument".to_string()
        } else {
            let listed: Vec<String> = self
                .violations
                .iter()
                .map(|(field, description)| format!("{field}: {description}"))
                .collect();
            format!("invalid argument: {}", listed.join("; "))
        };
        let details = ErrorDetails::with_bad_request(
            self.violations
                .into_iter()
                .map(|(field, description)| FieldViolation::new(field, description))
                .collect::<Vec<_>>(),
        );
        Status::with_error_details(Code::InvalidArgument, message, details)
    }
}

/// The (field, description) pairs of a status's `BadRequest` detail; empty when it has none.
/// Tests and clients use it to read which fields were refused.
pub fn field_violations(status: &Status) -> Vec<(String, String)> {
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One bad field gives INVALID_ARGUMENT whose message and BadRequest detail name it.
    #[test]
    fn single_field_is_named() {
        let status = invalid_argument("page_size", "must be between 1 and 100");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "invalid argument: page_size: must be between 1 and 100"
        );
        assert_eq!(
            field_violations(&status),
            vec![("page_size".into(), "must be between 1 and 100".into())]
        );
    }

    /// `require` records only failed checks, and no violations means Ok.
    #[test]
    fn require_records_failures_only() {
        let mut v = FieldViolations::new();
        v.require(true, "a", "fine").require(false, "b", "bad");
        assert_eq!(field_violations(&v.clone().into_status()).len(), 1);
        assert!(FieldViolations::new().into_result().is_ok());
    }
}
