//! A merchant's back end on the async client: an axum server that redeems codes at the till,
//! answers WeChat's event pushes (verified, decrypted, de-duplicated, answered at once, the slow
//! work done afterwards) and signs `wx.addCard`'s `cardExt` for the page. `main` starts the
//! sandbox, the server, and then plays the till, WeChat and the page with plain HTTP requests.
//!
//! ```sh
//! cargo run --example merchant --features sandbox,async,events
//! ```
//!
//! Everything runs on 127.0.0.1. Replace `sandbox.client_builder()` with
//! `AsyncClient::builder().credentials(appid, secret)` and the same server talks to WeChat.

use std::sync::{Arc, mpsc};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use wechat_card::events::{Callback, CallbackQuery, Dedup, Message};
use wechat_card::sandbox::Sandbox;
use wechat_card::signature::CardExt;
use wechat_card::{AsyncClient, CardEvent, ConsumeCodeRequest, GetCodeRequest};

/// What the merchant configured on the 公众平台 (服务器配置): Token and EncodingAESKey.
const TOKEN: &str = "merchant-token";
const ENCODING_AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ";

/// What the handlers share.
struct Shop {
    client: AsyncClient,
    /// Verifies, decrypts and de-duplicates pushes.
    callback: Callback,
    /// What the slow work did, for `main` to print.
    log: mpsc::Sender<String>,
}

type Answer = (StatusCode, axum::Json<Value>);

fn failed(status: StatusCode, e: impl std::fmt::Display) -> Answer {
    // The library's errors never hold the token or the app secret.
    (status, axum::Json(json!({ "error": e.to_string() })))
}

#[derive(Deserialize)]
struct Redeem {
    code: String,
}

/// `POST /till/redeem {"code": "…"}`: checks the code, then consumes it (card/code/consume is
/// irreversible: the library never sends it twice).
async fn redeem(State(shop): State<Arc<Shop>>, axum::Json(till): axum::Json<Redeem>) -> Answer {
    let request = GetCodeRequest::new(till.code.as_str()).check_consume(false);
    let state = match shop.client.get_code(&request).await {
        Ok(state) => state,
        Err(e) => return failed(StatusCode::BAD_GATEWAY, e),
    };
    if state.can_consume != Some(true) {
        let status = state.user_card_status.as_ref().map(|s| s.as_str());
        return (
            StatusCode::CONFLICT,
            axum::Json(json!({ "redeemed": false, "user_card_status": status })),
        );
    }
    match shop
        .client
        .consume_code(&ConsumeCodeRequest::new(till.code.as_str()))
        .await
    {
        Ok(done) => (
            StatusCode::OK,
            axum::Json(json!({
                "redeemed": true,
                "openid": done.openid,
                "card_id": done.card.and_then(|c| c.card_id),
            })),
        ),
        // Maybe consumed, maybe not: the till asks again (get_code) rather than retrying.
        Err(e) => failed(StatusCode::BAD_GATEWAY, e),
    }
}

/// `POST /wechat?signature=…`: WeChat's pushes. Answered `success` at once (WeChat waits 5 s,
/// then retries); the work is done after answering.
async fn event(State(shop): State<Arc<Shop>>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let query = CallbackQuery::parse(query.as_deref().unwrap_or(""));
    match shop.callback.receive_once(&query, &body) {
        Ok(Some(message)) => {
            let log = shop.log.clone();
            tokio::spawn(async move {
                // The slow part (a database write, a message to the user…), here 200 ms.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = log.send(format!("handled  {}", describe(&message)));
            });
        }
        Ok(None) => {
            let _ = shop
                .log
                .send("dropped  a repeat of a push already handled".to_owned());
        }
        // A push that does not verify is refused, never processed.
        Err(e) => return failed(StatusCode::FORBIDDEN, e).into_response(),
    }
    // Plain text `success`.
    Callback::ack().into_response()
}

#[derive(Deserialize)]
struct CardExtQuery {
    card_id: String,
    code: Option<String>,
}

