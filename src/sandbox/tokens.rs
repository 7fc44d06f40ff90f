//! The token endpoints: `cgi-bin/token` (the classic grant), `cgi-bin/stable_token` and
//! `cgi-bin/ticket/getticket` (the card api_ticket), infrastructure rather than part of the card
//! spec.

use hyper::Method;
use serde_json::{Value, json};

use super::errcodes::*;
use super::request::*;
use super::state::State;

pub(crate) fn check_credentials(
    state: &State,
    grant_type: Option<&str>,
    appid: Option<&str>,
    secret: Option<&str>,
    wrong_secret: i64,
) -> Outcome<()> {
    if grant_type != Some("client_credential") {
        return Err(Refusal::of(INVALID_GRANT_TYPE));
    }
    let appid = appid
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Refusal::of(APPID_MISSING))?;
    let secret = secret
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Refusal::of(SECRET_MISSING))?;
    if appid != state.config.appid {
        return Err(Refusal::of(INVALID_APPID));
    }
    if secret != state.config.secret.expose() {
        let errmsg = if wrong_secret == INVALID_APPSECRET {
            "invalid appsecret"
        } else {
            "invalid credential, access_token is invalid or not latest (AppSecret is wrong)"
        };
        return Err(Refusal::new(wrong_secret, errmsg));
    }
    Ok(())
}

pub(crate) fn token_answer(token: String, expires_in: i64) -> Answer {
    Answer::ok(json!({ "access_token": token, "expires_in": expires_in }))
}

/// `GET cgi-bin/token?grant_type=client_credential&appid=…&secret=…`.
pub(crate) fn classic_token(
    state: &mut State,
    method: &Method,
    query: &[(String, String)],
) -> Answer {
    let param = |name: &str| param(query, name);
    if method != Method::GET {
        return Answer::refusal(&Refusal::of(REQUIRE_GET));
    }
    if let Err(refusal) = check_credentials(
        state,
        param("grant_type"),
        param("appid"),
        param("secret"),
        INVALID_CREDENTIAL,
    ) {
        return Answer::refusal(&refusal);
    }
    let (token, expires_in) = state.classic_token();
    token_answer(token, expires_in)
}

/// `POST cgi-bin/stable_token` with `{grant_type, appid, secret, force_refresh}`.
pub(crate) fn stable_token(state: &mut State, method: &Method, body: &[u8]) -> Answer {
    if method != Method::POST {
        return Answer::refusal(&Refusal::of(REQUIRE_POST));
    }
    // The body holds the secret: never quote it in an answer.
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return Answer::refusal(&Refusal::of(DATA_FORMAT_ERROR));
    };
    let text = |key: &str| request.get(key).and_then(Value::as_str);
    let force_refresh = match request.get("force_refresh") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Answer::refusal(&Refusal::new(
                DATA_FORMAT_ERROR,
                "data format error: force_refresh must be a boolean",
            ));
        }
    };
    if let Err(refusal) = check_credentials(
        state,
        text("grant_type"),
        text("appid"),
        text("secret"),
        INVALID_APPSECRET,
    ) {
        return Answer::refusal(&refusal);
    }
    let (token, expires_in) = state.stable_token(force_refresh);
    token_answer(token, expires_in)
}

/// `GET cgi-bin/ticket/getticket?access_token=…&type=wx_card` (or `jsapi`).
pub(crate) fn get_ticket(state: &mut State, method: &Method, query: &[(String, String)]) -> Answer {
    let param = |name: &str| param(query, name);
    if method != Method::GET {
        return Answer::refusal(&Refusal::of(REQUIRE_GET));
    }
    let Some(token) = param("access_token").filter(|t| !t.is_empty()) else {
        return Answer::refusal(&Refusal::of(TOKEN_MISSING));
    };
    if let Err(refusal) = state.check_token(token) {
        return Answer::refusal(&refusal);
    }
    let kind = match param("type") {
        Some(kind @ ("wx_card" | "jsapi")) => kind,
        other => {
            return Answer::refusal(&Refusal::new(
                INVALID_ARGS,
                format!("invalid args: type must be wx_card or jsapi, not {other:?}"),
            ));
        }
    };
    let (ticket, expires_in) = state.ticket(kind);
    Answer::ok(json!({ "errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": expires_in }))
}

// ---------------------------------------------------------------------------------------------
// Request fields (the request was validated: absent required fields cannot happen, but nothing
// here panics if they do)
// ---------------------------------------------------------------------------------------------
