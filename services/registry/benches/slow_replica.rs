//! Slow-replica benchmark (placeholder).
fn main() {}
