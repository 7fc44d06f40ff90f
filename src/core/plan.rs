//! The next step after an attempt: done, renew the token and send once more, retry after a
//! backoff, or stop. Each attempt, retry and renewal is logged here, so that both drivers write
//! the same records.

use std::time::Duration;

use crate::core::request::TokenKind;
use crate::error::{Error, is_token_errcode};
use crate::logging;

/// Longest wait between two attempts, however many retries are configured.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a driver does after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Return the attempt's result.
    Done,
    /// Wait this long, then send the same request again.
    Retry(Duration),
    /// Renew the token the request carried and send it once more with the new one; if no
    /// different token can be had, return the attempt's result.
    Renew,
}

/// The retries and the renewal of one call (or of one token fetch).
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    path: &'a str,
    /// The token the request carries, if any: only then is a rejection renewed.
    token: Option<TokenKind>,
    idempotent: bool,
    max_retries: u32,
    backoff: Duration,
    /// Retries made since the call (or its renewal) started.
    retries: u32,
    renewed: bool,
}

impl<'a> Plan<'a> {
    /// A call of `path` with a token of `token`'s kind (none for a token fetch).
    ///
    /// Transient failures (`errcode` `-1`, transport errors, HTTP 5xx pages) are retried only
    /// when `idempotent`; a request that surely never reached the server (connection refused,
    /// DNS failure, connect timeout) is retried for every endpoint, since it cannot have run. A
    /// token rejection (`errcode` 40001, 40014, 42001) is renewed once for every endpoint:
    /// WeChat refused the call before running it.
    pub(crate) fn new(
        path: &'a str,
        token: Option<TokenKind>,
        idempotent: bool,
        max_retries: u32,
        backoff: Duration,
    ) -> Self {
        Plan {
            path,
            token,
            idempotent,
            max_retries,
            backoff,
            retries: 0,
            renewed: false,
        }
    }

    /// The step after an attempt that took `took` and ended in `failure` (`None`: success).
    pub(crate) fn after(&mut self, took: Duration, failure: Option<&Error>) -> Next {
        logging::attempt(self.path, self.retries + 1, took, failure);
        let Some(error) = failure else {
            return Next::Done;
        };
        let surely_unsent = matches!(error, Error::Transport(t) if !t.maybe_sent);
        if self.retries < self.max_retries
            && ((self.idempotent && error.is_retryable()) || surely_unsent)
        {
            let wait = backoff(self.backoff, self.retries);
            logging::retry(self.path, self.retries + 1, self.max_retries, wait, error);
            self.retries += 1;
            return Next::Retry(wait);
        }
        match (error, self.token) {
            (Error::Api(e), Some(kind)) if is_token_errcode(e.errcode) && !self.renewed => {
                self.renewed = true;
                // The call sent again gets its retries again.
                self.retries = 0;
                logging::renewal(
                    kind.what(),
                    &format!(
                        "{} answered errcode {} ({}); the call is sent once more with the new one",
                        self.path, e.errcode, e.errmsg
                    ),
                );
                Next::Renew
            }
            _ => Next::Done,
        }
    }
}

