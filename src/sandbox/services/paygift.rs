//! Pay-gift rules (支付后投放卡券).

use super::*;

fn rule_live(rule: &Value) -> bool {
    rule.pointer("/base_info/status").and_then(Value::as_str) == Some("RULE_STATUS_OK")
}

/// `card/paygiftcard/add`.
pub(crate) fn add_pay_gift_rule(state: &mut State, request: &Value) -> Outcome<Value> {
    let req: crate::AddPayGiftRuleRequest = typed(request)?;
    // The rule is kept as it was sent (getbyid answers it), with the fields WeChat adds.
    let mut rule = serde_json::to_value(&req.rule_info).map_err(invalid)?;
    if let Some(member_rule) = &req.rule_info.member_rule {
        if !member_rule.card_id.is_empty() {
            card_of_type(state, &member_rule.card_id, "MEMBER_CARD")?;
        }
    }
    let wanted = req.rule_info.base_info.mchid_list;
    let appid = state.config.appid.clone();
    let mut succ = Vec::new();
    let mut fail = Vec::new();
    for mchid in wanted {
        let occupied = state.services.rules.iter().find(|(_, r)| {
            rule_live(r)
                && r.pointer("/base_info/mchid_list")
                    .and_then(Value::as_array)
                    .is_some_and(|l| l.iter().any(|m| m.as_str() == Some(&mchid)))
        });
        match occupied {
            Some((id, _)) => fail.push(json!({
                "mchid": mchid, "errcode": MCHID_OCCUPIED, "errmsg": errmsg(MCHID_OCCUPIED),
                "occupy_rule_id": id, "occupy_appid": appid,
            })),
            None if !succ.contains(&mchid) => succ.push(mchid),
            None => {}
        }
    }
    if succ.is_empty() {
        return Err(Refusal::new(
            MCHID_OCCUPIED,
            format!(
                "{}: every mchid of the rule is taken by another rule",
                errmsg(MCHID_OCCUPIED)
            ),
        ));
    }
    state.services.next_rule += 1;
    let rule_id = state.services.next_rule;
    let now = state.now();
    if let Some(base) = rule.get_mut("base_info").and_then(Value::as_object_mut) {
        base.insert("mchid_list".into(), json!(succ));
        base.insert("status".into(), json!("RULE_STATUS_OK"));
        base.insert("create_time".into(), json!(now));
        base.insert("update_time".into(), json!(now));
    }
    state.services.rules.insert(rule_id, rule);
    Ok(json!({ "rule_id": rule_id, "succ_mchid_list": succ, "fail_mchid_list": fail }))
}

fn rule_mut(state: &mut State, rule_id: u64) -> Outcome<&mut Value> {
    state
        .services
        .rules
        .get_mut(&rule_id)
        .filter(|r| rule_live(r))
        .ok_or_else(|| unknown("rule_id", rule_id))
}

/// `card/paygiftcard/delete`.
pub(crate) fn delete_pay_gift_rule(state: &mut State, request: &Value) -> Outcome<Value> {
    let now = state.now();
    let rule_id = typed::<crate::DeletePayGiftRuleRequest>(request)?.rule_id;
    let rule = rule_mut(state, rule_id)?;
    if let Some(base) = rule.get_mut("base_info").and_then(Value::as_object_mut) {
        base.insert("status".into(), json!("RULE_STATUS_DELETE"));
        base.insert("update_time".into(), json!(now));
    }
    ok()
}

/// `card/paygiftcard/getbyid`.
pub(crate) fn get_pay_gift_rule(state: &mut State, request: &Value) -> Outcome<Value> {
    let rule_id = typed::<crate::GetPayGiftRuleRequest>(request)?.rule_id;
    let rule = rule_mut(state, rule_id)?.clone();
    Ok(json!({ "rule_info": rule }))
}

/// `card/paygiftcard/batchget`: `effective` true lists the rules in force now.
pub(crate) fn batch_get_pay_gift_rules(state: &mut State, request: &Value) -> Outcome<Value> {
    let now = state.now();
    let request: crate::BatchGetPayGiftRulesRequest = typed(request)?;
    let effective = request.effective;
    let kind = request.rule_type.as_str();
    let matching: Vec<&Value> = state
        .services
        .rules
        .values()
        .filter(|r| rule_live(r))
        .filter(|r| r.get("type").and_then(Value::as_str) == Some(kind))
        .filter(|r| {
            let time = |k: &str| {
                r.pointer(&format!("/base_info/{k}"))
                    .and_then(Value::as_i64)
            };
            !effective
                || (time("begin_time").is_none_or(|b| b <= now)
                    && time("end_time").is_none_or(|e| now <= e))
        })
        .collect();
    let page = page_of(&matching, request.offset, request.count);
    Ok(json!({ "rule_list": page, "total_count": matching.len() }))
}
