//! switchyard-wasm: wasm-bindgen bindings of `switchyard-core`.
