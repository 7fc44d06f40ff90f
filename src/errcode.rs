//! WeChat's error codes at run time: the lookups behind the generated [`ErrorCode`] enum and
//! [`ERROR_CODES`] table (both generated from `spec/errors.yaml`).

use std::fmt;

use crate::{ERROR_CODES, ErrorCode};

/// One entry of the errcode catalog (`spec/errors.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorCodeInfo {
    /// The numeric `errcode`, e.g. `40164`.
    pub code: i64,
    /// The [`ErrorCode`] variant's name, e.g. `IpNotWhitelisted`.
    pub name: &'static str,
    /// The errmsg WeChat sends with it (the sandbox answers with this text).
    pub errmsg: &'static str,
    /// The meaning in Chinese.
    pub meaning_zh: &'static str,
    /// The meaning in English.
    pub meaning: &'static str,
    /// For operational errors: what to check or do.
    pub hint: Option<&'static str>,
}

impl ErrorCode {
    /// The catalog's entry for this code (`None` for a code it does not list).
    pub fn info(self) -> Option<&'static ErrorCodeInfo> {
        let code = self.code();
        ERROR_CODES.iter().find(|info| info.code == code)
    }

    /// What the code means, in English (`None` for a code the catalog does not list).
    pub fn meaning(self) -> Option<&'static str> {
        self.info().map(|info| info.meaning)
    }

    /// What the code means, in Chinese.
    pub fn meaning_zh(self) -> Option<&'static str> {
        self.info().map(|info| info.meaning_zh)
    }

    /// What to check or do, for operational errors (IP whitelist, quota, permissions, …).
    pub fn hint(self) -> Option<&'static str> {
        self.info().and_then(|info| info.hint)
    }
}

impl From<i64> for ErrorCode {
    fn from(code: i64) -> Self {
        ErrorCode::from_code(code)
    }
}

impl From<ErrorCode> for i64 {
    fn from(code: ErrorCode) -> Self {
        code.code()
    }
}

/// `40164 (IpNotWhitelisted)`, or just the number for a code the catalog does not list.
impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.info() {
            Some(info) => write!(f, "{} ({})", info.code, info.name),
            None => write!(f, "{}", self.code()),
        }
    }
}

/// The errmsg WeChat sends with `code` (from the catalog), for answers the sandbox makes up.
#[cfg_attr(not(feature = "sandbox"), allow(dead_code))]
pub(crate) fn errmsg(code: i64) -> &'static str {
    ErrorCode::from_code(code)
        .info()
        .map_or("error injected by the sandbox", |info| info.errmsg)
}

/// What [`Display`](fmt::Display) of an API error adds after WeChat's errmsg: the meaning and
/// the hint, when the catalog has them.
pub(crate) fn explanation(code: i64) -> Option<String> {
    let info = ErrorCode::from_code(code).info()?;
    Some(match info.hint {
        Some(hint) => format!("{} Hint: {hint}", info.meaning),
        None => info.meaning.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for info in ERROR_CODES {
            let code = ErrorCode::from_code(info.code);
            assert!(!matches!(code, ErrorCode::Unknown(_)), "{}", info.code);
            assert_eq!(code.code(), info.code);
            assert_eq!(code.info(), Some(info));
            assert_eq!(format!("{code:?}"), info.name);
        }
        assert_eq!(ErrorCode::from_code(12345), ErrorCode::Unknown(12345));
        assert_eq!(ErrorCode::Unknown(12345).code(), 12345);
        assert_eq!(ErrorCode::Unknown(12345).meaning(), None);
        assert_eq!(ErrorCode::from(40164), ErrorCode::IpNotWhitelisted);
        assert_eq!(i64::from(ErrorCode::SystemBusy), -1);
    }

    #[test]
    fn operational_codes_have_hints() {
        for code in [
            ErrorCode::IpNotWhitelisted,
            ErrorCode::DailyQuotaExceeded,
            ErrorCode::ApiUnauthorized,
            ErrorCode::InvalidCardStatus,
        ] {
            assert!(code.hint().is_some(), "{code}");
        }
        assert_eq!(
            ErrorCode::IpNotWhitelisted.to_string(),
            "40164 (IpNotWhitelisted)"
        );
    }

    #[test]
    fn sandbox_errmsgs_come_from_the_catalog() {
        assert_eq!(errmsg(40164), "invalid ip, not in whitelist");
        assert_eq!(errmsg(-1), "system error");
        assert_eq!(errmsg(12345), "error injected by the sandbox");
        assert!(explanation(40099).is_some());
        assert!(explanation(12345).is_none());
    }
}
