//! Sub-merchants (子商户) and qualifications.

use super::*;
use crate::{
    SubMerchantAccount, SubMerchantDetail, SubMerchantQualificationResult, SubMerchantStatus,
};

/// The category ids `card/getapplyprotocol` lists (its documented answer).
fn known_category(primary: u64, secondary: u64) -> bool {
    let Some(endpoint) = crate::schema::endpoint("card/getapplyprotocol") else {
        return true;
    };
    let categories = crate::sandbox::request::example_answer(endpoint, &json!({}));
    categories
        .get("category")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("primary_category_id").and_then(Value::as_u64) == Some(primary))
        .flat_map(|c| {
            c.get("secondary_category")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .any(|s| s.get("secondary_category_id").and_then(Value::as_u64) == Some(secondary))
}

fn check_category(primary: u64, secondary: u64) -> Outcome<()> {
    if known_category(primary, secondary) {
        Ok(())
    } else {
        Err(unknown(
            "the category",
            format!("{primary}/{secondary} (card/getapplyprotocol)"),
        ))
    }
}

/// `card/submerchant/submit`: `CHECKING` until reviewed.
pub(crate) fn submit_sub_merchant(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::SubmitSubMerchantRequest = typed(request)?;
    check_category(
        u64::from(request.info.primary_category_id),
        u64::from(request.info.secondary_category_id),
    )?;
    let merchant_id = state.next_seq();
    let now = state.now();
    // What WeChat keeps of it: the media ids (protocol, agreement, operator) are not answered.
    let info = request.info;
    let stored = SubMerchantDetail {
        merchant_id: Some(merchant_id),
        app_id: Some(info.app_id.unwrap_or_default()),
        create_time: Some(now),
        update_time: Some(now),
        brand_name: Some(info.brand_name),
        logo_url: Some(info.logo_url),
        status: Some(SubMerchantStatus::Checking),
        begin_time: Some(now),
        end_time: Some(i64::from(info.end_time)),
        primary_category_id: Some(info.primary_category_id),
        secondary_category_id: Some(info.secondary_category_id),
    };
    state
        .services
        .sub_merchants
        .merchants
        .insert(merchant_id, stored.clone());
    Ok(json!({ "info": stored }))
}

fn merchant(state: &mut State, merchant_id: u64) -> Outcome<&mut SubMerchantDetail> {
    state
        .services
        .sub_merchants
        .merchants
        .get_mut(&merchant_id)
        .ok_or_else(|| unknown("sub-merchant merchant_id", merchant_id))
}

/// `card/submerchant/update`: the fields sent replace the stored ones; back to `CHECKING`.
pub(crate) fn update_sub_merchant(state: &mut State, request: &Value) -> Outcome<Value> {
    let update = typed::<crate::UpdateSubMerchantRequest>(request)?.info;
    let now = state.now();
    let mut merged = merchant(state, update.merchant_id)?.clone();
    if let Some(app_id) = update.app_id {
        merged.app_id = Some(app_id);
    }
    if let Some(brand_name) = update.brand_name {
        merged.brand_name = Some(brand_name);
    }
    if let Some(logo_url) = update.logo_url {
        merged.logo_url = Some(logo_url);
    }
    if let Some(end_time) = update.end_time {
        merged.end_time = Some(i64::from(end_time));
    }
    if let Some(id) = update.primary_category_id {
        merged.primary_category_id = Some(id);
    }
    if let Some(id) = update.secondary_category_id {
        merged.secondary_category_id = Some(id);
    }
    // The stored sub-merchant's category, with the update's where it sends one.
    check_category(
        merged.primary_category_id.map_or(0, u64::from),
        merged.secondary_category_id.map_or(0, u64::from),
    )?;
    merged.update_time = Some(now);
    merged.status = Some(SubMerchantStatus::Checking);
    *merchant(state, update.merchant_id)? = merged.clone();
    Ok(json!({ "info": merged }))
}

/// `card/submerchant/get`.
pub(crate) fn get_sub_merchant(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetSubMerchantRequest = typed(request)?;
    let info = merchant(state, request.merchant_id)?.clone();
    Ok(json!({ "info": info }))
}

/// `card/submerchant/batchget`: from `begin_id` on, `limit` of them.
pub(crate) fn batch_get_sub_merchants(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::BatchGetSubMerchantsRequest = typed(request)?;
    let status = request.status.as_ref();
    let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
    let list: Vec<(u64, &SubMerchantDetail)> = state
        .services
        .sub_merchants
        .merchants
        .range(request.begin_id..)
        .filter(|(_, m)| status.is_none_or(|s| m.status.as_ref() == Some(s)))
        .take(limit)
        .map(|(id, m)| (*id, m))
        .collect();
    let next = list.last().map_or(0, |(id, _)| id.saturating_add(1));
    let info_list: Vec<&SubMerchantDetail> = list.into_iter().map(|(_, m)| m).collect();
    Ok(json!({ "info_list": info_list, "next_begin_id": next }))
}

impl State {
    /// A sub-merchant's review ends: `APPROVED` or `REJECTED`, and
    /// `card_merchant_check_result` is pushed.
    pub(crate) fn review_sub_merchant(
        &mut self,
        merchant_id: u64,
        pass: bool,
        reason: &str,
    ) -> Outcome<()> {
        let now = self.now();
        let stored = merchant(self, merchant_id)?;
        stored.status = Some(if pass {
            SubMerchantStatus::Approved
        } else {
            SubMerchantStatus::Rejected
        });
        stored.update_time = Some(now);
        let mut event = crate::CardMerchantCheckResultEvent::new(
            i64::try_from(merchant_id).unwrap_or(i64::MAX),
        )
        .is_pass(i64::from(pass));
        if !reason.is_empty() {
            event = event.reason(reason);
        }
        let appid = self.config.appid.clone();
        self.push_event(&appid, CardEvent::CardMerchantCheckResult(event));
        Ok(())
    }

    /// A qualification's review ends: the agent's (`appid` `None`) or a sub-merchant's.
    pub(crate) fn review_qualification(&mut self, appid: Option<&str>, pass: bool) -> Outcome<()> {
        let result = if pass {
            "RESULT_PASS"
        } else {
            "RESULT_NOT_PASS"
        };
        match appid {
            None => {
                if self.services.sub_merchants.agent_qualification.is_none() {
                    return Err(invalid(
                        "the agent has submitted no qualification (upload_card_agent_qualification)",
                    ));
                }
                self.services.sub_merchants.agent_qualification = Some(result);
            }
            Some(appid) => {
                let account = self
                    .services
                    .sub_merchants
                    .qualifications
                    .get_mut(appid)
                    .ok_or_else(|| unknown("sub-merchant appid", format!("{appid:?}")))?;
                account.result = Some(SubMerchantQualificationResult::from(result));
            }
        }
        Ok(())
    }
}

/// `cgi-bin/component/upload_card_agent_qualification`.
pub(crate) fn upload_agent_qualification(state: &mut State, _request: &Value) -> Outcome<Value> {
    if state.services.sub_merchants.agent_qualification == Some("RESULT_CHECKING") {
        return Err(Refusal::new(CAN_NOT_RESUBMIT, errmsg(CAN_NOT_RESUBMIT)));
    }
    state.services.sub_merchants.agent_qualification = Some("RESULT_CHECKING");
    ok()
}

/// `cgi-bin/component/check_card_agent_qualification`.
pub(crate) fn check_agent_qualification(state: &mut State, _request: &Value) -> Outcome<Value> {
    let result = state
        .services
        .sub_merchants
        .agent_qualification
        .unwrap_or("RESULT_NOTHING_TO_CHECK");
    Ok(json!({ "result": result }))
}

/// `cgi-bin/component/upload_card_merchant_qualification`: 61022 while one is being checked.
pub(crate) fn upload_merchant_qualification(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::UploadCardMerchantQualificationRequest = typed(request)?;
    check_category(
        u64::from(request.primary_category_id),
        u64::from(request.secondary_category_id),
    )?;
    let appid = request.appid;
    let checking = state
        .services
        .sub_merchants
        .qualifications
        .get(&appid)
        .is_some_and(|a| a.result == Some(SubMerchantQualificationResult::Checking));
    if checking {
        return Err(Refusal::new(CAN_NOT_RESUBMIT, errmsg(CAN_NOT_RESUBMIT)));
    }
    let now = state.now();
    let account = SubMerchantAccount {
        appid: Some(appid.clone()),
        name: Some(request.name),
        primary_category_id: Some(request.primary_category_id),
        secondary_category_id: Some(request.secondary_category_id),
        submit_time: Some(now.to_string()),
        result: Some(SubMerchantQualificationResult::Checking),
    };
    state
        .services
        .sub_merchants
        .qualifications
        .insert(appid, account);
    ok()
}

/// `cgi-bin/component/check_card_merchant_qualification`.
pub(crate) fn check_merchant_qualification(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::CheckCardMerchantQualificationRequest = typed(request)?;
    let result = state
        .services
        .sub_merchants
        .qualifications
        .get(&request.appid)
        .and_then(|a| a.result.clone())
        .unwrap_or(SubMerchantQualificationResult::NothingToCheck);
    Ok(json!({ "result": result }))
}

/// `cgi-bin/component/get_card_merchant`.
pub(crate) fn get_card_merchant(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetCardMerchantRequest = typed(request)?;
    let appid = request.appid.as_str();
    state
        .services
        .sub_merchants
        .qualifications
        .get(appid)
        .map(|account| json!(account))
        .ok_or_else(|| unknown("sub-merchant appid", format!("{appid:?}")))
}

/// Sub-merchant accounts per page of `cgi-bin/component/batchget_card_merchant`.
const MERCHANTS_PER_PAGE: usize = 100;

/// `cgi-bin/component/batchget_card_merchant`: `next_get` is the last appid of the previous
/// page.
pub(crate) fn batch_get_card_merchants(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::BatchGetCardMerchantsRequest = typed(request)?;
    let after = request.next_get.as_deref().unwrap_or_default();
    let list: Vec<&SubMerchantAccount> = state
        .services
        .sub_merchants
        .qualifications
        .iter()
        .filter(|(appid, _)| after.is_empty() || appid.as_str() > after)
        .map(|(_, account)| account)
        .take(MERCHANTS_PER_PAGE)
        .collect();
    let next = if list.len() == MERCHANTS_PER_PAGE {
        json!(
            list.last()
                .and_then(|a| a.appid.clone())
                .unwrap_or_default()
        )
    } else {
        json!("")
    };
    Ok(json!({ "list": list, "next_get": next }))
}
