//! Pay-gift rules (支付后投放卡券).

use super::*;
use crate::PayGiftRuleInfo;

/// The status of a rule in force (WeChat's `base_info.status`).
const RULE_OK: &str = "RULE_STATUS_OK";
/// The status of a deleted rule.
const RULE_DELETED: &str = "RULE_STATUS_DELETE";

fn rule_live(rule: &PayGiftRuleInfo) -> bool {
    rule.base_info.status.as_deref() == Some(RULE_OK)
}

/// `card/paygiftcard/add`.
pub(crate) fn add_pay_gift_rule(state: &mut State, request: &Value) -> Outcome<Value> {
    // The rule is kept as it was sent (getbyid answers it), with the fields WeChat adds.
    let mut rule = typed::<crate::AddPayGiftRuleRequest>(request)?.rule_info;
    if let Some(member_rule) = &rule.member_rule {
        if !member_rule.card_id.is_empty() {
            card_of_type(state, &member_rule.card_id, "MEMBER_CARD")?;
        }
    }
    let wanted = std::mem::take(&mut rule.base_info.mchid_list);
    let appid = state.config.appid.clone();
    let mut succ = Vec::new();
    let mut fail = Vec::new();
    for mchid in wanted {
        let occupied = state
            .services
            .pay_gift
            .rules
            .iter()
            .find(|(_, r)| rule_live(r) && r.base_info.mchid_list.contains(&mchid));
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
    state.services.pay_gift.next_rule += 1;
    let rule_id = state.services.pay_gift.next_rule;
    let now = state.now();
    let base = &mut rule.base_info;
    base.mchid_list = succ.clone();
    base.status = Some(RULE_OK.to_owned());
    base.create_time = Some(now);
    base.update_time = Some(now);
    state.services.pay_gift.rules.insert(rule_id, rule);
    Ok(json!({ "rule_id": rule_id, "succ_mchid_list": succ, "fail_mchid_list": fail }))
}

fn rule_mut(state: &mut State, rule_id: u64) -> Outcome<&mut PayGiftRuleInfo> {
    state
        .services
        .pay_gift
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
    rule.base_info.status = Some(RULE_DELETED.to_owned());
    rule.base_info.update_time = Some(now);
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
    let matching: Vec<&PayGiftRuleInfo> = state
        .services
        .pay_gift
        .rules
        .values()
        .filter(|r| rule_live(r))
        .filter(|r| r.rule_type == request.rule_type)
        .filter(|r| !effective || (r.base_info.begin_time <= now && now <= r.base_info.end_time))
        .collect();
    let page = page_of(&matching, request.offset, request.count);
    Ok(json!({ "rule_list": page, "total_count": matching.len() }))
}
