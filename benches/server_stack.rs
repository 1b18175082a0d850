//! Placeholder, replaced by the stack-vs-bare benchmark.

fn main() {}
