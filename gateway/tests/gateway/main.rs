//! The gateway's integration tests: a real dynamic upstream on 127.0.0.1:0, the gateway in
//! front of it (standalone and embedded in a tonic server), real HTTP and gRPC clients.

mod browser;
mod conformance;
mod embedded;
mod errors;
mod live;
mod openapi;
mod operate;
mod properties;
mod shop;
mod startup;
mod streaming;
mod support;
