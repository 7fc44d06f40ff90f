//! A stateful emulator of the WeChat card API on loopback (feature `sandbox`).
//!
//! Testing a card integration against WeChat needs a verified official account, an IP
//! whitelist and daily quotas. The sandbox is the card API on `127.0.0.1`, in the spirit of
//! stripe-mock (requests validated with the spec) and LocalStack/moto (real state):
//!
//! - **Tokens**: `cgi-bin/stable_token` and `cgi-bin/token` with `expires_in`; unknown, replaced
//!   or expired tokens get 40001 / 42001; a wrong secret gets 40001 (`cgi-bin/token`) or 40125
//!   (`cgi-bin/stable_token`), as WeChat answers; `cgi-bin/ticket/getticket?type=wx_card`.
//! - **Cards** with review status (`CARD_STATUS_NOT_VERIFY` until
//!   [`approve_card`](Sandbox::approve_card), or [`auto_approve`](SandboxBuilder::auto_approve)),
//!   stock, `card/get` (the card as created plus `id`, `status`, `sku.total_quantity`,
//!   `create_time`, `update_time`), `card/batchget`, `card/update` (`send_check` when a field
//!   marked `review` in the spec changes), `card/modifystock`, `card/delete`. Cards are added with
//!   [`add_card`](Sandbox::add_card), or through `card/create`.
//! - **Codes** users receive ([`receive_card`](Sandbox::receive_card): stock, `get_limit`),
//!   gift, delete and let expire, with `card/code/get` (`check_consume` as documented: 40099
//!   consumed, 40127 other abnormal states, 40056 unknown or gifted-away codes),
//!   `card/code/consume` (irreversible, atomic), `card/code/unavailable`, `card/code/update`,
//!   `card/code/decrypt` (of codes from [`encrypt_code`](Sandbox::encrypt_code)),
//!   `card/code/mark` (a mark holds a code for one user during five minutes; 40127 for
//!   another user; consuming does not require a mark) and `card/user/getcardlist`.
//! - **Distribution**: `card/qrcode/create` QR codes that users scan
//!   ([`scan_qrcode`](Sandbox::scan_qrcode): one or several cards, `code`, `openid`,
//!   `outer_str`, `is_unique_code`, expiry), `card/landingpage/create`, imported codes
//!   (`card/code/deposit`, `getdepositcount`, `checkcode`: a deposit-mode card is created with
//!   stock 0, its stock never exceeds the imported codes not yet received (40122), and users
//!   receive them in import order), `card/mpnews/gethtml`, and `card/testwhitelist/set` (its
//!   openids may receive cards that are not approved).
//! - **Member cards**: `card/membercard/activate` (membership number, initial bonus, balance
//!   and custom values; once), `card/membercard/updateuser` (full values or increments, never
//!   below zero), `card/membercard/userinfo/get` reflecting them, `activateuserform/set` and
//!   `activate/geturl`. Activations, on receipt (`auto_activate`) or through the API, feed the
//!   member-card statistics.
//! - **Statistics**: the datacube endpoints count, per Beijing day, what happened in the sandbox
//!   (views, receipts, consumptions, gifts, expiries, member-card activations). The clock is the
//!   sandbox's own ([`set_time`](Sandbox::set_time), [`advance`](Sandbox::advance)); today's data
//!   is never available (61501 for an `end_date` of today or later), bad dates get 61500, periods
//!   over 62 days 61501.
//! - **Validation** with the same generated types as the client (`EndpointInfo::check_request`):
//!   a client that skips it ([`Client::call_json`](crate::Client::call_json)) is answered the way
//!   WeChat would (47001 malformed JSON, 41011 missing field named by its path, 45021 length,
//!   40100 a span of timestamps out of order or too long, 40097 other limits; the full table is
//!   in the source of `sandbox/api.rs`).
//!   Enum values the spec does not list are refused (40071 `card_type`, 40072 `code_type`, 40097
//!   the others), and `card/create` accepts the `date_info` timestamps as numeric strings, where
//!   WeChat's page says they may be sent so.
//! - **Every endpoint of the spec** is served without a hand-written route, and all but the ones
//!   listed with their reason in the generated `docs/sandbox.md` statefully: pay and
//!   self-consume cells, pay-gift rules, coins (券点), 门店小程序 cards, special tickets,
//!   sub-merchants and qualifications, gift-card pages, orders and gift cards keep what they are
//!   told and refuse unknown ids (see the source of `sandbox/services.rs`). An endpoint added to
//!   the spec is validated and answered from its documented examples until it gets a handler.
//! - **As WeChat today**: an unknown path (the endpoints the spec excludes among them) gets HTTP
//!   200 with errcode 40066 "invalid url"; `card/create` of a coupon type (GROUPON, CASH,
//!   DISCOUNT, GIFT, GENERAL_COUPON, refused by WeChat since 2021-04-01) gets the sandbox's own
//!   errcode **99001** (WeChat's code for it is not documented) unless
//!   [`allow_coupon_creation`](SandboxBuilder::allow_coupon_creation) is set;
//!   [`add_card`](Sandbox::add_card) adds coupons "as created before 2021" either way.
//! - **Card events** pushed to a callback URL on loopback
//!   ([`register_callback`](Sandbox::register_callback), plain or in safe mode):
//!   `card_pass_check` / `card_not_pass_check` on review, `user_get_card` on receipt,
//!   `user_gifting_card`, `user_del_card`, `user_consume_card`, `user_view_card`,
//!   `update_member_card` when `card/membercard/updateuser` changes bonus or balance,
//!   `card_sku_remind` when stock runs low, `card_pay_order` for coin orders, and from the
//!   controls of what users and WeChat do ([`pay_with_pay_cell`](Sandbox::pay_with_pay_cell),
//!   [`enter_session`](Sandbox::enter_session),
//!   [`submit_member_info`](Sandbox::submit_member_info),
//!   [`buy_gift_card`](Sandbox::buy_gift_card), [`give_gift_card`](Sandbox::give_gift_card),
//!   [`review_sub_merchant`](Sandbox::review_sub_merchant)) `user_pay_from_pay_cell`,
//!   `user_enter_session_from_card`, `submit_membercard_user_info`, `giftcard_pay_done`,
//!   `giftcard_send_to_friend`, `giftcard_user_accept` and `card_merchant_check_result`, so a
//!   handler built on
//!   [`events::Callback`](crate::events::Callback) can be tested end to end. As WeChat, a push
//!   not answered within the [callback timeout](SandboxBuilder::callback_timeout) (5 s) is
//!   retried up to three times; [`repush_last_event`](Sandbox::repush_last_event) and the fault
//!   [`delay_callback_answers`](Sandbox::delay_callback_answers) make a handler meet those
//!   repeats, to test its de-duplication ([`events::Dedup`](crate::events::Dedup)).
//! - **Fault injection** ([`inject`](Sandbox::inject)): an errcode, a delay, a dropped connection
//!   or an HTTP error page for the next N calls of a path, and token expiry.
//!
//! - **JS-SDK**: [`add_card_by_jsapi`](Sandbox::add_card_by_jsapi) checks a `wx.addCard`
//!   cardExt's signature against the sandbox's `wx_card` api_ticket (40080 otherwise).
//!
//! What the sandbox does **not** emulate, and why:
//!
//! - `card/code/consume` neither requires nor checks a mark (`card/code/mark`): its request
//!   carries no openid, so the sandbox cannot tell whose mark it would be, and WeChat wants the
//!   mark only for 朋友的券 (coupons shared between friends), which the sandbox does not model.
//!   `card/code/mark` itself refuses a code marked by another user (40127).
//! - A card's `sub_merchant_info.merchant_id` is not checked against the sub-merchants of
//!   `card/submerchant/submit`, so that complete cards from WeChat's examples (merchant 12) can be
//!   created in a fresh sandbox; `card/submerchant/get`, `update` refuse unknown ones.
//! - The open platform's `component_access_token` is not emulated: any non-empty one is
//!   accepted by the `cgi-bin/component/*` endpoints.
//! - Coin prices (one coin per 100 codes) and the coin account's reward (200 free coins, the
//!   documented example's) are the sandbox's own: WeChat's price list is not documented.
//! - `card/getapplyprotocol` answers WeChat's documented category catalogue (the generated
//!   `docs/sandbox.md` lists every endpoint still answered from examples, with the reason).
//!
//! ```
//! use wechat_card::sandbox::Sandbox;
//! use wechat_card::{ConsumeCodeRequest, GetCodeRequest, UserCardStatus};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Sandbox::start()?;
//! let client = sandbox.client()?;
//! let card_id = sandbox.add_card(&serde_json::json!({
//!     "card_type": "GIFT",
//!     "gift": {
//!         "base_info": {
//!             "logo_url": "http://mmbiz.qpic.cn/mmbiz/logo/0",
//!             "code_type": "CODE_TYPE_QRCODE",
//!             "brand_name": "Sandbox Coffee",
//!             "title": "Free espresso",
//!             "color": "Color010",
//!             "notice": "Show at the counter",
//!             "description": "One espresso",
//!             "sku": { "quantity": 100 },
//!             "date_info": { "type": "DATE_TYPE_FIX_TERM", "fixed_term": 30, "fixed_begin_term": 0 }
//!         },
//!         "gift": "One espresso"
//!     }
//! }))?;
//! sandbox.approve_card(&card_id)?;
//! let code = sandbox.receive_card("o-user-1", &card_id)?;
//!
//! client.consume_code(&ConsumeCodeRequest::new(code.as_str()))?;
//! let state = client.get_code(&GetCodeRequest::new(code.as_str()).check_consume(false))?;
//! assert_eq!(state.user_card_status, Some(UserCardStatus::Consumed));
//! # Ok(()) }
//! ```
//!
//! The sandbox also runs standalone, for clients in other languages:
//! `cargo run --features sandbox --bin wechat-card-sandbox -- --port 8080` (see `--help`).
//! Its controls are then reached over HTTP: `POST /sandbox/card/add`, `/sandbox/card/approve`,
//! `/sandbox/code/receive`, `/sandbox/qrcode/scan`, `/sandbox/clock`, `/sandbox/callback`,
//! `/sandbox/fault`, … (no token needed; `--help` lists every control with its body).

