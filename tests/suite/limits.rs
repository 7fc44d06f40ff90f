//! Every limit in the spec, tested at its boundary — driven by the generated type table
//! (`wechat_card::TYPES`), not by hand-written cases: a limit added to the spec is tested here
//! without anyone writing a test.
//!
//! For each object type, a minimal valid instance is synthesized from the table; then each limited
//! field is set to the largest allowed value (must pass) and one past it (must fail, naming that
//! field by its exact path). A field whose type is another object, a union, or a list of them gets
//! one limit of that type passed down (`shapes[0].round_thing.radius`), so a type that stopped
//! validating what it holds fails here. Cross-field rules are tested the same way.

#![cfg(feature = "tooling")]

use serde_json::{Map, Value, json};
use wechat_card::Error;
use wechat_card::schema::{FieldInfo, RuleInfo, TYPES, Ty, TypeInfo, TypeKind, type_info};
use wechat_card::validate::Rule;

/// A valid JSON value of `ty` with as little in it as the spec allows.
fn minimal(ty: &Ty) -> Value {
    match ty {
        Ty::String { .. } => json!(""),
        Ty::Bool => json!(false),
        Ty::Int { min, max, .. } => json!(0i128.clamp(*min, *max) as i64),
        Ty::Date => json!("2015-06-15"),
        Ty::Json => json!({}),
        Ty::List {
            item, min_items, ..
        } => Value::Array((0..min_items.unwrap_or(0)).map(|_| minimal(item)).collect()),
        Ty::Ref(name) => minimal_type(type_info(name).expect("referenced type exists")),
        _ => Value::Null,
    }
}

fn minimal_type(t: &TypeInfo) -> Value {
    match t.kind {
        TypeKind::Object { fields, rules } => {
            let mut object = Map::new();
            for f in fields.iter().filter(|f| f.required) {
                object.insert(f.wire.into(), minimal(&f.ty));
            }
            for rule in rules {
                if let RuleInfo::OneOf(names) = rule {
                    let f = field(fields, names[0]);
                    object.insert(f.wire.into(), minimal(&f.ty));
                }
            }
            Value::Object(object)
        }
        TypeKind::Enum { values } => json!(values[0]),
        TypeKind::Union { tag, variants } => {
            let (value, payload) = variants[0];
            json!({ tag: value, value.to_ascii_lowercase(): minimal_type(type_info(payload).unwrap()) })
        }
        _ => Value::Null,
    }
}

fn field<'a>(fields: &'a [FieldInfo], wire: &str) -> &'a FieldInfo {
    fields
        .iter()
        .find(|f| f.wire == wire)
        .unwrap_or_else(|| panic!("no field {wire}"))
}

/// A limit case: the value that must pass, the value that must fail, what is tested, and where the
/// error must point inside the value (`""` for the value itself, `[2]`, `.base_info.title`, …).
type Case = (Value, Value, String, String);

