//! Validated user input: emails, passwords, display names, roles.

use protomesh::contracts::shop::users::v1::{LoginRequest, RegisterUserRequest, Role};
use shop_common::Violations;

/// The longest email (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// The longest local part of an email.
const MAX_LOCAL_LEN: usize = 64;
/// The shortest password.
pub const MIN_PASSWORD_LEN: usize = 8;
/// The longest password.
pub const MAX_PASSWORD_LEN: usize = 128;
/// The longest display name.
pub const MAX_DISPLAY_NAME_LEN: usize = 100;

/// A syntactically valid email, as given, with its case-insensitive key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The email as registered (trimmed).
    pub address: String,
    /// The lower-cased email: what uniqueness and login compare.
    pub key: String,
}

impl Email {
    /// Parses an email: `local@domain`, the domain with a dot, no spaces or control characters.
    pub fn parse(v: &mut Violations, field: &str, text: &str) -> Email {
        let address = text.trim().to_owned();
        let valid = || {
            if address.is_empty() || address.chars().count() > MAX_EMAIL_LEN {
                return false;
            }
            let Some((local, domain)) = address.rsplit_once('@') else {
                return false;
            };
            let clean = |s: &str| !s.chars().any(|c| c.is_whitespace() || c.is_control());
            !local.is_empty()
                && local.len() <= MAX_LOCAL_LEN
                && !local.contains('@')
                && clean(local)
                && clean(domain)
                && domain.contains('.')
                && domain.split('.').all(|label| {
                    !label.is_empty()
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label.chars().all(|c| c.is_alphanumeric() || c == '-')
                })
        };
        if address.is_empty() {
            v.add(field, "must not be empty");
        } else if !valid() {
            v.add(field, "is not a valid email address");
        }
        Email {
            key: address.to_lowercase(),
            address,
        }
    }
}

/// Checks a new password's length: 8 to 128 characters.
fn password(v: &mut Violations, field: &str, text: &str) {
    let n = text.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&n) {
        v.add(
            field,
            format!("must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"),
        );
    }
}

/// A registration to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The email.
    pub email: Email,
    /// The password, to hash.
    pub password: String,
    /// The display name.
    pub display_name: String,
}

impl Registration {
    /// Validates a register request.
    pub fn parse(request: RegisterUserRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let email = Email::parse(&mut v, "email", &request.email);
        password(&mut v, "password", &request.password);
        let display_name =
            v.required_text("display_name", &request.display_name, MAX_DISPLAY_NAME_LEN);
        v.into_result(Registration {
            email,
            password: request.password,
            display_name,
        })
    }
}

/// Credentials to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The case-insensitive email key.
    pub email_key: String,
    /// The password.
    pub password: String,
}

impl Credentials {
    /// Validates a login request's shape only: a wrong pair is UNAUTHENTICATED later.
    pub fn parse(request: LoginRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let email = request.email.trim();
        if email.is_empty() {
            v.add("email", "must not be empty");
        } else if email.chars().count() > MAX_EMAIL_LEN {
            v.add(
                "email",
                format!("must be at most {MAX_EMAIL_LEN} characters"),
            );
        }
        if request.password.is_empty() {
            v.add("password", "must not be empty");
        } else if request.password.chars().count() > MAX_PASSWORD_LEN {
            v.add(
                "password",
                format!("must be at most {MAX_PASSWORD_LEN} characters"),
            );
        }
        v.into_result(Credentials {
            email_key: email.to_lowercase(),
            password: request.password,
        })
    }
}

/// A user's role as stored and as written into tokens.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Customer | Role::Unspecified => "customer",
    }
}

/// A stored role name as the wire enum.
pub fn role_of(name: &str) -> Role {
    match name {
        "admin" => Role::Admin,
        "customer" => Role::Customer,
        _ => Role::Unspecified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email_ok(text: &str) -> bool {
        let mut v = Violations::new();
        Email::parse(&mut v, "email", text);
        v.is_empty()
    }

    /// Plausible emails pass; malformed ones do not.
    #[test]
    fn emails() {
        for good in ["a@b.co", "First.Last+tag@Example.COM", " x@y.io "] {
            assert!(email_ok(good), "{good}");
        }
        let long = format!("{}@x.io", "a".repeat(65));
        for bad in [
            "", "plain", "@x.io", "a@", "a@nodot", "a b@x.io", "a@x..io", "a@-x.io", &long,
        ] {
            assert!(!email_ok(bad), "{bad}");
        }
    }

    /// The key is the lower-cased address; the address keeps its case.
    #[test]
    fn email_key_is_lowercase() {
        let mut v = Violations::new();
        let e = Email::parse(&mut v, "email", "Ann@Example.COM");
        assert_eq!(
            (e.address.as_str(), e.key.as_str()),
            ("Ann@Example.COM", "ann@example.com")
        );
    }

    /// A bad registration names every bad field.
    #[test]
    fn registration_names_fields() {
        let err = Registration::parse(RegisterUserRequest {
            email: "nope".into(),
            password: "short".into(),
            display_name: "".into(),
        })
        .unwrap_err();
        let fields: Vec<_> = err.fields().iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["email", "password", "display_name"]);
    }
}
