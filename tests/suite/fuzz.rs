//! Mutation fuzzing on the stable toolchain, with a seeded mutator of the project's own (no
//! fuzzing engine, no new dependency).
//!
//! Targets, each driven from the run-time tables where there is one:
//! - every endpoint's response decoder (`tooling::hooks(endpoint).check_response`), fed the
//!   documented examples and answers generated from the response type's fields, then mutated as
//!   JSON and as bytes;
//! - every type's decoder and validator (`TypeInfo::check`), the card union included, and every
//!   request check (`tooling::hooks(endpoint).check_request`);
//! - `CallbackQuery::parse` on mutated query strings;
//! - `Callback::receive` in plain mode (correctly signed, so the parser is reached) and in safe
//!   mode (mutated XML encrypted and signed, mutated `Encrypt` texts signed, mutated envelopes);
//!
//! A panic in any target fails the test with the seed, the target and the input. Each test
//! prints how many inputs it ran, the slowest input and the process's peak memory.
//!
//! The default run is bounded by input counts (a few seconds in a debug build). A long run:
//!
//! ```text
//! WECHAT_CARD_FUZZ_SCALE=200 WECHAT_CARD_FUZZ_SEED=7 \
//!     cargo test --release --all-features --test fuzz -- --nocapture
//! ```
//!
//! `WECHAT_CARD_FUZZ_SCALE` multiplies every input count (default 1); `WECHAT_CARD_FUZZ_SEED`
//! picks another seed (default fixed, so the default run is the same every time).

#![cfg(feature = "events")]

use serde_json::{Map, Value, json};
use wechat_card::events::{Callback, CallbackQuery, Message, callback_signature};
use wechat_card::schema::{self, ENDPOINTS, EVENTS, TYPES, Ty, TypeInfo, TypeKind};

#[path = "fuzz_kit.rs"]
mod fuzz_kit;

use fuzz_kit::{Rng, Runner, mutate_bytes, scale};

fn interesting_value(rng: &mut Rng) -> Value {
    match rng.below(22) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(""),
        3 => json!("123"),
        4 => json!("-1"),
        5 => json!(" 7 "),
        6 => json!(-1),
        7 => json!(0),
        8 => json!(u64::MAX),
        9 => json!(i64::MIN),
        10 => json!(1.5),
        11 => json!(1e300),
        12 => json!([]),
        13 => json!({}),
        14 => json!("x".repeat(rng.below(5000))),
        15 => json!("微信卡券\u{0}\u{feff}"),
        16 => json!(u32::MAX as u64 + 1),
        17 => json!("9223372036854775808"),
        18 => json!("2024-02-30"),
        19 => json!([1, "a", null]),
        20 => json!({ "errcode": "0" }),
        _ => json!("GROUPON"),
    }
}

/// Replaces, removes or adds something at a random place of `value`.
fn mutate_json(rng: &mut Rng, value: &mut Value, depth: usize) {
    if depth < 12 && rng.chance(70) {
        match &mut *value {
            Value::Object(map) if !map.is_empty() => {
                let key = map
                    .keys()
                    .nth(rng.below(map.len()))
                    .cloned()
                    .unwrap_or_default();
                match rng.below(10) {
                    0 => {
                        map.remove(&key);
                    }
                    1 => {
                        map.insert(format!("{key}_x"), interesting_value(rng));
                    }
                    _ => {
                        if let Some(child) = map.get_mut(&key) {
                            mutate_json(rng, child, depth + 1);
                        }
                    }
                }
                return;
            }
            Value::Array(items) if !items.is_empty() => {
                let i = rng.below(items.len());
                match rng.below(8) {
                    0 => {
                        items.remove(i);
                    }
                    1 => {
                        let copy = items[i].clone();
                        for _ in 0..rng.below(200) {
                            items.push(copy.clone());
                        }
                    }
                    _ => mutate_json(rng, &mut items[i], depth + 1),
                }
                return;
            }
            _ => {}
        }
    }
    let replacement = match rng.below(6) {
        // The same value as a string (numbers as numeric strings, …), or a string as a number.
        0 => match &*value {
            Value::String(s) => json!(s.parse::<i64>().unwrap_or(-7)),
            other => json!(other.to_string()),
        },
        // Deep nesting.
        1 => {
            let depth = rng.below(300);
            serde_json::from_str(&format!("{}{}", "[".repeat(depth), "]".repeat(depth)))
                .unwrap_or(Value::Null)
        }
        _ => interesting_value(rng),
    };
    *value = replacement;
}

