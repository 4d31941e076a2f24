//! What a verified webhook means for a channel, sans I/O: an inbound SMS, a delivery status callback
//! (with the multi-part rule), or something to acknowledge and ignore; the binding checks; the
//! idempotency key; and the localized hint shown under the message bubble.

use serde::Serialize;

use crate::ids::{AccountSid, MessageSid};
use crate::phone::E164;
use crate::status::{HivekeepStatus, MessageStatus};
use crate::webhook::{InboundError, VerifiedInbound, VerifiedWebhook};

/// Query parameters this crate adds to a part's `StatusCallback` so that every part's status reaches
/// the one message Hivekeep knows (see [`PartTag`]).
pub const PART_PARAM: &str = "part";
/// The number of parts.
pub const OF_PARAM: &str = "of";
/// The SID of the first part: the message's `platformMessageId`.
pub const FIRST_PARAM: &str = "first";

/// Where a part stands in a multi-part message, read from the signed `StatusCallback` URL.
///
/// The rule: a message split into `n` SMS is known to Hivekeep by the SID of its **first** part. Each
/// part's callback URL carries `part=k&of=n`, and parts 2..n also `first=<SID of part 1>`; Twilio signs
/// that URL, so the tag is as trustworthy as the callback. A part's status then maps onto the message:
/// a failed, undelivered or canceled part is the message's failure; `delivered` (or `read`) counts only
/// for the last part, earlier parts' `delivered` show as `sent`; other statuses map as they are. With
/// the ordering rule (a status applies when its rank is higher, or equal and final, and a failure outranks
/// `delivered`), the message shows `sent`, then `delivered` once the last part is delivered, or a
/// failure of a part (the latest reported), even one reported after the last part's `delivered`.
/// Stateless: nothing is stored per part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartTag {
    /// The part's index, from 1.
    pub part: u32,
    /// The number of parts.
    pub of: u32,
    /// The first part's SID (absent on part 1, whose own SID it is).
    pub first: Option<MessageSid>,
}

impl PartTag {
    /// Reads the tag from a raw query string, if it carries one.
    #[must_use]
    pub fn from_query(query: Option<&str>) -> Option<Self> {
        let mut part = None;
        let mut of = None;
        let mut first = None;
        for pair in query?.split('&') {
            match pair.split_once('=') {
                Some((PART_PARAM, v)) => part = v.parse().ok(),
                Some((OF_PARAM, v)) => of = v.parse().ok(),
                Some((FIRST_PARAM, v)) => first = MessageSid::parse(v).ok(),
                _ => {}
            }
        }
        let (part, of) = (part?, of?);
        (1..=of).contains(&part).then_some(Self { part, of, first })
    }

    /// The query pairs for part `part` (from 1) of `of`, with the first part's SID from part 2 on.
    #[must_use]
    pub fn query(part: u32, of: u32, first: Option<&MessageSid>) -> Vec<(&'static str, String)> {
        let mut pairs = vec![(PART_PARAM, part.to_string()), (OF_PARAM, of.to_string())];
        if let Some(first) = first {
            pairs.push((FIRST_PARAM, first.to_string()));
        }
        pairs
    }
}

/// A delivery status callback, read from a verified webhook: only [`classify`] makes one, so a
/// [`WebhookEvent::Status`] or a [`DeliveryStatusUpdate::from_report`] always comes from a signed
/// callback of the channel's account.
///
/// Its `Debug` masks `from` and redacts phone numbers in `error_message`.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusReport {
    message_sid: MessageSid,
    status: MessageStatus,
    error_code: Option<u32>,
    error_message: Option<String>,
    account_sid: Option<AccountSid>,
    from: Option<String>,
    part: Option<PartTag>,
}

impl core::fmt::Debug for StatusReport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let error_message = self.error_message.as_deref().map(crate::api_error::redact_phone_numbers);
        f.debug_struct("StatusReport")
            .field("message_sid", &self.message_sid)
            .field("status", &self.status)
            .field("error_code", &self.error_code)
            .field("error_message", &error_message)
            .field("account_sid", &self.account_sid)
            .field("from", &self.from.as_deref().map(crate::phone::Redacted::new))
            .field("part", &self.part)
            .finish()
    }
}