/// Values of a type at a limit.
fn boundary_cases(ty: &Ty) -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    match ty {
        Ty::String {
            max_bytes: Some(max),
        } => {
            let max = *max as usize;
            out.push((
                json!("a".repeat(max)),
                json!("a".repeat(max + 1)),
                format!("{max} ASCII bytes"),
                String::new(),
            ));
            if max % 3 == 0 {
                // WeChat counts bytes: N/3 Chinese characters fit, one more does not.
                out.push((
                    json!("券".repeat(max / 3)),
                    json!("券".repeat(max / 3 + 1)),
                    format!("{} Chinese characters", max / 3),
                    String::new(),
                ));
            } else {
                // A multi-byte character must not straddle the limit.
                let chars = max / 3;
                let pad = max - chars * 3;
                out.push((
                    json!(format!("{}{}", "券".repeat(chars), "a".repeat(pad))),
                    json!(format!("{}{}", "券".repeat(chars + 1), "a".repeat(pad))),
                    format!("{chars} Chinese characters + {pad} ASCII"),
                    String::new(),
                ));
            }
        }
        Ty::Int {
            min,
            max,
            limited: true,
            rust,
        } => {
            let (lo, hi) = type_bounds(rust);
            if *max < hi {
                out.push((
                    json!(*max as i64),
                    json!((*max + 1) as i64),
                    format!("max {max}"),
                    String::new(),
                ));
            }
            if *min > lo {
                out.push((
                    json!(*min as i64),
                    json!((*min - 1) as i64),
                    format!("min {min}"),
                    String::new(),
                ));
            }
        }
        Ty::Date => out.push((
            json!("2015-06-15"),
            json!("2015-06-31"),
            "calendar date (June has 30 days)".into(),
            String::new(),
        )),
        Ty::List {
            item,
            min_items,
            max_items,
        } => {
            if let Some(max) = max_items {
                let max = *max as usize;
                out.push((
                    Value::Array(vec![minimal(item); max]),
                    Value::Array(vec![minimal(item); max + 1]),
                    format!("{max} items"),
                    String::new(),
                ));
            }
            if let Some(min) = min_items.filter(|m| *m > 0) {
                let min = min as usize;
                out.push((
                    Value::Array(vec![minimal(item); min]),
                    Value::Array(vec![minimal(item); min - 1]),
                    format!("at least {min} items"),
                    String::new(),
                ));
            }
            // A limit on each item: one item at its boundary.
            let n = min_items.unwrap_or(1).max(1) as usize;
            for (ok, bad, what, inner) in boundary_cases(item) {
                let mut good = vec![minimal(item); n];
                let mut wrong = vec![minimal(item); n];
                good[n - 1] = ok;
                wrong[n - 1] = bad;
                out.push((
                    Value::Array(good),
                    Value::Array(wrong),
                    format!("item: {what}"),
                    format!("[{}]{inner}", n - 1),
                ));
            }
        }
        Ty::Ref(name) => out.extend(nested_case(name)),
        _ => {}
    }
    out
}

/// The minimal instance of `t`, without the fields that may not be present together with `wire`
/// (the other fields of an `exclusive` or `one_of` rule).
fn base_for(t: &TypeInfo, rules: &[RuleInfo], wire: &str) -> Value {
    let mut base = minimal_type(t);
    for rule in rules {
        if let RuleInfo::Exclusive(names) | RuleInfo::OneOf(names) = rule {
            if names.contains(&wire) {
                for other in names.iter().filter(|n| **n != wire) {
                    if let Some(object) = base.as_object_mut() {
                        object.remove(*other);
                    }
                }
            }
        }
    }
    base
}

/// One limit inside the named type, as a value of that type: the first limited field of an
/// object (at any depth), or of the first union variant that has one. The type's own limits are
/// all tested where the type is tested; this one checks that a type holding it passes it down.
fn nested_case(name: &str) -> Option<Case> {
    let t = type_info(name).expect("referenced type exists");
    match t.kind {
        TypeKind::Object { fields, rules } => fields.iter().find_map(|f| {
            let (ok, bad, what, inner) = boundary_cases(&f.ty).into_iter().next()?;
            let base = base_for(t, rules, f.wire);
            let mut good = base.clone();
            good[f.wire] = ok;
            let mut wrong = base.clone();
            wrong[f.wire] = bad;
            Some((
                good,
                wrong,
                format!("{}.{} = {what}", t.name, f.wire),
                format!(".{}{inner}", f.wire),
            ))
        }),
        TypeKind::Union { tag, variants } => variants.iter().find_map(|(value, payload)| {
            let (ok, bad, what, inner) = nested_case(payload)?;
            let key = value.to_ascii_lowercase();
            Some((
                json!({ tag: value, &key: ok }),
                json!({ tag: value, &key: bad }),
                format!("{value}: {what}"),
                format!(".{key}{inner}"),
            ))
        }),
        _ => None,
    }
}

/// Whether a field of type `ty` has a limit of its own or holds one, from the table alone: what
/// [`boundary_cases`] must find at least one case for.
fn is_limited(ty: &Ty) -> bool {
    match ty {
        Ty::String { max_bytes } => max_bytes.is_some(),
        Ty::Int { limited, .. } => *limited,
        Ty::Date => true,
        Ty::List {
            item,
            min_items,
            max_items,
        } => max_items.is_some() || min_items.is_some_and(|m| m > 0) || is_limited(item),
        Ty::Ref(name) => match type_info(name).expect("referenced type exists").kind {
            TypeKind::Object { fields, .. } => fields.iter().any(|f| is_limited(&f.ty)),
            TypeKind::Union { variants, .. } => variants
                .iter()
                .any(|(_, payload)| is_limited(&Ty::Ref(payload))),
            _ => false,
        },
        _ => false,
    }
}

