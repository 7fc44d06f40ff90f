//! The card API sandbox as a standalone server, for clients in any language.
//!
//! ```text
//! cargo run --features sandbox --bin wechat-card-sandbox -- --port 8080
//! ```
//!
//! See `--help` for the options.

use std::net::IpAddr;
use std::process::ExitCode;

use wechat_card::sandbox::{DEFAULT_APPID, Sandbox};

/// The secret unless `--secret` says otherwise: a published test credential of the sandbox.
const DEFAULT_SECRET: &str = "sandbox-secret";

const HELP: &str = "\
wechat-card-sandbox: a stateful emulator of the WeChat card API (微信卡券) on loopback

USAGE:
    wechat-card-sandbox [OPTIONS]

OPTIONS:
    --port <PORT>       Port to listen on [default: 8080; 0 picks a free port]
    --host <ADDR>       Address to listen on [default: 127.0.0.1]. Anything but loopback
                        exposes a server that hands tokens to whoever has the test credentials.
    --appid <APPID>     Test appid [default: wx00000sandbox0001]
    --secret <SECRET>   Test app secret [default: sandbox-secret]
    --auto-approve      Cards pass review at once instead of waiting in CARD_STATUS_NOT_VERIFY
    --allow-coupon-create
                        card/create still creates coupon types (GROUPON, CASH, DISCOUNT, GIFT,
                        GENERAL_COUPON), as before 2021-04-01. By default they are refused, as
                        WeChat refuses them, with the sandbox's own errcode 99001; coupons can
                        always be added with /sandbox/card/add (\"as created before 2021\")
    --frozen-clock      Keep the sandbox clock still (the default follows the wall clock)
    --demo              Add an approved demo card and give one code to the user o-demo-user,
                        and print the card id and the code
    --callback-timeout-ms <MS>
                        How long a push waits for the callback's answer before it is sent
                        again, up to three retries, as WeChat does [default: 5000, WeChat's 5 s]
    --state <FILE>      Keep the whole state in FILE (versioned JSON): loaded at start (a
                        missing file is an empty start), written after every call and control,
                        so the server can be stopped at any time and resumed. A corrupt file
                        or one of a newer version is refused and left as it is
    -h, --help          Print this help

The first line printed is `listening on <base URL>`, the second `credentials appid=<appid>
secret=<secret>` (test credentials of this sandbox only). Point a client at the base URL instead of
https://api.weixin.qq.com: tokens come from POST /cgi-bin/stable_token or GET /cgi-bin/token with
the appid and secret above, and every endpoint of wechat-card's spec is served (card/code/get,
card/code/consume, card/get, card/batchget, datacube/*, ...). Stop with Ctrl-C.

CONTROLS (POST, JSON body, no token; answered {\"errcode\":0,\"errmsg\":\"ok\",...}):
    /sandbox/card/add          a card body ({\"card_type\": ...})          -> card_id
    /sandbox/card/approve      {\"card_id\"}  (also /sandbox/card/reject)
    /sandbox/card/view         {\"openid\", \"card_id\"}                   (a view, for statistics)
    /sandbox/code/receive      {\"openid\", \"card_id\", \"code\"?}          -> code
    /sandbox/qrcode/scan       {\"openid\", \"ticket\" | \"url\"}  (of card/qrcode/create) -> card_list
    /sandbox/code/gift         {\"code\"}   the user starts gifting it (GIFTING)
    /sandbox/code/gift_timeout {\"code\"}   nobody accepted the gift (GIFT_TIMEOUT)
    /sandbox/code/delete       {\"code\"}   the user deleted it (DELETE)
    /sandbox/code/expire       {\"code\"}   it expired (EXPIRE)
    /sandbox/code/consume      {\"code\"}   staff consumed it in the admin site (FROM_MP) -> card_id, openid
    /sandbox/code/accept_gift  {\"code\", \"openid\"}                      -> code
    /sandbox/code/encrypt      {\"code\"}                                 -> encrypt_code
    /sandbox/jsapi/add_card    {\"openid\", \"card_id\", \"card_ext\"}  wx.addCard with a signed
                               cardExt (checked against the wx_card ticket) -> code
    /sandbox/paycell/pay       {\"code\", \"fee\", \"original_fee\"?}  a payment through the
                               card's pay cell (card/paycell/set)         -> trans_id
    /sandbox/session/enter     {\"code\"}   the user enters the chat from the card
    /sandbox/membercard/submit {\"code\", \"info\"?}  the user submits the activation form
                                                                     -> activate_ticket
    /sandbox/coin/pay          {\"order_id\"}  a card/pay/recharge order is paid
    /sandbox/submerchant/review {\"merchant_id\", \"pass\", \"reason\"?}  ends a review
    /sandbox/qualification/review {\"appid\"?, \"pass\"}  ends a qualification's review
                               (no appid: the agent's own)
    /sandbox/giftcard/buy      {\"openid\", \"page_id\", \"card_id\"?}  a gift card bought
                               on a card/giftcard/page/add page           -> order_id
    /sandbox/giftcard/give     {\"order_id\", \"openid\"}  the buyer gives it to a friend
    /sandbox/code/ticket       {\"code\"}  what the ticket endpoints set -> ticket
    /sandbox/clock             {\"set\"?: unix seconds, \"advance\"?: seconds} -> now, today
                               (integers; advance >= 0; other keys are refused)
    /sandbox/token/expire      {}
    /sandbox/callback          {\"url\", \"token\", \"encoding_aes_key\"?}  card events are POSTed
                               to url (loopback only; encrypted when the key is given);
                               no url, or {\"url\": \"\"}, stops them
    /sandbox/callback/repush   {}  pushes the last event again, the same message (WeChat's retry)
    /sandbox/callback/delay_answers {\"times\"?}  the callback's next answers count as later
                               than WeChat's 5 s: each push is sent again, at most 3 retries
    /sandbox/fault             {\"path\", \"times\"?, and \"errcode\" | \"delay_ms\" | \"drop\": true |
                                \"drop_after\": true | \"http_status\" | \"expire_token\": true}
                               (path: an endpoint, a token path or *; http_status 100-599)
    /sandbox/fault/clear       {}

Bad input to a control (an unknown key, a value of the wrong type or out of range) is refused
with errcode 40097 naming the key; an unknown path gets HTTP 200 with errcode 40066.
";

struct Options {
    host: IpAddr,
    port: u16,
    appid: String,
    secret: String,
    auto_approve: bool,
    coupon_creation: bool,
    frozen_clock: bool,
    demo: bool,
    state: Option<std::path::PathBuf>,
    callback_timeout: std::time::Duration,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        host: IpAddr::from([127, 0, 0, 1]),
        port: 8080,
        appid: DEFAULT_APPID.to_owned(),
        secret: DEFAULT_SECRET.to_owned(),
        auto_approve: false,
        coupon_creation: false,
        frozen_clock: false,
        demo: false,
        state: None,
        callback_timeout: wechat_card::sandbox::DEFAULT_CALLBACK_TIMEOUT,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs {what}"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => {
                let text = value("a port number")?;
                options.port = text
                    .parse()
                    .map_err(|_| format!("--port: {text:?} is not a port number"))?;
            }
            "--host" => {
                let text = value("an IP address")?;
                options.host = text
                    .parse()
                    .map_err(|_| format!("--host: {text:?} is not an IP address"))?;
            }
            "--appid" => options.appid = value("an appid")?,
            "--secret" => options.secret = value("a secret")?,
            "--auto-approve" => options.auto_approve = true,
            "--allow-coupon-create" => options.coupon_creation = true,
            "--frozen-clock" => options.frozen_clock = true,
            "--demo" => options.demo = true,
            "--state" => options.state = Some(value("a file")?.into()),
            "--callback-timeout-ms" => {
                let text = value("milliseconds")?;
                let ms: u64 = text
                    .parse()
                    .ok()
                    .filter(|ms| (1..=600_000).contains(ms))
                    .ok_or_else(|| {
                        format!("--callback-timeout-ms: {text:?} is not 1 to 600000 milliseconds")
                    })?;
                options.callback_timeout = std::time::Duration::from_millis(ms);
            }
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    Ok(Some(options))
}

fn demo(sandbox: &Sandbox) -> Result<(String, String), wechat_card::sandbox::SandboxError> {
    let card = serde_json::json!({
        "card_type": "GIFT",
        "gift": {
            "base_info": {
                "logo_url": "http://mmbiz.qpic.cn/mmbiz/sandbox-demo-logo/0",
                "code_type": "CODE_TYPE_QRCODE",
                "brand_name": "沙盒咖啡",
                "title": "免费咖啡一杯",
                "color": "Color010",
                "notice": "请出示二维码",
                "description": "每人限领一张",
                "sku": { "quantity": 1000 },
                "date_info": { "type": "DATE_TYPE_FIX_TERM", "fixed_term": 30, "fixed_begin_term": 0 }
            },
            "gift": "一杯咖啡"
        }
    });
    let card_id = sandbox.add_card(&card)?;
    sandbox.approve_card(&card_id)?;
    let code = sandbox.receive_card("o-demo-user", &card_id)?;
    Ok((card_id, code))
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let mut builder = Sandbox::builder();
    if let Some(path) = &options.state {
        builder = builder.state(path);
    }
    let started = builder
        .host(options.host)
        .port(options.port)
        .appid(options.appid)
        .secret(options.secret)
        .auto_approve(options.auto_approve)
        .allow_coupon_creation(options.coupon_creation)
        .running_clock(!options.frozen_clock)
        .callback_timeout(options.callback_timeout)
        .start();
    let sandbox = match started {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", sandbox.base_url());
    // The sandbox's own test credentials, printed so that a curl user needs nothing else.
    println!(
        "credentials appid={} secret={}",
        sandbox.appid(),
        sandbox.secret()
    );
    // A page to look at the sandbox's state in a browser (and act on it).
    println!("console {}", sandbox.console_url());
    if !options.host.is_loopback() {
        eprintln!(
            "warning: listening on {}, not only on loopback",
            options.host
        );
    }
    if options.demo {
        match demo(&sandbox) {
            Ok((card_id, code)) => {
                println!("demo card_id {card_id}");
                println!("demo code {code} (user o-demo-user)");
            }
            Err(e) => {
                eprintln!("error: the demo card: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // Serve until the process is stopped.
    loop {
        std::thread::park();
    }
}
