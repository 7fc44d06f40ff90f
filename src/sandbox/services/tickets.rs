//! 门店小程序 cards and special tickets.

use super::*;

/// `card/storewxa/set`.
pub(crate) fn set_store_wxa_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let card_id = text(request, "card_id").to_owned();
    state.live_card(&card_id)?;
    state
        .services
        .store_cards
        .insert(number(request, "poi_id"), card_id);
    ok()
}

/// `card/storewxa/get`.
pub(crate) fn get_store_wxa_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let poi_id = number(request, "poi_id");
    let card_id = state
        .services
        .store_cards
        .get(&poi_id)
        .ok_or_else(|| unknown("a card for poi_id", poi_id))?;
    Ok(json!({ "card_id": card_id }))
}

fn update_ticket(state: &mut State, request: &Value, card_type: &str) -> Outcome<Value> {
    let card_id = request.get("card_id").and_then(Value::as_str);
    let (code, _, _) = code_of_type(state, text(request, "code"), card_id, card_type)?;
    let details = state.services.tickets.entry(code).or_default();
    if request.get("is_cancel").and_then(Value::as_bool) == Some(true) {
        details.clear();
        return ok();
    }
    for (key, value) in request.as_object().into_iter().flatten() {
        if !matches!(key.as_str(), "code" | "card_id" | "is_cancel") {
            details.insert(key.clone(), value.clone());
        }
    }
    ok()
}

/// `card/meetingticket/updateuser`.
pub(crate) fn update_meeting_ticket(state: &mut State, request: &Value) -> Outcome<Value> {
    update_ticket(state, request, "MEETING_TICKET")
}

/// `card/movieticket/updateuser`.
pub(crate) fn update_movie_ticket(state: &mut State, request: &Value) -> Outcome<Value> {
    update_ticket(state, request, "MOVIE_TICKET")
}

/// `card/boardingpass/checkin` (`is_cancel` undoes the check-in).
pub(crate) fn check_in_boarding_pass(state: &mut State, request: &Value) -> Outcome<Value> {
    update_ticket(state, request, "BOARDING_PASS")
}

impl State {
    /// What the ticket endpoints set for a code (the sandbox's view; WeChat shows it in the
    /// user's card).
    pub(crate) fn ticket_details(&self, code: &str) -> Option<Value> {
        self.services
            .tickets
            .get(code)
            .map(|m| Value::Object(m.clone()))
    }
}
