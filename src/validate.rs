//! Validation of requests before any network I/O.
//!
//! The generated `validate()` methods are thin: one call per limit in the spec into the helpers
//! below, which are written and tested once. Every failure is a [`ValidationError`] that names the
//! field path (`card.member_card.base_info.title`), the rule and the offending value.

use std::borrow::Cow;
use std::fmt;

/// Decodes and checks a value against the limits of the spec.
///
/// Implemented by every generated type; the `Client` methods call it before sending, so calling it
/// yourself is only needed to check input early (say, in a form handler).
pub trait Validate {
    /// Checks every limit and cross-field rule of the spec; the first violation is returned.
    fn validate(&self) -> Result<(), ValidationError>;
}

impl<T: Validate> Validate for Option<T> {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Some(v) => v.validate(),
            None => Ok(()),
        }
    }
}

impl<T: Validate> Validate for Box<T> {
    fn validate(&self) -> Result<(), ValidationError> {
        (**self).validate()
    }
}

/// A request broke a rule of the spec; raised before any network I/O.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidationError {
    path: String,
    rule: Rule,
}

/// The rule a [`ValidationError`] is about, with the values involved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// A string longer than `max` bytes of UTF-8.
    MaxBytes {
        /// The limit, in bytes.
        max: usize,
        /// The value's length in bytes.
        actual: usize,
        /// An excerpt of the value.
        value: String,
    },
    /// An integer outside its inclusive range.
    Range {
        /// Least allowed value.
        min: i128,
        /// Greatest allowed value.
        max: i128,
        /// The value.
        actual: i128,
    },
    /// A list with too few or too many items.
    Items {
        /// Least number of items, if limited.
        min: Option<usize>,
        /// Most number of items, if limited.
        max: Option<usize>,
        /// Number of items.
        actual: usize,
    },
    /// A string that is not a `YYYY-MM-DD` calendar date.
    Date {
        /// The value.
        value: String,
    },
    /// A period whose last day comes before its first.
    DateOrder {
        /// The first day's field.
        begin_field: &'static str,
        /// The first day.
        begin: String,
        /// The last day.
        end: String,
    },
    /// A period longer than `max_days` (both ends counted).
    DateSpan {
        /// The first day's field.
        begin_field: &'static str,
        /// Allowed days.
        max_days: u32,
        /// Days in the period, both ends counted.
        actual_days: i64,
    },
    /// A time span (integer Unix seconds) whose end comes before its start.
    TimeOrder {
        /// The start time's field.
        begin_field: &'static str,
        /// The start time.
        begin: i128,
        /// The end time.
        end: i128,
    },
    /// A time span (integer Unix seconds) longer than `max_days` days of 86 400 seconds.
    TimeSpan {
        /// The start time's field.
        begin_field: &'static str,
        /// The start time.
        begin: i128,
        /// The end time.
        end: i128,
        /// Allowed days.
        max_days: u32,
    },
    /// More than one of mutually exclusive fields is present.
    Exclusive {
        /// The exclusive fields.
        fields: &'static [&'static str],
        /// Those present.
        present: Vec<&'static str>,
    },
    /// Not exactly one of the fields is present.
    OneOf {
        /// The alternatives.
        fields: &'static [&'static str],
        /// Those present.
        present: Vec<&'static str>,
    },
    /// Lists that together hold more than `max` items.
    MaxTotal {
        /// The lists.
        fields: &'static [&'static str],
        /// Most items in all of them.
        max: usize,
        /// Items in all of them.
        actual: usize,
    },
    /// A value the request type cannot hold (wrong JSON type, missing required field, …) when a
    /// JSON body is checked against the spec (the sandbox, `schema::TypeInfo::check`), or a
    /// request the client cannot encode (a user's `Serialize` impl that fails, a map with
    /// non-string keys, a `GET` request that is not a JSON object). The client raises it before
    /// sending: nothing was sent.
    Decode {
        /// What serde said.
        message: String,
    },
}

impl ValidationError {
    /// Creates an error about the field at `path`.
    pub fn new(path: impl Into<String>, rule: Rule) -> Self {
        ValidationError {
            path: path.into(),
            rule,
        }
    }

    /// The field path, dotted, with list indices: `card_list[2].card_id`. For cross-field rules,
    /// the path of the object holding the fields (empty at the top level).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The rule that was broken.
    pub fn rule(&self) -> &Rule {
        &self.rule
    }

    /// Places the error inside the field `name` of the enclosing object.
    pub fn within(mut self, name: &str) -> Self {
        self.path = join(name, &self.path);
        self
    }

