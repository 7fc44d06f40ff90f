//! Complete example cards generated from the spec (the run-time `schema::TYPES` table): every
//! field of every type a card body can hold, filled with a value from the spec's documented
//! examples, or else from its type and limit. A field added to the card body in the spec is in
//! these cards at once, with no test to edit.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
use wechat_card::schema::{self, RuleInfo, Ty, TypeKind};

/// Fields `card/get` adds (or changes) and that a create request leaves out: `(type, field)`.
/// These are answer-only facts of WeChat's, not part of the card body one creates.
pub const READ_ONLY: &[(&str, &str)] = &[
    ("BaseInfo", "id"),
    ("BaseInfo", "status"),
    ("BaseInfo", "create_time"),
    ("BaseInfo", "update_time"),
    ("BaseInfo", "area_code_list"),
    ("Sku", "total_quantity"),
    ("AdvancedInfo", "share_friends"),
    ("AdvancedInfo", "consume_share_card_list"),
];

/// The first value the spec's documented example requests give each `(type, field)`.
pub fn example_values() -> BTreeMap<(String, String), Value> {
    let mut values = BTreeMap::new();
    for endpoint in schema::ENDPOINTS {
        let Some(request_type) = endpoint.request else {
            continue;
        };
        for example in endpoint.examples {
            if let Some(request) = example
                .request
                .and_then(|r| serde_json::from_str::<Value>(r).ok())
            {
                collect(request_type, &request, &mut values);
            }
        }
    }
    values
}

fn collect(type_name: &str, value: &Value, out: &mut BTreeMap<(String, String), Value>) {
    let Some(info) = schema::type_info(type_name) else {
        return;
    };
    let Some(object) = value.as_object() else {
        return;
    };
    match info.kind {
        TypeKind::Object { fields, .. } => {
            for field in fields {
                if let Some(inner) = object.get(field.wire) {
                    out.entry((type_name.to_owned(), field.wire.to_owned()))
                        .or_insert_with(|| inner.clone());
                    collect_in(&field.ty, inner, out);
                }
            }
        }
        TypeKind::Union { tag, variants } => {
            let tag_value = object.get(tag).and_then(Value::as_str);
            if let Some((name, payload)) = variants.iter().find(|(v, _)| Some(*v) == tag_value) {
                if let Some(inner) = object.get(&name.to_ascii_lowercase()) {
                    collect(payload, inner, out);
                }
            }
        }
        TypeKind::Enum { .. } => {}
        _ => {}
    }
}

fn collect_in(ty: &Ty, value: &Value, out: &mut BTreeMap<(String, String), Value>) {
    match ty {
        Ty::Ref(name) => collect(name, value, out),
        Ty::List { item, .. } => {
            for v in value.as_array().into_iter().flatten() {
                collect_in(item, v, out);
            }
        }
        _ => {}
    }
}

/// Builds complete values of spec types.
pub struct Generator {
    examples: BTreeMap<(String, String), Value>,
    /// Which member of each group of mutually exclusive fields is kept.
    choice: usize,
}

impl Generator {
    /// A generator keeping member `choice` (modulo the group's size) of every group of
    /// mutually exclusive fields.
    pub fn new(choice: usize) -> Generator {
        Generator {
            examples: example_values(),
            choice,
        }
    }

    /// A complete value of the object type `type_name`.
    pub fn object(&self, type_name: &str) -> Value {
        let Some(TypeKind::Object { fields, rules }) = schema::type_info(type_name).map(|t| t.kind)
        else {
            panic!("{type_name} is not an object type of the spec");
        };
        let mut left_out = BTreeSet::new();
        for rule in rules {
            if let RuleInfo::Exclusive(group) | RuleInfo::OneOf(group) = rule {
                let kept = group[self.choice % group.len()];
                left_out.extend(group.iter().copied().filter(|f| *f != kept));
            }
        }
        let mut object = Map::new();
        for field in fields {
            if left_out.contains(field.wire) || READ_ONLY.contains(&(type_name, field.wire)) {
                continue;
            }
            object.insert(
                field.wire.to_owned(),
                self.value(type_name, field.wire, &field.ty),
            );
        }
        Value::Object(object)
    }

