//! Member cards in the sandbox — activation, member updates (bonus, balance, custom values),
//! member info, the activation form and URL, the statistics they feed — and `card/code/mark`,
//! through the typed client over HTTP on 127.0.0.1.
#![cfg(feature = "sandbox")]

use crate::clients::AnyClient;
use crate::sandbox_support;

use std::time::Duration;

use sandbox_support::{approved, errcode, gift_card, member_card, setup};
use serde_json::{Value, json};
use wechat_card::sandbox::Sandbox;
use wechat_card::{
    ActivateMemberCardRequest, ConsumeCodeRequest, GetActivateUrlRequest,
    GetCardMemberCardDetailRequest, GetCardMemberCardDetailRequestRequired,
    GetCardMemberCardInfoRequest, GetCardMemberCardInfoRequestRequired, GetCodeRequest,
    GetMemberCardUserInfoRequest, GetMemberCardUserInfoResponse, MarkCodeRequest,
    MarkCodeRequestRequired, MemberCardFormField, MemberCardFormLink, MemberCardNotifyOptional,
    MemberCardUserForm, SetActivateUserFormRequest, UpdateMemberCardUserRequest, UserCardStatus,
};

/// A member card activated through the API (no `auto_activate`), with custom fields.
fn api_member_card(quantity: u64, base_extra: Value) -> Value {
    let mut card = member_card(quantity);
    let payload = &mut card["member_card"];
    payload["auto_activate"] = json!(false);
    payload["supply_bonus"] = json!(true);
    payload["supply_balance"] = json!(true);
    payload["custom_field1"] = json!({ "name_type": "FIELD_NAME_TYPE_LEVEL" });
    payload["custom_field2"] = json!({ "name_type": "FIELD_NAME_TYPE_DISCOUNT" });
    if let (Some(base), Some(extra)) =
        (payload["base_info"].as_object_mut(), base_extra.as_object())
    {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    card
}

fn info(client: &AnyClient, card_id: &str, code: &str) -> GetMemberCardUserInfoResponse {
    crate::call!(
        client.get_member_card_user_info(&GetMemberCardUserInfoRequest::new(card_id, code))
    )
    .expect("userinfo/get")
}

#[test]
fn activate_update_and_read_a_member() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &api_member_card(10, json!({})));
        let code = sandbox.receive_card("o-member", &card_id).unwrap();

        let before = info(&client, &card_id, &code);
        assert_eq!(before.has_active, Some(false));
        assert_eq!((before.bonus, before.balance), (Some(0), Some(0)));
        assert_eq!(before.membership_number, None);
        assert_eq!(before.openid.as_deref(), Some("o-member"));
        assert_eq!(before.user_card_status, Some(UserCardStatus::Normal));

        // Not activated yet: no update.
        let update = |request: UpdateMemberCardUserRequest| {
            crate::call!(client.update_member_card_user(&request))
        };
        assert_eq!(
            errcode(update(
                UpdateMemberCardUserRequest::new(code.as_str(), card_id.as_str()).add_bonus(1)
            )),
            40127
        );

        crate::call!(
            client.activate_member_card(
                &ActivateMemberCardRequest::new("M0001", code.as_str())
                    .card_id(card_id.as_str())
                    .init_bonus(100)
                    .init_bonus_record("旧积分同步")
                    .init_balance(5000)
                    .init_custom_field_value1("白银")
                    .init_custom_field_value2("9折"),
            )
        )
        .unwrap();
        let after = info(&client, &card_id, &code);
        assert_eq!(after.has_active, Some(true));
        assert_eq!(after.membership_number.as_deref(), Some("M0001"));
        assert_eq!((after.bonus, after.balance), (Some(100), Some(5000)));
        // Activating twice is refused.
        assert_eq!(
            errcode(crate::call!(client.activate_member_card(
                &ActivateMemberCardRequest::new("M0002", code.as_str())
            ))),
            40127
        );

        // Increments, negative to deduct.
        let answer = update(
            UpdateMemberCardUserRequest::new(code.as_str(), card_id.as_str())
                .add_bonus(3)
                .record_bonus("消费30元,获得3积分")
                .add_balance(-3000)
                .record_balance("购买焦糖玛琪朵一杯")
                .custom_field_value1("白金")
                .notify_optional(MemberCardNotifyOptional::new().is_notify_bonus(true)),
        )
        .unwrap();
        assert_eq!(
            (
                answer.result_bonus,
                answer.result_balance,
                answer.openid.as_deref()
            ),
            (Some(103), Some(2000), Some("o-member"))
        );
        // A full value wins over the increment sent with it.
        let answer = update(
            UpdateMemberCardUserRequest::new(code.as_str(), card_id.as_str())
                .bonus(50)
                .add_bonus(1000)
                .balance(0)
                .add_balance(7),
        )
        .unwrap();
        assert_eq!(
            (answer.result_bonus, answer.result_balance),
            (Some(50), Some(0))
        );
        // Nothing sent: nothing changes.
        let answer = update(UpdateMemberCardUserRequest::new(
            code.as_str(),
            card_id.as_str(),
        ))
        .unwrap();
        assert_eq!(
            (answer.result_bonus, answer.result_balance),
            (Some(50), Some(0))
        );
        // Never below zero; a refused update changes nothing.
        assert_eq!(
            errcode(update(
                UpdateMemberCardUserRequest::new(code.as_str(), card_id.as_str())
                    .add_bonus(10)
                    .add_balance(-1)
            )),
            40097
        );
        assert_eq!(
            errcode(update(
                UpdateMemberCardUserRequest::new(code.as_str(), card_id.as_str()).bonus(-1)
            )),
            40097
        );
        // 50 + i64::MAX overflows.
        assert_eq!(
            errcode(update(
                UpdateMemberCardUserRequest::new(code.as_str(), card_id.as_str())
                    .add_bonus(i64::MAX)
            )),
            40097
        );
        let now = info(&client, &card_id, &code);
        assert_eq!((now.bonus, now.balance), (Some(50), Some(0)));
        assert_eq!(now.membership_number.as_deref(), Some("M0001"));

        // The member's state follows the code's.
        crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str()))).unwrap();
        assert_eq!(
            info(&client, &card_id, &code).user_card_status,
            Some(UserCardStatus::Consumed)
        );
        assert_eq!(
            errcode(update(
                UpdateMemberCardUserRequest::new(code.as_str(), card_id.as_str()).add_bonus(1)
            )),
            40099
        );
    });
}

