//! JS-SDK card signatures against vectors derived outside the library.
//!
//! Each vector writes down the sorted concatenation by hand; its SHA-1 was computed with
//! coreutils, e.g. `printf '%s' '<joined>' | sha1sum`, and is pasted here. The tests check the
//! hand-sorted text against a plain sort too, so a wrong vector cannot hide a wrong library.

use serde_json::Value;
use wechat_card::Secret;
use wechat_card::events::callback_signature;
use wechat_card::signature::{CardExt, ChooseCard, sha1_sorted};

const TICKET: &str = "bxLdikRXVbTPdHSM05e5u5sUoXNKdvsdshFKA";

/// Sorting `values` byte-wise and joining them gives `joined` (the vector's own check).
fn assert_joined(values: &[&str], joined: &str) {
    let mut sorted = values.to_vec();
    sorted.sort();
    assert_eq!(sorted.concat(), joined);
}

fn ext_json(text: &str) -> Value {
    serde_json::from_str(text).expect("cardExt is JSON text")
}

#[test]
fn card_ext_with_code() {
    // printf '%s' '1102012012451700000000Kx9qZ2bxLdikRXVbTPdHSM05e5u5sUoXNKdvsdshFKApFS7Fjg8kV1IdDz01r4SQwMkuCKc' | sha1sum
    let joined = "1102012012451700000000Kx9qZ2bxLdikRXVbTPdHSM05e5u5sUoXNKdvsdshFKApFS7Fjg8kV1IdDz01r4SQwMkuCKc";
    assert_joined(
        &[
            TICKET,
            "1700000000",
            "pFS7Fjg8kV1IdDz01r4SQwMkuCKc",
            "110201201245",
            "Kx9qZ2",
        ],
        joined,
    );
    let signed = CardExt::new("pFS7Fjg8kV1IdDz01r4SQwMkuCKc")
        .code("110201201245")
        .timestamp(1_700_000_000)
        .nonce_str("Kx9qZ2")
        .sign(&Secret::new(TICKET))
        .unwrap();
    assert_eq!(signed.signature, "f856259c60beed9dac8d077d3b808c274240609b");
    let ext = ext_json(&signed.card_ext);
    assert_eq!(
        ext,
        serde_json::json!({
            "code": "110201201245",
            "timestamp": "1700000000",
            "nonce_str": "Kx9qZ2",
            "signature": "f856259c60beed9dac8d077d3b808c274240609b"
        })
    );
    // The documented key order, timestamp as a string.
    assert_eq!(
        signed.card_ext,
        r#"{"code":"110201201245","timestamp":"1700000000","nonce_str":"Kx9qZ2","signature":"f856259c60beed9dac8d077d3b808c274240609b"}"#
    );
}

#[test]
fn card_ext_with_spaces_and_mixed_case() {
    // Byte order puts digits, then upper case, then lower case; spaces sort before all of them
    // inside a value.
    // printf '%s' '1700000001Code 42Tic KETn OnceoAbC dEfpCard A' | sha1sum
    let joined = "1700000001Code 42Tic KETn OnceoAbC dEfpCard A";
    assert_joined(
        &[
            "Tic KET",
            "1700000001",
            "pCard A",
            "Code 42",
            "oAbC dEf",
            "n Once",
        ],
        joined,
    );
    let signed = CardExt::new("pCard A")
        .code("Code 42")
        .openid("oAbC dEf")
        .timestamp(1_700_000_001)
        .nonce_str("n Once")
        .sign(&Secret::new("Tic KET"))
        .unwrap();
    assert_eq!(signed.signature, "2801e7830454ffcf8d5a7221d9fb3838d32745b9");
    assert_eq!(ext_json(&signed.card_ext)["openid"], "oAbC dEf");
}

#[test]
fn card_ext_without_code_or_openid() {
    // printf '%s' '1700000002abcbxLdikRXVbTPdHSM05e5u5sUoXNKdvsdshFKApFS7Fjg8kV1IdDz01r4SQwMkuCKc' | sha1sum
    let joined = "1700000002abcbxLdikRXVbTPdHSM05e5u5sUoXNKdvsdshFKApFS7Fjg8kV1IdDz01r4SQwMkuCKc";
    assert_joined(
        &[TICKET, "1700000002", "pFS7Fjg8kV1IdDz01r4SQwMkuCKc", "abc"],
        joined,
    );
    let expected = "cca4d597086d7c866b9b12feafc8e9bb30b3ed44";
    let base = CardExt::new("pFS7Fjg8kV1IdDz01r4SQwMkuCKc")
        .timestamp(1_700_000_002)
        .nonce_str("abc");
    let signed = base.clone().sign(&Secret::new(TICKET)).unwrap();
    assert_eq!(signed.signature, expected);
    let ext = ext_json(&signed.card_ext);
    assert!(ext.get("code").is_none() && ext.get("openid").is_none());
    // Empty code and openid (what some SDKs pass) sign the same.
    let empty = base
        .clone()
        .code("")
        .openid("")
        .sign(&Secret::new(TICKET))
        .unwrap();
    assert_eq!(empty.signature, expected);
    // The unsigned extras change the JSON, not the signature.
    let extras = base
        .outer_str("spring campaign")
        .fixed_begintimestamp(1_700_086_400)
        .outer_id(7)
        .sign(&Secret::new(TICKET))
        .unwrap();
    assert_eq!(extras.signature, expected);
    assert_eq!(
        extras.card_ext,
        r#"{"timestamp":"1700000002","nonce_str":"abc","fixed_begintimestamp":1700086400,"outer_str":"spring campaign","outer_id":7,"signature":"cca4d597086d7c866b9b12feafc8e9bb30b3ed44"}"#
    );
}

