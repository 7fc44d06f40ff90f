//! First steps, offline: build typed requests, see the exact JSON the client sends, and see the
//! errors the spec catches before any network I/O.
//!
//! ```text
//! cargo run --example first_steps
//! ```
//!
//! Calling WeChat itself needs a verified official account; set `WECHAT_APPID` and
//! `WECHAT_SECRET` (and optionally `WECHAT_BASE_URL`) and pass a code as the first argument to
//! query it for real.

use wechat_card::{
    BatchGetCardsRequest, CardStatus, Client, Error, GetCardBizuinInfoRequest,
    GetCardBizuinInfoRequestRequired, GetCodeRequest, Validate,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Requests are built from their required fields, plus setters for the optional ones.
    let query = GetCodeRequest::new("110201201245").check_consume(true);
    println!(
        "card/code/get sends:     {}",
        serde_json::to_string(&query)?
    );

    let list = BatchGetCardsRequest::new(0, 50).status_list(vec![CardStatus::VerifyOk]);
    println!("card/batchget sends:     {}", serde_json::to_string(&list)?);

    // 2. Limits come from the spec and count UTF-8 bytes, as WeChat does: 20 bytes for a code.
    let too_long = GetCodeRequest::new("1".repeat(21));
    println!(
        "a 21-byte code:          {}",
        too_long.validate().unwrap_err()
    );

    let too_many = BatchGetCardsRequest::new(0, 51);
    println!(
        "count 51:                {}",
        too_many.validate().unwrap_err()
    );

    // 3. Cross-field rules too: datacube periods are at most 62 days, both ends included.
    let stats = GetCardBizuinInfoRequest::new(GetCardBizuinInfoRequestRequired {
        begin_date: "2015-06-01".into(),
        end_date: "2015-08-02".into(),
        cond_source: 0,
    });
    println!("a 63-day period:         {}", stats.validate().unwrap_err());
    let stats = GetCardBizuinInfoRequest::new(GetCardBizuinInfoRequestRequired {
        begin_date: "2015-06-31".into(),
        end_date: "2015-07-01".into(),
        cond_source: 0,
    });
    println!("June 31st:               {}", stats.validate().unwrap_err());

    // 4. Against WeChat (or any compatible server), when credentials are given.
    let (Ok(appid), Ok(secret)) = (
        std::env::var("WECHAT_APPID"),
        std::env::var("WECHAT_SECRET"),
    ) else {
        println!("\nSet WECHAT_APPID and WECHAT_SECRET to query a code for real.");
        return Ok(());
    };
    let mut builder = Client::builder().credentials(appid, secret);
    if let Ok(base) = std::env::var("WECHAT_BASE_URL") {
        builder = builder.base_url(base);
    }
    let client = builder.build()?;
    let code = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "110201201245".into());
    match client.get_code(&GetCodeRequest::new(code).check_consume(false)) {
        Ok(answer) => println!("\n{answer:#?}"),
        Err(Error::Api(e)) => println!("\nWeChat said errcode {}: {}", e.errcode, e.errmsg),
        Err(e) => println!("\n{e}"),
    }
    Ok(())
}
