//! The users service's integration tests: a real server on 127.0.0.1:0 behind the kit's auth
//! layer, over a real SQLite file and a real PostgreSQL database.

mod accounts;
mod admin;
mod helpers;