mod acting;
mod api;
mod cards;
mod codes;
mod console;
mod control;
mod dates;
mod distribute;
mod errcodes;
mod error;
mod events;
mod membercard;
mod request;
mod saved;
mod server;
mod services;
mod shared;
mod state;
mod stats;
mod tokens;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

pub use self::error::{Fault, SandboxError};
use self::server::Server;
use self::shared::Shared;
use self::state::{CARD_VERIFY_FAIL, CARD_VERIFY_OK, Config, Refusal, State};
use crate::{CardStatus, Client, ClientBuilder, Secret, UserCardStatus};

/// How long the sandbox waits for a callback's answer unless
/// [`SandboxBuilder::callback_timeout`] says otherwise: WeChat's 5 seconds.
pub const DEFAULT_CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);

/// The appid of a sandbox unless [`SandboxBuilder::appid`] says otherwise.
pub const DEFAULT_APPID: &str = "wx00000sandbox0001";

/// A running sandbox. Dropping it shuts the server down (open connections are closed) and
/// waits for its thread.
///
/// Every control method acts at once and atomically with respect to the requests being served.
pub struct Sandbox {
    shared: Arc<Shared>,
    server: Server,
    addr: SocketAddr,
    base_url: String,
    appid: String,
    secret: Secret,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.base_url)
            .field("appid", &self.appid)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

