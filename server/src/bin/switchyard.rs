//! The `switchyard` server binary.
fn main() {}