impl StatusReport {
    /// The SID of the SMS the callback is about.
    #[must_use]
    pub fn message_sid(&self) -> &MessageSid {
        &self.message_sid
    }

    /// The status of that SMS.
    #[must_use]
    pub fn status(&self) -> &MessageStatus {
        &self.status
    }

    /// `ErrorCode` (e.g. 30007), when present.
    #[must_use]
    pub fn error_code(&self) -> Option<u32> {
        self.error_code
    }

    /// `ErrorMessage`, when present.
    #[must_use]
    pub fn error_message(&self) -> Option<&str> {
        self.error_message.as_deref()
    }

    /// The account (the channel's: [`classify`] checks it).
    #[must_use]
    pub fn account_sid(&self) -> Option<&AccountSid> {
        self.account_sid.as_ref()
    }

    /// `From`, exactly as sent (a phone number: keep it out of logs).
    #[must_use]
    pub fn from(&self) -> Option<&str> {
        self.from.as_deref()
    }

    /// The multi-part tag of the callback URL.
    #[must_use]
    pub fn part(&self) -> Option<&PartTag> {
        self.part.as_ref()
    }

    /// The message Hivekeep knows (the first part's SID) and the status it should show, by the rule of
    /// [`PartTag`].
    #[must_use]
    pub fn for_message(&self) -> (MessageSid, MessageStatus) {
        let Some(tag) = &self.part else { return (self.message_sid.clone(), self.status.clone()) };
        let message = tag.first.clone().unwrap_or_else(|| self.message_sid.clone());
        let last = tag.part == tag.of;
        let status = match &self.status {
            MessageStatus::Delivered | MessageStatus::Read if !last => MessageStatus::Sent,
            other => other.clone(),
        };
        (message, status)
    }
}

/// What a verified webhook is.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// An inbound SMS (or MMS).
    Inbound(Box<VerifiedInbound>),
    /// A delivery status callback.
    Status(StatusReport),
    /// Anything else (acknowledged and ignored).
    Other,
}

/// Why a verified webhook is refused for this channel (a `403`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindingError {
    /// `AccountSid` is not the channel's account.
    #[error("binding: AccountSid is not the channel's account")]
    WrongAccount,
    /// An inbound SMS whose `To` is not the channel's number.
    #[error("binding: inbound To is not the channel's number")]
    WrongRecipient,
    /// A status callback whose `From` is not the channel's number.
    #[error("binding: status callback From is not the channel's number")]
    WrongSender,
    /// An inbound SMS that lacks what every inbound SMS has.
    #[error("inbound: {0}")]
    Inbound(InboundError),
    /// A status callback without a valid `MessageSid`.
    #[error("status callback without a valid MessageSid")]
    StatusWithoutSid,
}

/// Whether the webhook is a status callback: `MessageStatus` (or `SmsStatus`) present and not an inbound
/// status (`received`, `receiving`).
fn status_param(webhook: &VerifiedWebhook) -> Option<&str> {
    let status = webhook.param("MessageStatus").or_else(|| webhook.param("SmsStatus"))?;
    (!matches!(status, "received" | "receiving")).then_some(status)
}

/// Classifies a verified webhook for the channel with this account and number, checking that it belongs
/// to the channel.
///
/// # Errors
/// A [`BindingError`] when the webhook is signed but not the channel's (wrong account, an inbound SMS
/// to another number, a callback from another number), or malformed.
pub fn classify(
    webhook: VerifiedWebhook,
    account: &AccountSid,
    number: Option<&E164>,
) -> Result<WebhookEvent, BindingError> {
    if let Some(sid) = webhook.param("AccountSid")
        && sid != account.as_str()
    {
        return Err(BindingError::WrongAccount);
    }
    if let Some(status) = status_param(&webhook) {
        // A callback must name the channel's account, and its number when the channel has one.
        if webhook.param("AccountSid") != Some(account.as_str()) {
            return Err(BindingError::WrongAccount);
        }
        if let Some(number) = number
            && webhook.param("From") != Some(number.as_str())
        {
            return Err(BindingError::WrongSender);
        }
        let sid = webhook.param("MessageSid").or_else(|| webhook.param("SmsSid"));
        let message_sid =
            sid.and_then(|s| MessageSid::parse(s).ok()).ok_or(BindingError::StatusWithoutSid)?;
        return Ok(WebhookEvent::Status(StatusReport {
            message_sid,
            status: MessageStatus::parse(status),
            error_code: webhook.param("ErrorCode").and_then(|c| c.parse().ok()),
            error_message: webhook.param("ErrorMessage").filter(|m| !m.is_empty()).map(str::to_owned),
            account_sid: webhook.param("AccountSid").and_then(|s| AccountSid::parse(s).ok()),
            from: webhook.param("From").map(str::to_owned),
            part: PartTag::from_query(webhook.url().query()),
        }));
    }
    if webhook.param("Body").is_some() || webhook.param("NumMedia").is_some() {
        let inbound = VerifiedInbound::try_from(webhook).map_err(BindingError::Inbound)?;
        if inbound.account_sid() != account {
            return Err(BindingError::WrongAccount);
        }
        if let Some(number) = number
            && !inbound.to().is(number)
        {
            return Err(BindingError::WrongRecipient);
        }
        return Ok(WebhookEvent::Inbound(Box::new(inbound)));
    }
    Ok(WebhookEvent::Other)
}

