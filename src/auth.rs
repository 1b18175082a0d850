//! Authentication and authorization: who the caller is, and whether they may call a method.
//!
//! # Layout
//! - [`principal`]: the verified identity handlers receive.

pub mod principal;

pub use principal::Principal;
