//! The tower layer that enforces the access policy of every call before the service sees it.
//!
//! It looks the request path up in the [`PolicyTable`], reads `authorization: Bearer <token>`,
//! verifies the token with the [`Verifier`], and either puts the [`Principal`] into the
//! request's extensions (tonic hands them to the handler, see [`Principal::of`]) or answers
//! at once with a gRPC error:
//!
//! | case                                   | code              |
//! |----------------------------------------|-------------------|
//! | missing, malformed, forged, expired token | UNAUTHENTICATED (message says which) |
//! | valid token without a required role    | PERMISSION_DENIED (message names the roles) |
//! | method declares no policy              | PERMISSION_DENIED |
//! | path unknown to the policy table       | UNIMPLEMENTED     |
//!
//! On a public method a valid token still yields a principal; an invalid one is ignored, as
//! the method needs none. Tokens are never logged.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{HeaderMap, header::AUTHORIZATION};
use pin_project_lite::pin_project;
use tonic::Status;
use tower_layer::Layer;
use tower_service::Service;

use super::{AuthError, MethodPolicy, PolicyTable, Principal, Verifier};

/// Enforces per-method access policies; wrap a tonic server's routes with it
/// (`Server::builder().layer(auth_layer)`).
#[derive(Debug, Clone)]
pub struct AuthLayer {
    /// Behind one pointer: the server clones its whole stack for every call.
    shared: Arc<Shared>,
}

/// What every clone of an [`AuthLayer`] shares.
#[derive(Debug)]
struct Shared {
    policies: PolicyTable,
    verifier: Verifier,
}

impl AuthLayer {
    /// A layer enforcing `policies`, verifying tokens with `verifier`.
    pub fn new(policies: PolicyTable, verifier: Verifier) -> Self {
        Self {
            shared: Arc::new(Shared { policies, verifier }),
        }
    }

    /// Decides one call: `Ok(Some(principal))` for a verified caller, `Ok(None)` for an
    /// anonymous call to a public method, or the status to answer with.
    pub fn authorize(&self, path: &str, headers: &HeaderMap) -> Result<Option<Principal>, Status> {
        let Some(policy) = self.shared.policies.get(path) else {
            return Err(Status::unimplemented(format!("unknown method {path}")));
        };
        match policy {
            MethodPolicy::Undeclared => Err(Status::permission_denied(format!(
                "method {path} declares no access policy"
            ))),
            MethodPolicy::Public => match self.caller(headers) {
                Ok(principal) => Ok(Some(principal)),
                Err(AuthError::Missing) => Ok(None),
                Err(error) => {
                    tracing::debug!(path, %error, "ignoring a bad token on a public method");
                    Ok(None)
                }
            },
            MethodPolicy::Authenticated => Ok(Some(self.caller(headers)?)),
            MethodPolicy::Roles(roles) => {
                let principal = self.caller(headers)?;
                if roles.iter().any(|role| principal.has_role(role)) {
                    Ok(Some(principal))
                } else {
                    Err(Status::permission_denied(needs_roles(roles)))
                }
            }
        }
    }

    /// The verified caller named by the `authorization` header.
    fn caller(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Err(AuthError::Missing);
        };
        let bearer = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match bearer {
            Some(token) => self.shared.verifier.verify(token),
            None => Err(AuthError::Malformed(
                "authorization is not `Bearer <token>`".into(),
            )),
        }
    }
}

/// The PERMISSION_DENIED message for a caller without any of `roles`.
fn needs_roles(roles: &[String]) -> String {
    let quoted: Vec<String> = roles.iter().map(|r| format!("{r:?}")).collect();
    match quoted.as_slice() {
        [one] => format!("this method needs the role {one}"),
        many => format!("this method needs one of the roles {}", many.join(", ")),
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AuthLayer`] produces.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S, B, ResBody> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = AuthFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        match self.layer.authorize(path, request.headers()) {
            Ok(principal) => {
                if let Some(principal) = principal {
                    request.extensions_mut().insert(principal);
                }
                AuthFuture::admitted(self.inner.call(request))
            }
            Err(status) => {
                tracing::debug!(path, code = ?status.code(), message = status.message(), "call refused");
                AuthFuture::refused(status.into_http())
            }
        }
    }
}

pin_project! {
    /// The response future of [`AuthService`]: the inner call, or an immediate refusal.
    pub struct AuthFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Admitted { #[pin] future: F },
        Refused { response: Option<http::Response<B>> },
    }
}

impl<F, B> AuthFuture<F, B> {
    fn admitted(future: F) -> Self {
        Self {
            state: State::Admitted { future },
        }
    }

    fn refused(response: http::Response<B>) -> Self {
        Self {
            state: State::Refused {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for AuthFuture<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Admitted { future } => future.poll(cx),
            StateProj::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests;