/// The de-duplication key of an event: the signed `MessageSid` of an inbound SMS (plus the status, for
/// a callback); Twilio's `I-Twilio-Idempotency-Token` only for other events. The token header is not
/// covered by the signature, so a replay with a fresh (or no) token must still meet the same key.
#[must_use]
pub fn idempotency_key(token: Option<&str>, event: &WebhookEvent) -> Option<String> {
    match event {
        WebhookEvent::Inbound(sms) => Some(format!("sms:{}", sms.message_sid())),
        WebhookEvent::Status(report) => Some(format!("status:{}:{}", report.message_sid, report.status)),
        WebhookEvent::Other => token.filter(|t| !t.is_empty()).map(|token| format!("token:{token}")),
    }
}

/// A locale the hints are written in. Unknown locales fall back to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Locale {
    /// English.
    #[default]
    En,
    /// French.
    Fr,
    /// German.
    De,
    /// Spanish.
    Es,
}

impl Locale {
    /// Reads a locale tag such as `fr`, `fr-FR` or `de_DE`; anything else is English.
    #[must_use]
    pub fn parse(tag: Option<&str>) -> Self {
        let lang = tag.unwrap_or("").get(..2).unwrap_or("").to_ascii_lowercase();
        match lang.as_str() {
            "fr" => Self::Fr,
            "de" => Self::De,
            "es" => Self::Es,
            _ => Self::En,
        }
    }
}

/// The hint shown under a message bubble for a status, such as `✓ Delivered` or
/// `✗ Delivery failed (30007)`.
#[must_use]
pub fn status_hint(status: HivekeepStatus, error_code: Option<u32>, locale: Locale) -> String {
    use HivekeepStatus as S;
    let (ok, text) = match (status, locale) {
        (S::Queued, Locale::En) => (None, "Queued"),
        (S::Queued, Locale::Fr) => (None, "En file d'attente"),
        (S::Queued, Locale::De) => (None, "In der Warteschlange"),
        (S::Queued, Locale::Es) => (None, "En cola"),
        (S::Sent, Locale::En) => (None, "Sent"),
        (S::Sent, Locale::Fr) => (None, "Envoyé"),
        (S::Sent, Locale::De) => (None, "Gesendet"),
        (S::Sent, Locale::Es) => (None, "Enviado"),
        (S::Delivered, Locale::En) => (Some(true), "Delivered"),
        (S::Delivered, Locale::Fr) => (Some(true), "Distribué"),
        (S::Delivered, Locale::De) => (Some(true), "Zugestellt"),
        (S::Delivered, Locale::Es) => (Some(true), "Entregado"),
        (S::Read, Locale::En) => (Some(true), "Read"),
        (S::Read, Locale::Fr) => (Some(true), "Lu"),
        (S::Read, Locale::De) => (Some(true), "Gelesen"),
        (S::Read, Locale::Es) => (Some(true), "Leído"),
        (S::Undelivered | S::Failed, Locale::En) => (Some(false), "Delivery failed"),
        (S::Undelivered | S::Failed, Locale::Fr) => (Some(false), "Échec de distribution"),
        (S::Undelivered | S::Failed, Locale::De) => (Some(false), "Zustellung fehlgeschlagen"),
        (S::Undelivered | S::Failed, Locale::Es) => (Some(false), "Error de entrega"),
        (_, Locale::En) => (None, "Status unknown"),
        (_, Locale::Fr) => (None, "Statut inconnu"),
        (_, Locale::De) => (None, "Status unbekannt"),
        (_, Locale::Es) => (None, "Estado desconocido"),
    };
    let mark = match ok {
        Some(true) => "✓ ",
        Some(false) => "✗ ",
        None => "",
    };
    match (ok, error_code) {
        (Some(false), Some(code)) => format!("{mark}{text} ({code})"),
        _ => format!("{mark}{text}"),
    }
}

