//! The gateway's integration tests: a real dynamic upstream on 127.0.0.1:0, the gateway in
//! front of it, real HTTP clients.

mod conformance;
mod errors;
mod streaming;
mod support;