// ---------------------------------------------------------------------------------------------
// Values generated from the run-time schema
// ---------------------------------------------------------------------------------------------

fn gen_string(rng: &mut Rng, max_bytes: Option<u32>) -> String {
    let limit = max_bytes.map_or(40, |m| m as usize);
    let len = match rng.below(6) {
        0 => 0,
        1 => limit,
        2 => limit + 1,
        _ => rng.below(limit.min(64) + 1),
    };
    let alphabet: [&str; 11] = ["a", "Z", "0", "9", "-", "微", "券", " ", "\"", "\\", "é"];
    let mut out = String::new();
    while out.len() < len {
        let piece: &&str = rng.pick(&alphabet);
        out.push_str(piece);
    }
    out
}

fn gen_ty(rng: &mut Rng, ty: &Ty, depth: usize) -> Value {
    match ty {
        Ty::String { max_bytes } => json!(gen_string(rng, *max_bytes)),
        Ty::Bool => json!(rng.chance(50)),
        Ty::Int { min, max, .. } => {
            let candidates = [
                *min,
                *max,
                min.saturating_sub(1),
                max.saturating_add(1),
                0,
                1,
            ];
            let mut n = *rng.pick(&candidates);
            if rng.chance(40) && max > min {
                let span = u128::try_from(max - min).unwrap_or(u128::MAX);
                let off = u128::from(rng.next()) % span.max(1);
                n = min.saturating_add(i128::try_from(off).unwrap_or(0));
            }
            let number = if let Ok(v) = i64::try_from(n) {
                json!(v)
            } else if let Ok(v) = u64::try_from(n) {
                json!(v)
            } else {
                json!(n as f64)
            };
            // WeChat sometimes sends integers as numeric strings.
            if rng.chance(15) {
                json!(number.to_string())
            } else {
                number
            }
        }
        Ty::Date => json!(*rng.pick(&["2024-01-31", "2024-02-29", "2023-02-29", "1-2-3", ""])),
        Ty::Json => interesting_value(rng),
        Ty::List {
            item, max_items, ..
        } => {
            let most = max_items.map_or(4, |m| (m as usize + 1).min(6));
            let n = if depth > 5 { 0 } else { rng.below(most + 1) };
            Value::Array((0..n).map(|_| gen_ty(rng, item, depth + 1)).collect())
        }
        Ty::Ref(name) => match schema::type_info(name) {
            Some(info) if depth <= 6 => gen_type(rng, info, depth + 1),
            _ => json!({}),
        },
        _ => Value::Null,
    }
}

fn gen_type(rng: &mut Rng, info: &TypeInfo, depth: usize) -> Value {
    match info.kind {
        TypeKind::Object { fields, .. } => {
            let mut map = Map::new();
            for field in fields {
                let keep = if field.required { 92 } else { 55 };
                if rng.chance(keep) {
                    map.insert(field.wire.to_owned(), gen_ty(rng, &field.ty, depth));
                }
            }
            Value::Object(map)
        }
        TypeKind::Enum { values } => {
            if values.is_empty() || rng.chance(10) {
                json!(gen_string(rng, None))
            } else {
                json!(rng.pick(values))
            }
        }
        TypeKind::Union { tag, variants } => {
            if variants.is_empty() {
                return json!({});
            }
            let (value, payload) = *rng.pick(variants);
            let mut map = Map::new();
            map.insert(tag.to_owned(), json!(value));
            if let Some(payload_info) = schema::type_info(payload) {
                map.insert(value.to_lowercase(), gen_type(rng, payload_info, depth + 1));
            }
            Value::Object(map)
        }
        _ => Value::Null,
    }
}

fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

