//! CORS for browser clients: preflight answers and the response headers of allowed origins.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, header};

/// The default preflight cache time.
pub const DEFAULT_CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// Which browser origins may call the gateway.
#[derive(Debug, Clone)]
pub struct CorsSettings {
    /// Allowed origins (`https://shop.example`), or `*` for any.
    pub allowed_origins: Vec<String>,
    /// Request headers a browser may send, besides the CORS-safelisted ones.
    pub allowed_headers: Vec<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age: Duration,
}

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allowed_headers: [
                "authorization",
                "content-type",
                "x-request-id",
                "traceparent",
                "tracestate",
                "grpc-timeout",
            ]
            .map(String::from)
            .to_vec(),
            max_age: DEFAULT_CORS_MAX_AGE,
        }
    }
}

impl CorsSettings {
    /// The request's origin when it is allowed.
    pub fn allowed_origin<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.allowed_origins
            .iter()
            .any(|o| o == "*" || o == text)
            .then_some(origin)
    }

    /// Whether this is a preflight request (OPTIONS with Access-Control-Request-Method).
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// Adds the headers of a preflight answer allowing `method` for `origin`.
    pub fn preflight_headers(&self, origin: &HeaderValue, method: &Method, out: &mut HeaderMap) {
        self.response_headers(origin, out);
        if let Ok(value) = HeaderValue::from_str(method.as_str()) {
            out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, value);
        }
        if let Ok(value) = HeaderValue::from_str(&self.allowed_headers.join(", ")) {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
        out.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(self.max_age.as_secs()),
        );
    }

    /// Adds the headers every response to an allowed origin carries.
    pub fn response_headers(&self, origin: &HeaderValue, out: &mut HeaderMap) {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(header::VARY, HeaderValue::from_static("origin"));
        out.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-request-id"),
        );
    }
}
