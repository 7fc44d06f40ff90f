//! Saved state (`Sandbox::builder().state(path)`, `--state FILE`): a sandbox stopped and started
//! again on the same file continues where it was; a file it cannot read is refused with what is
//! wrong and never overwritten.
#![cfg(feature = "sandbox")]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use wechat_card::sandbox::{Sandbox, SandboxError};
use wechat_card::{CardStatus, ConsumeCodeRequest, GetCodeRequest, UserCardStatus};

use crate::sandbox_support::complete::Generator;
use crate::sandbox_support::http_json;

/// A fresh folder of this test's own under the system's temporary folder.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wechat-card-state-{}-{name}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_stopped_sandbox_resumes_from_its_file() {
    let dir = folder("resume");
    let file = dir.join("state.json");
    let (card_id, kept, consumed, now) = {
        let sandbox = Sandbox::builder()
            .state(&file)
            .start_time(1_700_000_000)
            .start()
            .unwrap();
        assert!(
            !file.exists(),
            "a missing file is an empty start, written on the first save"
        );
        let card_id = sandbox
            .add_card(&Generator::new(3).card("MEMBER_CARD"))
            .unwrap();
        sandbox.approve_card(&card_id).unwrap();
        let kept = sandbox.receive_card("o-kept", &card_id).unwrap();
        let consumed = sandbox.receive_card("o-consumed", &card_id).unwrap();
        let client = sandbox.client().unwrap();
        client
            .consume_code(&ConsumeCodeRequest::new(consumed.as_str()))
            .unwrap();
        sandbox.advance(Duration::from_secs(3 * 86_400));
        (card_id, kept, consumed, sandbox.now())
        // Dropped: stopped and saved.
    };
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["format"], "wechat-card-sandbox-state");
    assert_eq!(saved["version"], 1);

    let sandbox = Sandbox::builder().state(&file).start().unwrap();
    assert_eq!(
        sandbox.now(),
        now,
        "the clock continues from the time saved"
    );
    assert_eq!(sandbox.card_status(&card_id), Some(CardStatus::VerifyOk));
    assert_eq!(sandbox.code_status(&kept), Some(UserCardStatus::Normal));
    assert_eq!(
        sandbox.code_status(&consumed),
        Some(UserCardStatus::Consumed)
    );
    let client = sandbox.client().unwrap();
    let answer = client
        .get_code(&GetCodeRequest::new(kept.as_str()))
        .unwrap();
    assert_eq!(answer.openid, "o-kept");
    // Ids continue too: a new card does not reuse an old one's id.
    let another = sandbox
        .add_card(&Generator::new(4).card("MEMBER_CARD"))
        .unwrap();
    assert_ne!(another, card_id);
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_control_call_over_http_writes_the_file() {
    let dir = folder("control");
    let file = dir.join("state.json");
    let sandbox = Sandbox::builder()
        .state(&file)
        .start_time(1_700_000_000)
        .start()
        .unwrap();
    let answer = http_json(
        sandbox.addr(),
        "POST",
        "/sandbox/clock",
        json!({"advance": 60}).to_string().as_bytes(),
    );
    assert_eq!(answer["errcode"], 0, "{answer}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["state"]["now"], 1_700_000_060);
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_it_cannot_read_is_refused_and_left_as_it_is() {
    let dir = folder("refused");
    let valid_but_newer = json!({"format": "wechat-card-sandbox-state", "version": 2, "state": {}});
    for (name, text, says) in [
        (
            "corrupt",
            "{\"format\": \"wechat-card-sandbox-state\", ".to_owned(),
            "is not JSON",
        ),
        (
            "other",
            json!({"cards": []}).to_string(),
            "is not a saved sandbox state",
        ),
        (
            "newer",
            valid_but_newer.to_string(),
            "written by a newer wechat-card",
        ),
        (
            "no version",
            json!({"format": "wechat-card-sandbox-state", "state": {}}).to_string(),
            "no valid \"version\"",
        ),
        (
            "inconsistent",
            json!({"format": "wechat-card-sandbox-state", "version": 1, "state": {"now": "soon"}})
                .to_string(),
            "is not usable",
        ),
    ] {
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, &text).unwrap();
        let err = Sandbox::builder().state(&file).start().unwrap_err();
        assert!(
            matches!(&err, SandboxError::State(message) if message.contains(says)),
            "{name}: {err}"
        );
        assert!(
            err.to_string().contains(&file.display().to_string()),
            "{name}: {err}"
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            text,
            "{name}: the file was changed"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
