//! The datacube endpoints report what happened in the sandbox, per Beijing day, on the
//! sandbox's own clock.
#![cfg(feature = "sandbox")]

use crate::clients::{AnyClient, Flavor};
use crate::sandbox_support;

use std::time::Duration;

use sandbox_support::{approved, gift_card, member_card};
use serde_json::{Value, json};
use wechat_card::sandbox::Sandbox;
use wechat_card::{
    ConsumeCodeRequest, GetCardBizuinInfoRequest, GetCardBizuinInfoRequestRequired,
    GetCardCardInfoRequest, GetCardCardInfoRequestRequired, GetCardMemberCardDetailRequest,
    GetCardMemberCardDetailRequestRequired, GetCardMemberCardInfoRequest,
    GetCardMemberCardInfoRequestRequired,
};

/// 2024-03-10 00:00 in Beijing.
const MARCH_10: i64 = 1_710_000_000;
const DAY: Duration = Duration::from_secs(86_400);

/// Two days of activity on a gift coupon and a member card; the clock ends on 2024-03-12.
fn two_days(flavor: Flavor) -> (Sandbox, AnyClient, String, String) {
    let sandbox = Sandbox::builder()
        .start_time(MARCH_10 + 10 * 3600)
        .start()
        .unwrap();
    let client = AnyClient::of(flavor, sandbox.client_builder());
    let coupon = approved(&sandbox, &gift_card(100));
    let member = approved(&sandbox, &member_card(100));
    assert_eq!(sandbox.today(), "2024-03-10");

    sandbox.view_card("o1", &coupon).unwrap();
    sandbox.view_card("o2", &coupon).unwrap();
    let a1 = sandbox.receive_card("o1", &coupon).unwrap();
    let a2 = sandbox.receive_card("o2", &coupon).unwrap();
    let a3 = sandbox.receive_card("o1", &coupon).unwrap();
    sandbox.receive_card("o1", &member).unwrap();
    crate::call!(client.consume_code(&ConsumeCodeRequest::new(a1))).unwrap();
    sandbox.gift_code(&a2).unwrap();

    sandbox.advance(DAY);
    crate::call!(client.consume_code(&ConsumeCodeRequest::new(a3))).unwrap();
    let a4 = sandbox.receive_card("o3", &coupon).unwrap();
    sandbox.expire_code(&a4).unwrap();
    sandbox.receive_card("o2", &member).unwrap();

    sandbox.advance(DAY);
    assert_eq!(sandbox.today(), "2024-03-12");
    (sandbox, client, coupon, member)
}

fn as_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

#[test]
fn merchant_overview_per_day() {
    crate::clients::each(|flavor| {
        let (_sandbox, client, _, _) = two_days(flavor);
        let answer = crate::call!(client.get_card_bizuin_info(&GetCardBizuinInfoRequest::new(
            GetCardBizuinInfoRequestRequired {
                begin_date: "2024-03-01".into(),
                end_date: "2024-03-11".into(),
                cond_source: 1,
            },
        )))
        .unwrap();
        let list = as_json(&answer.list.unwrap());
        let pick = |day: &Value, keys: &[&str]| -> Vec<Value> {
            keys.iter().map(|k| day[*k].clone()).collect()
        };
        let keys = [
            "ref_date",
            "view_cnt",
            "view_user",
            "receive_cnt",
            "receive_user",
            "verify_cnt",
            "verify_user",
            "given_cnt",
            "given_user",
            "expire_cnt",
            "expire_user",
        ];
        assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
        assert_eq!(
            pick(&list[0], &keys),
            [
                json!("2024-03-10"),
                json!(2),
                json!(2),
                json!(4),
                json!(2),
                json!(1),
                json!(1),
                json!(1),
                json!(1),
                json!(0),
                json!(0)
            ]
        );
        assert_eq!(
            pick(&list[1], &keys),
            [
                json!("2024-03-11"),
                json!(0),
                json!(0),
                json!(2),
                json!(2),
                json!(1),
                json!(1),
                json!(0),
                json!(0),
                json!(1),
                json!(1)
            ]
        );

        // Only the second day.
        let answer = crate::call!(client.get_card_bizuin_info(&GetCardBizuinInfoRequest::new(
            GetCardBizuinInfoRequestRequired {
                begin_date: "2024-03-11".into(),
                end_date: "2024-03-11".into(),
                cond_source: 1,
            },
        )))
        .unwrap();
        assert_eq!(answer.list.unwrap().len(), 1);
        // Cards created on the 公众平台: none in the sandbox.
        let answer = crate::call!(client.get_card_bizuin_info(&GetCardBizuinInfoRequest::new(
            GetCardBizuinInfoRequestRequired {
                begin_date: "2024-03-01".into(),
                end_date: "2024-03-11".into(),
                cond_source: 0,
            },
        )))
        .unwrap();
        assert_eq!(answer.list.unwrap_or_default().len(), 0);
    });
}