fn type_bounds(rust: &str) -> (i128, i128) {
    match rust {
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" => (i64::MIN.into(), i64::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        _ => (0, u64::MAX.into()),
    }
}

fn expect_ok(t: &TypeInfo, value: &Value, what: &str) {
    if let Err(e) = (t.check)(value) {
        panic!("{}: {what} must be accepted, got: {e}\n{value}", t.name);
    }
}

/// `value` must be rejected with a limit violation at exactly `path`.
fn expect_violation_at(t: &TypeInfo, value: &Value, path: &str, what: &str) {
    match (t.check)(value) {
        Err(Error::Validation(e)) => {
            assert!(
                !matches!(e.rule(), Rule::Decode { .. }),
                "{}: {what} must be a limit violation, got a decode error: {e}",
                t.name
            );
            assert_eq!(e.path(), path, "{}: {what}: {e}", t.name);
        }
        Err(e) => panic!("{}: {what}: expected a validation error, got {e}", t.name),
        Ok(()) => panic!("{}: {what} must be rejected\n{value}", t.name),
    }
}

fn expect_violation(t: &TypeInfo, value: &Value, path: &str, what: &str) {
    match (t.check)(value) {
        Err(Error::Validation(e)) => {
            assert!(
                !matches!(e.rule(), Rule::Decode { .. }),
                "{}: {what} must be a limit violation, got a decode error: {e}",
                t.name
            );
            assert!(
                e.path() == path
                    || e.path().starts_with(&format!("{path}["))
                    || e.path().starts_with(&format!("{path}.")),
                "{}: {what}: error names `{}`, expected `{path}`: {e}",
                t.name,
                e.path()
            );
        }
        Err(e) => panic!("{}: {what}: expected a validation error, got {e}", t.name),
        Ok(()) => panic!("{}: {what} must be rejected\n{value}", t.name),
    }
}

#[test]
fn every_minimal_instance_is_valid() {
    for t in TYPES {
        expect_ok(t, &minimal_type(t), "the minimal instance");
    }
}

#[test]
fn every_field_limit_at_its_boundary() {
    let (mut tested, mut limited, mut nested) = (0, 0, 0);
    for t in TYPES {
        let TypeKind::Object { fields, rules } = t.kind else {
            continue;
        };
        for f in fields {
            let base = base_for(t, rules, f.wire);
            let cases = boundary_cases(&f.ty);
            assert_eq!(
                !cases.is_empty(),
                is_limited(&f.ty),
                "{}.{}: a limit without a test case, or a case without a limit",
                t.name,
                f.wire
            );
            limited += usize::from(is_limited(&f.ty));
            for (ok, bad, what, inner) in cases {
                let what = format!("{} = {what}", f.wire);
                let mut good = base.clone();
                good[f.wire] = ok;
                expect_ok(t, &good, &what);
                let mut wrong = base.clone();
                wrong[f.wire] = bad;
                expect_violation_at(t, &wrong, &format!("{}{inner}", f.wire), &what);
                tested += 1;
                nested += usize::from(inner.contains('.'));
            }
        }
    }
    // Not vacuous: every limited field of the table was tested, and the spec has limits both
    // on plain fields and inside nested objects and list items.
    assert!(
        tested >= limited,
        "{tested} cases for {limited} limited fields"
    );
    assert!(
        limited > 0 && nested > 0,
        "{limited} limited fields, {nested} nested cases"
    );
}