    /// Places the error inside item `index` of the list field `name`.
    pub fn within_item(mut self, name: &str, index: usize) -> Self {
        self.path = join(&format!("{name}[{index}]"), &self.path);
        self
    }

    /// The name shown for the field: the path, or `request` at the top level.
    fn subject(&self) -> &str {
        if self.path.is_empty() {
            "request"
        } else {
            &self.path
        }
    }
}

fn join(outer: &str, inner: &str) -> String {
    match inner.chars().next() {
        None => outer.to_owned(),
        Some('[') => format!("{outer}{inner}"),
        Some(_) => format!("{outer}.{inner}"),
    }
}

fn qualify(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

fn list(prefix: &str, fields: &[&str]) -> String {
    let names: Vec<String> = fields.iter().map(|f| qualify(prefix, f)).collect();
    names.join(", ")
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.subject();
        match &self.rule {
            Rule::MaxBytes { max, actual, value } => write!(
                f,
                "{path} is {actual} bytes of UTF-8 ({value:?}); the API allows at most {max}"
            ),
            Rule::Range { min, max, actual } => write!(
                f,
                "{path} is {actual}; the API allows {}",
                describe_range(*min, *max)
            ),
            Rule::Items { min, max, actual } => {
                let allowed = match (min, max) {
                    (Some(lo), Some(hi)) => format!("{lo} to {hi} items"),
                    (Some(lo), None) => format!("at least {lo} item{}", plural(*lo)),
                    (None, Some(hi)) => format!("at most {hi} item{}", plural(*hi)),
                    (None, None) => "any number of items".to_owned(),
                };
                write!(
                    f,
                    "{path} has {actual} item{}; the API allows {allowed}",
                    plural(*actual)
                )
            }
            Rule::Date { value } => write!(
                f,
                "{path} is {value:?}, not a calendar date written YYYY-MM-DD"
            ),
            Rule::DateOrder {
                begin_field,
                begin,
                end,
            } => write!(
                f,
                "{path} ({end:?}) is before {} ({begin:?}); the period must not end before it begins",
                sibling(path, begin_field)
            ),
            Rule::DateSpan {
                begin_field,
                max_days,
                actual_days,
            } => write!(
                f,
                "{} to {path} spans {actual_days} days (both included); the API allows at most {max_days}",
                sibling(path, begin_field)
            ),
            Rule::TimeOrder {
                begin_field,
                begin,
                end,
            } => write!(
                f,
                "{path} ({end}) is before {} ({begin}); the time span must not end before it begins",
                sibling(path, begin_field)
            ),
            Rule::TimeSpan {
                begin_field,
                begin,
                end,
                max_days,
            } => write!(
                f,
                "{} ({begin}) to {path} ({end}) spans {} seconds; the API allows at most {max_days} day{} ({} seconds)",
                sibling(path, begin_field),
                end - begin,
                plural(*max_days as usize),
                i128::from(*max_days) * SECONDS_PER_DAY
            ),
            Rule::Exclusive { fields, present } => write!(
                f,
                "{} are mutually exclusive, but {} are all present",
                list(&self.path, fields),
                list(&self.path, present)
            ),
            Rule::OneOf { fields, present } => {
                if present.is_empty() {
                    write!(
                        f,
                        "exactly one of {} must be present; none is",
                        list(&self.path, fields)
                    )
                } else {
                    write!(
                        f,
                        "exactly one of {} must be present; found {}",
                        list(&self.path, fields),
                        list(&self.path, present)
                    )
                }
            }
            Rule::MaxTotal {
                fields,
                max,
                actual,
            } => write!(
                f,
                "{} hold {actual} items together; the API allows at most {max}",
                list(&self.path, fields)
            ),
            Rule::Decode { message } => write!(f, "{path}: {message}"),
        }
    }
}

impl fmt::Debug for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidationError")
            .field("path", &self.path)
            .field("rule", &self.rule)
            .field("message", &self.to_string())
            .finish()
    }
}

impl std::error::Error for ValidationError {}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The path of a sibling field of the field at `path`.
fn sibling(path: &str, name: &str) -> String {
    match path.rfind('.') {
        Some(dot) => format!("{}.{name}", &path[..dot]),
        None => name.to_owned(),
    }
}