/// Configures and starts a [`Sandbox`]. Start with [`Sandbox::builder`].
#[derive(Clone)]
#[must_use]
pub struct SandboxBuilder {
    host: IpAddr,
    port: u16,
    appid: String,
    secret: Option<Secret>,
    auto_approve: bool,
    coupon_creation: bool,
    token_ttl: Duration,
    start_time: Option<i64>,
    running_clock: bool,
    worker_threads: usize,
    state_file: Option<std::path::PathBuf>,
    callback_timeout: Duration,
}

impl fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxBuilder")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("appid", &self.appid)
            .field("secret", &self.secret)
            .field("auto_approve", &self.auto_approve)
            .field("coupon_creation", &self.coupon_creation)
            .field("token_ttl", &self.token_ttl)
            .field("start_time", &self.start_time)
            .field("running_clock", &self.running_clock)
            .field("worker_threads", &self.worker_threads)
            .field("callback_timeout", &self.callback_timeout)
            .field("state_file", &self.state_file)
            .finish()
    }
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        SandboxBuilder {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            appid: DEFAULT_APPID.to_owned(),
            secret: None,
            auto_approve: false,
            coupon_creation: false,
            token_ttl: Duration::from_secs(7200),
            start_time: None,
            running_clock: false,
            worker_threads: 2,
            callback_timeout: DEFAULT_CALLBACK_TIMEOUT,
            state_file: None,
        }
    }
}