#[test]
fn every_rule_at_its_boundary() {
    let mut tested = 0;
    for t in TYPES {
        let TypeKind::Object { fields, rules } = t.kind else {
            continue;
        };
        let base = minimal_type(t);
        for rule in rules {
            tested += 1;
            match *rule {
                RuleInfo::DateSpan {
                    begin,
                    end,
                    max_days,
                } => {
                    // 2015-01-01 plus (max_days - 1) days is the last allowed day.
                    let first = days(2015, 1, 1);
                    let mut good = base.clone();
                    good[begin] = json!("2015-01-01");
                    good[end] = json!(date_from_days(first + i64::from(max_days) - 1));
                    expect_ok(t, &good, &format!("{max_days} days"));
                    let mut long = good.clone();
                    long[end] = json!(date_from_days(first + i64::from(max_days)));
                    expect_violation(t, &long, end, &format!("{} days", max_days + 1));
                    let mut reversed = base.clone();
                    reversed[begin] = json!("2015-01-02");
                    reversed[end] = json!("2015-01-01");
                    expect_violation(t, &reversed, end, "end before begin");
                    let mut same = base.clone();
                    same[begin] = json!("2015-01-02");
                    same[end] = json!("2015-01-02");
                    expect_ok(t, &same, "one day");
                }
                RuleInfo::TimeSpan {
                    begin,
                    end,
                    max_days,
                } => {
                    // Unix seconds: exactly max_days days apart is allowed, one second more not.
                    let first: u64 = 1_483_200_000;
                    let last = first + u64::from(max_days) * 86_400;
                    let mut good = base.clone();
                    good[begin] = json!(first);
                    good[end] = json!(last);
                    expect_ok(t, &good, &format!("{max_days} days to the second"));
                    let mut long = good.clone();
                    long[end] = json!(last + 1);
                    expect_violation(t, &long, end, &format!("{max_days} days and 1 second"));
                    let mut reversed = base.clone();
                    reversed[begin] = json!(first);
                    reversed[end] = json!(first - 1);
                    expect_violation(t, &reversed, end, "end before begin");
                    let mut same = base.clone();
                    same[begin] = json!(first);
                    same[end] = json!(first);
                    expect_ok(t, &same, "an empty span");
                }
                RuleInfo::Exclusive(names) => {
                    let mut one = base.clone();
                    one[names[0]] = minimal(&field(fields, names[0]).ty);
                    expect_ok(t, &one, "one exclusive field");
                    let mut two = one.clone();
                    two[names[1]] = minimal(&field(fields, names[1]).ty);
                    expect_violation(t, &two, "", "two exclusive fields");
                }
                RuleInfo::OneOf(names) => {
                    // The minimal instance holds exactly the first one.
                    let mut none = base.clone();
                    for n in names {
                        none.as_object_mut().unwrap().remove(*n);
                    }
                    expect_violation(t, &none, "", "none of one_of");
                    for n in names {
                        let mut only = none.clone();
                        only[*n] = minimal(&field(fields, n).ty);
                        expect_ok(t, &only, &format!("only {n}"));
                    }
                    let mut two = none.clone();
                    two[names[0]] = minimal(&field(fields, names[0]).ty);
                    two[names[1]] = minimal(&field(fields, names[1]).ty);
                    expect_violation(t, &two, "", "two of one_of");
                }
                RuleInfo::MaxTotal { fields: names, max } => {
                    let item = |n: &str| match field(fields, n).ty {
                        Ty::List { item, .. } => minimal(item),
                        _ => panic!("max_total over a non-list"),
                    };
                    let max = max as usize;
                    let split = max / 2;
                    let mut good = base.clone();
                    good[names[0]] = Value::Array(vec![item(names[0]); split]);
                    good[names[1]] = Value::Array(vec![item(names[1]); max - split]);
                    expect_ok(t, &good, &format!("{max} items together"));
                    let mut bad = good.clone();
                    bad[names[1]] = Value::Array(vec![item(names[1]); max - split + 1]);
                    expect_violation(t, &bad, "", &format!("{} items together", max + 1));
                }
                _ => tested -= 1,
            }
        }
    }
    // Not vacuous: every rule of the table was tested (a rule kind without a case here fails).
    let rules: usize = TYPES
        .iter()
        .map(|t| match t.kind {
            TypeKind::Object { rules, .. } => rules.len(),
            _ => 0,
        })
        .sum();
    assert!(rules > 0, "the spec tables have no rules");
    assert_eq!(tested, rules, "{tested} of {rules} rules tested");
}

