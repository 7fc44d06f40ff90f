//! A crate that depends on the packaged wechat-card, built outside the repository by
//! `scripts/package_check.sh`. It proves that the published files alone build and work:
//!
//! - built with `--all-features` (its `full` feature turns on every wechat-card feature), it
//!   starts the sandbox, creates a card, lets a user receive it, and serves: `consumer serve`
//!   prints the sandbox's address, credentials and the code, then keeps the sandbox up until its
//!   standard input closes;
//! - built with default features (wechat-card's default set: the client alone), `consumer call
//!   URL APPID SECRET CARD_ID CODE` queries that code through the sandbox over HTTP and prints
//!   what it got.

use std::io::Read;
use std::process::ExitCode;

use wechat_card::{Client, GetCodeRequest};

fn call(args: &[String]) -> Result<(), String> {
    let [url, appid, secret, card_id, code] = args else {
        return Err("usage: consumer call URL APPID SECRET CARD_ID CODE".into());
    };
    let client = Client::builder()
        .base_url(url.as_str())
        .credentials(appid.as_str(), secret.as_str())
        .env_proxy(false)
        .build()
        .map_err(|e| e.to_string())?;
    let answer = client
        .get_code(&GetCodeRequest::new(code.as_str()).card_id(card_id.as_str()))
        .map_err(|e| e.to_string())?;
    println!(
        "card/code/get through the packaged client: openid {:?}, can_consume {:?}, status {:?}",
        answer.openid,
        answer.can_consume,
        answer.user_card_status.as_ref().map(|s| s.as_str())
    );
    // Validation before any I/O works from the package too.
    match client.get_code(&GetCodeRequest::new("x".repeat(21))) {
        Err(e) => println!("an over-long code is refused before sending: {e}"),
        Ok(_) => return Err("an over-long code was sent".into()),
    }
    Ok(())
}

#[cfg(feature = "full")]
fn serve() -> Result<(), String> {
    use wechat_card::sandbox::Sandbox;
    let sandbox = Sandbox::builder()
        .auto_approve(true)
        .start()
        .map_err(|e| e.to_string())?;
    let card = serde_json::json!({
        "card_type": "MEMBER_CARD",
        "member_card": {
            "base_info": {
                "logo_url": "http://mmbiz.qpic.cn/mmbiz/consumer/0",
                "code_type": "CODE_TYPE_QRCODE",
                "brand_name": "打包测试",
                "title": "打包测试会员卡",
                "color": "Color010",
                "notice": "出示会员卡",
                "description": "从打包的文件构建",
                "sku": { "quantity": 10 },
                "date_info": { "type": "DATE_TYPE_PERMANENT" }
            },
            "prerogative": "会员特权",
            "supply_bonus": true,
            "supply_balance": false
        }
    });
    let card_id = sandbox.add_card(&card).map_err(|e| e.to_string())?;
    let code = sandbox
        .receive_card("o-consumer", &card_id)
        .map_err(|e| e.to_string())?;
    println!(
        "{} {} {} {card_id} {code}",
        sandbox.base_url(),
        sandbox.appid(),
        sandbox.secret()
    );
    // Keep serving until the caller closes our standard input.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    Ok(())
}

#[cfg(not(feature = "full"))]
fn serve() -> Result<(), String> {
    Err("`serve` needs the sandbox: build with --all-features".into())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("serve") => serve(),
        Some("call") => call(&args[1..]),
        _ => Err("usage: consumer serve | consumer call URL APPID SECRET CARD_ID CODE".into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("consumer: {e}");
            ExitCode::FAILURE
        }
    }
}
