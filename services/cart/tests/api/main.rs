//! The cart's integration tests: a real cart server and a real catalog server on
//! 127.0.0.1:0, each over its own database (SQLite file or PostgreSQL database), behind the
//! kit's auth layer, called by real clients.

mod faults;
mod helpers;
mod items;