/// Hivekeep's `DeliveryStatusUpdate`. Its `Debug` redacts phone numbers in `error_message`.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeliveryStatusUpdate {
    /// The message Hivekeep knows (the first part's SID).
    pub platform_message_id: String,
    /// The status to show.
    pub status: HivekeepStatus,
    /// `ErrorCode`, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// `ErrorMessage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The localized hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_line: Option<String>,
}

impl core::fmt::Debug for DeliveryStatusUpdate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let error_message = self.error_message.as_deref().map(crate::api_error::redact_phone_numbers);
        f.debug_struct("DeliveryStatusUpdate")
            .field("platform_message_id", &self.platform_message_id)
            .field("status", &self.status)
            .field("error_code", &self.error_code)
            .field("error_message", &error_message)
            .field("context_line", &self.context_line)
            .finish()
    }
}

impl DeliveryStatusUpdate {
    /// The update for a status report (the message-level status by the multi-part rule), in `locale`.
    #[must_use]
    pub fn from_report(report: &StatusReport, locale: Locale) -> Self {
        let (message, status) = report.for_message();
        let status = status.hivekeep();
        Self {
            platform_message_id: message.to_string(),
            status,
            error_code: report.error_code.map(|c| c.to_string()),
            error_message: report.error_message.clone(),
            context_line: Some(status_hint(status, report.error_code, locale)),
        }
    }
}

/// The delivery state a channel keeps per message (the `platformMessageId` Hivekeep knows): the
/// message-level status applied so far, by the rule of [`PartTag`], and its error. It is the host's
/// record to store and load (the wasm package keeps it in the plugin's storage); [`step`] decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedStatus {
    /// The message-level status.
    pub status: MessageStatus,
    /// Its `ErrorCode`, when it had one.
    pub error_code: Option<u32>,
}

impl AppliedStatus {
    /// Whether a store keeps this state in place of `kept` (the state it keeps for the message, none
    /// when it keeps none or it no longer counts): when its rank supersedes the kept one's
    /// ([`crate::status::decide`] applies it). The rule of [`ChannelStore::advance`](crate::hivekeep::store::ChannelStore::advance).
    #[must_use]
    pub fn replaces(&self, kept: Option<&Self>) -> bool {
        let kept = kept.and_then(|k| k.status.rank());
        crate::status::decide(kept, self.status.rank()) == crate::status::StatusDecision::Apply
    }
}

impl StatusReport {
    /// The message-level state this callback reports (see [`Self::for_message`]).
    #[must_use]
    pub fn applied(&self) -> AppliedStatus {
        AppliedStatus { status: self.for_message().1, error_code: self.error_code }
    }
}

/// What a status callback gives, by [`step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusStep {
    /// How the callback was decided.
    pub decision: crate::status::StatusDecision,
    /// The update to hand the host: this callback's ([`crate::status::StatusDecision::Apply`]), or the kept
    /// state again for the same message ([`crate::status::StatusDecision::Reassert`]).
    pub update: Option<DeliveryStatusUpdate>,
    /// The state to keep for the message (only when it changes).
    pub record: Option<AppliedStatus>,
}

