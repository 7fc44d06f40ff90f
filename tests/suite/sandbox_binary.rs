//! The standalone binary answers a plain HTTP client (std's `TcpStream`, no wechat-card code)
//! for a token and a `card/code/get`.
#![cfg(feature = "sandbox")]

use crate::sandbox_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use sandbox_support::http_json;
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_wechat-card-sandbox");

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_serves_plain_http_clients() {
    let child = Command::new(BINARY)
        .args(["--port", "0", "--demo", "--frozen-clock"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the sandbox binary");
    let mut server = Server(child);
    let stdout = server.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let mut next = |prefix: &str| -> String {
        let line = lines.next().unwrap_or_default();
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
            .to_owned()
    };
    let base = next("listening on http://");
    let addr: SocketAddr = base.parse().expect("address");
    assert!(addr.ip().is_loopback());
    let credentials = next("credentials ");
    assert_eq!(
        credentials,
        format!(
            "appid={} secret=sandbox-secret",
            wechat_card::sandbox::DEFAULT_APPID
        ),
        "the startup line names the credentials the sandbox accepts"
    );
    assert_eq!(
        next("console "),
        format!("http://{base}/sandbox/console"),
        "the startup lines name the console"
    );
    let appid = wechat_card::sandbox::DEFAULT_APPID.to_owned();
    let _card_id = next("demo card_id ");
    let code = next("demo code ");
    let code = code.split(' ').next().unwrap().to_owned();

    let token = http_json(
        addr,
        "GET",
        &format!("/cgi-bin/token?grant_type=client_credential&appid={appid}&secret=sandbox-secret"),
        b"",
    );
    assert_eq!(token["expires_in"], 7200, "{token}");
    let token = token["access_token"].as_str().expect("token").to_owned();

    let body = json!({ "code": code, "check_consume": true }).to_string();
    let answer = http_json(
        addr,
        "POST",
        &format!("/card/code/get?access_token={token}"),
        body.as_bytes(),
    );
    assert_eq!(answer["errcode"], 0, "{answer}");
    assert_eq!(answer["user_card_status"], "NORMAL");
    assert_eq!(answer["openid"], "o-demo-user");
    assert_eq!(answer["can_consume"], true);

    let stable = http_json(
        addr,
        "POST",
        "/cgi-bin/stable_token",
        json!({ "grant_type": "client_credential", "appid": appid, "secret": "sandbox-secret" })
            .to_string()
            .as_bytes(),
    );
    assert!(stable["access_token"].is_string(), "{stable}");
}

#[test]
fn help_and_bad_options() {
    let help = Command::new(BINARY).arg("--help").output().expect("run");
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--port") && text.contains("127.0.0.1"),
        "{text}"
    );

    // Every control the server routes is documented in --help (read from the router's source,
    // so a new control without a help line fails here).
    let router = include_str!("../../src/sandbox/control.rs");
    let controls: Vec<&str> = router
        .lines()
        .filter_map(|line| line.trim().strip_prefix("\"sandbox/"))
        .filter_map(|rest| rest.split_once("\" =>"))
        .map(|(path, _)| path)
        .collect();
    assert!(controls.len() >= 15, "{controls:?}");
    for control in controls {
        let documented = [" ", ")"]
            .iter()
            .any(|end| text.contains(&format!("/sandbox/{control}{end}")));
        assert!(
            documented,
            "--help does not document /sandbox/{control}:\n{text}"
        );
    }

    let bad = Command::new(BINARY).arg("--bogus").output().expect("run");
    assert_eq!(bad.status.code(), Some(2));
    let bad = Command::new(BINARY)
        .args(["--port", "http"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
    assert!(text.contains("--callback-timeout-ms"), "{text}");
    for ms in ["0", "soon", "600001"] {
        let bad = Command::new(BINARY)
            .args(["--callback-timeout-ms", ms])
            .output()
            .expect("run");
        assert_eq!(bad.status.code(), Some(2), "{ms}");
        assert!(
            String::from_utf8_lossy(&bad.stderr).contains("--callback-timeout-ms"),
            "{ms}"
        );
    }
}

/// The controls over HTTP, as a client in another language would drive the sandbox.
#[test]
fn controls_over_http() {
    let sandbox = wechat_card::sandbox::Sandbox::start().unwrap();
    let addr = sandbox.addr();
    let control = |path: &str, body: serde_json::Value| {
        http_json(
            addr,
            "POST",
            &format!("/sandbox/{path}"),
            body.to_string().as_bytes(),
        )
    };
    let card = sandbox_support::gift_card(10);
    let added = control("card/add", card);
    assert_eq!(added["errcode"], 0, "{added}");
    let card_id = added["card_id"].as_str().unwrap().to_owned();
    let refused = control(
        "code/receive",
        json!({ "openid": "o-py", "card_id": card_id }),
    );
    assert_eq!(refused["errcode"], 40078, "not approved yet");
    assert_eq!(
        control("card/approve", json!({ "card_id": card_id }))["errcode"],
        0
    );
    let received = control(
        "code/receive",
        json!({ "openid": "o-py", "card_id": card_id }),
    );
    let code = received["code"].as_str().unwrap().to_owned();
    let encrypted = control("code/encrypt", json!({ "code": code }));
    assert!(encrypted["encrypt_code"].is_string());

    let client = sandbox.client().unwrap();
    let state = client
        .get_code(&wechat_card::GetCodeRequest::new(code.as_str()))
        .unwrap();
    assert_eq!(state.openid, "o-py");

    let fault = control(
        "fault",
        json!({ "path": "card/code/get", "errcode": 45009 }),
    );
    assert_eq!(fault["errcode"], 0, "{fault}");
    let error = client
        .get_code(&wechat_card::GetCodeRequest::new(code.as_str()))
        .unwrap_err();
    assert_eq!(error.errcode(), Some(45009));

    let clock = control(
        "clock",
        json!({ "set": 1_710_000_000i64, "advance": 86_400 }),
    );
    assert_eq!(
        (clock["now"].clone(), clock["today"].clone()),
        (json!(1_710_086_400i64), json!("2024-03-11"))
    );
    assert_eq!(control("token/expire", json!({}))["errcode"], 0);
    assert_eq!(
        control("code/expire", json!({ "code": code }))["errcode"],
        0
    );
    assert_eq!(
        sandbox.code_status(&code),
        Some(wechat_card::UserCardStatus::Expire)
    );
    let (status, body) = sandbox_support::http(addr, "POST", "/sandbox/nothing", b"{}");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("40066"), "{body}");
    assert_eq!(control("code/gift", json!({}))["errcode"], 41011);
}

/// Dropping the handle stops the server: its port refuses connections afterwards, and a client
/// gets a transport error rather than hanging.
#[test]
fn dropping_the_handle_shuts_the_server_down() {
    fn shareable<T: Send + Sync>(_: &T) {}
    let sandbox = wechat_card::sandbox::Sandbox::start().unwrap();
    shareable(&sandbox);
    let addr = sandbox.addr();
    let client = sandbox.client_builder().max_retries(0).build().unwrap();
    client.access_token().unwrap();
    assert_eq!(sandbox.connections(), 1);
    drop(sandbox);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
    let error = client
        .get_code(&wechat_card::GetCodeRequest::new("1"))
        .unwrap_err();
    assert!(
        matches!(error, wechat_card::Error::Transport(_)),
        "{error:?}"
    );
}
