//! A guided tour of wechat-card against the sandbox: a merchant's flow from token to
//! statistics, with the public API only.
//!
//! ```text
//! cargo run --example tour --features sandbox
//! ```
//!
//! The sandbox is a stateful emulator of the WeChat card API on 127.0.0.1; nothing leaves the
//! machine. Replace `sandbox.client()` with `Client::builder().credentials(appid, secret)` and
//! the same code talks to WeChat.

use std::time::Duration;

use wechat_card::sandbox::Sandbox;
use wechat_card::schema::HttpMethod;
use wechat_card::{
    BaseInfoUpdate, BatchGetCardsRequest, Card, CardStatus, CardUpdate, Client, ConsumeCodeRequest,
    Error, GetCardBizuinInfoRequest, GetCardBizuinInfoRequestRequired, GetCardCardInfoRequest,
    GetCardCardInfoRequestRequired, GetCardRequest, GetCodeRequest, ModifyStockRequest,
    UpdateCardRequest, UserCardStatus,
};

/// A code's status as WeChat writes it.
fn show(status: Option<&UserCardStatus>) -> &str {
    status.map_or("(none)", UserCardStatus::as_str)
}

fn step(n: u32, title: &str) {
    println!("\n{n:>2}. {title}");
}

/// The status and stock of a card, from `card/get`.
fn status_and_stock(client: &Client, card_id: &str) -> Result<(String, u64, u64), Error> {
    let card = client.get_card(&GetCardRequest::new(card_id))?.card;
    let Card::Discount(discount) = card else {
        return Ok(("(not a discount card)".into(), 0, 0));
    };
    let base = discount.base_info;
    let status = base
        .status
        .map_or_else(|| "?".to_owned(), |s| s.as_str().to_owned());
    Ok((
        status,
        base.sku.quantity,
        base.sku.total_quantity.unwrap_or_default(),
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start()?;
    println!(
        "Sandbox listening on {} (appid {})",
        sandbox.base_url(),
        sandbox.appid()
    );
    let client = sandbox.client()?;

    step(1, "Get an access token (cgi-bin/stable_token)");
    let token = client.access_token()?;
    println!("   → got one; the library prints it as {token} and never logs it");

    step(2, "Add a discount card, then pass its review");
    let card_id = sandbox.add_card(&serde_json::json!({
        "card_type": "DISCOUNT",
        "discount": {
            "base_info": {
                "logo_url": "http://mmbiz.qpic.cn/mmbiz/tour-logo/0",
                "code_type": "CODE_TYPE_QRCODE",
                "brand_name": "沙盒咖啡",
                "title": "全场八折",
                "color": "Color010",
                "notice": "请出示二维码",
                "description": "不可与其他优惠同享",
                "sku": { "quantity": 100 },
                "get_limit": 2,
                "date_info": { "type": "DATE_TYPE_FIX_TERM", "fixed_term": 30, "fixed_begin_term": 0 }
            },
            "discount": 20
        }
    }))?;
    let (status, ..) = status_and_stock(&client, &card_id)?;
    println!("   → card_id {card_id}, status {status}");
    sandbox.approve_card(&card_id)?;
    let (status, ..) = status_and_stock(&client, &card_id)?;
    println!("   → after review: {status}");

    step(
        3,
        "A user receives the card (a sandbox control: WeChat does this)",
    );
    let code = sandbox.receive_card("o-tour-user", &card_id)?;
    println!("   → user o-tour-user holds code {code}");

    step(4, "Query the code before redeeming it (card/code/get)");
    let state = client.get_code(&GetCodeRequest::new(code.as_str()).check_consume(true))?;
    println!(
        "   → owner {}, status {}, can consume: {}",
        state.openid,
        show(state.user_card_status.as_ref()),
        state.can_consume.unwrap_or_default()
    );

    step(
        5,
        "Consume it (card/code/consume: irreversible, never retried)",
    );
    let consumed = client.consume_code(&ConsumeCodeRequest::new(code.as_str()))?;
    println!("   → consumed for {}", consumed.openid.unwrap_or_default());

    step(6, "Query it again");
    let state = client.get_code(&GetCodeRequest::new(code.as_str()).check_consume(false))?;
    println!(
        "   → check_consume false: status {}, can consume: {}",
        show(state.user_card_status.as_ref()),
        state.can_consume.unwrap_or_default()
    );
    match client.get_code(&GetCodeRequest::new(code.as_str()).check_consume(true)) {
        Err(Error::Api(e)) => println!(
            "   → check_consume true: errcode {} ({})",
            e.errcode, e.errmsg
        ),
        other => println!("   → check_consume true: {other:?}"),
    }

    step(
        7,
        "Stock: add 50, take back 10 (card/modifystock), then card/get",
    );
    let (_, quantity, total) = status_and_stock(&client, &card_id)?;
    println!("   → before: quantity {quantity} of {total}");
    client.modify_stock(
        &ModifyStockRequest::new(card_id.as_str())
            .increase_stock_value(50)
            .reduce_stock_value(10),
    )?;
    let (_, quantity, total) = status_and_stock(&client, &card_id)?;
    println!("   → after:  quantity {quantity} of {total}");

    step(8, "List the merchant's approved cards (card/batchget)");
    let list = client.batch_get_cards(
        &BatchGetCardsRequest::new(0, 50).status_list(vec![CardStatus::VerifyOk]),
    )?;
    println!(
        "   → {} card(s): {:?}",
        list.total_num.unwrap_or_default(),
        list.card_id_list.unwrap_or_default()
    );

    step(9, "Update the card (card/update)");
    let update = |base: BaseInfoUpdate| {
        client
            .update_card(&UpdateCardRequest::new(card_id.as_str()).discount(CardUpdate::new(base)))
    };
    let answer = update(BaseInfoUpdate::new().service_phone("020-88888888"))?;
    println!(
        "   → service_phone changed: send_check {}",
        answer.send_check.unwrap_or_default()
    );
    let answer = update(BaseInfoUpdate::new().notice("到店出示二维码"))?;
    let (status, ..) = status_and_stock(&client, &card_id)?;
    println!(
        "   → notice changed (a field that needs review): send_check {}, status {status}",
        answer.send_check.unwrap_or_default()
    );
    sandbox.approve_card(&card_id)?;

    step(
        10,
        "Statistics for the period (datacube; today's data comes tomorrow)",
    );
    let today = sandbox.today();
    sandbox.view_card("o-tour-user", &card_id)?;
    let second = sandbox.receive_card("o-tour-user", &card_id)?;
    sandbox.gift_code(&second)?;
    sandbox.advance(Duration::from_secs(24 * 3600));
    println!(
        "   (the sandbox clock moved a day forward: today is {})",
        sandbox.today()
    );
    let overview = client.get_card_bizuin_info(&GetCardBizuinInfoRequest::new(
        GetCardBizuinInfoRequestRequired {
            begin_date: today.as_str().into(),
            end_date: today.as_str().into(),
            cond_source: 1,
        },
    ))?;
    for day in overview.list.unwrap_or_default() {
        println!(
            "   → {}: viewed {}, received {} by {} user(s), consumed {}, given {}",
            day.ref_date.unwrap_or_default(),
            day.view_cnt.unwrap_or_default(),
            day.receive_cnt.unwrap_or_default(),
            day.receive_user.unwrap_or_default(),
            day.verify_cnt.unwrap_or_default(),
            day.given_cnt.unwrap_or_default()
        );
    }
    let per_card = client.get_card_card_info(
        &GetCardCardInfoRequest::new(GetCardCardInfoRequestRequired {
            begin_date: today.as_str().into(),
            end_date: today.as_str().into(),
            cond_source: 1,
        })
        .card_id(card_id.as_str()),
    )?;
    println!(
        "   → per card: {} row(s) for {card_id}",
        per_card.list.unwrap_or_default().len()
    );

    step(11, "A mistake, as the user sees it");
    match client.get_code(&GetCodeRequest::new("1234567890123456789012")) {
        Err(Error::Validation(e)) => println!("   → caught before sending: {e}"),
        other => println!("   → {other:?}"),
    }
    let sent: Result<serde_json::Value, Error> = client.call_json(
        HttpMethod::Post,
        "card/code/get",
        &serde_json::json!({ "code": "1234567890123456789012" }),
        true,
    );
    match sent {
        Err(Error::Api(e)) => println!(
            "   → the same request sent unchecked (call_json): errcode {}: {}",
            e.errcode, e.errmsg
        ),
        other => println!("   → {other:?}"),
    }

    println!(
        "\nDone: {} HTTP requests over {} connection(s).",
        sandbox.requests(),
        sandbox.connections()
    );
    Ok(())
}