/// `GET /card-ext?card_id=…`: the `cardList` entry for `wx.addCard`, signed with the cached
/// card api_ticket.
async fn card_ext(State(shop): State<Arc<Shop>>, Query(page): Query<CardExtQuery>) -> Answer {
    let mut ext = CardExt::new(page.card_id);
    if let Some(code) = page.code {
        ext = ext.code(code);
    }
    match shop.client.sign_card_ext(&ext).await {
        Ok(signed) => (StatusCode::OK, axum::Json(signed.card_list_entry())),
        Err(e) => failed(StatusCode::BAD_GATEWAY, e),
    }
}

fn describe(message: &Message) -> String {
    match &message.event {
        CardEvent::UserConsumeCard(e) => format!(
            "user_consume_card: {} used code {}",
            message.from_user_name,
            e.user_card_code.as_deref().unwrap_or("?")
        ),
        CardEvent::UserGetCard(e) => format!(
            "user_get_card: {} received code {}",
            message.from_user_name,
            e.user_card_code.as_deref().unwrap_or("?")
        ),
        other => other.name().to_owned(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::builder().auto_approve(true).start()?;
    println!(
        "sandbox on {} (appid {})",
        sandbox.base_url(),
        sandbox.appid()
    );

    // A card and a code in a user's hands (WeChat's side, played by the sandbox).
    let card = json!({
        "card_type": "GIFT",
        "gift": {
            "base_info": {
                "logo_url": "http://mmbiz.qpic.cn/mmbiz/logo/0",
                "code_type": "CODE_TYPE_QRCODE",
                "brand_name": "Sandbox Coffee",
                "title": "Free espresso",
                "color": "Color010",
                "notice": "Show at the counter",
                "description": "One espresso",
                "sku": { "quantity": 10 },
                "date_info": { "type": "DATE_TYPE_PERMANENT" }
            },
            "gift": "One espresso"
        }
    });
    let card_id = sandbox.add_card(&card)?;
    let code = sandbox.receive_card("o-alice", &card_id)?;
    println!("card {card_id}, code {code} held by o-alice");

    // The merchant's server, on its own runtime.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (log, logged) = mpsc::channel();
    let shop = Arc::new(Shop {
        client: sandbox.client_builder().build_async()?,
        callback: Callback::with_aes_key(TOKEN, ENCODING_AES_KEY, sandbox.appid())?
            .deduplicate(Dedup::in_memory()),
        log,
    });
    let app = Router::new()
        .route("/till/redeem", post(redeem))
        .route("/wechat", post(event))
        .route("/card-ext", get(card_ext))
        .with_state(shop);
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}", listener.local_addr()?);
    runtime.spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("server: {e}");
        }
    });
    sandbox.register_callback(&format!("{base}/wechat"), TOKEN, Some(ENCODING_AES_KEY))?;
    println!("merchant server on {base}, callback {base}/wechat (safe mode)\n");

    // The till, WeChat and the page, as plain HTTP clients (no proxy: loopback only).
    let http: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();

    for attempt in ["first", "second"] {
        let mut answer = http
            .post(&format!("{base}/till/redeem"))
            .send_json(json!({ "code": code }))?;
        let status = answer.status();
        let body: Value = answer.body_mut().read_json()?;
        println!("till: redeem {code} ({attempt} time) -> {status} {body}");
    }

    // WeChat pushed user_consume_card for the redemption; it is handled once.
    println!("event: {}", logged.recv_timeout(Duration::from_secs(5))?);
    sandbox.repush_last_event()?; // WeChat retries the same push
    println!("event: {}", logged.recv_timeout(Duration::from_secs(5))?);
    if let Ok(more) = logged.recv_timeout(Duration::from_millis(400)) {
        return Err(format!("the repeat was handled again: {more}").into());
    }

    let mut answer = http
        .get(&format!("{base}/card-ext?card_id={card_id}"))
        .call()?;
    let status = answer.status();
    let body: Value = answer.body_mut().read_json()?;
    println!("page: card-ext -> {status} {body}");

    runtime.shutdown_timeout(Duration::from_secs(1));
    println!("\ndone: one code redeemed (the second attempt refused), one push handled once.");
    Ok(())
}