#[test]
fn member_endpoints_are_refused_like_wechat() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let member = approved(&sandbox, &api_member_card(10, json!({})));
        let coupon = approved(&sandbox, &gift_card(10));
        let coupon_code = sandbox.receive_card("o-1", &coupon).unwrap();
        let code = sandbox.receive_card("o-1", &member).unwrap();
        let activate = |request: ActivateMemberCardRequest| {
            crate::call!(client.activate_member_card(&request))
        };

        assert_eq!(
            errcode(activate(ActivateMemberCardRequest::new(
                "M1",
                "000000000000"
            ))),
            40056
        );
        assert_eq!(
            errcode(activate(ActivateMemberCardRequest::new(
                "M1",
                coupon_code.as_str()
            ))),
            40071,
            "not a member card"
        );
        assert_eq!(
            errcode(activate(
                ActivateMemberCardRequest::new("M1", code.as_str()).card_id(coupon.as_str())
            )),
            40056,
            "a code of another card"
        );
        assert_eq!(
            errcode(activate(
                ActivateMemberCardRequest::new("M1", code.as_str()).init_bonus(-1)
            )),
            40097
        );
        assert_eq!(
            errcode(activate(
                ActivateMemberCardRequest::new("M1", code.as_str())
                    .activate_begin_time(1_800_000_000)
                    .activate_end_time(1_700_000_000)
            )),
            40079
        );
        assert_eq!(
            errcode(crate::call!(client.get_member_card_user_info(
                &GetMemberCardUserInfoRequest::new(coupon.as_str(), coupon_code.as_str())
            ))),
            40071
        );
        assert_eq!(
            errcode(crate::call!(client.get_member_card_user_info(
                &GetMemberCardUserInfoRequest::new(member.as_str(), "999")
            ))),
            40056
        );
        // Refusals left the code as it was.
        assert_eq!(info(&client, &member, &code).has_active, Some(false));

        // A deleted code cannot be activated.
        sandbox.delete_code(&code).unwrap();
        assert_eq!(
            errcode(activate(ActivateMemberCardRequest::new(
                "M1",
                code.as_str()
            ))),
            40127
        );
        assert_eq!(
            info(&client, &member, &code).user_card_status,
            Some(UserCardStatus::Delete)
        );

        // Custom codes are named with their card_id.
        let custom = approved(
            &sandbox,
            &api_member_card(10, json!({ "use_custom_code": true })),
        );
        sandbox
            .receive_card_with_code("o-2", &custom, "VIP-42")
            .unwrap();
        assert_eq!(
            errcode(activate(ActivateMemberCardRequest::new("M42", "VIP-42"))),
            40056
        );
        activate(ActivateMemberCardRequest::new("M42", "VIP-42").card_id(custom.as_str())).unwrap();
        assert_eq!(
            info(&client, &custom, "VIP-42")
                .membership_number
                .as_deref(),
            Some("M42")
        );
    });
}