fn describe_range(min: i128, max: i128) -> String {
    let open_min = min == i128::from(i64::MIN) || min == 0 && max == i128::from(u64::MAX);
    let open_max = max == i128::from(i64::MAX) || max == i128::from(u64::MAX);
    match (open_min, open_max) {
        (true, true) => "any value".to_owned(),
        (false, true) => format!("at least {min}"),
        (true, false) if min == 0 => format!("0 to {max}"),
        (true, false) => format!("at most {max}"),
        (false, false) => format!("{min} to {max}"),
    }
}

/// The longest excerpt of a value quoted in an error, in bytes.
const EXCERPT_BYTES: usize = 64;

/// Cuts `value` to at most [`EXCERPT_BYTES`] bytes, on a character boundary, marking the cut.
pub(crate) fn excerpt(value: &str) -> Cow<'_, str> {
    if value.len() <= EXCERPT_BYTES {
        return Cow::Borrowed(value);
    }
    let mut end = EXCERPT_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &value[..end]))
}

/// `value` is at most `max` bytes of UTF-8 (`string(N)` in the spec).
pub fn max_bytes(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.len() <= max {
        return Ok(());
    }
    Err(ValidationError::new(
        field,
        Rule::MaxBytes {
            max,
            actual: value.len(),
            value: excerpt(value).into_owned(),
        },
    ))
}

/// `value` lies in `min..=max` (an integer range in the spec).
pub fn range<T: Copy + Into<i128>>(
    field: &str,
    value: &T,
    min: i128,
    max: i128,
) -> Result<(), ValidationError> {
    let actual = (*value).into();
    if (min..=max).contains(&actual) {
        return Ok(());
    }
    Err(ValidationError::new(
        field,
        Rule::Range { min, max, actual },
    ))
}

/// A list holds `min..=max` items (`list<T>(A..=B)` in the spec).
pub fn items<T>(
    field: &str,
    list: &[T],
    min: Option<usize>,
    max: Option<usize>,
) -> Result<(), ValidationError> {
    let len = list.len();
    let low = min.is_some_and(|m| len < m);
    let high = max.is_some_and(|m| len > m);
    if !low && !high {
        return Ok(());
    }
    Err(ValidationError::new(
        field,
        Rule::Items {
            min,
            max,
            actual: len,
        },
    ))
}

/// Applies `check` to every item of the list field `field`, naming the failing item's index:
/// `each("tags", &tags, |tag| max_bytes("", tag, 6))` reports `tags[2]`.
///
/// The item checks compose: any helper of this module, called with an empty field name, or a
/// nested `each` for a list of lists (`grid[1][0]`), or [`Validate::validate`] for a list of objects.
pub fn each<T>(
    field: &str,
    list: &[T],
    check: impl Fn(&T) -> Result<(), ValidationError>,
) -> Result<(), ValidationError> {
    for (index, item) in list.iter().enumerate() {
        check(item).map_err(|e| e.within_item(field, index))?;
    }
    Ok(())
}

/// Validates a nested object, naming the field it sits in.
pub fn nested<T: Validate>(field: &str, value: &T) -> Result<(), ValidationError> {
    value.validate().map_err(|e| e.within(field))
}

/// `value` is a calendar date written `YYYY-MM-DD` (`date` in the spec).
pub fn date(field: &str, value: &str) -> Result<(), ValidationError> {
    match day_number(value) {
        Some(_) => Ok(()),
        None => Err(ValidationError::new(
            field,
            Rule::Date {
                value: excerpt(value).into_owned(),
            },
        )),
    }
}

/// `begin <= end` and the period spans at most `max_days` days, both ends included.
///
/// Both values must already have passed [`date`]; a value that is not a date is reported as such.
pub fn date_span(
    begin_field: &'static str,
    begin: &str,
    end_field: &str,
    end: &str,
    max_days: u32,
) -> Result<(), ValidationError> {
    let first = day_number(begin).ok_or_else(|| {
        ValidationError::new(
            begin_field,
            Rule::Date {
                value: excerpt(begin).into_owned(),
            },
        )
    })?;
    let last = day_number(end).ok_or_else(|| {
        ValidationError::new(
            end_field,
            Rule::Date {
                value: excerpt(end).into_owned(),
            },
        )
    })?;
    if last < first {
        return Err(ValidationError::new(
            end_field,
            Rule::DateOrder {
                begin_field,
                begin: begin.to_owned(),
                end: end.to_owned(),
            },
        ));
    }
    let days = last - first + 1;
    if days > i64::from(max_days) {
        return Err(ValidationError::new(
            end_field,
            Rule::DateSpan {
                begin_field,
                max_days,
                actual_days: days,
            },
        ));
    }
    Ok(())
}

