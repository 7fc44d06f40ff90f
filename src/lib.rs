#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "async")]
mod async_client;
mod client;
mod core;
#[cfg(test)]
mod edge_fixture;
mod errcode;
mod error;
pub mod events;
mod logging;
mod percent;
mod random;
mod resolve;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod schema;
mod secret;
pub mod signature;
#[cfg(feature = "redis")]
pub mod store;
mod token;
#[doc(hidden)]
#[cfg(feature = "tooling")]
pub mod tooling;
mod transport;
pub mod validate;
#[doc(hidden)]
pub mod wire;

#[cfg(feature = "async")]
pub use async_client::AsyncClient;
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL};
pub use errcode::ErrorCodeInfo;
pub use error::{ApiError, DecodeError, Error, TransportError};
pub use secret::Secret;
#[cfg(feature = "async")]
pub use token::{AsyncTokenProvider, BoxFuture};
pub use token::{
    FIRST_FAILURE_PAUSE, MAX_FAILURE_PAUSE, MAX_TOKEN_LEN, TokenProvider, TokenSource,
};
pub use validate::{Validate, ValidationError};

/// The generated API: request/response types, enums and the endpoint tables.
mod api {
    include!(concat!(env!("OUT_DIR"), "/api.rs"));
}
pub use api::*;
