//! 门店小程序 cards and special tickets.

use super::*;

/// `card/storewxa/set`.
pub(crate) fn set_store_wxa_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::SetStoreWxaCardRequest = typed(request)?;
    state.live_card(&request.card_id)?;
    state
        .services
        .store_cards
        .insert(request.poi_id, request.card_id);
    ok()
}

/// `card/storewxa/get`.
pub(crate) fn get_store_wxa_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetStoreWxaCardRequest = typed(request)?;
    let card_id = state
        .services
        .store_cards
        .get(&request.poi_id)
        .ok_or_else(|| unknown("a card for poi_id", request.poi_id))?;
    Ok(json!({ "card_id": card_id }))
}

/// Keeps a ticket update's fields for the code (`is_cancel` clears them). `request` is the
/// validated body: its fields besides the code, the card and `is_cancel` are what is kept.
fn update_ticket(
    state: &mut State,
    request: &Value,
    (code, card_id, is_cancel): (&str, Option<&str>, bool),
    card_type: &str,
) -> Outcome<Value> {
    let (code, _, _) = code_of_type(state, code, card_id, card_type)?;
    let details = state.services.tickets.entry(code).or_default();
    if is_cancel {
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
    let req: crate::UpdateMeetingTicketUserRequest = typed(request)?;
    let which = (req.code.as_str(), req.card_id.as_deref(), false);
    update_ticket(state, request, which, "MEETING_TICKET")
}

/// `card/movieticket/updateuser`.
pub(crate) fn update_movie_ticket(state: &mut State, request: &Value) -> Outcome<Value> {
    let req: crate::UpdateMovieTicketUserRequest = typed(request)?;
    let which = (req.code.as_str(), req.card_id.as_deref(), false);
    update_ticket(state, request, which, "MOVIE_TICKET")
}

/// `card/boardingpass/checkin` (`is_cancel` undoes the check-in).
pub(crate) fn check_in_boarding_pass(state: &mut State, request: &Value) -> Outcome<Value> {
    let req: crate::CheckInBoardingPassRequest = typed(request)?;
    let cancel = req.is_cancel == Some(true);
    let which = (req.code.as_str(), req.card_id.as_deref(), cancel);
    update_ticket(state, request, which, "BOARDING_PASS")
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
