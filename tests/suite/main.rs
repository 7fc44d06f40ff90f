//! The integration tests, as one test binary: each file of this folder is a module, and the
//! helpers they share are the modules `support` (a scripted HTTP server), `sandbox_support`
//! (card bodies and a raw HTTP client for the sandbox) and `redis_support` (a real
//! `redis-server`).
//!
//! One binary rather than one per file: each integration-test binary links the whole crate and
//! its dependencies, so 30 binaries spent most of the suite's build in the linker. The tests that
//! install a global logger of their own (`tests/logging.rs`, `tests/log_secrets.rs`) stay binaries
//! of their own, since a process has one logger. A file's `#![cfg(...)]` names the features it
//! needs; `cargo test --all-features` runs them all.
//!
//! A test that spawns this binary again as a worker names itself with its module path
//! (`--exact shared_store_processes::child`).

#[cfg(feature = "tooling")]
mod clients;
#[cfg(all(feature = "redis", feature = "sandbox"))]
mod redis_support;
#[cfg(feature = "sandbox")]
mod sandbox_support;
mod support;

mod api_ticket;
mod async_client;
mod component_token;
mod decoding;
mod event_crypto;
mod event_examples;
mod event_limits;
mod fuzz;
mod hostile_answers;
mod limits;
mod push_dedup;
mod push_dedup_redis;
mod push_dedup_sandbox;
mod readme;
mod redaction;
mod runtime_client;
mod sandbox_binary;
mod sandbox_cards;
mod sandbox_codes;
mod sandbox_console;
mod sandbox_create;
mod sandbox_distribute;
mod sandbox_events;
mod sandbox_faults;
mod sandbox_fidelity;
mod sandbox_membercard;
mod sandbox_services;
mod sandbox_state;
mod sandbox_stats;
mod sandbox_tokens;
mod sandbox_validation;
mod shared_store;
mod shared_store_async;
mod shared_store_processes;
mod signatures;
mod spec_examples;
mod standalone_docs;
mod store_hostile;
mod token_lifetime;
mod transport_messages;