/// The status-ordering step for a verified callback, sans I/O: `kept` is the state stored for the
/// callback's message (none when nothing is, or it no longer counts). By [`crate::status::decide`]: a status that
/// supersedes the kept one is applied and kept; when the kept state is final and the callback does
/// not supersede it, the update carries the kept state (so a part's failure that the host dropped,
/// because it came before the host linked the reply, is what the host receives when the last part's
/// `delivered` comes after the link); otherwise nothing is handed over.
#[must_use]
pub fn step(report: &StatusReport, kept: Option<&AppliedStatus>, locale: Locale) -> StatusStep {
    let next = report.applied();
    let decision = crate::status::decide(kept.and_then(|k| k.status.rank()), next.status.rank());
    match (decision, kept) {
        (crate::status::StatusDecision::Apply, _) => StatusStep {
            decision,
            update: Some(DeliveryStatusUpdate::from_report(report, locale)),
            record: Some(next),
        },
        (crate::status::StatusDecision::Reassert, Some(kept)) => {
            let status = kept.status.hivekeep();
            let update = DeliveryStatusUpdate {
                platform_message_id: report.for_message().0.to_string(),
                status,
                error_code: kept.error_code.map(|c| c.to_string()),
                error_message: None,
                context_line: Some(status_hint(status, kept.error_code, locale)),
            };
            StatusStep { decision, update: Some(update), record: None }
        }
        _ => StatusStep { decision: crate::status::StatusDecision::Ignore, update: None, record: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SM1: &str = "SM11111111111111111111111111111111";
    const SM2: &str = "SM22222222222222222222222222222222";

    fn report(sid: &str, status: &str, query: Option<&str>) -> StatusReport {
        StatusReport {
            message_sid: MessageSid::parse(sid).unwrap(),
            status: MessageStatus::parse(status),
            error_code: None,
            error_message: None,
            account_sid: None,
            from: None,
            part: PartTag::from_query(query),
        }
    }

    /// A form POST signed as Twilio signs it, verified: the HMAC-SHA1 of the URL then each pair (these
    /// have distinct names) sorted by name, computed here rather than with the crate's canonical form.
    fn verified(params: &[(&str, &str)]) -> VerifiedWebhook {
        use base64::Engine as _;
        use hmac::{KeyInit as _, Mac as _};

        use crate::webhook::{BodyLimit, UnverifiedWebhook, WebhookVerifier};
        use crate::{AuthToken, WebhookUrl};
        const TOKEN: &str = "0123456789abcdef0123456789abcdef";
        let url = "https://example.com/hook";
        let mut sorted = params.to_vec();
        sorted.sort_unstable();
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(TOKEN.as_bytes()).unwrap();
        mac.update(url.as_bytes());
        for (name, value) in sorted {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", http::HeaderValue::from_static("application/x-www-form-urlencoded"));
        headers.insert("x-twilio-signature", http::HeaderValue::from_str(&sig).unwrap());
        let body = serde_urlencoded::to_string(params).unwrap();
        let w = UnverifiedWebhook::new(
            http::Method::POST,
            WebhookUrl::exact(url).unwrap(),
            headers,
            body,
            BodyLimit::DEFAULT,
        )
        .unwrap();
        WebhookVerifier::new(&AuthToken::new(TOKEN).unwrap()).verify(w).unwrap()
    }

    #[test]
    fn status_callbacks_must_name_the_channels_account_and_number() {
        const AC: &str = "AC0123456789abcdef0123456789abcdef";
        let account = AccountSid::parse(AC).unwrap();
        let number = E164::parse("+14155550100").unwrap();
        let full = [
            ("MessageSid", SM1),
            ("MessageStatus", "delivered"),
            ("AccountSid", AC),
            ("From", "+14155550100"),
        ];
        assert!(matches!(classify(verified(&full), &account, Some(&number)), Ok(WebhookEvent::Status(_))));
        let no_account = [("MessageSid", SM1), ("MessageStatus", "delivered"), ("From", "+14155550100")];
        assert_eq!(
            classify(verified(&no_account), &account, Some(&number)).unwrap_err(),
            BindingError::WrongAccount
        );
        let no_from = [("MessageSid", SM1), ("MessageStatus", "delivered"), ("AccountSid", AC)];
        assert_eq!(
            classify(verified(&no_from), &account, Some(&number)).unwrap_err(),
            BindingError::WrongSender
        );
        // A Messaging-Service channel has no number to compare.
        assert!(classify(verified(&no_from), &account, None).is_ok());
    }

    #[test]
    fn hints_in_four_languages() {
        assert_eq!(status_hint(HivekeepStatus::Delivered, None, Locale::En), "✓ Delivered");
        assert_eq!(
            status_hint(HivekeepStatus::Undelivered, Some(30007), Locale::En),
            "✗ Delivery failed (30007)"
        );
        assert_eq!(
            status_hint(HivekeepStatus::Failed, Some(30008), Locale::Fr),
            "✗ Échec de distribution (30008)"
        );
        assert_eq!(status_hint(HivekeepStatus::Delivered, None, Locale::De), "✓ Zugestellt");
        assert_eq!(status_hint(HivekeepStatus::Sent, None, Locale::Es), "Enviado");
        assert_eq!(Locale::parse(Some("fr-FR")), Locale::Fr);
        assert_eq!(Locale::parse(Some("pt")), Locale::En);
        assert_eq!(Locale::parse(None), Locale::En);
        assert_eq!(Locale::parse(Some("é")), Locale::En);
    }

    #[test]
    fn parts_map_onto_the_first_parts_sid() {
        let q2 = format!("part=2&of=2&first={SM1}");
        // Part 1 delivered: only sent for the message.
        let (m, s) = report(SM1, "delivered", Some("part=1&of=2")).for_message();
        assert_eq!((m.as_str(), s), (SM1, MessageStatus::Sent));
        // The last part delivered: the message is delivered.
        let (m, s) = report(SM2, "delivered", Some(&q2)).for_message();
        assert_eq!((m.as_str(), s), (SM1, MessageStatus::Delivered));
        // Any part failing is the message's failure.
        let (m, s) = report(SM2, "undelivered", Some(&q2)).for_message();
        assert_eq!((m.as_str(), s), (SM1, MessageStatus::Undelivered));
        let (m, s) = report(SM1, "failed", Some("part=1&of=2")).for_message();
        assert_eq!((m.as_str(), s), (SM1, MessageStatus::Failed));
        // A single SMS has no tag.
        let (m, s) = report(SM2, "delivered", None).for_message();
        assert_eq!((m.as_str(), s), (SM2, MessageStatus::Delivered));
        // Nonsense tags are ignored.
        assert_eq!(PartTag::from_query(Some("part=3&of=2")), None);
        assert_eq!(PartTag::from_query(Some("part=x&of=2")), None);
        let update = DeliveryStatusUpdate::from_report(&report(SM2, "delivered", Some(&q2)), Locale::En);
        assert_eq!(
            serde_json::to_value(&update).unwrap(),
            serde_json::json!({"platformMessageId": SM1, "status": "delivered", "contextLine": "✓ Delivered"})
        );
    }

    #[test]
    fn a_parts_early_failure_is_what_the_last_parts_delivered_hands_over() {
        let q2 = format!("part=2&of=2&first={SM1}");
        let mut failed = report(SM1, "failed", Some("part=1&of=2"));
        failed.error_code = Some(30007);
        // Part 1 fails (the host drops this update: the reply is not linked yet); it is kept.
        let first = step(&failed, None, Locale::En);
        assert_eq!(first.decision, crate::status::StatusDecision::Apply);
        let kept = first.record.unwrap();
        assert_eq!(kept, AppliedStatus { status: MessageStatus::Failed, error_code: Some(30007) });
        // The last part is delivered after the link: the update carries the failure, for the reply.
        let last = step(&report(SM2, "delivered", Some(&q2)), Some(&kept), Locale::En);
        assert_eq!(last.decision, crate::status::StatusDecision::Reassert);
        assert_eq!(last.record, None, "the kept state does not change");
        assert_eq!(
            serde_json::to_value(last.update.unwrap()).unwrap(),
            serde_json::json!({"platformMessageId": SM1, "status": "failed", "errorCode": "30007",
                "contextLine": "✗ Delivery failed (30007)"})
        );
        // A late sent after delivered hands delivered over again; a non-final tie hands nothing.
        let delivered = AppliedStatus { status: MessageStatus::Delivered, error_code: None };
        let late = step(&report(SM1, "sent", None), Some(&delivered), Locale::En);
        assert_eq!(late.update.map(|u| u.status), Some(HivekeepStatus::Delivered));
        let sent = AppliedStatus { status: MessageStatus::Sent, error_code: None };
        assert_eq!(step(&report(SM1, "sent", None), Some(&sent), Locale::En).update, None);
        // An unknown status changes nothing, whatever is kept.
        assert_eq!(step(&report(SM1, "teleported", None), None, Locale::En).update, None);
    }
}