/// Seconds in the days of a [`time_span`].
const SECONDS_PER_DAY: i128 = 86_400;

/// `begin <= end` and `end - begin` is at most `max_days * 86400` seconds, for integer Unix-second
/// timestamps (`time_span` in the spec).
///
/// Unlike [`date_span`], nothing is counted twice: the span is the elapsed time, so a start and an
/// end exactly `max_days` days apart are allowed and one second more is not.
pub fn time_span<B: Copy + Into<i128>, E: Copy + Into<i128>>(
    begin_field: &'static str,
    begin: &B,
    end_field: &str,
    end: &E,
    max_days: u32,
) -> Result<(), ValidationError> {
    let (begin, end) = ((*begin).into(), (*end).into());
    if end < begin {
        return Err(ValidationError::new(
            end_field,
            Rule::TimeOrder {
                begin_field,
                begin,
                end,
            },
        ));
    }
    if end - begin > i128::from(max_days) * SECONDS_PER_DAY {
        return Err(ValidationError::new(
            end_field,
            Rule::TimeSpan {
                begin_field,
                begin,
                end,
                max_days,
            },
        ));
    }
    Ok(())
}

/// At most one of the `(name, present)` pairs is present.
pub fn exclusive(fields: &'static [&'static str], present: &[bool]) -> Result<(), ValidationError> {
    let found = present_names(fields, present);
    if found.len() <= 1 {
        return Ok(());
    }
    Err(ValidationError::new(
        "",
        Rule::Exclusive {
            fields,
            present: found,
        },
    ))
}

/// Exactly one of the fields is present.
pub fn one_of(fields: &'static [&'static str], present: &[bool]) -> Result<(), ValidationError> {
    let found = present_names(fields, present);
    if found.len() == 1 {
        return Ok(());
    }
    Err(ValidationError::new(
        "",
        Rule::OneOf {
            fields,
            present: found,
        },
    ))
}

/// The lists hold at most `max` items together.
pub fn max_total(
    fields: &'static [&'static str],
    lengths: &[usize],
    max: usize,
) -> Result<(), ValidationError> {
    let actual: usize = lengths.iter().sum();
    if actual <= max {
        return Ok(());
    }
    Err(ValidationError::new(
        "",
        Rule::MaxTotal {
            fields,
            max,
            actual,
        },
    ))
}

fn present_names(fields: &'static [&'static str], present: &[bool]) -> Vec<&'static str> {
    fields
        .iter()
        .zip(present)
        .filter(|(_, p)| **p)
        .map(|(f, _)| *f)
        .collect()
}

