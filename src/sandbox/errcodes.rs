//! Every error code the sandbox answers with, and WeChat's message for it, in one place.
//!
//! Each code is a variant of the generated [`ErrorCode`] catalog (`spec/errors.yaml`): a code
//! the catalog does not list does not compile, and its errmsg is the catalog's. The one
//! exception is [`SANDBOX_COUPON_CREATION_CLOSED`], the sandbox's own and named as such. A
//! refusal's `errmsg` starts with [`errmsg`]`(code)` and may add what exactly was wrong.

use serde_json::{Value, json};

use crate::ErrorCode;

pub(crate) const INVALID_CREDENTIAL: i64 = ErrorCode::InvalidCredential.code();
pub(crate) const INVALID_GRANT_TYPE: i64 = ErrorCode::InvalidGrantType.code();
pub(crate) const INVALID_OPENID: i64 = ErrorCode::InvalidOpenid.code();
pub(crate) const INVALID_APPID: i64 = ErrorCode::InvalidAppid.code();
pub(crate) const INVALID_SERIAL_CODE: i64 = ErrorCode::InvalidSerialCode.code();
pub(crate) const INVALID_URL: i64 = ErrorCode::InvalidUrl.code();
pub(crate) const INVALID_CARD_TYPE: i64 = ErrorCode::InvalidCardType.code();
pub(crate) const INVALID_CODE_TYPE: i64 = ErrorCode::InvalidCodeType.code();
pub(crate) const INVALID_CARD_ID: i64 = ErrorCode::InvalidCardId.code();
pub(crate) const INVALID_ENCRYPT_CODE: i64 = ErrorCode::InvalidEncryptCode.code();
pub(crate) const INVALID_CARD_STATUS: i64 = ErrorCode::InvalidCardStatus.code();
pub(crate) const INVALID_TIME: i64 = ErrorCode::InvalidTime.code();
pub(crate) const INVALID_CARD_EXT: i64 = ErrorCode::InvalidCardExt.code();
pub(crate) const INVALID_ARGS: i64 = ErrorCode::InvalidArgs.code();
pub(crate) const CODE_CONSUMED: i64 = ErrorCode::CodeConsumed.code();
/// "invalid time range" in the official error-code list (ERR in spec/sources.yaml): the datacube's 61501
/// is about `date` strings, so a `time_span` of timestamps gets this general code.
pub(crate) const TIME_RANGE_ERROR: i64 = ErrorCode::InvalidTimeRange.code();
pub(crate) const INVALID_CODE: i64 = ErrorCode::InvalidCode.code();
pub(crate) const INVALID_STOCK: i64 = ErrorCode::InvalidStockQuantity.code();
pub(crate) const INVALID_APPSECRET: i64 = ErrorCode::InvalidAppsecret.code();
pub(crate) const INVALID_USER_CARD_STATUS: i64 = ErrorCode::InvalidUserCardStatus.code();
pub(crate) const TOKEN_MISSING: i64 = ErrorCode::AccessTokenMissing.code();
pub(crate) const APPID_MISSING: i64 = ErrorCode::AppidMissing.code();
pub(crate) const SECRET_MISSING: i64 = ErrorCode::AppsecretMissing.code();
pub(crate) const MISSING_FIELD: i64 = ErrorCode::MissingRequiredField.code();
pub(crate) const TOKEN_EXPIRED: i64 = ErrorCode::AccessTokenExpired.code();
pub(crate) const REQUIRE_GET: i64 = ErrorCode::RequireGetMethod.code();
pub(crate) const REQUIRE_POST: i64 = ErrorCode::RequirePostMethod.code();
pub(crate) const NO_CUSTOM_CODE_PERMISSION: i64 = ErrorCode::NoCustomCodePermission.code();
pub(crate) const REQUIRE_LOCATION: i64 = ErrorCode::RequireLocationId.code();
pub(crate) const LENGTH_LIMIT: i64 = ErrorCode::FieldTooLong.code();
pub(crate) const STOCK_EMPTY: i64 = ErrorCode::StockEmpty.code();
pub(crate) const GET_LIMIT: i64 = ErrorCode::GetLimitExceeded.code();
pub(crate) const DATA_FORMAT_ERROR: i64 = ErrorCode::DataFormatError.code();
pub(crate) const CAN_NOT_RESUBMIT: i64 = ErrorCode::CanNotResubmit.code();
pub(crate) const DATE_FORMAT_ERROR: i64 = ErrorCode::DateFormatError.code();
pub(crate) const DATE_RANGE_ERROR: i64 = ErrorCode::DateRangeError.code();
/// A pay-gift rule's mchid taken by another rule (the documented `fail_mchid_list` entry).
pub(crate) const MCHID_OCCUPIED: i64 = ErrorCode::MchidOccupied.code();

/// **The sandbox's own code, not WeChat's**: `card/create` of a coupon type (GROUPON, CASH,
/// DISCOUNT, GIFT, GENERAL_COUPON), which WeChat has refused since 2021-04-01. WeChat's own code
/// for that refusal is not documented anywhere the project could find, so the sandbox does not
/// pretend to know it.
pub(crate) const SANDBOX_COUPON_CREATION_CLOSED: i64 = 99_001;

/// A request the sandbox refuses the way WeChat would: an `errcode` and an `errmsg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub errcode: i64,
    pub errmsg: String,
}

impl Refusal {
    pub(crate) fn new(errcode: i64, errmsg: impl Into<String>) -> Refusal {
        Refusal {
            errcode,
            errmsg: errmsg.into(),
        }
    }

    /// A refusal with WeChat's errmsg for `errcode`, from the errcode catalog (`spec/errors.yaml`).
    pub(crate) fn of(errcode: i64) -> Refusal {
        Refusal::new(errcode, errmsg(errcode))
    }
}

/// The result of a sandbox operation.
pub(crate) type Outcome<T> = Result<T, Refusal>;

/// An answer: HTTP status and JSON body.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub(crate) fn ok(body: Value) -> Answer {
        Answer { status: 200, body }
    }

    /// WeChat's answer to a refused request.
    pub(crate) fn refusal(refusal: &Refusal) -> Answer {
        Answer::ok(json!({ "errcode": refusal.errcode, "errmsg": refusal.errmsg }))
    }
}

impl From<Outcome<Value>> for Answer {
    fn from(outcome: Outcome<Value>) -> Answer {
        match outcome {
            Ok(body) => Answer::ok(body),
            Err(refusal) => Answer::refusal(&refusal),
        }
    }
}

/// WeChat's message for `errcode`: from the errcode catalog (`spec/errors.yaml`), except for
/// `0` and the sandbox's own [`SANDBOX_COUPON_CREATION_CLOSED`].
pub(crate) fn errmsg(errcode: i64) -> &'static str {
    match errcode {
        0 => "ok",
        SANDBOX_COUPON_CREATION_CLOSED => "coupon creation closed (sandbox errcode)",
        other => crate::errcode::errmsg(other),
    }
}
