//! Invalid input, reported the same way by every shop service: INVALID_ARGUMENT carrying a
//! `google.rpc.BadRequest` with one field violation per bad field.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The field violations found while validating one request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One violation of `field` (a proto field path such as `lines[2].quantity`).
    pub fn one(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut v = Self::new();
        v.add(field, description);
        v
    }

    /// Records that `field` is invalid, saying why.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The violations as (field, description) pairs.
    pub fn fields(&self) -> &[(String, String)] {
        &self.0
    }

    /// `Ok(value)` when nothing was found, else the violations.
    pub fn into_result<T>(self, value: T) -> Result<T, Violations> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Checks a required text field: 1 to `max` characters, not only whitespace, and no
    /// control characters. Returns the text, trimmed, when it is valid.
    pub fn required_text(&mut self, field: &str, value: &str, max: usize) -> String {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.add(field, "must not be empty");
        } else {
            self.optional_text(field, trimmed, max);
        }
        trimmed.to_owned()
    }

    /// Checks an optional text field: at most `max` characters and no control characters
    /// other than newlines and tabs.
    pub fn optional_text(&mut self, field: &str, value: &str, max: usize) -> String {
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        } else if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            self.add(field, "must not contain control characters");
        }
        value.trim().to_owned()
    }

    /// Checks an id field: 1 to `max` characters of ASCII letters, digits, `-` and `_`.
    pub fn id(&mut self, field: &str, value: &str, max: usize) -> String {
        if value.is_empty() {
            self.add(field, "must not be empty");
        } else if value.len() > max {
            self.add(field, format!("must be at most {max} characters"));
        } else if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            self.add(field, "may hold only ASCII letters, digits, '-' and '_'");
        }
        value.to_owned()
    }

    /// The INVALID_ARGUMENT status with a `google.rpc.BadRequest` detail.
    pub fn to_status(&self) -> Status {
        let mut details = ErrorDetails::new();
        for (field, description) in &self.0 {
            details.add_bad_request_violation(field.clone(), description.clone());
        }
        Status::with_error_details(Code::InvalidArgument, self.to_string(), details)
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid request: ")?;
        for (i, (field, description)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{field} {description}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

impl From<Violations> for Status {
    fn from(v: Violations) -> Status {
        v.to_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status is INVALID_ARGUMENT and its BadRequest names each field.
    #[test]
    fn status_names_fields() {
        let mut v = Violations::new();
        assert_eq!(v.required_text("name", "  ", 10), "");
        v.optional_text("description", "ok\u{0}", 100);
        v.id("product_id", "a b", 64);
        let status = v.to_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<String> = status
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields, ["name", "description", "product_id"]);
        assert!(status.message().contains("name must not be empty"));
    }

    /// Valid text passes, trimmed, and leaves no violation.
    #[test]
    fn valid_text_passes() {
        let mut v = Violations::new();
        assert_eq!(v.required_text("name", " Tea ", 10), "Tea");
        assert_eq!(v.id("id", "abc-1_2", 64), "abc-1_2");
        assert!(v.is_empty());
        assert_eq!(v.into_result(7).unwrap(), 7);
    }
}