#[test]
fn auto_activate_cards_are_members_on_receipt() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &member_card(10));
        let code = sandbox.receive_card("o-auto", &card_id).unwrap();
        let member = info(&client, &card_id, &code);
        assert_eq!(member.has_active, Some(true));
        assert_eq!(member.membership_number.as_deref(), Some(code.as_str()));
        assert_eq!(
            errcode(crate::call!(client.activate_member_card(
                &ActivateMemberCardRequest::new("M", code.as_str())
            ))),
            40127
        );
        let answer = crate::call!(client.update_member_card_user(
            &UpdateMemberCardUserRequest::new(code.as_str(), card_id.as_str()).add_bonus(10),
        ))
        .unwrap();
        assert_eq!(answer.result_bonus, Some(10));
    });
}

#[test]
fn activation_sets_the_validity_and_feeds_the_statistics() {
    crate::clients::each(|flavor| {
        // 2024-03-10 10:00 in Beijing.
        let start = 1_710_000_000 + 10 * 3600;
        let sandbox = Sandbox::builder().start_time(start).start().unwrap();
        let client = AnyClient::of(flavor, sandbox.client_builder());
        let card_id = approved(&sandbox, &api_member_card(10, json!({})));
        let a = sandbox.receive_card("o-a", &card_id).unwrap();
        let b = sandbox.receive_card("o-b", &card_id).unwrap();
        let begin = u32::try_from(start).unwrap();
        let end = begin + 2 * 86_400;
        crate::call!(
            client.activate_member_card(
                &ActivateMemberCardRequest::new("M-A", a.as_str())
                    .activate_begin_time(begin)
                    .activate_end_time(end),
            )
        )
        .unwrap();
        let state = crate::call!(client.get_code(&GetCodeRequest::new(a.as_str()))).unwrap();
        assert_eq!(
            (state.card.begin_time, state.card.end_time),
            (Some(i64::from(begin)), Some(i64::from(end)))
        );

        sandbox.advance(Duration::from_secs(86_400));
        crate::call!(
            client.activate_member_card(&ActivateMemberCardRequest::new("M-B", b.as_str()))
        )
        .unwrap();
        sandbox.advance(Duration::from_secs(86_400));
        // The activation period ends: the code expires.
        sandbox.advance(Duration::from_secs(3600));
        assert_eq!(
            crate::call!(client.get_code(&GetCodeRequest::new(a.as_str()).check_consume(false)))
                .unwrap()
                .user_card_status,
            Some(UserCardStatus::Expire)
        );

        let days = crate::call!(client.get_card_member_card_info(
            &GetCardMemberCardInfoRequest::new(GetCardMemberCardInfoRequestRequired {
                begin_date: "2024-03-10".into(),
                end_date: "2024-03-11".into(),
                cond_source: 1,
            },)
        ))
        .unwrap()
        .list
        .unwrap();
        let active: Vec<(Option<String>, Option<u64>, Option<u64>)> = days
            .iter()
            .map(|d| (d.ref_date.clone(), d.active_cnt, d.active_user))
            .collect();
        assert_eq!(
            active,
            [
                (Some("2024-03-10".to_owned()), Some(1), Some(1)),
                (Some("2024-03-11".to_owned()), Some(1), Some(1)),
            ]
        );
        let detail = crate::call!(client.get_card_member_card_detail(
            &GetCardMemberCardDetailRequest::new(GetCardMemberCardDetailRequestRequired {
                begin_date: "2024-03-10".into(),
                end_date: "2024-03-11".into(),
                card_id: card_id.as_str().into(),
            },)
        ))
        .unwrap()
        .list
        .unwrap();
        let total: u64 = detail.iter().filter_map(|d| d.active_cnt).sum();
        assert_eq!(total, 2);
    });
}

