//! Secrets in errors: the escape hatch's path check, JSON-escaped secrets in a body excerpt, a
//! secret cut by a server's excerpt, and an `errmsg` of any size (issue 10 item 4).

use crate::clients::{AnyClient, Flavor};
use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Reply, Server};
use wechat_card::schema::HttpMethod;
use wechat_card::{Client, Error};

const TOKEN: &str = "TOKEN-SECRET-123";
const APPID: &str = "wxAPPID0000000001";
const APP_SECRET: &str = "APP-SECRET-0123456789";

fn printed(error: &Error) -> String {
    format!("{error} | {error:?}")
}

/// Neither secret, nor a piece of one, nor its JSON-escaped form.
fn assert_no_secrets(text: &str) {
    for piece in [
        TOKEN,
        APP_SECRET,
        "SECRET-",
        "TOKEN-SEC",
        "APP-SECR",
        "0054OKEN",
    ] {
        assert!(!text.contains(piece), "{piece:?} leaked in: {text}");
    }
}

fn fixed(server: &Server, flavor: Flavor) -> AnyClient {
    AnyClient::of(
        flavor,
        Client::builder()
            .base_url(server.url())
            .fixed_token(TOKEN)
            .env_proxy(false)
            .max_retries(0)
            .timeout(Duration::from_secs(20)),
    )
}

#[test]
fn a_bad_escape_hatch_path_never_shows_a_token() {
    crate::clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        let client = fixed(&server, flavor);
        for path in [
            format!("card/{TOKEN}#x"),
            format!("card/x?access_token={TOKEN}"),
        ] {
            let err = client
                .call_json::<_, Value>(HttpMethod::Post, &path, &json!({}), false)
                .unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{err:?}");
            assert!(err.to_string().contains("is not an endpoint path"), "{err}");
            assert_no_secrets(&printed(&err));
        }
        assert_eq!(server.requests().len(), 0);

        // A fetched (cached) token and the app secret.
        server.reply("/card/x", Reply::json(r#"{"errcode":0}"#));
        let credentials = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(server.url())
                .credentials(APPID, APP_SECRET)
                .env_proxy(false),
        );
        let _: Value = credentials
            .call_json(HttpMethod::Post, "card/x", &json!({}), false)
            .expect("call");
        let path = format!("card/{TOKEN}/{APP_SECRET} x");
        let err = credentials
            .call_json::<_, Value>(HttpMethod::Post, &path, &json!({}), false)
            .unwrap_err();
        assert_no_secrets(&printed(&err));
    });
}

#[test]
fn a_json_escaped_token_is_masked_in_the_excerpt() {
    crate::clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        let client = fixed(&server, flavor);
        // `\u0054` is `T`: the body holds the token only once decoded.
        let escaped = TOKEN.replacen('T', "\\u0054", 1);
        let body = format!(r#"{{"errcode":0,"count":"{escaped}","other":"\u0041\/b"}}"#);
        server.reply("/card/x", Reply::json(body.clone()));
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Shape {
            count: u32,
        }
        let err = client
            .call_json::<_, Shape>(HttpMethod::Post, "card/x", &json!({}), false)
            .unwrap_err();
        let Error::Decode(decode) = &err else {
            panic!("{err:?}")
        };
        assert_no_secrets(&printed(&err));
        // Only the string holding the token is masked.
        assert_eq!(
            decode.excerpt,
            r#"{"errcode":0,"count":"***","other":"\u0041\/b"}"#
        );

        // The same in an error page (not JSON, status 502).
        server.reply("/card/x", Reply::html(502, format!("<p>\"{escaped}\"</p>")));
        let err = client
            .call_json::<_, Value>(HttpMethod::Post, "card/x", &json!({}), false)
            .unwrap_err();
        assert!(matches!(err, Error::Decode(_)), "{err:?}");
        assert_no_secrets(&printed(&err));
    });
}

#[test]
fn a_token_cut_by_the_servers_excerpt_is_masked() {
    crate::clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        let client = fixed(&server, flavor);
        let errmsg = format!(
            "field length exceeds the limit: code is 90 bytes: \"xx{}…\"",
            &TOKEN[..12]
        );
        server.reply("/card/x", Reply::errcode(45021, &errmsg));
        let err = client
            .call_json::<_, Value>(HttpMethod::Post, "card/x", &json!({}), false)
            .unwrap_err();
        let Error::Api(api) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            api.errmsg,
            "field length exceeds the limit: code is 90 bytes: \"xx***…\""
        );
        assert_no_secrets(&printed(&err));
    });
}

#[test]
fn a_huge_errmsg_makes_a_bounded_display() {
    crate::clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        let client = fixed(&server, flavor);
        server.reply("/card/x", Reply::errcode(40001, &"e".repeat(1 << 20)));
        let err = client
            .call_json::<_, Value>(HttpMethod::Post, "card/x", &json!({}), false)
            .unwrap_err();
        assert_eq!(err.errcode(), Some(40001));
        let shown = err.to_string();
        assert!(shown.len() < 1024, "Display is {} bytes", shown.len());
        assert!(shown.contains("eee… (1048576 bytes in all)"), "{shown}");
    });
}

/// The sandbox quotes the first 64 bytes of a value that is too long: a token sent as a field
/// comes back cut, and the client masks what is left of it.
#[cfg(feature = "sandbox")]
#[test]
fn a_token_sent_as_a_field_does_not_come_back_through_the_sandbox() {
    crate::clients::each(|flavor| {
        let sandbox = wechat_card::sandbox::Sandbox::start().expect("sandbox");
        let client = AnyClient::of(flavor, sandbox.client_builder());
        let token = client.access_token().expect("token");
        let token = token.expose();
        assert!(token.len() > 64, "the sandbox's tokens are long");
        let err = client
            .call_json::<_, Value>(
                HttpMethod::Post,
                "card/code/get",
                &json!({ "code": token }),
                false,
            )
            .unwrap_err();
        assert_eq!(err.errcode(), Some(45021), "{err:?}");
        let text = printed(&err);
        assert!(text.contains("***…"), "{text}");
        assert!(!text.contains(&token[..8]), "a token prefix leaked: {text}");
    });
}
