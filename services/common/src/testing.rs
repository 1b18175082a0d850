//! Test helpers for the shop's integration tests (feature `testing`): real databases and real
//! tonic servers on `127.0.0.1:0`.
//!
//! # Layout
//! - [`db`]: a fresh SQLite file or PostgreSQL database per test, and [`engine_tests!`](crate::engine_tests)
//!   to run a test on both.
//! - [`server`]: serve a service on an ephemeral port behind the test's auth, and make
//!   requests as a given caller.

pub mod db;
pub mod server;

pub use db::{Engine, POSTGRES_URL_VAR, TestDb};
pub use server::{Caller, TEST_ISSUER, TestServer, test_auth_layer, test_signing_key};