fn days(y: i64, m: i64, d: i64) -> i64 {
    // Days from civil, proleptic Gregorian.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

fn date_from_days(z: i64) -> String {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[test]
fn date_helpers_agree() {
    assert_eq!(date_from_days(days(2015, 6, 1) + 61), "2015-08-01");
    assert_eq!(date_from_days(days(2016, 2, 28) + 1), "2016-02-29");
}

/// The documented CJK boundaries of base_info, stated by hand as the issue asks.
#[test]
fn base_info_chinese_character_limits() {
    let t = type_info("BaseInfo").expect("BaseInfo in the spec");
    let base = minimal_type(t);
    for (field, chars) in [("title", 9), ("brand_name", 12), ("notice", 16)] {
        let mut ok = base.clone();
        ok[field] = json!("券".repeat(chars));
        expect_ok(t, &ok, &format!("{field} of {chars} Chinese characters"));
        let mut bad = base.clone();
        bad[field] = json!("券".repeat(chars + 1));
        expect_violation(
            t,
            &bad,
            field,
            &format!("{field} of {} Chinese characters", chars + 1),
        );
    }
}

/// Nested paths name the whole way down: card.member_card.base_info.title.
#[test]
fn nested_errors_name_the_full_path() {
    let t = type_info("GetCardResponse").expect("GetCardResponse in the spec");
    let mut value = minimal_type(t);
    let variant = value["card"]["card_type"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    value["card"][&variant]["base_info"]["title"] = json!("券".repeat(10));
    match (t.check)(&value) {
        Err(Error::Validation(e)) => {
            assert_eq!(e.path(), format!("card.{variant}.base_info.title"));
            assert!(e.to_string().contains("30 bytes"), "{e}");
            assert!(e.to_string().contains("at most 27"), "{e}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// Every limit of every endpoint's request, through each client's typed method (the blocking
/// and, with `async`, the async client): one past the limit is refused with a validation error
/// naming the field before anything is sent (no request, no connection, no token fetch); at the
/// limit the request goes out. Driven by the endpoint and type tables, like the tests above.
#[test]
fn every_request_limit_is_enforced_by_both_clients_before_sending() {
    use crate::clients::{self, AnyClient};
    use crate::support::{Reply, Server};
    use wechat_card::tooling::HookError;

    clients::each(|flavor| {
        let server = Server::start();
        let client = AnyClient::of(
            flavor,
            wechat_card::Client::builder()
                .base_url(server.url())
                .fixed_token("LIMIT-TOKEN")
                .component_token("LIMIT-COMPONENT-TOKEN")
                .max_retries(0),
        );
        let mut tested = 0;
        for endpoint in wechat_card::schema::ENDPOINTS {
            let Some(request) = endpoint.request else {
                continue;
            };
            let t = type_info(request).expect("request type");
            let TypeKind::Object { fields, rules } = t.kind else {
                continue;
            };
            server.default_reply(&format!("/{}", endpoint.path), Reply::errcode(0, "ok"));
            for f in fields {
                let base = base_for(t, rules, f.wire);
                for (ok, bad, what, inner) in boundary_cases(&f.ty) {
                    let what = format!("{} {} = {what}", endpoint.path, f.wire);
                    let before = server.requests().len();
                    let mut wrong = base.clone();
                    wrong[f.wire] = bad;
                    match client.invoke(endpoint, &wrong) {
                        Err(HookError::Call(Error::Validation(e))) => {
                            assert_eq!(e.path(), format!("{}{inner}", f.wire), "{what}: {e}");
                        }
                        other => panic!("{what}: must be refused before sending, got {other:?}"),
                    }
                    assert_eq!(
                        server.requests().len(),
                        before,
                        "{what}: something was sent"
                    );
                    let mut good = base.clone();
                    good[f.wire] = ok;
                    let outcome = client.invoke(endpoint, &good);
                    assert!(
                        !matches!(
                            outcome,
                            Err(HookError::Invalid(_) | HookError::Call(Error::Validation(_)))
                        ),
                        "{what}: at the limit it must be sent, got {outcome:?}"
                    );
                    assert_eq!(server.requests().len(), before + 1, "{what}: not sent once");
                    tested += 1;
                }
            }
        }
        assert!(tested > 50, "only {tested} request limits");
        // Nothing refused opened a connection: one connection served every request sent.
        assert!(
            server.connections() <= 2,
            "{} connections",
            server.connections()
        );
    });
}
