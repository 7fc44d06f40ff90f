//! Helpers shared by the sandbox tests: card bodies and a plain HTTP/1.1 client on std's
//! `TcpStream` (for what the typed client cannot send, such as malformed JSON).
#![allow(unused)]

pub mod complete;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};
use wechat_card::sandbox::Sandbox;
use wechat_card::{Client, Error};

/// A fresh sandbox and a client of `flavor` for it.
#[cfg(feature = "tooling")]
pub fn setup(flavor: crate::clients::Flavor) -> (Sandbox, crate::clients::AnyClient) {
    let sandbox = Sandbox::start().expect("sandbox");
    let client = crate::clients::AnyClient::of(flavor, sandbox.client_builder());
    (sandbox, client)
}

/// The errcode of a call that must fail with a WeChat error.
pub fn errcode<T: std::fmt::Debug>(result: Result<T, Error>) -> i64 {
    match result {
        Err(e) => e
            .errcode()
            .unwrap_or_else(|| panic!("not an API error: {e}")),
        Ok(v) => panic!("expected an API error, got {v:?}"),
    }
}

/// A gift coupon with `quantity` in stock, valid 30 days from receipt.
pub fn gift_card(quantity: u64) -> Value {
    json!({
        "card_type": "GIFT",
        "gift": {
            "base_info": base_info(quantity, json!({
                "type": "DATE_TYPE_FIX_TERM", "fixed_term": 30, "fixed_begin_term": 0
            })),
            "gift": "一杯咖啡"
        }
    })
}

/// A discount coupon (`30` percent off) with extra `base_info` fields merged in.
pub fn discount_card(quantity: u64, extra: Value) -> Value {
    let mut base = base_info(
        quantity,
        json!({ "type": "DATE_TYPE_FIX_TIME_RANGE", "begin_timestamp": 1_400_000_000u64, "end_timestamp": 4_000_000_000u64 }),
    );
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    json!({ "card_type": "DISCOUNT", "discount": { "base_info": base, "discount": 30 } })
}

/// A member card that activates itself on receipt.
pub fn member_card(quantity: u64) -> Value {
    json!({
        "card_type": "MEMBER_CARD",
        "member_card": {
            "base_info": base_info(quantity, json!({ "type": "DATE_TYPE_PERMANENT" })),
            "prerogative": "会员九折",
            "auto_activate": true,
            "supply_bonus": false,
            "supply_balance": false
        }
    })
}

pub fn base_info(quantity: u64, date_info: Value) -> Value {
    json!({
        "logo_url": "http://mmbiz.qpic.cn/mmbiz/sandbox-logo/0",
        "code_type": "CODE_TYPE_QRCODE",
        "brand_name": "沙盒咖啡",
        "title": "咖啡券",
        "color": "Color010",
        "notice": "请出示二维码",
        "description": "不可与其他优惠同享",
        "sku": { "quantity": quantity },
        "date_info": date_info
    })
}

/// Adds and approves a card.
pub fn approved(sandbox: &Sandbox, card: &Value) -> String {
    let id = sandbox.add_card(card).expect("add card");
    sandbox.approve_card(&id).expect("approve");
    id
}

/// One HTTP/1.1 exchange with `Connection: close`: the status and the body.
pub fn http(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(body).expect("write body");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The JSON body of an exchange.
pub fn http_json(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> Value {
    let (_, body) = http(addr, method, target, body);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Reads one HTTP/1.1 request from a keep-alive connection: its target (path and query) and
/// its body (by `Content-Length`). `None` when the peer closed the connection.
pub fn read_request(reader: &mut impl std::io::BufRead) -> Option<(String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let target = line.split(' ').nth(1).unwrap_or("").to_owned();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    Some((target, body))
}