impl SandboxBuilder {
    /// The address to listen on. Default `127.0.0.1` (loopback only); anything else exposes a
    /// server that hands out tokens to whoever asks with the test credentials.
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// The port to listen on. Default 0: a free port chosen by the system.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The test appid. Default [`DEFAULT_APPID`].
    pub fn appid(mut self, appid: impl Into<String>) -> Self {
        self.appid = appid.into();
        self
    }

    /// The test app secret. Default: a random one per sandbox (see [`Sandbox::secret`]).
    pub fn secret(mut self, secret: impl Into<Secret>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// Whether new and updated cards pass review at once (`CARD_STATUS_VERIFY_OK`) instead of
    /// waiting in `CARD_STATUS_NOT_VERIFY` for [`Sandbox::approve_card`]. Default `false`.
    pub fn auto_approve(mut self, yes: bool) -> Self {
        self.auto_approve = yes;
        self
    }

    /// Whether `card/create` still creates coupon-type cards (GROUPON, CASH, DISCOUNT, GIFT,
    /// GENERAL_COUPON), as WeChat did before 2021-04-01. Default `false`: like WeChat today, the
    /// sandbox refuses them, with its own errcode 99001 (WeChat's code for this refusal is not
    /// documented). Coupons "created before 2021" can be added either way with
    /// [`Sandbox::add_card`] (or the `sandbox/card/add` control), and then work like any card.
    pub fn allow_coupon_creation(mut self, yes: bool) -> Self {
        self.coupon_creation = yes;
        self
    }

    /// Lifetime of access tokens and tickets. Default 7200 seconds, as WeChat's.
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// The sandbox clock's start, in Unix seconds. Default: the current time.
    pub fn start_time(mut self, unix_seconds: i64) -> Self {
        self.start_time = Some(unix_seconds);
        self
    }

    /// Whether the sandbox clock follows the wall clock. Default `false`: it stands still
    /// unless moved with [`Sandbox::set_time`] or [`Sandbox::advance`], which keeps tests
    /// deterministic. The standalone binary runs it.
    pub fn running_clock(mut self, yes: bool) -> Self {
        self.running_clock = yes;
        self
    }

    /// How long the sandbox waits for the callback's answer to a push before it counts as
    /// none ([`DEFAULT_CALLBACK_TIMEOUT`], WeChat's 5 s, by default). A push without an answer
    /// in time (or answered with an error) is sent again, the same message, up to three times,
    /// as WeChat does. Tests set a short one so that a retry does not take 5 s (at least 1 ms).
    pub fn callback_timeout(mut self, timeout: Duration) -> Self {
        self.callback_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Threads of the server's tokio runtime. Default 2.
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = n.max(1);
        self
    }

    /// Keeps the sandbox's state in `path`: loaded at start (a missing file is an empty start),
    /// written back after each call and control over HTTP, on [`Sandbox::save_state`] and when
    /// the sandbox stops. Versioned JSON; a file that is corrupt or of a newer version is refused
    /// at start ([`SandboxError::State`]) and never overwritten. The settings (appid, secret,
    /// …) are the builder's, not the file's; the clock continues from the time saved.
    pub fn state(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Binds the address and starts serving.
    pub fn start(self) -> Result<Sandbox, SandboxError> {
        if self.appid.trim().is_empty() {
            return Err(SandboxError::Config("the appid must not be empty".into()));
        }
        let secret = match self.secret {
            Some(secret) if secret.is_empty() => {
                return Err(SandboxError::Config("the secret must not be empty".into()));
            }
            Some(secret) => secret,
            None => Secret::new(crate::random::random_hex(32)),
        };
        let ttl = i64::try_from(self.token_ttl.as_secs()).unwrap_or(i64::MAX);
        if ttl <= 0 {
            return Err(SandboxError::Config(
                "the token lifetime must be at least one second".into(),
            ));
        }
        let start = self.start_time.unwrap_or_else(unix_now);
        let state = State::new(
            Config {
                appid: self.appid.clone(),
                secret: secret.clone(),
                token_ttl: ttl,
                auto_approve: self.auto_approve,
                coupon_creation: self.coupon_creation,
                callback_timeout: self.callback_timeout,
            },
            start,
            self.running_clock,
        );
        let mut state = state;
        if let Some(path) = &self.state_file {
            saved::load(path, &mut state).map_err(SandboxError::State)?;
        }
        let listener = TcpListener::bind((self.host, self.port)).map_err(SandboxError::Start)?;
        let addr = listener.local_addr().map_err(SandboxError::Start)?;
        let shared = Arc::new(Shared::new(state, self.state_file));
        let server = Server::start(listener, shared.clone(), self.worker_threads)
            .map_err(SandboxError::Start)?;
        let host = match addr.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        Ok(Sandbox {
            shared,
            server,
            addr,
            base_url: format!("http://{host}:{}", addr.port()),
            appid: self.appid,
            secret,
        })
    }
}

impl Sandbox {
    /// Starts a sandbox on `127.0.0.1` with a free port and the default settings.
    pub fn start() -> Result<Sandbox, SandboxError> {
        SandboxBuilder::default().start()
    }

    /// Starts configuring a sandbox.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// The base URL to give clients: `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Whether the sandbox has a stateful handler for the endpoint `path` (`card/code/get`).
    /// Every other endpoint of the spec is validated like the others, refused when its request
    /// names a card_id, code, rule_id, merchant_id, page_id or order_id that does not exist, and
    /// otherwise answered from the spec's documented examples (docs/sandbox.md lists which).
    pub fn serves_statefully(path: &str) -> bool {
        api::stateful(shared::normalize(path)).is_some()
    }

    /// Writes the state to the file given to [`SandboxBuilder::state`] now (it is written after
    /// each control call over HTTP and when the sandbox stops anyway). Without a file: nothing.
    pub fn save_state(&self) -> Result<(), SandboxError> {
        self.shared.save_state().map_err(SandboxError::State)
    }

    /// The console's address, `http://127.0.0.1:<port>/sandbox/console`: a page to open in a
    /// browser that shows the cards, codes, users, clock, faults and last calls, live, and lets
    /// a person approve or reject a card, give it to a user, expire or delete a code, advance the
    /// clock and arm a fault.
    pub fn console_url(&self) -> String {
        format!("{}/sandbox/console", self.base_url)
    }

    /// The address the sandbox listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The test appid.
    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// The test app secret: give it to clients written in other languages. (A test credential
    /// of this sandbox only; the handle's `Debug` does not show it.)
    pub fn secret(&self) -> &str {
        self.secret.expose()
    }

    /// A client builder pointed at the sandbox with its credentials (stable tokens), proxies
    /// from the environment ignored and a 10 ms retry backoff. Adjust and build.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .base_url(&self.base_url)
            .credentials(self.appid.clone(), self.secret.clone())
            .env_proxy(false)
            .retry_backoff(Duration::from_millis(10))
    }

    /// A client from [`client_builder`](Sandbox::client_builder).
    pub fn client(&self) -> Result<Client, crate::Error> {
        self.client_builder().build()
    }

    // ----------------------------------------------------------------------------------------
    // Clock and tokens
    // ----------------------------------------------------------------------------------------

    /// The sandbox clock, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.shared.state().now()
    }