#[test]
fn card_ext_with_openid_only() {
    // printf '%s' '1600000000ZZ topoUser_BpBindticket' | sha1sum
    let joined = "1600000000ZZ topoUser_BpBindticket";
    assert_joined(
        &["ticket", "1600000000", "pBind", "oUser_B", "ZZ top"],
        joined,
    );
    let signed = CardExt::new("pBind")
        .openid("oUser_B")
        .timestamp(1_600_000_000)
        .nonce_str("ZZ top")
        .sign(&Secret::new("ticket"))
        .unwrap();
    assert_eq!(signed.signature, "145ab670a427a44065820fcd8c635c2cfb927cb3");
}

#[test]
fn card_list_entries() {
    let a = CardExt::new("pA")
        .timestamp(1)
        .nonce_str("n")
        .sign(&Secret::new("t"))
        .unwrap();
    let b = CardExt::new("pB")
        .code("c")
        .sign(&Secret::new("t"))
        .unwrap();
    let list: Value = serde_json::from_str(&serde_json::to_string(&[&a, &b]).unwrap()).unwrap();
    assert_eq!(list[0]["cardId"], "pA");
    assert_eq!(list[0]["cardExt"], a.card_ext.as_str());
    assert_eq!(list[1], b.card_list_entry());
    // Generated timestamp and nonce: now-ish, 32 characters, different each time.
    let ext = ext_json(&b.card_ext);
    let ts: i64 = ext["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(ts > 1_700_000_000);
    assert_eq!(b.nonce_str.len(), 32);
    let c = CardExt::new("pB")
        .code("c")
        .sign(&Secret::new("t"))
        .unwrap();
    assert_ne!(b.nonce_str, c.nonce_str);
    assert_ne!(b.signature, c.signature);
}

#[test]
fn choose_card_with_every_filter() {
    // printf '%s' '12341700000003GROUPONNonce32bxLdikRXVbTPdHSM05e5u5sUoXNKdvsdshFKApCHOOSEwx1234567890abcdef' | sha1sum
    let joined = "12341700000003GROUPONNonce32bxLdikRXVbTPdHSM05e5u5sUoXNKdvsdshFKApCHOOSEwx1234567890abcdef";
    assert_joined(
        &[
            TICKET,
            "wx1234567890abcdef",
            "1234",
            "1700000003",
            "Nonce32",
            "pCHOOSE",
            "GROUPON",
        ],
        joined,
    );
    let params = ChooseCard::new()
        .shop_id("1234")
        .card_type("GROUPON")
        .card_id("pCHOOSE")
        .timestamp(1_700_000_003)
        .nonce_str("Nonce32")
        .sign("wx1234567890abcdef", &Secret::new(TICKET))
        .unwrap();
    assert_eq!(params.card_sign, "c4d5f4323a5a2b8a581de10403720ea4d514b0fb");
    assert_eq!(
        serde_json::to_value(&params).unwrap(),
        serde_json::json!({
            "shopId": "1234",
            "cardType": "GROUPON",
            "cardId": "pCHOOSE",
            "timestamp": "1700000003",
            "nonceStr": "Nonce32",
            "signType": "SHA1",
            "cardSign": "c4d5f4323a5a2b8a581de10403720ea4d514b0fb"
        })
    );
}

#[test]
fn choose_card_with_spaces_and_mixed_case() {
    // Upper case sorts before lower case, and spaces are kept as they are.
    // printf '%s' '1700000005GENERAL_COUPONNonce With SpaceShop 1bxLdikRXVbTPdHSM05e5u5sUoXNKdvsdshFKApAbC dEfwxAbCdEf0123456789' | sha1sum
    let joined = "1700000005GENERAL_COUPONNonce With SpaceShop 1bxLdikRXVbTPdHSM05e5u5sUoXNKdvsdshFKApAbC dEfwxAbCdEf0123456789";
    assert_joined(
        &[
            TICKET,
            "wxAbCdEf0123456789",
            "Shop 1",
            "1700000005",
            "Nonce With Space",
            "pAbC dEf",
            "GENERAL_COUPON",
        ],
        joined,
    );
    let params = ChooseCard::new()
        .card_id("pAbC dEf")
        .nonce_str("Nonce With Space")
        .card_type("GENERAL_COUPON")
        .shop_id("Shop 1")
        .timestamp(1_700_000_005)
        .sign("wxAbCdEf0123456789", &Secret::new(TICKET))
        .unwrap();
    assert_eq!(params.card_sign, "5c931689e354e9c9739eca5d9ee5ae4a886edf32");
    assert_eq!(params.shop_id, "Shop 1");
    assert_eq!(params.nonce_str, "Nonce With Space");
}

#[test]
fn choose_card_without_filters() {
    // printf '%s' '1700000004bxLdikRXVbTPdHSM05e5u5sUoXNKdvsdshFKAwx1234567890abcdefxyz' | sha1sum
    let joined = "1700000004bxLdikRXVbTPdHSM05e5u5sUoXNKdvsdshFKAwx1234567890abcdefxyz";
    assert_joined(&[TICKET, "wx1234567890abcdef", "1700000004", "xyz"], joined);
    let params = ChooseCard::new()
        .timestamp(1_700_000_004)
        .nonce_str("xyz")
        .sign("wx1234567890abcdef", &Secret::new(TICKET))
        .unwrap();
    assert_eq!(params.card_sign, "31e8a2baf107e7d9848ebef070b2d137d473ca88");
    assert_eq!((params.shop_id.as_str(), params.card_id.as_str()), ("", ""));
    // The appid is signed: without it the list would come back empty.
    assert!(ChooseCard::new().sign("", &Secret::new(TICKET)).is_err());
}

#[test]
fn callback_signature_vector() {
    // printf '%s' '170000000042my-token' | sha1sum
    assert_joined(&["my-token", "1700000000", "42"], "170000000042my-token");
    assert_eq!(
        callback_signature("my-token", "1700000000", "42"),
        "b1c2ebb10b60bbbac0c2296895ea1495457f6506"
    );
}

/// A small deterministic generator (xorshift), so the property test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn word(&mut self) -> String {
        const CHARS: &[u8] = b"aZ09 _-Kk~.";
        let len = self.below(12);
        (0..len)
            .map(|_| char::from(CHARS[self.below(CHARS.len())]))
            .collect()
    }
}

