//! Log records through the `log` facade (install any logger: `env_logger`, `simple_logger`,
//! `tracing-log`, …). The targets, levels and messages are listed in the README ("Logging").
//!
//! No record holds a secret: records name endpoints, attempts, durations, errcodes and the
//! (already redacted) text of errors, never a token, a ticket, the app secret or a URL.

use std::time::Duration;

use crate::Error;
use crate::transport::human;

/// One record per HTTP exchange with WeChat (debug).
pub const CALL: &str = "wechat_card::call";
/// Retries after transient failures (warn).
pub const RETRY: &str = "wechat_card::retry";
/// Access token and api_ticket fetches (info) and renewals (warn).
pub const TOKEN: &str = "wechat_card::token";
/// The shared store on Redis (feature `redis`): Redis failures, for the tokens and for the push
/// de-duplication, with what is done instead (warn); locks taken over (warn).
#[cfg(feature = "redis")]
pub const STORE: &str = "wechat_card::store";

/// What came of one attempt, for the record.
fn outcome(result: Option<&Error>) -> String {
    match result {
        None => "errcode 0".to_owned(),
        Some(Error::Api(e)) => format!("errcode {}", e.errcode),
        Some(Error::Decode(e)) => format!("undecodable answer (HTTP {})", e.status),
        Some(Error::Transport(e)) => format!("no answer, {}", e.message),
        Some(e) => format!("failed: {e}"),
    }
}

/// `debug` on [`CALL`]: `card/code/get attempt 1: errcode 0 (12 ms)`.
pub(crate) fn attempt(path: &str, attempt: u32, took: Duration, failure: Option<&Error>) {
    log::debug!(
        target: CALL,
        "{path} attempt {attempt}: {} ({})",
        outcome(failure),
        human(took)
    );
}

/// `warn` on [`RETRY`]: `card/code/get: retry 1 of 2 in 200 ms after errcode -1 (…)`.
pub(crate) fn retry(path: &str, retry: u32, max: u32, wait: Duration, error: &Error) {
    let reason = match error {
        Error::Api(e) => format!("errcode {}: {}", e.errcode, e.errmsg),
        Error::Transport(e) => e.message.clone(),
        Error::Decode(e) => format!("an answer that is not WeChat JSON (HTTP {})", e.status),
        other => other.to_string(),
    };
    log::warn!(
        target: RETRY,
        "{path}: retry {retry} of {max} in {} after {reason}",
        human(wait)
    );
}

/// `info` on [`TOKEN`]: a token or ticket was fetched.
pub(crate) fn fetched(what: &str, path: &str, expires_in: Option<i64>, forced: bool) {
    let life = match expires_in {
        Some(s) => format!("valid for {s} s"),
        None => "no expires_in".to_owned(),
    };
    let forced = if forced { " (force_refresh)" } else { "" };
    log::info!(target: TOKEN, "fetched {what} from {path}{forced}: {life}");
}

/// `warn` on [`TOKEN`]: a token or ticket is renewed, and why.
pub(crate) fn renewal(what: &str, reason: &str) {
    log::warn!(target: TOKEN, "renewing {what}: {reason}");
}

/// `warn` on [`TOKEN`]: the caller reported the card api_ticket rejected (`renew_api_ticket`).
pub(crate) fn ticket_rejected() {
    renewal(
        "the card api_ticket",
        "the caller reported it rejected (renew_api_ticket)",
    );
}
