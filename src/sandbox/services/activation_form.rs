//! Member-card activation form answers.

use super::*;

impl State {
    /// The user fills in a member card's activation form (跳转型开卡组件) and submits it: the
    /// answers are kept under a new `activate_ticket` (read by
    /// `card/membercard/activatetempinfo/get`) and `submit_membercard_user_info` is pushed.
    pub(crate) fn submit_member_info(&mut self, code: &str, info: Value) -> Outcome<String> {
        let record = self.control_code(code)?;
        let (card_id, openid) = (record.card_id.clone(), record.openid.clone());
        card_of_type(self, &card_id, "MEMBER_CARD")?;
        let info: crate::MemberCardUserInfo = match info {
            Value::Null => crate::MemberCardUserInfo {
                common_field_list: Some(Vec::new()),
                custom_field_list: Some(Vec::new()),
            },
            other => serde_json::from_value(other).map_err(|e| {
                invalid(format!(
                    "info holds common_field_list and custom_field_list, lists of {{name, value}}: {e}"
                ))
            })?,
        };
        let ticket = self.random_text(64);
        self.services
            .tickets
            .activation_forms
            .insert(ticket.clone(), info);
        let event =
            crate::SubmitMembercardUserInfoEvent::new(card_id.as_str()).user_card_code(code);
        self.push_event(&openid, CardEvent::SubmitMembercardUserInfo(event));
        Ok(ticket)
    }
}

/// `card/membercard/activatetempinfo/get`.
pub(crate) fn get_activate_temp_info(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetActivateTempInfoRequest = typed(request)?;
    let ticket = request.activate_ticket.as_str();
    let info = state
        .services
        .tickets
        .activation_forms
        .get(ticket)
        .ok_or_else(|| unknown("activate_ticket", format!("{ticket:?}")))?;
    Ok(json!({ "info": info }))
}
