//! The verified identity of a caller, as handlers receive it.

use std::fmt;

use tonic::{Request, Status};

/// The verified caller of an RPC. The kit's auth layer puts it into the request's extensions
/// after checking the access token; handlers read it with [`Principal::of`]. Its `Debug`
/// output leaves the token out, so logging a principal never leaks a credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    /// The subject: a user id, or a service name for service tokens.
    pub subject: String,
    /// The roles granted by the token, such as "customer", "admin" or "service".
    pub roles: Vec<String>,
    /// The raw bearer token, so a service can call another on the caller's behalf.
    pub token: String,
}

impl Principal {
    /// Whether the principal holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The verified principal of a request. UNAUTHENTICATED when there is none, which only
    /// happens for a method whose policy is public, or when the auth layer is missing.
    pub fn of<T>(request: &Request<T>) -> Result<&Principal, Status> {
        request
            .extensions()
            .get::<Principal>()
            .ok_or_else(|| Status::unauthenticated("this call needs a signed-in caller"))
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject", &self.subject)
            .field("roles", &self.roles)
            .field("token", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request without a principal is refused as UNAUTHENTICATED; one with it yields it.
    #[test]
    fn reads_principal_from_extensions() {
        let mut request = Request::new(());
        assert_eq!(
            Principal::of(&request).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let p = Principal {
            subject: "u1".into(),
            roles: vec!["admin".into()],
            token: "t".into(),
        };
        request.extensions_mut().insert(p.clone());
        assert_eq!(Principal::of(&request).unwrap(), &p);
        assert!(p.has_role("admin") && !p.has_role("service"));
    }
}
