//! Cells and colours.

use super::*;

fn set_cell(
    state: &State,
    card_id: &str,
    is_open: Option<bool>,
    cell: &str,
    default_open: bool,
) -> Outcome<bool> {
    let card = state.live_card(card_id)?;
    let open = is_open.unwrap_or(default_open);
    if open && !has_store(card) {
        return Err(Refusal::new(
            REQUIRE_LOCATION,
            format!(
                "{}: the {cell} needs a card with a store (location_id_list or use_all_locations); card {card_id:?} has none",
                errmsg(REQUIRE_LOCATION)
            ),
        ));
    }
    Ok(open)
}

/// `card/paycell/set` (`is_open` defaults to true).
pub(crate) fn set_pay_cell(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::SetPayCellRequest = typed(request)?;
    let open = set_cell(
        state,
        &request.card_id,
        request.is_open,
        "pay cell (买单)",
        true,
    )?;
    state.services.cells.pay_cells.insert(request.card_id, open);
    ok()
}

/// `card/selfconsumecell/set` (`is_open` defaults to false).
pub(crate) fn set_self_consume_cell(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::SetSelfConsumeCellRequest = typed(request)?;
    set_cell(
        state,
        &request.card_id,
        request.is_open,
        "self-consume cell (自助核销)",
        false,
    )?;
    state
        .services
        .cells
        .self_consume_cells
        .insert(request.card_id.clone(), request);
    ok()
}

/// `card/getcolors`: the colours card/get shows.
pub(crate) fn get_colors(_state: &mut State, _request: &Value) -> Outcome<Value> {
    let colors: Vec<Value> = crate::sandbox::state::COLORS
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    Ok(json!({ "colors": colors }))
}

impl State {
    /// A user pays through a card's pay cell (买单): `user_pay_from_pay_cell` is pushed.
    pub(crate) fn pay_with_pay_cell(
        &mut self,
        code: &str,
        fee: i64,
        original_fee: i64,
    ) -> Outcome<String> {
        let record = self.control_code(code)?;
        let (card_id, openid) = (record.card_id.clone(), record.openid.clone());
        if !self.can_consume(record) {
            return Err(State::not_consumable(record));
        }
        if self.services.cells.pay_cells.get(&card_id) != Some(&true) {
            return Err(invalid(format!(
                "card {card_id:?} has no open pay cell (card/paycell/set)"
            )));
        }
        if fee < 0 || original_fee < fee {
            return Err(invalid(format!(
                "fee {fee} must be 0 or more and at most original_fee {original_fee}"
            )));
        }
        let trans_id = format!("42000{:023}", self.next_seq());
        let event = crate::UserPayFromPayCellEvent::new(card_id.as_str())
            .user_card_code(code)
            .trans_id(trans_id.as_str())
            .fee(fee)
            .original_fee(original_fee);
        self.push_event(&openid, CardEvent::UserPayFromPayCell(event));
        Ok(trans_id)
    }

    /// A user enters the account's chat from a card: `user_enter_session_from_card`.
    pub(crate) fn enter_session(&mut self, code: &str) -> Outcome<()> {
        let record = self.control_code(code)?;
        let event =
            crate::UserEnterSessionFromCardEvent::new(record.card_id.as_str()).user_card_code(code);
        self.push_event(&record.openid, CardEvent::UserEnterSessionFromCard(event));
        Ok(())
    }
}
