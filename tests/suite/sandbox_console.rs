//! The sandbox's console in a real browser: headless Chromium driven through chromedriver's
//! WebDriver protocol (plain JSON over HTTP on 127.0.0.1, spoken with ureq). The test
//! opens the console, finds a card waiting for review, clicks "通过审核 Approve", and waits for
//! the page to show the new status; it fails when the page does not update.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`;
//! `scripts/test.sh` installs them). Without them the test fails and says so.
//! `WECHAT_CARD_CONSOLE_SCREENSHOT=docs/console.png` also saves a screenshot of the page (the
//! one in the README was made so).
#![cfg(feature = "sandbox")]

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use wechat_card::sandbox::Sandbox;
use wechat_card::{CardStatus, UserCardStatus};

use crate::sandbox_support::complete::Generator;

/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver, stopped (with its browser) when dropped.
struct Driver {
    child: Child,
    addr: SocketAddr,
    session: Option<String>,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "this test needs a real browser and none could be started: chromedriver: {e}. \
                     Run `scripts/test.sh`, which installs chromium and chromium-driver (apt-get), \
                     or install them yourself (Debian: `apt-get install chromium chromium-driver`)"
                )
            });
        let mut driver = Driver {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            session: None,
        };
        // chromedriver listens a moment after it starts: wait for its status (a guard only).
        let ready = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            std::net::TcpStream::connect(driver.addr).is_ok()
                && driver.call("GET", "/status", None)["value"]["ready"] == true
        });
        assert!(
            ready,
            "chromedriver did not become ready on {}",
            driver.addr
        );
        let session = driver.call(
            "POST",
            "/session",
            Some(
                json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", "--lang=zh-CN"
                ]}}}}),
            ),
        );
        let id = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver did not start a browser: {session}"))
            .to_owned();
        driver.session = Some(id);
        driver
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        // ureq (keep-alive, Content-Length): chromedriver keeps connections open.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .proxy(None)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let url = format!("http://{}{path}", self.addr);
        let answer = match (method, body) {
            ("POST", body) => agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
            ("DELETE", _) => agent.delete(&url).call(),
            _ => agent.get(&url).call(),
        };
        let text = answer
            .and_then(|mut a| a.body_mut().read_to_string())
            .unwrap_or_else(|e| panic!("chromedriver {method} {path}: {e}"));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("chromedriver: not JSON ({e}): {text}"))
    }

    fn session(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let id = self.session.as_deref().expect("a session");
        self.call(method, &format!("/session/{id}{path}"), body)
    }

    /// The element `css` selects, if the page has one now.
    fn find(&self, css: &str) -> Option<String> {
        let found = self.session(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        found["value"][ELEMENT].as_str().map(str::to_owned)
    }

    /// The text of the element `css` selects, if there is one now (the page re-renders every
    /// second, so an element is looked up again each time).
    fn text(&self, css: &str) -> Option<String> {
        // A re-render between the lookup and the read makes the element stale: look again
        // (up to 50 times, a guard only).
        for _ in 0..50 {
            let element = self.find(css)?;
            let answer = self.session("GET", &format!("/element/{element}/text"), None);
            if answer["value"]["error"] == "stale element reference" {
                continue;
            }
            return answer["value"].as_str().map(str::to_owned);
        }
        None
    }

    /// Clicks the element `css` selects. The page re-renders its tables every second, so an
    /// element found just before a re-render is stale by the click: it is then looked up again
    /// (up to 50 times, a guard only). The driver's answer to the last click.
    fn click(&self, css: &str) -> Value {
        let mut answer = Value::Null;
        for _ in 0..50 {
            let Some(element) = self.find(css) else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            answer = self.session(
                "POST",
                &format!("/element/{element}/click"),
                Some(json!({})),
            );
            if answer["value"]["error"] != "stale element reference" {
                return answer;
            }
        }
        answer
    }

    /// Waits (up to 200 looks, a guard only) for the element `css` to show `want`.
    fn wait_for_text(&self, css: &str, want: &str) -> bool {
        (0..200).any(|_| {
            let seen = self.text(css);
            if seen.as_deref() == Some(want) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
            false
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if self.session.is_some() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.session("DELETE", "", None)
            }));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A callback server on 127.0.0.1 that answers every request `success`; its URL.
fn success_callback() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                while crate::sandbox_support::read_request(&mut reader).is_some() {
                    let answer = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsuccess";
                    if std::io::Write::write_all(&mut stream, answer.as_bytes()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    url
}

#[test]
fn a_click_in_the_console_approves_a_card_and_the_page_shows_it() {
    let sandbox = Sandbox::builder().auto_approve(false).start().unwrap();
    let card_id = sandbox
        .add_card(&Generator::new(0).card("MEMBER_CARD"))
        .unwrap();
    sandbox.receive_card("o-console-user", &card_id).ok();
    assert_eq!(sandbox.card_status(&card_id), Some(CardStatus::NotVerify));
    // Something in every table: an approved card held by two users, and calls, one refused.
    let other = sandbox
        .add_card(&Generator::new(1).card("MEMBER_CARD"))
        .unwrap();
    sandbox.approve_card(&other).unwrap();
    let code = sandbox.receive_card("o-alice", &other).unwrap();
    sandbox.receive_card("o-bob", &other).unwrap();
    let client = sandbox.client().unwrap();
    client
        .get_code(&wechat_card::GetCodeRequest::new(code.as_str()))
        .unwrap();
    let unknown = client.get_code(&wechat_card::GetCodeRequest::new("999999999999"));
    assert!(unknown.is_err());

    // A callback that answers every push with `success`: its answers show on the page.
    sandbox
        .register_callback(&success_callback(), "console-token", None)
        .unwrap();

    let driver = Driver::start();
    let opened = driver.session("POST", "/url", Some(json!({"url": sandbox.console_url()})));
    assert!(opened["value"].is_null(), "navigation failed: {opened}");
    let status = format!("tr[data-card='{card_id}'] td.status");
    assert!(
        driver.wait_for_text(&status, "CARD_STATUS_NOT_VERIFY"),
        "the console does not list card {card_id} as waiting for review: {:?}",
        driver.text(&status)
    );
    eprintln!("console: card {card_id} shown as CARD_STATUS_NOT_VERIFY");

    let clicked = driver.click(&format!(
        "button[data-action='approve'][data-card='{card_id}']"
    ));
    assert!(clicked["value"].is_null(), "the click failed: {clicked}");
    assert!(
        driver.wait_for_text(&status, "CARD_STATUS_VERIFY_OK"),
        "the page did not update after the click: it shows {:?}",
        driver.text(&status)
    );
    assert_eq!(sandbox.card_status(&card_id), Some(CardStatus::VerifyOk));
    eprintln!(
        "console: clicked Approve; the page shows CARD_STATUS_VERIFY_OK, as the sandbox does"
    );
    // The click went through the control, which the page lists as done.
    assert_eq!(
        driver.text("#message").as_deref(),
        Some("完成 done: sandbox/card/approve")
    );

    // The approval was pushed (card_pass_check) and the callback's answer is listed.
    let pushed = "tr[data-event='card_pass_check'] td.attempts";
    assert!(
        driver.wait_for_text(pushed, "#1 HTTP 200 \"success\""),
        "the page does not show the push and the callback's answer: {:?}",
        driver.text(pushed)
    );
    eprintln!(
        "console: card_pass_check pushed; the callback answered {:?}",
        driver.text(pushed)
    );

    // Consuming a code with a click: its status and history change on the page.
    let code_status = format!("tr[data-code='{code}'] td.status");
    assert!(driver.wait_for_text(&code_status, "NORMAL"));
    let clicked = driver.click(&format!(
        "button[data-action='consume'][data-code='{code}']"
    ));
    assert!(clicked["value"].is_null(), "the click failed: {clicked}");
    assert!(
        driver.wait_for_text(&code_status, "CONSUMED"),
        "the page did not show the consumed code: {:?}",
        driver.text(&code_status)
    );
    assert_eq!(sandbox.code_status(&code), Some(UserCardStatus::Consumed));
    let history = driver
        .text(&format!("tr[data-code='{code}'] td.history"))
        .unwrap_or_default();
    assert!(
        history.starts_with("NORMAL @") && history.contains("→ CONSUMED @"),
        "the code's history reads {history:?}"
    );
    eprintln!("console: clicked Consume; code {code} shows CONSUMED, history {history:?}");

    // A QR ticket the merchant created is listed.
    let qr = client
        .create_qrcode(
            &serde_json::from_value(json!({
                "action_name": "QR_CARD",
                "action_info": {"card": {"card_id": other}}
            }))
            .unwrap(),
        )
        .unwrap();
    let ticket = qr.ticket.expect("a QR ticket");
    let ticket_cell = format!("tr[data-ticket='{ticket}'] td");
    assert!(
        driver.wait_for_text(&ticket_cell, &ticket),
        "the QR ticket is not listed: {:?}",
        driver.text(&ticket_cell)
    );

    if let Some(path) = std::env::var_os("WECHAT_CARD_CONSOLE_SCREENSHOT") {
        let shot = driver.session("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["value"].as_str().expect("a screenshot"))
            .expect("base64");
        std::fs::write(&path, png).expect("write the screenshot");
        eprintln!("console: screenshot saved to {}", path.to_string_lossy());
    }
}
