//! 门店小程序 cards and special tickets.

use super::*;
use crate::sandbox::state::TicketDetails;

/// `card/storewxa/set`.
pub(crate) fn set_store_wxa_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::SetStoreWxaCardRequest = typed(request)?;
    state.live_card(&request.card_id)?;
    state
        .services
        .stores
        .store_cards
        .insert(request.poi_id, request.card_id);
    ok()
}

/// `card/storewxa/get`.
pub(crate) fn get_store_wxa_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetStoreWxaCardRequest = typed(request)?;
    let card_id = state
        .services
        .stores
        .store_cards
        .get(&request.poi_id)
        .ok_or_else(|| unknown("a card for poi_id", request.poi_id))?;
    Ok(json!({ "card_id": card_id }))
}

/// Keeps a ticket update's fields for the code: a later update replaces the fields it sends
/// and keeps the others.
fn update_ticket(
    state: &mut State,
    (code, card_id): (String, Option<String>),
    card_type: &str,
    update: TicketDetails,
) -> Outcome<Value> {
    let (code, _, _) = code_of_type(state, &code, card_id.as_deref(), card_type)?;
    let details = state.services.tickets.details.entry(code).or_default();
    details.merge(update);
    ok()
}

/// `card/meetingticket/updateuser`.
pub(crate) fn update_meeting_ticket(state: &mut State, request: &Value) -> Outcome<Value> {
    let req: crate::UpdateMeetingTicketUserRequest = typed(request)?;
    let which = (req.code.clone(), req.card_id.clone());
    update_ticket(state, which, "MEETING_TICKET", TicketDetails::Meeting(req))
}

/// `card/movieticket/updateuser`.
pub(crate) fn update_movie_ticket(state: &mut State, request: &Value) -> Outcome<Value> {
    let req: crate::UpdateMovieTicketUserRequest = typed(request)?;
    let which = (req.code.clone(), req.card_id.clone());
    update_ticket(state, which, "MOVIE_TICKET", TicketDetails::Movie(req))
}

/// `card/boardingpass/checkin` (`is_cancel` undoes the check-in).
pub(crate) fn check_in_boarding_pass(state: &mut State, request: &Value) -> Outcome<Value> {
    let req: crate::CheckInBoardingPassRequest = typed(request)?;
    let which = (req.code.clone(), req.card_id.clone());
    let update = if req.is_cancel == Some(true) {
        TicketDetails::None
    } else {
        TicketDetails::Boarding(req)
    };
    update_ticket(state, which, "BOARDING_PASS", update)
}

impl State {
    /// What the ticket endpoints set for a code (the sandbox's view; WeChat shows it in the
    /// user's card): the fields sent, without the code and the card.
    pub(crate) fn ticket_details(&self, code: &str) -> Option<Value> {
        self.services
            .tickets
            .details
            .get(code)
            .map(TicketDetails::to_json)
    }
}