    /// Today's date on the sandbox clock in Beijing time (`YYYY-MM-DD`), the day the datacube
    /// endpoints have no data for yet.
    pub fn today(&self) -> String {
        dates::format_day(self.shared.state().today())
    }

    /// The date `days` days from today on the sandbox clock (negative: in the past), as the
    /// datacube endpoints want it.
    pub fn date(&self, days: i64) -> String {
        dates::format_day(self.shared.state().today().saturating_add(days))
    }

    /// Sets the sandbox clock (Unix seconds). Codes whose validity ended expire.
    pub fn set_time(&self, unix_seconds: i64) {
        self.shared.state().set_time(unix_seconds);
    }

    /// Moves the sandbox clock forward. Tokens, tickets and codes expire as they would.
    pub fn advance(&self, by: Duration) {
        self.shared.state().advance(by);
    }

    /// Expires every access token and ticket now: the next call with one gets 42001.
    pub fn expire_tokens(&self) {
        self.shared.state().expire_tokens();
    }

    // ----------------------------------------------------------------------------------------
    // Faults and observation
    // ----------------------------------------------------------------------------------------

    /// Applies `fault` to the next `times` requests of `path` (`card/code/consume`; a leading
    /// `/` is ignored; `*` for any path). Faults queue up in order; a path's own faults come
    /// before those of `*`.
    pub fn inject(&self, path: &str, fault: Fault, times: usize) {
        self.shared.push_fault(path, fault, times);
    }

