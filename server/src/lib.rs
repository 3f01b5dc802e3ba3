//! switchyard-server: the Tokio shell around `switchyard-core`, for both roles.
