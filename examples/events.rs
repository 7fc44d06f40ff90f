//! Card events end to end: the sandbox pushes them (encrypted, 安全模式) to a small HTTP server
//! on 127.0.0.1 that verifies, decrypts and prints them, the way a merchant's server would.
//!
//! ```sh
//! cargo run --example events --features sandbox,events
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use wechat_card::events::{Callback, CallbackQuery, Message};
use wechat_card::sandbox::Sandbox;
use wechat_card::{CardEvent, ConsumeCodeRequest};

/// What the merchant configured on the 公众平台 (服务器配置): Token and EncodingAESKey.
const TOKEN: &str = "merchant-token";
const ENCODING_AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::builder().auto_approve(true).start()?;
    let client = sandbox.client()?;

    // The merchant's server.
    let callback = Callback::with_aes_key(TOKEN, ENCODING_AES_KEY, sandbox.appid())?;
    let server = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/wechat", server.local_addr()?);
    let (received, events) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for stream in server.incoming().flatten() {
            let _ = serve(stream, &callback, &received);
        }
    });
    sandbox.register_callback(&url, TOKEN, Some(ENCODING_AES_KEY))?;
    println!("callback registered at {url} (safe mode)\n");

    // Things happen.
    let card = serde_json::json!({
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
                "sku": { "quantity": 2 },
                "date_info": { "type": "DATE_TYPE_PERMANENT" }
            },
            "gift": "One espresso"
        }
    });
    let card_id = sandbox.add_card(&card)?; // card_pass_check (auto-approved)
    let code = sandbox.receive_card("o-alice", &card_id)?; // user_get_card
    client.consume_code(&ConsumeCodeRequest::new(code.as_str()))?; // user_consume_card
    let code = sandbox.receive_card("o-alice", &card_id)?; // user_get_card + card_sku_remind
    sandbox.gift_code(&code)?;
    let bobs = sandbox.accept_gift(&code, "o-bob")?; // user_gifting_card + user_get_card
    sandbox.delete_code(&bobs)?; // user_del_card

    for _ in 0..8 {
        let line = events.recv_timeout(Duration::from_secs(10))?;
        println!("{line}");
    }
    println!("\n8 events received, verified and decrypted.");
    Ok(())
}

/// One HTTP/1.1 connection: read each request, hand it to the callback, answer `success`.
fn serve(
    stream: TcpStream,
    callback: &Callback,
    received: &mpsc::Sender<String>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let target = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length.min(1 << 20)];
        reader.read_exact(&mut body)?;
        let query = CallbackQuery::parse(target.split_once('?').map_or("", |(_, q)| q));
        let (status, answer) = match callback.receive(&query, &body) {
            Ok(message) => {
                let _ = received.send(describe(&message));
                ("200 OK", Callback::ack())
            }
            // A push that does not verify is refused, never processed.
            Err(e) => {
                let _ = received.send(format!("refused: {e}"));
                ("403 Forbidden", "")
            }
        };
        write!(
            writer,
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        )?;
    }
}

fn describe(message: &Message) -> String {
    let who = &message.from_user_name;
    match &message.event {
        CardEvent::CardPassCheck(e) => {
            format!("card_pass_check      card {} passed review", e.card_id)
        }
        CardEvent::UserGetCard(e) if e.is_give_by_friend == Some(1) => format!(
            "user_get_card        {who} accepted code {} from {}",
            e.user_card_code.as_deref().unwrap_or("?"),
            e.friend_user_name.as_deref().unwrap_or("?")
        ),
        CardEvent::UserGetCard(e) => format!(
            "user_get_card        {who} received code {}",
            e.user_card_code.as_deref().unwrap_or("?")
        ),
        CardEvent::UserConsumeCard(e) => format!(
            "user_consume_card    code {} consumed ({})",
            e.user_card_code.as_deref().unwrap_or("?"),
            e.consume_source.as_ref().map_or("?", |s| s.as_str())
        ),
        CardEvent::CardSkuRemind(e) => format!(
            "card_sku_remind      card {}: {}",
            e.card_id,
            e.detail.as_deref().unwrap_or("")
        ),
        CardEvent::UserGiftingCard(e) => format!(
            "user_gifting_card    {who} gave code {} to {}",
            e.user_card_code.as_deref().unwrap_or("?"),
            e.friend_user_name.as_deref().unwrap_or("?")
        ),
        CardEvent::UserDelCard(e) => format!(
            "user_del_card        {who} deleted code {}",
            e.user_card_code.as_deref().unwrap_or("?")
        ),
        other => format!("{:<20} {other:?}", other.name()),
    }
}
