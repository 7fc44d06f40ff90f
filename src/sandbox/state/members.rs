//! What member cards keep: each code's member data, and the cards' activation forms and
//! plug-in URLs; the handlers are in `membercard.rs`.

use std::collections::HashMap;

/// The member data of one code.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Member {
    pub active: bool,
    pub membership_number: Option<String>,
    pub bonus: i64,
    pub balance: i64,
    pub custom_field_values: [Option<String>; 3],
    pub background_pic_url: Option<String>,
}

impl Member {
    /// Activation on receipt (`auto_activate`): the code is the membership number.
    pub(crate) fn activate(&mut self, membership_number: &str) {
        self.active = true;
        self.membership_number = Some(membership_number.to_owned());
    }
}

/// What member cards keep besides the codes' data.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct MemberCards {
    /// The 一键开卡 form of each card (the `activateuserform/set` request).
    pub(crate) forms: HashMap<String, crate::SetActivateUserFormRequest>,
    /// The `encrypt_card_id` of each card's activation URL.
    pub(crate) encrypted_ids: HashMap<String, String>,
}
