//! What a call decides, with no I/O: the part of the client that both drivers share.
//!
//! The blocking [`Client`](crate::Client) (over ureq) and the async
//! [`AsyncClient`](crate::AsyncClient) (over hyper, feature `async`) are thin drivers: they move
//! bytes and wait, and ask this module everything else.
//!
//! - [`request`]: the request to send (method, URL with the token, body or query), the token
//!   fetch requests, and the checks on what a caller passed in;
//! - [`answer`]: reading an answer (status, `errcode` envelope, typed body, size limit,
//!   redaction), and the token and ticket answers;
//! - [`plan`]: the next step after an attempt: done, renew the token and send once more, retry
//!   after a backoff, or fail, from the endpoint's idempotency and whether the request surely
//!   never left;
//! - [`cache`]: the token and ticket cache as a state machine: use the cached value, fetch it
//!   (one caller at a time), or wait for the fetch under way; expiry and refresh ahead of it,
//!   invalidation of a rejected value, forced refreshes, the pause after failed fetches.
//!
//! Nothing here opens a socket, sleeps or blocks: a driver that waits for a fetch does so its own
//! way (a `Condvar`, or a `tokio::sync::Notify`), and every decision is unit-tested without one.

pub(crate) mod answer;
pub(crate) mod cache;
pub(crate) mod plan;
pub(crate) mod request;
