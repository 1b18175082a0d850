//! The orders service's integration tests: real catalog, cart and orders servers on
//! 127.0.0.1:0, each over its own database (SQLite files, or PostgreSQL databases), behind
//! the kit's auth layer, called by real clients with real tokens.

mod helpers;
mod placing;
mod reading;
mod recovery;
mod tour;
