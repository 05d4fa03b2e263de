//! Customer segments: which group a customer belongs to (premium,
//! business, …), and so the priority their conversation gets in the queue.
//!
//! Rules come from `[[segments]]` in the config: email addresses or
//! domains, Telegram user ids, attributes of a web chat identity, or tags
//! an agent put on the customer (see [`after_tagging`]). A web
//! identity counts only when the host site signed it: the site sends the
//! user id and attributes with an HMAC-SHA256 under a secret it shares with
//! the gateway (`[channels.web] identity_secret`), so a visitor cannot make
//! themselves premium. Of several matching segments, the highest priority
//! wins; a customer no rule names is in no segment and gets the default
//! priority.

use crate::model::CustomerAddress;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::collections::BTreeMap;

/// A group of customers served with their own priority.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentConfig {
    pub name: String,
    /// Queue priority of its conversations (higher is served first).
    pub priority: u8,
    /// Exact email addresses.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Every address at these domains.
    #[serde(default)]
    pub email_domains: Vec<String>,
    /// Telegram user ids.
    #[serde(default)]
    pub telegram_users: Vec<i64>,
    /// Web chat visitors whose signed identity has all these attributes.
    #[serde(default)]
    pub web_attributes: BTreeMap<String, String>,
    /// Customers an agent tagged with any of these.
    #[serde(default)]
    pub tags: Vec<String>,
    /// This segment's first-response target, instead of `[sla]`'s.
    pub first_response_minutes: Option<u32>,
    /// This segment's resolution target, instead of `[sla]`'s.
    #[serde(default)]
    pub resolution_minutes: Option<u32>,
}

/// The segment `customer` belongs to. `attributes` are the verified web
/// identity's (empty for other channels or unverified visitors); `tags`
/// the ones agents gave the customer.
pub fn segment_of<'a>(
    segments: &'a [SegmentConfig],
    customer: &CustomerAddress,
    attributes: &BTreeMap<String, String>,
    tags: &[String],
) -> Option<&'a SegmentConfig> {
    segments
        .iter()
        .filter(|s| matches(s, customer, attributes) || s.tags.iter().any(|t| tags.contains(t)))
        .max_by_key(|s| s.priority)
}

/// The segment of a conversation once an agent set its tags to `tags`:
/// the best of what the address and the new tags match, and of the current
/// segment when a signed web identity gave it (the identity is not kept, so
/// it cannot be matched again).
pub fn after_tagging<'a>(
    segments: &'a [SegmentConfig],
    customer: &CustomerAddress,
    current: Option<&str>,
    tags: &[String],
) -> Option<&'a SegmentConfig> {
    let by_identity = segments
        .iter()
        .find(|s| Some(s.name.as_str()) == current && !s.web_attributes.is_empty());
    segment_of(segments, customer, &BTreeMap::new(), tags)
        .into_iter()
        .chain(by_identity)
        .max_by_key(|s| s.priority)
}

/// Whether `tag` is a tag an agent may set: 1 to 40 of `a-z 0-9 _ -`.
pub fn valid_tag(tag: &str) -> bool {
    (1..=40).contains(&tag.len())
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn matches(
    segment: &SegmentConfig,
    customer: &CustomerAddress,
    attributes: &BTreeMap<String, String>,
) -> bool {
    match customer {
        CustomerAddress::Email { address } => {
            let address = address.to_lowercase();
            let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
            segment
                .emails
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&address))
                || segment
                    .email_domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(domain))
        }
        // In a private chat the chat id is the user id.
        CustomerAddress::Telegram { chat_id } => segment.telegram_users.contains(chat_id),
        CustomerAddress::Web { .. } => {
            !segment.web_attributes.is_empty()
                && segment
                    .web_attributes
                    .iter()
                    .all(|(k, v)| attributes.get(k) == Some(v))
        }
    }
}

/// What the host site signs: the user id, then each attribute as
/// `\nkey=value`, keys in sorted order.
fn signed_text(user_id: &str, attributes: &BTreeMap<String, String>) -> String {
    let mut text = user_id.to_string();
    for (key, value) in attributes {
        text.push('\n');
        text.push_str(key);
        text.push('=');
        text.push_str(value);
    }
    text
}

fn mac(secret: &str) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length")
}