    /// A value for field `field` of `owner`: objects are built field by field; other values
    /// come from the spec's examples, or else from the type and its limits.
    fn value(&self, owner: &str, field: &str, ty: &Ty) -> Value {
        if let Ty::Ref(name) = ty {
            if let Some(TypeKind::Object { .. }) = schema::type_info(name).map(|t| t.kind) {
                return self.object(name);
            }
        }
        if let Ty::List {
            item: Ty::Ref(name),
            min_items,
            ..
        } = ty
        {
            if let Some(TypeKind::Object { .. }) = schema::type_info(name).map(|t| t.kind) {
                let n = min_items.unwrap_or(1).max(1);
                return Value::Array((0..n).map(|_| self.object(name)).collect());
            }
        }
        if let Some(example) = self.examples.get(&(owner.to_owned(), field.to_owned())) {
            return example.clone();
        }
        from_type(field, ty)
    }

    /// A complete card of the card type `tag`.
    pub fn card(&self, tag: &str) -> Value {
        let TypeKind::Union { variants, .. } = card_union() else {
            unreachable!()
        };
        let (_, payload) = variants
            .iter()
            .find(|(t, _)| *t == tag)
            .unwrap_or_else(|| panic!("{tag} is not a card type of the spec"));
        let mut card = Map::new();
        card.insert("card_type".into(), json!(tag));
        card.insert(tag.to_ascii_lowercase(), self.object(payload));
        Value::Object(card)
    }
}

/// A value of `ty` from its type and limits alone.
fn from_type(field: &str, ty: &Ty) -> Value {
    match ty {
        Ty::String { max_bytes } => {
            let limit = max_bytes.map_or(usize::MAX, |m| m as usize).max(1);
            json!(field.chars().take(limit).collect::<String>())
        }
        Ty::Bool => json!(true),
        Ty::Int { min, max, .. } => json!(i64::try_from(1i128.clamp(*min, *max)).unwrap_or(0)),
        Ty::Date => json!("2024-01-01"),
        Ty::Json => json!({}),
        Ty::List {
            item, min_items, ..
        } => {
            let n = min_items.unwrap_or(1).max(1);
            Value::Array((0..n).map(|_| from_type(field, item)).collect())
        }
        Ty::Ref(name) => match schema::type_info(name).map(|t| t.kind) {
            Some(TypeKind::Enum { values }) => json!(values[0]),
            other => panic!("{field}: no value for {name} ({other:?})"),
        },
        other => panic!("{field}: no value for {other:?}"),
    }
}

/// The card union of the spec.
pub fn card_union() -> TypeKind {
    schema::type_info("Card")
        .expect("the spec has a Card type")
        .kind
}

/// Complete cards: one per card type for each choice among exclusive fields, so that together
/// they hold every field of every type a card body can hold. In the spec's order of card types.
pub fn every_card() -> Vec<Value> {
    let TypeKind::Union { variants, .. } = card_union() else {
        panic!("Card is a union");
    };
    let groups = largest_exclusive_group();
    let mut cards = Vec::new();
    for choice in 0..groups {
        let generator = Generator::new(choice);
        for (tag, _) in variants {
            let card = generator.card(tag);
            if !cards.contains(&card) {
                cards.push(card);
            }
        }
    }
    cards
}

/// The size of the largest group of mutually exclusive fields among the object types.
fn largest_exclusive_group() -> usize {
    schema::TYPES
        .iter()
        .filter_map(|t| match t.kind {
            TypeKind::Object { rules, .. } => Some(rules),
            _ => None,
        })
        .flat_map(|rules| rules.iter())
        .filter_map(|rule| match rule {
            RuleInfo::Exclusive(group) | RuleInfo::OneOf(group) => Some(group.len()),
            _ => None,
        })
        .max()
        .unwrap_or(1)
}
