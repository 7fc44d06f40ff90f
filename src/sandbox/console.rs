//! The console: a page a person opens in a browser to see the sandbox's state and act on it.
//!
//! `GET /sandbox/console` serves the page (HTML, CSS and script in one file compiled into the
//! binary, [`PAGE`]: no build step, nothing fetched from elsewhere); the page reads
//! `GET /sandbox/console/state` (a JSON snapshot, [`snapshot`]) once a second and renders the
//! cards (type, title, review status, stock), the codes (owner, status and its history), the
//! users, the QR tickets, the pushed events with each attempt's answer from the callback, the
//! clock, the faults armed, the calls per path and the last calls with
//! their errcode. Its buttons call the controls (`POST /sandbox/…`, see the `control` module):
//! approve or reject a card, give a card to a user, consume, expire or delete a code, advance the
//! clock, arm a fault, clear the faults, push the last event again, make the callback's next
//! answer count as late (WeChat then retries).
//! Neither path is counted as a call or faulted.

use hyper::Method;
use hyper::header::{self, HeaderValue};
use serde_json::{Value, json};

use super::dates::format_day;
use super::server::Response;
use super::shared::Shared;

/// The page: one self-contained HTML file.
pub(crate) const PAGE: &str = include_str!("console.html");

/// The console's answer for `path`, or `None` when `path` is not the console's.
pub(crate) fn serve(shared: &Shared, method: &Method, path: &str) -> Option<Response> {
    if method != Method::GET {
        return None;
    }
    let (body, kind) = match path {
        "sandbox/console" => (PAGE.to_owned(), "text/html; charset=utf-8"),
        "sandbox/console/state" => (
            serde_json::to_string(&snapshot(shared)).unwrap_or_else(|_| "{}".to_owned()),
            "application/json; charset=utf-8",
        ),
        _ => return None,
    };
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(response)
}

/// What the console shows, as JSON.
pub(crate) fn snapshot(shared: &Shared) -> Value {
    let (faults, calls, recent) = shared.console_counters();
    let state = shared.state();
    let cards: Vec<Value> = state
        .card_ids_in_order()
        .into_iter()
        .map(|card| {
            let base = card
                .card
                .get(card.payload_key())
                .and_then(|p| p.get("base_info"));
            let text = |key: &str| {
                base.and_then(|b| b.get(key))
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            json!({
                "card_id": card.id,
                "card_type": card.card_type,
                "title": text("title"),
                "brand_name": text("brand_name"),
                "status": card.status,
                "quantity": card.quantity,
                "total_quantity": card.total_quantity,
            })
        })
        .collect();
    let mut codes: Vec<&super::state::CodeRecord> = state.codes.values().collect();
    codes.sort_by(|a, b| (a.begin_time, &a.code).cmp(&(b.begin_time, &b.code)));
    let mut users: Vec<(&str, usize)> = Vec::new();
    for code in &codes {
        match users.iter_mut().find(|(openid, _)| *openid == code.openid) {
            Some((_, n)) => *n += 1,
            None => users.push((code.openid.as_str(), 1)),
        }
    }
    let codes: Vec<Value> = codes
        .iter()
        .map(|c| {
            json!({
                "code": c.code,
                "card_id": c.card_id,
                "openid": c.openid,
                "status": c.status.as_str(),
                "outer_str": c.outer_str,
                "history": c.history.iter().map(|(at, status)| json!({"at": at, "status": status.as_str()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut qrcodes: Vec<(&String, &super::state::distribution::QrCode)> =
        state.distribution.qrcodes.iter().collect();
    qrcodes.sort_by(|a, b| (a.1.expires_at, a.0).cmp(&(b.1.expires_at, b.0)));
    let now = state.now();
    let qrcodes: Vec<Value> = qrcodes
        .into_iter()
        .map(|(ticket, qr)| {
            json!({
                "ticket": ticket,
                "cards": qr.cards.iter().map(|c| json!({"card_id": c.card_id, "code": c.code, "openid": c.openid})).collect::<Vec<_>>(),
                "expires_at": qr.expires_at,
                "expired": qr.expires_at <= now,
                "unique": qr.unique,
                "scanned": qr.scanned,
            })
        })
        .collect();
    let registered = state.outbox.sender.is_some();
    let late_answers = state
        .outbox
        .late_answers
        .load(std::sync::atomic::Ordering::SeqCst);
    let events: Vec<Value> = state
        .outbox
        .deliveries
        .list()
        .into_iter()
        .map(|d| {
            json!({
                "event": d.event,
                "from": d.from,
                "create_time": d.create_time,
                "attempts": d.attempts.iter().map(|a| json!({"status": a.status, "answer": a.answer, "late": a.late})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "now": state.now(),
        "qrcodes": qrcodes,
        "callback": {"registered": registered, "late_answers": late_answers},
        "events": events,
        "today": format_day(state.today()),
        "appid": state.config.appid,
        "cards": cards,
        "codes": codes,
        "users": users.iter().map(|(openid, n)| json!({"openid": openid, "codes": n})).collect::<Vec<_>>(),
        "faults": faults.iter().map(|(path, n)| json!({"path": path, "armed": n})).collect::<Vec<_>>(),
        "calls": calls.iter().map(|(path, n)| json!({"path": path, "count": n})).collect::<Vec<_>>(),
        "recent": recent.iter().map(|(path, errcode)| json!({"path": path, "errcode": errcode})).collect::<Vec<_>>(),
    })
}