#[test]
fn activation_form_and_plug_in_url() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let member = approved(&sandbox, &api_member_card(10, json!({})));
        let coupon = approved(&sandbox, &gift_card(10));
        let form = |card_id: &str| {
            crate::call!(
                client.set_activate_user_form(
                    &SetActivateUserFormRequest::new(card_id)
                        .service_statement(
                            MemberCardFormLink::new()
                                .name("会员守则")
                                .url("https://www.qq.com"),
                        )
                        .required_form(
                            MemberCardUserForm::new()
                                .can_modify(false)
                                .common_field_id_list(vec![MemberCardFormField::Mobile]),
                        ),
                )
            )
        };
        form(&member).unwrap();
        assert_eq!(errcode(form(&coupon)), 40071);
        assert_eq!(errcode(form("pNoSuchCard")), 40073);

        let url = |outer: Option<&str>| {
            let mut request = GetActivateUrlRequest::new(member.as_str());
            if let Some(outer) = outer {
                request = request.outer_str(outer);
            }
            crate::call!(client.get_activate_url(&request))
                .unwrap()
                .url
                .unwrap()
        };
        let first = url(Some("poster 1"));
        assert!(
            first.starts_with("https://mp.weixin.qq.com/card/memberCardActivate?encrypt_card_id="),
            "{first}"
        );
        assert!(first.contains("&outer_str=poster%201&biz="), "{first}");
        assert!(first.ends_with("#wechat_redirect"), "{first}");
        let encrypted = |url: &str| {
            url.split("encrypt_card_id=")
                .nth(1)
                .and_then(|rest| rest.split('&').next())
                .map(str::to_owned)
                .unwrap()
        };
        let second = url(None);
        assert_eq!(encrypted(&first), encrypted(&second), "one id per card");
        assert!(second.contains("&outer_str=&"), "{second}");
        let request = GetActivateUrlRequest::new(coupon.as_str());
        assert_eq!(
            errcode(crate::call!(client.get_activate_url(&request))),
            40071
        );
    });
}

#[test]
fn marking_a_code_holds_it_for_one_user() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &gift_card(10));
        let code = sandbox.receive_card("o-owner", &card_id).unwrap();
        let mark = |openid: &str, is_mark: bool| {
            crate::call!(
                client.mark_code(&MarkCodeRequest::new(MarkCodeRequestRequired {
                    code: code.as_str().into(),
                    card_id: card_id.as_str().into(),
                    openid: openid.into(),
                    is_mark,
                }))
            )
        };
        mark("o-friend", true).unwrap();
        mark("o-friend", true).unwrap();
        assert_eq!(errcode(mark("o-other", true)), 40127);
        assert_eq!(errcode(mark("o-other", false)), 40127);
        mark("o-friend", false).unwrap();
        mark("o-other", true).unwrap();

        // A mark lasts five minutes.
        sandbox.advance(Duration::from_secs(299));
        assert_eq!(errcode(mark("o-friend", true)), 40127);
        sandbox.advance(Duration::from_secs(1));
        mark("o-friend", true).unwrap();

        // Unknown codes, codes of another card, consumed codes.
        let request = MarkCodeRequest::new(MarkCodeRequestRequired {
            code: "000".into(),
            card_id: card_id.as_str().into(),
            openid: "o-friend".into(),
            is_mark: true,
        });
        assert_eq!(errcode(crate::call!(client.mark_code(&request))), 40056);
        let other = approved(&sandbox, &gift_card(1));
        let request = MarkCodeRequest::new(MarkCodeRequestRequired {
            code: code.as_str().into(),
            card_id: other.as_str().into(),
            openid: "o-friend".into(),
            is_mark: true,
        });
        assert_eq!(errcode(crate::call!(client.mark_code(&request))), 40056);
        // Consuming does not look at marks (documented); a consumed code cannot be marked.
        crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str()))).unwrap();
        assert_eq!(errcode(mark("o-friend", true)), 40099);
    });
}
