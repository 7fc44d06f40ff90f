//! The standalone binary answers a plain HTTP client (std's `TcpStream`, no wechat-card code)
//! for a token and a `card/code/get`.
#![cfg(feature = "sandbox")]

mod sandbox_support;

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
    let appid = next("appid ");
    let appid = appid.split(' ').next().unwrap().to_owned();
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

    let bad = Command::new(BINARY).arg("--bogus").output().expect("run");
    assert_eq!(bad.status.code(), Some(2));
    let bad = Command::new(BINARY)
        .args(["--port", "http"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
}
