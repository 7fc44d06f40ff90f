//! The sandbox's own errors and the faults it injects.

use super::*;

/// A fault to inject into the answers of a path, see [`Sandbox::inject`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer `{"errcode": n, "errmsg": …}` (WeChat's message for `n`) without running the call:
    /// `-1` (system busy), `40001`/`42001` (token rejected), `45009` (quota), `40164` (IP not
    /// whitelisted), …
    Errcode(i64),
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Close the connection without answering and without running the call.
    Drop,
    /// Run the call, then close the connection without answering: the call took effect but its
    /// answer is lost (what a client sees when a connection breaks at the worst moment).
    DropAfterHandling,
    /// Answer an HTML error page with this HTTP status (a gateway in trouble), without running
    /// the call.
    HttpStatus(u16),
    /// Expire every access token and ticket, then handle the call (which gets 42001).
    ExpireToken,
}

/// Why a sandbox did not start, or why a control was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum SandboxError {
    /// The listener could not be bound or the server not started.
    Start(std::io::Error),
    /// The builder's settings are not usable.
    Config(String),
    /// The saved state ([`SandboxBuilder::state`]) could not be read, or written.
    State(String),
    /// The control was refused the way WeChat would refuse it (`errcode` as WeChat's: 40073
    /// unknown card, 40078 card status, 45031 out of stock, 45033 `get_limit` reached, 40056
    /// unknown code, 40127 code state, …).
    Refused {
        /// WeChat's error code.
        errcode: i64,
        /// What was wrong.
        errmsg: String,
    },
}

impl SandboxError {
    /// The WeChat error code of a refused control.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            SandboxError::Refused { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxError::Start(e) => write!(f, "the sandbox could not start: {e}"),
            SandboxError::Config(message) => write!(f, "sandbox configuration: {message}"),
            SandboxError::State(message) => write!(f, "sandbox state: {message}"),
            SandboxError::Refused { errcode, errmsg } => {
                write!(f, "refused with errcode {errcode}: {errmsg}")
            }
        }
    }
}

impl std::error::Error for SandboxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SandboxError::Start(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Refusal> for SandboxError {
    fn from(refusal: Refusal) -> Self {
        SandboxError::Refused {
            errcode: refusal.errcode,
            errmsg: refusal.errmsg,
        }
    }
}