#[test]
fn no_data_for_today() {
    crate::clients::each(|flavor| {
        let (sandbox, client, _, member) = two_days(flavor);
        for end in [sandbox.today(), sandbox.date(1)] {
            let error = crate::call!(client.get_card_bizuin_info(&GetCardBizuinInfoRequest::new(
                GetCardBizuinInfoRequestRequired {
                    begin_date: "2024-03-10".into(),
                    end_date: end.as_str().into(),
                    cond_source: 1,
                },
            )))
            .unwrap_err();
            assert_eq!(error.errcode(), Some(61501), "{error}");
            let error = crate::call!(client.get_card_member_card_detail(
                &GetCardMemberCardDetailRequest::new(GetCardMemberCardDetailRequestRequired {
                    begin_date: "2024-03-10".into(),
                    end_date: end.as_str().into(),
                    card_id: member.as_str().into(),
                },)
            ))
            .unwrap_err();
            assert_eq!(error.errcode(), Some(61501), "{error}");
        }
        assert_eq!(sandbox.date(-1), "2024-03-11");
    });
}

#[test]
fn free_coupons_per_card_and_day() {
    crate::clients::each(|flavor| {
        let (_sandbox, client, coupon, _) = two_days(flavor);
        let answer = crate::call!(
            client.get_card_card_info(
                &GetCardCardInfoRequest::new(GetCardCardInfoRequestRequired {
                    begin_date: "2024-03-01".into(),
                    end_date: "2024-03-11".into(),
                    cond_source: 1,
                })
                .card_id(coupon.as_str()),
            )
        )
        .unwrap();
        let list = as_json(&answer.list.unwrap());
        assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
        for day in list.as_array().unwrap() {
            assert_eq!(day["card_id"], json!(coupon));
            assert_eq!(day["card_type"], 2, "GIFT");
        }
        assert_eq!(
            (list[0]["receive_cnt"].clone(), list[0]["given_cnt"].clone()),
            (json!(3), json!(1))
        );
        assert_eq!(
            (list[1]["verify_cnt"].clone(), list[1]["expire_cnt"].clone()),
            (json!(1), json!(1))
        );
        // Without card_id: every free coupon (member cards are not free coupons).
        let all = crate::call!(client.get_card_card_info(&GetCardCardInfoRequest::new(
            GetCardCardInfoRequestRequired {
                begin_date: "2024-03-01".into(),
                end_date: "2024-03-11".into(),
                cond_source: 1,
            },
        )))
        .unwrap();
        assert_eq!(all.list.unwrap().len(), 2);
    });
}

#[test]
fn member_cards() {
    crate::clients::each(|flavor| {
        let (_sandbox, client, _, member) = two_days(flavor);
        let answer = crate::call!(client.get_card_member_card_info(
            &GetCardMemberCardInfoRequest::new(GetCardMemberCardInfoRequestRequired {
                begin_date: "2024-03-01".into(),
                end_date: "2024-03-11".into(),
                cond_source: 1,
            },)
        ))
        .unwrap();
        let list = as_json(&answer.list.unwrap());
        let row = |i: usize| {
            [
                "receive_cnt",
                "active_cnt",
                "total_user",
                "total_receive_user",
            ]
            .map(|k| list[i][k].as_u64().unwrap())
        };
        assert_eq!(row(0), [1, 1, 1, 1]);
        assert_eq!(row(1), [1, 1, 2, 2]);

        let detail = crate::call!(client.get_card_member_card_detail(
            &GetCardMemberCardDetailRequest::new(GetCardMemberCardDetailRequestRequired {
                begin_date: "2024-03-01".into(),
                end_date: "2024-03-11".into(),
                card_id: member.as_str().into(),
            },)
        ))
        .unwrap();
        let list = as_json(&detail.list.unwrap());
        assert_eq!(list[0]["cardid"], json!(member));
        assert_eq!(list[0]["new_user"], 1);
        assert_eq!(list[1]["new_user"], 1);
        assert_eq!(list[1]["total_user"], 2);

        let unknown = crate::call!(client.get_card_member_card_detail(
            &GetCardMemberCardDetailRequest::new(GetCardMemberCardDetailRequestRequired {
                begin_date: "2024-03-01".into(),
                end_date: "2024-03-11".into(),
                card_id: "pNoSuchCard".into(),
            },)
        ))
        .unwrap_err();
        assert_eq!(unknown.errcode(), Some(40073));
    });
}

/// Codes that reach the end of their validity count as expired on the day they expire.
#[test]
fn expiry_by_the_clock_is_counted_on_its_day() {
    crate::clients::each(|flavor| {
        let sandbox = Sandbox::builder()
            .start_time(MARCH_10 + 3600)
            .start()
            .unwrap();
        let client = AnyClient::of(flavor, sandbox.client_builder());
        let coupon = approved(&sandbox, &gift_card(10));
        sandbox.receive_card("o1", &coupon).unwrap();
        // fixed_term 30: valid through 2024-04-08, expired on 2024-04-09.
        sandbox.advance(DAY * 40);
        let answer = crate::call!(client.get_card_bizuin_info(&GetCardBizuinInfoRequest::new(
            GetCardBizuinInfoRequestRequired {
                begin_date: "2024-04-01".into(),
                end_date: "2024-04-15".into(),
                cond_source: 1,
            },
        )))
        .unwrap();
        let list = as_json(&answer.list.unwrap());
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["ref_date"], "2024-04-09");
        assert_eq!(list[0]["expire_cnt"], 1);
    });
}
