//! The one error type of the library.

use std::fmt;

use crate::validate::ValidationError;

/// Everything that can go wrong calling the card API.
///
/// No variant ever contains the access token, the app secret or the api_ticket, in `Display` or
/// `Debug`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The request broke a rule of the spec; nothing was sent.
    Validation(ValidationError),
    /// WeChat answered with a non-zero `errcode`.
    Api(ApiError),
    /// The request could not be sent or its answer not received (connect, timeout, I/O, TLS).
    Transport(TransportError),
    /// An answer came back but could not be decoded (not JSON, unexpected shape, too large, or an
    /// HTTP error page).
    Decode(DecodeError),
    /// The client was configured wrongly (bad base URL, missing credentials).
    Config(String),
}

/// A non-zero `errcode` from WeChat.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The endpoint's path, e.g. `card/code/consume`.
    pub endpoint: String,
    /// WeChat's error code.
    pub errcode: i64,
    /// WeChat's error message.
    pub errmsg: String,
}

/// A failure to exchange the request and the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportError {
    /// The endpoint's path.
    pub endpoint: String,
    /// What happened, with secrets removed.
    pub message: String,
    /// Whether the request may have reached WeChat: `false` only when it surely did not
    /// (for example the connection was refused).
    pub maybe_sent: bool,
}

/// An answer that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeError {
    /// The endpoint's path.
    pub endpoint: String,
    /// The HTTP status of the answer.
    pub status: u16,
    /// What went wrong.
    pub message: String,
    /// The beginning of the body (bounded, secrets removed).
    pub excerpt: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Validation(e) => write!(f, "invalid request: {e}"),
            Error::Api(e) => write!(
                f,
                "{} failed: errcode {}: {}",
                e.endpoint, e.errcode, e.errmsg
            ),
            Error::Transport(e) => write!(f, "{}: transport error: {}", e.endpoint, e.message),
            Error::Decode(e) => write!(
                f,
                "{}: could not decode the answer (HTTP {}): {}; body starts with {:?}",
                e.endpoint, e.status, e.message, e.excerpt
            ),
            Error::Config(message) => write!(f, "client configuration: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Validation(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Error::Validation(e)
    }
}

impl Error {
    /// WeChat's `errcode`, for [`Error::Api`].
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Error::Api(e) => Some(e.errcode),
            _ => None,
        }
    }

    /// The validation error, for [`Error::Validation`].
    pub fn as_validation(&self) -> Option<&ValidationError> {
        match self {
            Error::Validation(e) => Some(e),
            _ => None,
        }
    }
}