/// Property: the signature depends on the set of values, never on the order they are given in,
/// and equals the SHA-1 of the sorted, joined values.
#[test]
fn input_order_does_not_matter() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..500 {
        let n = 1 + rng.below(7);
        let values: Vec<String> = (0..n).map(|_| rng.word()).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let reference = sha1_sorted(&refs);
        let mut sorted = refs.clone();
        sorted.sort();
        let mut hasher = sha1_smol::Sha1::new();
        hasher.update(sorted.concat().as_bytes());
        assert_eq!(reference, hasher.digest().to_string());
        for _ in 0..8 {
            let mut shuffled = refs.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, rng.below(i + 1));
            }
            assert_eq!(sha1_sorted(&shuffled), reference, "{shuffled:?}");
        }
    }
    // The builders too: the same inputs through each builder in any setter order.
    for _ in 0..100 {
        let (code, openid, nonce) = (rng.word(), rng.word(), rng.word());
        let a = CardExt::new("pX")
            .code(code.clone())
            .openid(openid.clone())
            .nonce_str(nonce.clone())
            .timestamp(5)
            .sign(&Secret::new("T"))
            .unwrap();
        let b = CardExt::new("pX")
            .timestamp(5)
            .nonce_str(nonce.clone())
            .openid(openid.clone())
            .code(code.clone())
            .sign(&Secret::new("T"))
            .unwrap();
        assert_eq!(a.signature, b.signature);
        let values = [
            "T",
            "5",
            "pX",
            code.as_str(),
            openid.as_str(),
            nonce.as_str(),
        ];
        assert_eq!(a.signature, sha1_sorted(&values));

        let (shop, card_type, card_id) = (rng.word(), rng.word(), rng.word());
        let c = ChooseCard::new()
            .shop_id(shop.clone())
            .card_type(card_type.clone())
            .card_id(card_id.clone())
            .nonce_str(nonce.clone())
            .timestamp(7)
            .sign("wxA", &Secret::new("T"))
            .unwrap();
        let d = ChooseCard::new()
            .timestamp(7)
            .nonce_str(nonce.clone())
            .card_id(card_id.clone())
            .card_type(card_type.clone())
            .shop_id(shop.clone())
            .sign("wxA", &Secret::new("T"))
            .unwrap();
        assert_eq!(c.card_sign, d.card_sign);
        let values = [
            "T",
            "wxA",
            shop.as_str(),
            "7",
            nonce.as_str(),
            card_id.as_str(),
            card_type.as_str(),
        ];
        assert_eq!(c.card_sign, sha1_sorted(&values));
    }
}