/// The signature the host site computes (lowercase hex), for its docs and
/// tests.
pub fn sign_identity(secret: &str, user_id: &str, attributes: &BTreeMap<String, String>) -> String {
    let mut mac = mac(secret);
    mac.update(signed_text(user_id, attributes).as_bytes());
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

/// Whether `signature` (hex) is the host site's for this identity; the
/// comparison takes the same time wherever they differ.
pub fn verify_identity(
    secret: &str,
    user_id: &str,
    attributes: &BTreeMap<String, String>,
    signature: &str,
) -> bool {
    let Ok(bytes) = data_encoding::HEXLOWER_PERMISSIVE.decode(signature.trim().as_bytes()) else {
        return false;
    };
    let mut mac = mac(secret);
    mac.update(signed_text(user_id, attributes).as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(name: &str, priority: u8) -> SegmentConfig {
        SegmentConfig {
            name: name.into(),
            priority,
            emails: Vec::new(),
            email_domains: Vec::new(),
            telegram_users: Vec::new(),
            web_attributes: BTreeMap::new(),
            tags: Vec::new(),
            first_response_minutes: None,
            resolution_minutes: None,
        }
    }

    #[test]
    fn rules_match_by_channel_and_the_highest_priority_wins() {
        let mut vip = segment("vip", 20);
        vip.emails = vec!["Boss@BigCorp.example".into()];
        vip.telegram_users = vec![42];
        let mut business = segment("business", 10);
        business.email_domains = vec!["bigcorp.example".into()];
        let mut premium = segment("premium", 15);
        premium.web_attributes = BTreeMap::from([("plan".into(), "premium".into())]);
        let all = [business, vip, premium];
        let none = BTreeMap::new();
        let email = |a: &str| CustomerAddress::Email { address: a.into() };
        let name = |s: Option<&SegmentConfig>| s.map(|s| s.name.clone());
        assert_eq!(
            name(segment_of(&all, &email("boss@bigcorp.example"), &none, &[])),
            Some("vip".into())
        );
        assert_eq!(
            name(segment_of(&all, &email("ann@bigcorp.example"), &none, &[])),
            Some("business".into())
        );
        assert_eq!(
            name(segment_of(
                &all,
                &email("ann@elsewhere.example"),
                &none,
                &[]
            )),
            None
        );
        assert_eq!(
            name(segment_of(
                &all,
                &CustomerAddress::Telegram { chat_id: 42 },
                &none,
                &[]
            )),
            Some("vip".into())
        );
        let web = CustomerAddress::Web {
            session_id: uuid::Uuid::nil(),
        };
        let premium_plan = BTreeMap::from([("plan".into(), "premium".into())]);
        assert_eq!(
            name(segment_of(&all, &web, &premium_plan, &[])),
            Some("premium".into())
        );
        assert_eq!(name(segment_of(&all, &web, &none, &[])), None);
    }

    #[test]
    fn agent_tags_match_segments_and_keep_a_signed_identitys_segment() {
        let mut vip = segment("vip", 20);
        vip.tags = vec!["vip".into()];
        let mut premium = segment("premium", 15);
        premium.web_attributes = BTreeMap::from([("plan".into(), "premium".into())]);
        let mut partner = segment("partner", 5);
        partner.tags = vec!["reseller".into()];
        let all = [vip, premium, partner];
        let web = CustomerAddress::Web {
            session_id: uuid::Uuid::nil(),
        };
        let name = |s: Option<&SegmentConfig>| s.map(|s| s.name.clone());
        let tags = |t: &[&str]| t.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(
            name(after_tagging(&all, &web, None, &tags(&["vip"]))),
            Some("vip".into())
        );
        // A premium visitor tagged as a reseller stays premium (higher).
        assert_eq!(
            name(after_tagging(
                &all,
                &web,
                Some("premium"),
                &tags(&["reseller"])
            )),
            Some("premium".into())
        );
        // Untagging a vip drops the segment; a made-up name is not kept.
        assert_eq!(name(after_tagging(&all, &web, Some("vip"), &[])), None);
        assert!(valid_tag("vip") && valid_tag("b2b-eu_2"));
        assert!(
            !valid_tag("") && !valid_tag("VIP") && !valid_tag("a b") && !valid_tag(&"x".repeat(41))
        );
    }

    #[test]
    fn a_signature_covers_the_user_id_and_every_attribute() {
        let attributes = BTreeMap::from([("plan".into(), "premium".into())]);
        let signature = sign_identity("s3cret", "user-7", &attributes);
        assert_eq!(signature.len(), 64);
        assert!(verify_identity("s3cret", "user-7", &attributes, &signature));
        assert!(verify_identity(
            "s3cret",
            "user-7",
            &attributes,
            &signature.to_uppercase()
        ));
        assert!(!verify_identity("other", "user-7", &attributes, &signature));
        assert!(!verify_identity(
            "s3cret",
            "user-8",
            &attributes,
            &signature
        ));
        let upgraded = BTreeMap::from([("plan".into(), "enterprise".into())]);
        assert!(!verify_identity("s3cret", "user-7", &upgraded, &signature));
        assert!(!verify_identity("s3cret", "user-7", &attributes, "zz"));
        assert!(!verify_identity("s3cret", "user-7", &attributes, ""));
    }
}
