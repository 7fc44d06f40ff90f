//! The one error type of the library.

use std::fmt;

use crate::validate::ValidationError;

/// Everything that can go wrong calling the card API.
///
/// No variant ever contains the access token, the app secret or the api_ticket, in `Display` or
/// `Debug`: messages and body excerpts are redacted before they are stored.
///
/// Which errors a caller may retry, and whether the request may already have run, is told by
/// [`is_retryable`](Error::is_retryable) and [`TransportError::maybe_sent`].
#[derive(Debug, Clone)]
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
    /// WeChat's error message, with secrets removed (`Display` shows its first 512 bytes).
    pub errmsg: String,
}

/// A failure to exchange the request and the answer.
///
/// [`message`](TransportError::message) says what happened in plain words ("the server sent
/// nothing for 30 s (the client's timeout)"); the underlying `ureq::Error` is the
/// [`source`](std::error::Error::source) of the [`Error`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportError {
    /// The endpoint's path.
    pub endpoint: String,
    /// What happened, in plain words, with secrets removed.
    pub message: String,
    /// Whether the request may have reached WeChat: `false` only when it surely did not
    /// (for example the connection was refused).
    pub maybe_sent: bool,
    /// The HTTP stack's error: ureq's for the blocking client, the I/O or hyper error for the
    /// async one (absent for the few kinds whose free-form text could quote the request URL).
    pub(crate) cause: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

/// Two transport errors are equal when they say the same (the underlying error is not compared).
impl PartialEq for TransportError {
    fn eq(&self, other: &Self) -> bool {
        (&self.endpoint, &self.message, self.maybe_sent)
            == (&other.endpoint, &other.message, other.maybe_sent)
    }
}

impl Eq for TransportError {}

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
            Error::Api(e) => write!(f, "{e}"),
            Error::Transport(e) => write!(f, "{}: {}", e.endpoint, e.message),
            Error::Decode(e) => write!(
                f,
                "{}: could not decode the answer (HTTP {}): {}; body starts with {:?}",
                e.endpoint, e.status, e.message, e.excerpt
            ),
            Error::Config(message) => write!(f, "client configuration: {message}"),
        }
    }
}

/// `card/code/consume failed: errcode 40099: <WeChat's errmsg> (<meaning>[ Hint: <hint>])`: the
/// catalog's meaning and hint (`spec/errors.yaml`) follow WeChat's own terse errmsg.
impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: errcode {}: ", self.endpoint, self.errcode)?;
        bounded(f, &self.errmsg, ERRMSG_DISPLAY_BYTES)?;
        if let Some(explanation) = crate::errcode::explanation(self.errcode) {
            write!(f, " ({explanation})")?;
        }
        Ok(())
    }
}

impl ApiError {
    /// The `errcode` as an [`ErrorCode`](crate::ErrorCode), to match on by name:
    /// `e.code() == ErrorCode::CodeConsumed`.
    pub fn code(&self) -> crate::ErrorCode {
        crate::ErrorCode::from_code(self.errcode)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Validation(e) => Some(e),
            Error::Transport(e) => e
                .cause
                .as_deref()
                .map(|cause| cause as &(dyn std::error::Error + 'static)),
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

    /// WeChat's `errcode` as an [`ErrorCode`](crate::ErrorCode), for [`Error::Api`].
    pub fn code(&self) -> Option<crate::ErrorCode> {
        match self {
            Error::Api(e) => Some(e.code()),
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

    /// The endpoint's path the error is about (`card/code/consume`, `cgi-bin/stable_token`, …),
    /// when the error came from an exchange with WeChat.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            Error::Api(e) => Some(&e.endpoint),
            Error::Transport(e) => Some(&e.endpoint),
            Error::Decode(e) => Some(&e.endpoint),
            Error::Validation(_) | Error::Config(_) => None,
        }
    }

    /// Whether the same call may succeed if made again a little later: WeChat's `-1` (system
    /// busy), a transport failure, or an HTTP 5xx answer that was not WeChat JSON (a gateway
    /// error page).
    ///
    /// This says nothing about safety: the failed request may have run. Repeat a call that
    /// changes state (consume a code, change stock) only if it is idempotent, or if
    /// [`TransportError::maybe_sent`] is `false`. The client itself already retried idempotent
    /// calls as configured in [`ClientBuilder::max_retries`](crate::ClientBuilder::max_retries).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.errcode == SYSTEM_BUSY,
            Error::Transport(_) => true,
            Error::Decode(e) => e.status >= 500,
            Error::Validation(_) | Error::Config(_) => false,
        }
    }

    /// Whether WeChat rejected the access token: `errcode` 40001 (invalid credential), 40014
    /// (invalid access_token) or 42001 (access_token expired). Before returning such an error
    /// the client has tried to renew the token: with credentials or a token provider that gave a
    /// different token, the call was sent once more and was rejected again; with a fixed token,
    /// or when no different token could be had, the first rejection is returned as it is (the
    /// call was sent once). A fixed token's owner renews it and builds a new client.
    pub fn is_token_error(&self) -> bool {
        matches!(self, Error::Api(e) if is_token_errcode(e.errcode))
    }

    /// Whether the request surely did not reach WeChat: validation and configuration errors,
    /// and transport errors with [`TransportError::maybe_sent`] `false`.
    pub fn surely_not_sent(&self) -> bool {
        match self {
            Error::Validation(_) | Error::Config(_) => true,
            Error::Transport(e) => !e.maybe_sent,
            Error::Api(_) | Error::Decode(_) => false,
        }
    }
}

/// The most bytes of an `errmsg` that `Display` shows (WeChat's are one line; the field keeps
/// the whole text).
const ERRMSG_DISPLAY_BYTES: usize = 512;

/// Writes at most `max` bytes of `text` (cut at a character boundary), then, if it was cut, how
/// long it is.
fn bounded(f: &mut fmt::Formatter<'_>, text: &str, max: usize) -> fmt::Result {
    if text.len() <= max {
        return f.write_str(text);
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    write!(f, "{}… ({} bytes in all)", &text[..cut], text.len())
}

/// WeChat's "system busy, try again later".
pub(crate) const SYSTEM_BUSY: i64 = -1;

/// The `errcode`s that mean "this access token is not (or no longer) valid".
pub(crate) fn is_token_errcode(errcode: i64) -> bool {
    matches!(errcode, 40001 | 40014 | 42001)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_display_is_bounded() {
        let long = Error::Api(ApiError {
            endpoint: "card/get".into(),
            errcode: 12345,
            errmsg: "é".repeat(2_000_000),
        });
        let shown = long.to_string();
        assert!(shown.len() < 600, "{} bytes", shown.len());
        assert!(shown.ends_with("é… (4000000 bytes in all)"), "{shown}");
        let short = Error::Api(ApiError {
            endpoint: "card/get".into(),
            errcode: 12345,
            errmsg: "invalid credential".into(),
        });
        assert_eq!(
            short.to_string(),
            "card/get failed: errcode 12345: invalid credential"
        );
    }
}
