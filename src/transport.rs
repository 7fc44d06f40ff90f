//! Transport failures in plain language: what ureq reports, said the way a user of the library
//! thinks about it ("the server sent nothing for 30 s (the client's timeout)"), with the client's
//! own settings named where they decided the outcome.

use std::io::ErrorKind;
use std::time::Duration;

use ureq::Timeout;
use ureq::config::Config;

/// A transport failure, described.
pub(crate) struct Described {
    /// The plain-language message (it never quotes the request URL).
    pub message: String,
    /// Whether the request may have reached the server.
    pub maybe_sent: bool,
    /// Whether ureq's error may be kept as the `source()`: `false` for the variants whose text
    /// is free-form (a proxy's answer, a boxed error), which could quote the request URL.
    pub keep_source: bool,
}

/// A duration as people write it: `30 s`, `1.5 s`, `250 ms`.
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 10 {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else if ms < 1000 {
        format!("{ms} ms")
    } else if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The deadline of a whole exchange for the client's `timeout`: 1 % more, so that a read or a
/// write that starts early in the exchange is limited by the constant per-operation timeout
/// (`timeout`), which ureq sets on the socket once per connection, rather than by the
/// shrinking remainder of the deadline, which it would set before every read and write.
pub(crate) fn exchange_deadline(timeout: Duration) -> Duration {
    timeout.saturating_add(timeout / 100)
}

/// The wording of transport failures, shared by both clients' drivers: the same failure reads
/// the same whichever client met it.
pub(crate) mod words {
    use std::time::Duration;

    use super::human;

    /// `within 5 s (the client's connect timeout)`.
    pub(crate) fn within(limit: Option<Duration>, name: &str) -> String {
        match limit {
            Some(d) => format!("within {} (the client's {name})", human(d)),
            None => "in time".to_owned(),
        }
    }

    pub(crate) fn not_resolved_in_time(limit: Option<Duration>) -> String {
        format!(
            "the server's host name was not resolved {}",
            within(limit, "connect timeout")
        )
    }

    pub(crate) fn not_connected_in_time(limit: Option<Duration>) -> String {
        format!(
            "no connection to the server {}",
            within(limit, "connect timeout")
        )
    }

    pub(crate) fn no_complete_answer(deadline: Option<Duration>) -> String {
        format!(
            "no complete answer {}",
            within(deadline, "timeout, plus 1 %")
        )
    }

    pub(crate) fn sent_nothing_for(limit: Option<Duration>) -> String {
        let limit = match limit {
            Some(d) => format!("{} (the client's timeout)", human(d)),
            None => "too long".to_owned(),
        };
        format!("the server sent nothing for {limit}")
    }

    pub(crate) const HOST_NOT_FOUND: &str = "the server's host name could not be resolved (DNS)";
    pub(crate) const REFUSED: &str =
        "the server refused the connection (nothing listens on its port)";
    pub(crate) const CUT: &str = "the connection was cut before the whole answer arrived";
    pub(crate) const CLOSED_EARLY: &str =
        "the server closed the connection before the whole answer arrived";
    pub(crate) const UNREACHABLE: &str = "the server's address cannot be reached from here";

    pub(crate) fn tls_failed(e: &dyn std::fmt::Display) -> String {
        format!("the secure connection (TLS) failed: {e}")
    }

    pub(crate) fn not_http(e: &dyn std::fmt::Display) -> String {
        format!("the server's answer is not valid HTTP: {e}")
    }
}

/// Describes `error` (which came from exchanging a request), given the client's configuration
/// (its timeouts).
pub(crate) fn describe(error: &ureq::Error, config: &Config) -> Described {
    let timeouts = config.timeouts();
    let (per_read, per_write) = (config.timeout_per_read(), config.timeout_per_write());
    let within = words::within;
    let (message, maybe_sent, keep_source) = match error {
        ureq::Error::HostNotFound => (words::HOST_NOT_FOUND.to_owned(), false, true),
        ureq::Error::ConnectionFailed => ("no connection to the server".to_owned(), false, true),
        ureq::Error::ConnectProxyFailed(_) => {
            ("the proxy refused the connection".to_owned(), false, false)
        }
        ureq::Error::Timeout(which) => {
            let message = match which {
                Timeout::Resolve => {
                    words::not_resolved_in_time(timeouts.resolve.or(timeouts.connect))
                }
                Timeout::Connect => words::not_connected_in_time(timeouts.connect),
                Timeout::Global | Timeout::PerCall => {
                    words::no_complete_answer(timeouts.global.or(timeouts.per_call))
                }
                Timeout::PerRead => words::sent_nothing_for(per_read),
                Timeout::PerWrite
                | Timeout::SendRequest
                | Timeout::SendBody
                | Timeout::Await100 => {
                    format!(
                        "the request could not be sent {}",
                        within(per_write.or(timeouts.global), "timeout")
                    )
                }
                Timeout::RecvResponse => format!(
                    "no answer {}",
                    within(per_read.or(timeouts.global), "timeout")
                ),
                Timeout::RecvBody => format!(
                    "the answer's body did not arrive completely {}",
                    within(per_read.or(timeouts.global), "timeout")
                ),
                _ => format!(
                    "the connection stalled ({which} timeout of {})",
                    human(timeouts.global.unwrap_or_default())
                ),
            };
            (
                message,
                !matches!(which, Timeout::Resolve | Timeout::Connect),
                true,
            )
        }
        ureq::Error::Io(io) => {
            let message = match io.kind() {
                ErrorKind::ConnectionRefused => words::REFUSED.to_owned(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => words::CUT.to_owned(),
                ErrorKind::UnexpectedEof => words::CLOSED_EARLY.to_owned(),
                ErrorKind::BrokenPipe => {
                    "the connection was closed while the request was being sent".to_owned()
                }
                ErrorKind::AddrNotAvailable => words::UNREACHABLE.to_owned(),
                _ if crate::resolve::is_not_sent(io) => {
                    format!("no connection to the server: {io}")
                }
                _ => format!("network failure: {io}"),
            };
            (
                message,
                // Only errors while connecting (marked by the client's connector,
                // `crate::resolve`), refused or impossible connections are sure to have sent
                // nothing: a reset or an end of file may come after the server read the request.
                !(crate::resolve::is_not_sent(io)
                    || matches!(
                        io.kind(),
                        ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable
                    )),
                true,
            )
        }
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => {
            (words::tls_failed(error), true, true)
        }
        ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(..) => {
            (words::not_http(error), true, true)
        }
        ureq::Error::Other(_) => (format!("transport failure: {error}"), true, false),
        other => (format!("transport failure: {other}"), true, true),
    };
    Described {
        message,
        maybe_sent,
        keep_source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The timeouts the client sets with its defaults.
    fn timeouts() -> Config {
        let timeout = Duration::from_secs(30);
        ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(exchange_deadline(timeout)))
            .timeout_per_read(Some(timeout))
            .timeout_per_write(Some(timeout))
            .build()
    }

    #[test]
    fn durations() {
        assert_eq!(human(Duration::from_secs(30)), "30 s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
        assert_eq!(human(Duration::from_micros(420)), "0.4 ms");
    }

    #[test]
    fn timeouts_name_the_setting() {
        let d = describe(&ureq::Error::Timeout(Timeout::Global), &timeouts());
        assert_eq!(
            d.message,
            "no complete answer within 30.3 s (the client's timeout, plus 1 %)"
        );
        assert!(d.maybe_sent);
        let d = describe(&ureq::Error::Timeout(Timeout::PerRead), &timeouts());
        assert_eq!(
            d.message,
            "the server sent nothing for 30 s (the client's timeout)"
        );
        assert!(d.maybe_sent);
        let d = describe(&ureq::Error::Timeout(Timeout::PerWrite), &timeouts());
        assert_eq!(
            d.message,
            "the request could not be sent within 30 s (the client's timeout)"
        );
        assert!(d.maybe_sent);
        assert_eq!(
            exchange_deadline(Duration::from_millis(1500)),
            Duration::from_millis(1515)
        );
        assert_eq!(exchange_deadline(Duration::MAX), Duration::MAX);
        let d = describe(&ureq::Error::Timeout(Timeout::Connect), &timeouts());
        assert_eq!(
            d.message,
            "no connection to the server within 5 s (the client's connect timeout)"
        );
        assert!(!d.maybe_sent);
    }

    #[test]
    fn io_errors() {
        let refused = ureq::Error::Io(std::io::Error::from(ErrorKind::ConnectionRefused));
        let d = describe(&refused, &timeouts());
        assert!(d.message.starts_with("the server refused the connection"));
        assert!(!d.maybe_sent);
        let eof = ureq::Error::Io(std::io::Error::from(ErrorKind::UnexpectedEof));
        assert!(describe(&eof, &timeouts()).maybe_sent);
        let other = ureq::Error::Other("https://x/?access_token=T".into());
        assert!(!describe(&other, &timeouts()).keep_source);
    }
}
