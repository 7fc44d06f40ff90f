//! Saved state: `Sandbox::builder().state(path)` (`--state FILE` for the binary) loads the
//! sandbox's whole state from a file at start and writes it back after each control call over
//! HTTP, on [`Sandbox::save_state`](super::Sandbox::save_state) and when the sandbox stops, so
//! that a test suite can start from a fixture and a person can stop and resume. Every API call
//! over HTTP is followed by a save as well, so a server stopped at any moment (the binary is
//! stopped with Ctrl-C) resumes where it was.
//!
//! The file is JSON: `{"format": "wechat-card-sandbox-state", "version": 1, "saved_at": …,
//! "state": {…}}`. `state` holds everything the sandbox knows (tokens and tickets, cards, codes,
//! QR codes, shelves, imported codes, member cards, rules, coins, sub-merchants, gift cards, the
//! statistics' log) and the time its clock showed; not its settings (appid, secret, token
//! lifetime, review and coupon switches come from the builder) nor the callback registration.
//! A missing file is an empty start (the file is written on the first save). A file that is not
//! JSON, not a saved state, of a newer version or inconsistent is refused at start with what is
//! wrong, and then never written: nothing overwrites a file the sandbox could not read.
//! Writes go to a temporary file beside it, then replace it, so a crash never leaves half a file.

use std::path::Path;

use serde_json::{Value, json};

use super::state::State;

/// The `format` of a saved state.
pub(crate) const FORMAT: &str = "wechat-card-sandbox-state";
/// The version this sandbox writes and the newest it reads.
pub(crate) const VERSION: u64 = 1;

/// Loads the state saved in `path` into `state`: `Ok(false)` when there is no such file.
pub(crate) fn load(path: &Path, state: &mut State) -> Result<bool, String> {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("cannot read the saved state {shown}: {e}")),
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("the saved state {shown} is not JSON: {e}"))?;
    if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(format!(
            "{shown} is not a saved sandbox state: it has no \"format\": \"{FORMAT}\""
        ));
    }
    match value.get("version").and_then(Value::as_u64) {
        Some(1..=VERSION) => {}
        Some(version) if version > VERSION => {
            return Err(format!(
                "the saved state {shown} is of version {version}, written by a newer \
                 wechat-card; this one reads versions up to {VERSION}. The file is left as it is"
            ));
        }
        _ => {
            return Err(format!(
                "the saved state {shown} has no valid \"version\" (a positive integer)"
            ));
        }
    }
    let saved = value
        .get("state")
        .cloned()
        .ok_or_else(|| format!("the saved state {shown} has no \"state\""))?;
    state
        .restore(saved)
        .map_err(|e| format!("the saved state {shown} is not usable: {e}"))?;
    Ok(true)
}

/// Writes `state` to `path` (through a temporary file beside it).
pub(crate) fn save(path: &Path, state: &State) -> Result<(), String> {
    let shown = path.display();
    let value = json!({
        "format": FORMAT,
        "version": VERSION,
        "saved_at": state.now(),
        "state": state.saved_value()?,
    });
    let text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|e| format!("cannot write the saved state {shown}: {e}"))
}