/// The wait before retry number `retry` (0-based): `base * 2^retry`, at most [`MAX_BACKOFF`],
/// plus a random part of up to half of that.
pub(crate) fn backoff(base: Duration, retry: u32) -> Duration {
    let exp = base
        .checked_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF);
    let half_nanos = u64::try_from(exp.as_nanos() / 2).unwrap_or(u64::MAX);
    let jitter = if half_nanos == 0 {
        0
    } else {
        crate::random::random_u64() % half_nanos
    };
    exp + Duration::from_nanos(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ApiError, DecodeError, TransportError};

    fn api(errcode: i64) -> Error {
        Error::Api(ApiError {
            endpoint: "p".into(),
            errcode,
            errmsg: "m".into(),
        })
    }

    fn transport(maybe_sent: bool) -> Error {
        Error::Transport(TransportError {
            endpoint: "p".into(),
            message: "reset".into(),
            maybe_sent,
            cause: None,
        })
    }

    fn page(status: u16) -> Error {
        Error::Decode(DecodeError {
            endpoint: "p".into(),
            status,
            message: "page".into(),
            excerpt: String::new(),
        })
    }

    fn plan(idempotent: bool) -> Plan<'static> {
        Plan::new(
            "p",
            Some(TokenKind::Access),
            idempotent,
            2,
            Duration::from_millis(10),
        )
    }

    fn retries(next: Next) -> bool {
        matches!(next, Next::Retry(_))
    }

    #[test]
    fn success_is_done() {
        assert_eq!(plan(true).after(Duration::ZERO, None), Next::Done);
    }

    #[test]
    fn idempotent_calls_retry_transient_failures_up_to_the_limit() {
        for error in [api(-1), transport(true), page(502)] {
            let mut p = plan(true);
            assert!(retries(p.after(Duration::ZERO, Some(&error))));
            assert!(retries(p.after(Duration::ZERO, Some(&error))));
            assert_eq!(p.after(Duration::ZERO, Some(&error)), Next::Done);
        }
        // Not transient: returned at once.
        for error in [api(40056), page(200), page(404)] {
            assert_eq!(plan(true).after(Duration::ZERO, Some(&error)), Next::Done);
        }
    }

    #[test]
    fn other_calls_retry_only_what_surely_never_left() {
        for error in [api(-1), transport(true), page(502)] {
            assert_eq!(plan(false).after(Duration::ZERO, Some(&error)), Next::Done);
        }
        let mut p = plan(false);
        assert!(retries(p.after(Duration::ZERO, Some(&transport(false)))));
        assert!(retries(p.after(Duration::ZERO, Some(&transport(false)))));
        assert_eq!(p.after(Duration::ZERO, Some(&transport(false))), Next::Done);
    }

    #[test]
    fn a_rejected_token_is_renewed_once_for_every_endpoint() {
        for idempotent in [true, false] {
            for errcode in [40001, 40014, 42001] {
                let mut p = plan(idempotent);
                assert_eq!(p.after(Duration::ZERO, Some(&api(errcode))), Next::Renew);
                assert_eq!(p.after(Duration::ZERO, Some(&api(errcode))), Next::Done);
            }
        }
        // A token fetch carries no token: nothing to renew.
        let mut p = Plan::new("cgi-bin/token", None, true, 2, Duration::ZERO);
        assert_eq!(p.after(Duration::ZERO, Some(&api(40001))), Next::Done);
    }

    #[test]
    fn the_call_sent_again_after_a_renewal_gets_its_retries_again() {
        let mut p = plan(true);
        assert!(retries(p.after(Duration::ZERO, Some(&api(-1)))));
        assert!(retries(p.after(Duration::ZERO, Some(&api(-1)))));
        assert_eq!(p.after(Duration::ZERO, Some(&api(40001))), Next::Renew);
        assert!(retries(p.after(Duration::ZERO, Some(&api(-1)))));
    }

    #[test]
    fn no_retries_when_turned_off() {
        let mut p = Plan::new("p", None, true, 0, Duration::ZERO);
        assert_eq!(p.after(Duration::ZERO, Some(&transport(false))), Next::Done);
    }

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let base = Duration::from_millis(100);
        for retry in 0..40 {
            let d = backoff(base, retry);
            let exp = (base * 2u32.saturating_pow(retry.min(20))).min(MAX_BACKOFF);
            assert!(d >= exp && d <= exp + exp / 2, "retry {retry}: {d:?}");
        }
        assert_eq!(backoff(Duration::ZERO, 3), Duration::ZERO);
        let mut p = plan(true);
        let Next::Retry(first) = p.after(Duration::ZERO, Some(&api(-1))) else {
            panic!()
        };
        assert!(first >= Duration::from_millis(10) && first <= Duration::from_millis(15));
    }
}