/// Days since 1970-01-01 of a strict `YYYY-MM-DD` date, or `None`.
pub(crate) fn day_number(value: &str) -> Option<i64> {
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        b[range].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian calendar).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_not_characters() {
        assert!(max_bytes("title", "九个汉字的卡券名称啊", 27).is_err());
        assert!(max_bytes("title", "九个汉字的卡券名称", 27).is_ok());
        let err = max_bytes("title", &"券".repeat(10), 27).unwrap_err();
        assert_eq!(
            err.to_string(),
            "title is 30 bytes of UTF-8 (\"券券券券券券券券券券\"); the API allows at most 27"
        );
    }

    #[test]
    fn excerpt_cuts_on_char_boundary() {
        let long = "券".repeat(40);
        let cut = excerpt(&long);
        assert!(cut.ends_with('…'));
        assert!(cut.len() <= EXCERPT_BYTES + '…'.len_utf8());
    }

    #[test]
    fn paths_nest() {
        let err = max_bytes("title", "xxxx", 3)
            .unwrap_err()
            .within("base_info")
            .within("member_card")
            .within("card");
        assert_eq!(err.path(), "card.member_card.base_info.title");
        let err = max_bytes("", "xxxx", 3).unwrap_err().within_item("code", 4);
        assert_eq!(err.path(), "code[4]");
        let err = err.within("outer");
        assert_eq!(err.path(), "outer.code[4]");
    }

    #[test]
    fn ranges() {
        assert!(range("count", &50u32, 0, 50).is_ok());
        let err = range("count", &51u32, 0, 50).unwrap_err();
        assert_eq!(err.to_string(), "count is 51; the API allows 0 to 50");
        let err = range("expire_seconds", &59u32, 60, 1800).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expire_seconds is 59; the API allows 60 to 1800"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2000-03-01"), Some(11_017));
        assert!(day_number("2016-02-29").is_some());
        assert!(day_number("2015-02-29").is_none());
        assert!(day_number("1900-02-29").is_none());
        assert!(day_number("2000-02-29").is_some());
        for bad in [
            "2015-6-15",
            "2015/06/15",
            "20150615",
            "2015-13-01",
            "2015-06-31",
            "",
            "２015-06-15",
        ] {
            assert!(date("begin_date", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spans_count_both_ends() {
        // 2015-06-01 ..= 2015-08-01 is 62 days.
        assert!(date_span("begin_date", "2015-06-01", "end_date", "2015-08-01", 62).is_ok());
        let err = date_span("begin_date", "2015-06-01", "end_date", "2015-08-02", 62).unwrap_err();
        assert_eq!(
            err.to_string(),
            "begin_date to end_date spans 63 days (both included); the API allows at most 62"
        );
        assert!(date_span("begin_date", "2015-06-02", "end_date", "2015-06-02", 62).is_ok());
        let err = date_span("begin_date", "2015-06-02", "end_date", "2015-06-01", 62).unwrap_err();
        assert!(matches!(err.rule(), Rule::DateOrder { .. }));
        assert_eq!(err.path(), "end_date");
    }

    #[test]
    fn time_spans_count_seconds() {
        // 2017-01-01 00:00 +08:00 and 31 days later, to the second.
        let begin: u32 = 1_483_200_000;
        let end = begin + 31 * 86_400;
        assert!(time_span("begin_time", &begin, "end_time", &end, 31).is_ok());
        assert!(time_span("begin_time", &begin, "end_time", &begin, 31).is_ok());
        let err = time_span("begin_time", &begin, "end_time", &(end + 1), 31).unwrap_err();
        assert_eq!(err.path(), "end_time");
        assert_eq!(
            err.rule(),
            &Rule::TimeSpan {
                begin_field: "begin_time",
                begin: 1_483_200_000,
                end: 1_485_878_401,
                max_days: 31,
            }
        );
        assert_eq!(
            err.to_string(),
            "begin_time (1483200000) to end_time (1485878401) spans 2678401 seconds; \
             the API allows at most 31 days (2678400 seconds)"
        );
        let err = time_span("begin_time", &begin, "end_time", &(begin - 1), 31).unwrap_err();
        assert!(matches!(err.rule(), Rule::TimeOrder { .. }));
        assert_eq!(
            err.to_string(),
            "end_time (1483199999) is before begin_time (1483200000); \
             the time span must not end before it begins"
        );
        // Nested: the sibling is named by its whole path; mixed and signed types work.
        let err = time_span("from", &-5_i64, "to", &-6_i32, 1)
            .unwrap_err()
            .within("query");
        assert_eq!(
            err.to_string(),
            "query.to (-6) is before query.from (-5); the time span must not end before it begins"
        );
        let err = time_span("from", &0_u64, "to", &86_401_u64, 1).unwrap_err();
        assert!(err.to_string().ends_with("at most 1 day (86400 seconds)"));
        // The whole u64 range: no overflow.
        assert!(time_span("from", &0_u64, "to", &u64::MAX, u32::MAX).is_err());
    }

    #[test]
    fn cross_field_rules() {
        static F: &[&str] = &["a", "b", "c"];
        assert!(exclusive(F, &[true, false, false]).is_ok());
        assert!(exclusive(F, &[false, false, false]).is_ok());
        let err = exclusive(F, &[true, false, true]).unwrap_err().within("x");
        assert_eq!(
            err.to_string(),
            "x.a, x.b, x.c are mutually exclusive, but x.a, x.c are all present"
        );
        assert!(one_of(F, &[false, true, false]).is_ok());
        assert!(one_of(F, &[false, false, false]).is_err());
        assert!(one_of(F, &[true, true, false]).is_err());
        static L: &[&str] = &["openid", "username"];
        assert!(max_total(L, &[4, 6], 10).is_ok());
        assert_eq!(
            max_total(L, &[5, 6], 10).unwrap_err().to_string(),
            "openid, username hold 11 items together; the API allows at most 10"
        );
    }

    #[test]
    fn item_counts() {
        assert!(items("code", &[0u8; 100], None, Some(100)).is_ok());
        assert_eq!(
            items("code", &[0u8; 101], None, Some(100))
                .unwrap_err()
                .to_string(),
            "code has 101 items; the API allows at most 100 items"
        );
        assert!(items("code", &[0u8; 0], Some(1), Some(100)).is_err());
    }
}
