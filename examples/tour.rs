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
    ActivateMemberCardRequest, BaseInfo, BaseInfoRequired, BaseInfoUpdate, BatchGetCardsRequest,
    Card, CardStatus, Client, CodeType, ConsumeCodeRequest, CreateCardRequest, DateInfo, DateType,
    Error, ErrorCode, GetCardBizuinInfoRequest, GetCardBizuinInfoRequestRequired, GetCardRequest,
    GetCodeRequest, GetMemberCardUserInfoRequest, MemberCard, MemberCardRequired, MemberCardUpdate,
    ModifyStockRequest, Sku, UpdateCardRequest, UpdateMemberCardUserRequest, UserCardStatus,
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
    let Card::MemberCard(member) = card else {
        return Ok(("(not a member card)".into(), 0, 0));
    };
    let base = member.base_info;
    let status = base
        .status
        .map_or_else(|| "?".to_owned(), |s| s.as_str().to_owned());
    Ok((
        status,
        base.sku.quantity,
        base.sku.total_quantity.unwrap_or_default(),
    ))
}

/// The member card the tour creates, built with the typed API: every required field is named.
fn member_card() -> Card {
    let base_info = BaseInfo::new(BaseInfoRequired {
        logo_url: "http://mmbiz.qpic.cn/mmbiz/tour-logo/0".into(),
        code_type: CodeType::Qrcode,
        brand_name: "沙盒咖啡".into(),
        title: "沙盒咖啡会员卡".into(),
        color: "Color010".into(),
        notice: "结账时出示会员卡".into(),
        description: "积分可在门店兑换饮品".into(),
        sku: Sku::new(100),
        date_info: DateInfo::new(DateType::Permanent),
    })
    .get_limit(2)
    .can_give_friend(true);
    Card::MemberCard(
        MemberCard::new(MemberCardRequired {
            base_info,
            prerogative: "会员每杯减两元，积分兑换饮品".into(),
            supply_bonus: true,
            supply_balance: false,
        })
        .bonus_rules("每消费一元积一分"),
    )
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

    step(
        2,
        "Create a member card (card/create, typed), then pass its review",
    );
    let created = client.create_card(&CreateCardRequest::new(member_card()))?;
    let card_id = created.card_id;
    let (status, ..) = status_and_stock(&client, &card_id)?;
    println!("   → card_id {card_id}, status {status}");
    sandbox.approve_card(&card_id)?;
    let (status, ..) = status_and_stock(&client, &card_id)?;
    println!("   → after review (a sandbox control: WeChat reviews it): {status}");

    step(
        3,
        "A user receives the card (a sandbox control: WeChat does this)",
    );
    let code = sandbox.receive_card("o-tour-user", &card_id)?;
    println!("   → user o-tour-user holds code {code}");

    step(4, "Query the code (card/code/get)");
    let state = client.get_code(&GetCodeRequest::new(code.as_str()).check_consume(false))?;
    println!(
        "   → owner {}, status {}",
        state.openid,
        show(state.user_card_status.as_ref()),
    );

    step(
        5,
        "Activate the membership and add bonus points (card/membercard/*: never retried)",
    );
    client.activate_member_card(
        &ActivateMemberCardRequest::new("TOUR-0001", code.as_str())
            .card_id(card_id.as_str())
            .init_bonus(100),
    )?;
    let updated = client.update_member_card_user(
        &UpdateMemberCardUserRequest::new(code.as_str(), card_id.as_str())
            .add_bonus(20)
            .record_bonus("消费20元"),
    )?;
    println!(
        "   → activated with 100 points, +20 for a purchase: bonus now {}",
        updated.result_bonus.unwrap_or_default()
    );
    let member = client.get_member_card_user_info(&GetMemberCardUserInfoRequest::new(
        card_id.as_str(),
        code.as_str(),
    ))?;
    println!(
        "   → card/membercard/userinfo/get: member {}, bonus {}, activated {}",
        member.membership_number.unwrap_or_default(),
        member.bonus.unwrap_or_default(),
        member.has_active.unwrap_or_default()
    );

    step(
        6,
        "Consume the code at the till (card/code/consume: irreversible, never retried), twice",
    );
    let consumed = client.consume_code(&ConsumeCodeRequest::new(code.as_str()))?;
    println!("   → consumed for {}", consumed.openid.unwrap_or_default());
    match client.consume_code(&ConsumeCodeRequest::new(code.as_str())) {
        Err(Error::Api(e)) if e.code() == ErrorCode::CodeConsumed => {
            println!(
                "   → again: ErrorCode::{:?}; the error reads:\n     {e}",
                e.code()
            )
        }
        other => println!("   → again: {other:?}"),
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
        client.update_card(
            &UpdateCardRequest::new(card_id.as_str())
                .member_card(MemberCardUpdate::new().base_info(base)),
        )
    };
    let answer = update(BaseInfoUpdate::new().service_phone("020-88888888"))?;
    println!(
        "   → service_phone changed: send_check {}",
        answer.send_check.unwrap_or_default()
    );
    let answer = update(BaseInfoUpdate::new().notice("结账时出示会员码"))?;
    let (status, ..) = status_and_stock(&client, &card_id)?;
    println!(
        "   → notice changed (a field that needs review): send_check {}, status {status}",
        answer.send_check.unwrap_or_default()
    );
    sandbox.approve_card(&card_id)?;

    step(
        10,
        "More users (sandbox controls: what WeChat users do with the card)",
    );
    sandbox.view_card("o-tour-friend", &card_id)?;
    println!("   → o-tour-friend views the card");
    let second = sandbox.receive_card("o-tour-friend", &card_id)?;
    println!("   → o-tour-friend receives it: code {second}");
    sandbox.gift_code(&second)?;
    println!("   → o-tour-friend gives code {second} to a friend");

    step(
        11,
        "Statistics for today (datacube; a day's data comes the next day)",
    );
    let today = sandbox.today();
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
            "   → {}: viewed {} (step 10), received {} by {} user(s) (steps 3 and 10), \
             consumed {} (step 6), given {} (step 10)",
            day.ref_date.unwrap_or_default(),
            day.view_cnt.unwrap_or_default(),
            day.receive_cnt.unwrap_or_default(),
            day.receive_user.unwrap_or_default(),
            day.verify_cnt.unwrap_or_default(),
            day.given_cnt.unwrap_or_default()
        );
    }

    step(12, "A mistake, as the user sees it");
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
        Err(Error::Api(e)) => println!("   → the same request sent unchecked (call_json): {e}"),
        other => println!("   → {other:?}"),
    }

    println!(
        "\nDone: {} HTTP requests over {} connection(s).",
        sandbox.requests(),
        sandbox.connections()
    );
    Ok(())
}
