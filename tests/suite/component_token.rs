//! Endpoints the spec marks `auth: component_access_token` carry the open platform's token, as
//! `?component_access_token=`, and need one configured — checked before any network I/O.

use crate::clients::AnyClient;
use crate::support;

use support::{Reply, Server};
use wechat_card::{Client, Error, GetCardMerchantRequest, GetCodeRequest};

#[test]
fn component_endpoints_send_the_component_token() {
    crate::clients::each(|flavor| {
        let server = Server::start();
        server.reply(
            "/cgi-bin/component/get_card_merchant",
            Reply::json(r#"{"errcode":0,"errmsg":"ok","appid":"wx1"}"#),
        );
        server.reply(
            "/card/code/get",
            Reply::json(r#"{"errcode":0,"errmsg":"ok","card":{"card_id":"p1"},"openid":"o1"}"#),
        );
        let client = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(server.url())
                .fixed_token("ACCESS-1")
                .component_token("COMPONENT-1"),
        );
        crate::call!(client.get_card_merchant(&GetCardMerchantRequest::new("wx1"))).unwrap();
        crate::call!(client.get_code(&GetCodeRequest::new("123"))).unwrap();
        let seen = server.requests();
        assert_eq!(
            seen[0]
                .query
                .get("component_access_token")
                .map(String::as_str),
            Some("COMPONENT-1")
        );
        assert!(!seen[0].query.contains_key("access_token"));
        assert_eq!(
            seen[1].query.get("access_token").map(String::as_str),
            Some("ACCESS-1")
        );
        assert!(!seen[1].query.contains_key("component_access_token"));
    });
}

#[test]
fn a_component_endpoint_without_a_component_token_is_a_config_error_before_io() {
    crate::clients::each(|flavor| {
        let server = Server::start();
        let client = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(server.url())
                .fixed_token("ACCESS-1"),
        );
        let err = crate::call!(client.get_card_merchant(&GetCardMerchantRequest::new("wx1")))
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains("component_token"), "{err}");
        assert_eq!(server.requests().len(), 0);
    });
}

#[test]
fn a_rejected_fixed_component_token_is_returned_not_retried() {
    crate::clients::each(|flavor| {
        let server = Server::start();
        server.reply(
            "/cgi-bin/component/get_card_merchant",
            Reply::errcode(40001, "invalid credential"),
        );
        let client = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(server.url())
                .fixed_token("ACCESS-1")
                .component_token("COMPONENT-SECRET-9"),
        );
        let err = crate::call!(client.get_card_merchant(&GetCardMerchantRequest::new("wx1")))
            .unwrap_err();
        assert_eq!(err.errcode(), Some(40001));
        assert_eq!(server.requests().len(), 1);
        assert!(!format!("{err} {err:?} {client:?}").contains("COMPONENT-SECRET-9"));
    });
}