    /// Answers the next `times` requests of `path` with `errcode` (see [`Fault::Errcode`]).
    pub fn fail_next(&self, path: &str, errcode: i64, times: usize) {
        self.inject(path, Fault::Errcode(errcode), times);
    }

    /// Delays the next `times` requests of `path`.
    pub fn delay_next(&self, path: &str, pause: Duration, times: usize) {
        self.inject(path, Fault::Delay(pause), times);
    }

    /// Closes the connection of the next `times` requests of `path` without answering
    /// (see [`Fault::Drop`]).
    pub fn drop_next(&self, path: &str, times: usize) {
        self.inject(path, Fault::Drop, times);
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections()
    }

    /// HTTP requests received so far (all paths).
    pub fn requests(&self) -> u64 {
        self.shared.requests()
    }

    /// HTTP requests received so far for `path` (faulted ones included).
    pub fn calls(&self, path: &str) -> u64 {
        self.shared.calls(path)
    }

    /// Stops the server now (what dropping the handle does), then writes the state to its
    /// file if it has one ([`SandboxBuilder::state`]).
    pub fn shutdown(mut self) {
        self.server.shutdown();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.server.shutdown();
        // Nothing to return an error to: a failed save is logged (and the previous file kept).
        if let Err(e) = self.shared.save_state() {
            log::warn!(target: "wechat_card::sandbox", "{e}");
        }
    }
}

/// The current Unix time.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