#[test]
fn fuzz_response_decoders() {
    let mut rng = Rng::new(1);
    let mut runner = Runner::new("response decoders");
    let per_endpoint = 120 * scale();
    for endpoint in ENDPOINTS {
        let mut seeds: Vec<Vec<u8>> = endpoint
            .examples
            .iter()
            .filter_map(|e| e.response)
            .map(|r| r.as_bytes().to_vec())
            .collect();
        seeds.push(br#"{"errcode":0,"errmsg":"ok"}"#.to_vec());
        let info = endpoint.response.and_then(schema::type_info);
        for i in 0..per_endpoint {
            let input = match (i % 3, info) {
                // Generated from the response type, then mutated as JSON.
                (0, Some(info)) => {
                    let mut value = gen_type(&mut rng, info, 0);
                    if let Value::Object(map) = &mut value {
                        map.insert("errcode".into(), json!(0));
                    }
                    if rng.chance(60) {
                        mutate_json(&mut rng, &mut value, 0);
                    }
                    to_bytes(&value)
                }
                // An example, mutated as JSON.
                (1, _) => {
                    let seed = rng.pick(&seeds).clone();
                    match serde_json::from_slice::<Value>(&seed) {
                        Ok(mut value) => {
                            for _ in 0..1 + rng.below(3) {
                                mutate_json(&mut rng, &mut value, 0);
                            }
                            to_bytes(&value)
                        }
                        Err(_) => seed,
                    }
                }
                // Bytes.
                _ => {
                    let seed = rng.pick(&seeds).clone();
                    mutate_bytes(&mut rng, &seed, &seeds)
                }
            };
            let check = wechat_card::tooling::hooks(endpoint).check_response;
            runner.run(endpoint.path, &input, || {
                let _ = check(&input);
            });
        }
    }
    runner.finish();
}

#[test]
fn fuzz_type_decoders_and_request_checks() {
    let mut rng = Rng::new(2);
    let mut runner = Runner::new("type decoders (card union included) and request checks");
    let per_type = 40 * scale();
    // Every type, the card union among them.
    assert!(
        TYPES
            .iter()
            .any(|t| matches!(t.kind, TypeKind::Union { .. })),
        "the card union is in TYPES"
    );
    for info in TYPES {
        let per = if matches!(info.kind, TypeKind::Union { .. }) {
            per_type * 25
        } else {
            per_type
        };
        for _ in 0..per {
            let mut value = gen_type(&mut rng, info, 0);
            if rng.chance(70) {
                for _ in 0..1 + rng.below(3) {
                    mutate_json(&mut rng, &mut value, 0);
                }
            }
            let input = to_bytes(&value);
            let check = info.check;
            runner.run(info.name, &input, || {
                let _ = check(&value);
            });
        }
    }
    // The card union from the documented card/create examples, mutated.
    let card_seeds: Vec<Value> = ENDPOINTS
        .iter()
        .flat_map(|e| e.examples.iter())
        .filter_map(|e| e.request)
        .filter_map(|r| serde_json::from_str::<Value>(r).ok())
        .filter_map(|v| v.get("card").cloned())
        .collect();
    let union = TYPES
        .iter()
        .find(|t| matches!(t.kind, TypeKind::Union { .. }))
        .expect("the card union");
    for _ in 0..card_seeds.len().min(1) * 600 * scale() {
        let mut value = rng.pick(&card_seeds).clone();
        for _ in 0..1 + rng.below(4) {
            mutate_json(&mut rng, &mut value, 0);
        }
        let input = to_bytes(&value);
        runner.run("card union (examples)", &input, || {
            let _ = (union.check)(&value);
        });
    }
    // Request checks (decode + validate, what the client and the sandbox run).
    for endpoint in ENDPOINTS {
        let info = endpoint.request.and_then(schema::type_info);
        let examples: Vec<Value> = endpoint
            .examples
            .iter()
            .filter_map(|e| e.request)
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect();
        for _ in 0..30 * scale() {
            let mut value = match info {
                Some(info) if examples.is_empty() || rng.chance(50) => gen_type(&mut rng, info, 0),
                _ if !examples.is_empty() => rng.pick(&examples).clone(),
                _ => json!({}),
            };
            mutate_json(&mut rng, &mut value, 0);
            let input = to_bytes(&value);
            let check = wechat_card::tooling::hooks(endpoint).check_request;
            runner.run(endpoint.path, &input, || {
                let _ = check(&value);
            });
        }
    }
    runner.finish();
}

#[test]
fn fuzz_callback_query_parse() {
    let mut rng = Rng::new(3);
    let mut runner = Runner::new("CallbackQuery::parse");
    let seeds: Vec<Vec<u8>> = [
        "signature=abc&timestamp=1700000000&nonce=42&openid=o-user",
        "?signature=x&timestamp=1&nonce=2&encrypt_type=aes&msg_signature=y",
        "echostr=%E5%BE%AE%E4%BF%A1+x&signature=&&=&nonce",
        "",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for _ in 0..4000 * scale() {
        let seed = rng.pick(&seeds).clone();
        let input = mutate_bytes(&mut rng, &seed, &seeds);
        let text = String::from_utf8_lossy(&input).into_owned();
        runner.run("query", &input, || {
            let query = CallbackQuery::parse(&text);
            // Parsing what it read again gives the same (the values are decoded once).
            let _ = query.signature.as_deref().map(str::len);
        });
    }
    runner.finish();
}

const TOKEN: &str = "fuzz-token";
const EAK: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wx1234567890abcdef";
const TS: &str = "1700000000";
const NONCE: &str = "42";

/// The documented event messages, and a few of the library's own.
fn event_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = EVENTS
        .iter()
        .flat_map(|e| e.examples.iter())
        .map(|e| e.xml.as_bytes().to_vec())
        .collect();
    seeds.push(b"<xml><A><B>x</B></A><C><![CDATA[a]]]]><![CDATA[>]]></C></xml>".to_vec());
    seeds.push(b"<?xml version=\"1.0\"?><!-- c --><xml/>".to_vec());
    seeds
}

#[test]
fn fuzz_callback_receive_plain() {
    let mut rng = Rng::new(4);
    let mut runner = Runner::new("Callback::receive (plain)");
    let seeds = event_seeds();
    assert!(seeds.len() > 10, "the events have documented examples");
    let callback = Callback::new(TOKEN);
    let query = CallbackQuery::parse(&format!(
        "signature={}&timestamp={TS}&nonce={NONCE}",
        callback_signature(TOKEN, TS, NONCE)
    ));
    for _ in 0..3000 * scale() {
        let seed = rng.pick(&seeds).clone();
        let input = mutate_bytes(&mut rng, &seed, &seeds);
        runner.run("plain body", &input, || {
            if let Ok(message) = callback.receive(&query, &input) {
                // What parses must write back and parse again to the same message.
                let again = Message::parse(&message.to_xml());
                assert_eq!(again.as_ref(), Ok(&message), "round trip");
            }
        });
    }
    runner.finish();
}

#[test]
fn fuzz_callback_receive_safe_mode() {
    let mut rng = Rng::new(5);
    let mut runner = Runner::new("Callback::receive (safe mode)");
    let seeds = event_seeds();
    let callback = Callback::with_aes_key(TOKEN, EAK, APPID).expect("key");
    let crypto = callback.crypto().expect("safe mode").clone();
    let signature = callback_signature(TOKEN, TS, NONCE);
    let query_for = |msg_signature: &str| {
        CallbackQuery::parse(&format!(
            "signature={signature}&timestamp={TS}&nonce={NONCE}&encrypt_type=aes&msg_signature={msg_signature}"
        ))
    };
    let envelope = |encrypt: &str| {
        format!(
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        )
    };
    for i in 0..1500 * scale() {
        let seed = rng.pick(&seeds).clone();
        let (query, body) = match i % 3 {
            // A mutated message, encrypted and signed: reaches the parser.
            0 => {
                let xml =
                    String::from_utf8_lossy(&mutate_bytes(&mut rng, &seed, &seeds)).into_owned();
                let encrypt = crypto.encrypt_content(&xml);
                let sig = crypto.signature(TS, NONCE, &encrypt);
                (query_for(&sig), envelope(&encrypt).into_bytes())
            }
            // A mutated Encrypt text, signed: reaches base64, AES, padding, the appid.
            1 => {
                let encrypt = crypto.encrypt_content(&String::from_utf8_lossy(&seed));
                let mutated = mutate_bytes(&mut rng, encrypt.as_bytes(), &[]);
                let mutated = String::from_utf8_lossy(&mutated).into_owned();
                let sig = crypto.signature(TS, NONCE, &mutated);
                (query_for(&sig), envelope(&mutated).into_bytes())
            }
            // A mutated envelope with the original signature.
            _ => {
                let encrypt = crypto.encrypt_content(&String::from_utf8_lossy(&seed));
                let sig = crypto.signature(TS, NONCE, &encrypt);
                let body = envelope(&encrypt).into_bytes();
                (query_for(&sig), mutate_bytes(&mut rng, &body, &seeds))
            }
        };
        runner.run("safe body", &body, || {
            let _ = callback.receive(&query, &body);
        });
    }
    runner.finish();
}
