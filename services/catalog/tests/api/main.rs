//! The catalog's integration tests: a real catalog server on 127.0.0.1:0 over a real SQLite
//! file and a real PostgreSQL database, called by a real tonic client.

mod helpers;
mod metrics;
mod products;
mod stock;
mod storage;
