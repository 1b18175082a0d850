//! Integration tests of the registry and the balanced client, with real tonic servers on
//! 127.0.0.1 and real clients.

mod api;
mod balancing;
mod context;
mod discovery;
mod failover;
mod health;
mod process;
mod retries;
mod support;
