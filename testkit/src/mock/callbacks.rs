//! What the mock sends: status callbacks and inbound SMS webhooks, signed as Twilio signs them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header;

use twilio_sms::status::MessageStatus;
use twilio_sms::webhook::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER};
use twilio_sms::{AccountSid, E164};

use super::{CallbackRecord, MockError, MockTwilio, Outcome, Shared, text};
use crate::{SigningKey, encode_form};

const USER_AGENT: &str = "TwilioProxy/1.1";
const FORM: &str = "application/x-www-form-urlencoded";
/// A well-formed `X-Twilio-Signature` (20 zero bytes) that no token produces for a real request.
const FORGED_SIGNATURE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// A status callback, signed once when built so that every attempt sends the same request.
struct Callback {
    message_sid: String,
    status: MessageStatus,
    error_code: Option<u32>,
    webhook: SignedWebhook,
    params: Vec<(String, String)>,
}

/// Runs the lifecycle of a new message in the background.
pub(super) fn start_lifecycle(shared: &Arc<Shared>, sid: String, outcome: Outcome, via_service: bool) {
    shared.spawn(lifecycle(Arc::clone(shared), sid, outcome, via_service));
}

async fn lifecycle(shared: Arc<Shared>, sid: String, outcome: Outcome, via_service: bool) {
    let (delay, duplicate, out_of_order) = {
        let state = shared.state();
        (state.callback_delay, state.duplicate_callbacks, state.out_of_order_callbacks)
    };
    let mut held = Vec::new();
    for (status, error_code) in outcome.steps(via_service) {
        tokio::time::sleep(delay).await;
        let callback = advance(&shared, &sid, status, error_code);
        shared.notify();
        match callback {
            Some(callback) if out_of_order => held.push(callback),
            Some(callback) => deliver_callback(&shared, &callback, duplicate).await,
            None => {}
        }
    }
    for callback in held.into_iter().rev() {
        deliver_callback(&shared, &callback, duplicate).await;
    }
}

/// Moves the message to `status`, and builds its callback when it has a `StatusCallback`.
fn advance(shared: &Shared, sid: &str, status: MessageStatus, error_code: Option<u32>) -> Option<Callback> {
    let mut guard = shared.state();
    let state = &mut *guard;
    let message = state.messages.iter_mut().find(|m| m.sid == sid)?;
    let account = state.accounts.get(&message.account_sid)?;
    let now = SystemTime::now();
    if message.from.is_none() {
        // A Messaging Service picks a sender from its pool: here, the account's first SMS number.
        message.from = account.numbers.iter().find(|n| n.sms).map(|n| n.number.clone());
        message.num_segments = twilio_sms::sms_text::segments(&message.body).segments;
    }
    if status == MessageStatus::Sent {
        message.date_sent = Some(now);
    }
    message.status = status.clone();
    message.error_code = error_code;
    message.date_updated = now;

    let url = message.status_callback.clone()?;
    let mut params: Vec<(String, String)> = [
        ("MessageSid", sid),
        ("MessageStatus", status.as_str()),
        ("SmsSid", sid),
        ("SmsStatus", status.as_str()),
        ("AccountSid", message.account_sid.as_str()),
        ("From", message.from.as_deref().unwrap_or("")),
        ("To", &message.to),
        ("ApiVersion", "2010-04-01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if let Some(service) = &message.messaging_service_sid {
        params.push(("MessagingServiceSid".to_owned(), service.clone()));
    }
    if let Some(code) = error_code {
        params.push(("ErrorCode".to_owned(), code.to_string()));
    }
    let webhook = SignedWebhook::new(&account.key, url, &params);
    Some(Callback { message_sid: sid.to_owned(), status, error_code, webhook, params })
}

/// Delivers a callback (twice when `duplicate`), retrying once on a connection failure as Twilio does
/// by default (`rc=1`, `rp=ct`). Every attempt carries the same idempotency token and is recorded.
async fn deliver_callback(shared: &Shared, callback: &Callback, duplicate: bool) {
    let deliveries = if duplicate { 2 } else { 1 };
    let mut attempt = 0;
    for _ in 0..deliveries {
        let mut retried = false;
        loop {
            attempt += 1;
            let result = post(&shared.http, &callback.webhook).await;
            let connect_failed = result.as_ref().is_err_and(reqwest::Error::is_connect);
            let response_status = result.ok().map(|reply| reply.status);
            tracing::debug!(
                target: "twilio_sms_testkit::mock",
                sid = callback.message_sid,
                status = callback.status.as_str(),
                attempt,
                response_status,
                "status callback"
            );
            shared.state().callbacks.push(CallbackRecord {
                message_sid: callback.message_sid.clone(),
                status: callback.status.clone(),
                error_code: callback.error_code,
                url: callback.webhook.url.clone(),
                params: callback.params.clone(),
                signature: callback.webhook.signature.clone(),
                idempotency_token: callback.webhook.idempotency_token.clone(),
                attempt,
                response_status,
                at: SystemTime::now(),
            });
            shared.notify();
            if !connect_failed || retried {
                break;
            }
            retried = true;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A form POST signed as Twilio signs it (`X-Twilio-Signature` with the account's Auth Token, and an
/// `I-Twilio-Idempotency-Token`), ready to be sent, and sent again, with [`MockTwilio::deliver`].
///
/// Its `Debug` leaves the body out (it holds phone numbers and message text).
#[derive(Clone)]
#[non_exhaustive]
pub struct SignedWebhook {
    /// The URL it is posted to (and that was signed).
    pub url: String,
    /// The form-encoded body, encoded as Twilio encodes it.
    pub body: String,
    /// The `X-Twilio-Signature` header.
    pub signature: String,
    /// The `I-Twilio-Idempotency-Token` header.
    pub idempotency_token: String,
}

impl SignedWebhook {
    fn new(key: &SigningKey, url: String, params: &[(String, String)]) -> Self {
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Self {
            signature: key.sign(&url, &pairs).to_string(),
            body: encode_form(&pairs),
            url,
            idempotency_token: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// The same request with a well-formed signature that no Auth Token produced, and a fresh
    /// idempotency token: a forgery a verifier must refuse.
    #[must_use]
    pub fn forged(&self) -> Self {
        Self {
            signature: FORGED_SIGNATURE.to_owned(),
            idempotency_token: uuid::Uuid::new_v4().to_string(),
            ..self.clone()
        }
    }
}

impl core::fmt::Debug for SignedWebhook {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignedWebhook")
            .field("url", &self.url)
            .field("body_len", &self.body.len())
            .field("signature", &self.signature)
            .field("idempotency_token", &self.idempotency_token)
            .finish()
    }
}

/// What the server a webhook was sent to answered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookReply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, when present and readable.
    pub content_type: Option<String>,
    /// The body, as text (lossy UTF-8).
    pub body: String,
    /// The request that was sent: pass it to [`MockTwilio::deliver`] to replay it.
    pub request: SignedWebhook,
}

async fn post(http: &reqwest::Client, webhook: &SignedWebhook) -> Result<WebhookReply, reqwest::Error> {
    let response = http
        .post(&webhook.url)
        .header(header::CONTENT_TYPE, FORM)
        .header(header::USER_AGENT, USER_AGENT)
        .header(SIGNATURE_HEADER, &webhook.signature)
        .header(IDEMPOTENCY_HEADER, &webhook.idempotency_token)
        .body(webhook.body.clone())
        .send()
        .await?;
    let status = response.status().as_u16();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.bytes().await?;
    Ok(WebhookReply {
        status,
        content_type,
        body: String::from_utf8_lossy(&body).into_owned(),
        request: webhook.clone(),
    })
}

impl MockTwilio {
    /// The parameters of an inbound SMS as Twilio posts them (a fresh `MessageSid`, `SmsStatus=received`,
    /// `NumMedia=0`, ...), to pass to [`send_inbound`](Self::send_inbound).
    #[must_use]
    pub fn inbound_sms(account: &AccountSid, from: &E164, to: &E164, body: &str) -> Vec<(String, String)> {
        let sid = text::new_sid("SM");
        let segments = twilio_sms::sms_text::segments(body).segments.max(1).to_string();
        [
            ("SmsMessageSid", sid.as_str()),
            ("NumMedia", "0"),
            ("SmsSid", &sid),
            ("SmsStatus", "received"),
            ("Body", body),
            ("To", to.as_str()),
            ("NumSegments", &segments),
            ("MessageSid", &sid),
            ("AccountSid", account.as_str()),
            ("From", from.as_str()),
            ("ApiVersion", "2010-04-01"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Signs a webhook to `url` with the Auth Token of the account its `AccountSid` parameter names, with
    /// a fresh idempotency token, without sending it.
    ///
    /// # Errors
    /// [`MockError::UnknownAccount`] when `AccountSid` is missing or names an account never added.
    pub fn sign_webhook<K: AsRef<str>, V: AsRef<str>>(
        &self,
        url: &str,
        params: &[(K, V)],
    ) -> Result<SignedWebhook, MockError> {
        let params: Vec<(String, String)> =
            params.iter().map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())).collect();
        let named = params.iter().find(|(k, _)| k == "AccountSid").map(|(_, v)| v.as_str()).unwrap_or("");
        let state = self.shared.state();
        let account = AccountSid::parse(named)
            .ok()
            .and_then(|sid| state.accounts.get(&sid))
            .ok_or_else(|| MockError::UnknownAccount(named.to_owned()))?;
        Ok(SignedWebhook::new(&account.key, url.to_owned(), &params))
    }

    /// Posts a signed webhook (again: Twilio's retries and replays are byte-identical) and returns the
    /// answer.
    ///
    /// # Errors
    /// [`MockError::Http`] when the request fails (connection refused, timeout after 15 s...).
    pub async fn deliver(&self, webhook: &SignedWebhook) -> Result<WebhookReply, MockError> {
        let reply = post(&self.shared.http, webhook).await?;
        tracing::debug!(target: "twilio_sms_testkit::mock", status = reply.status, "webhook delivered");
        Ok(reply)
    }

    /// Signs and posts an inbound SMS webhook (see [`inbound_sms`](Self::inbound_sms) for its
    /// parameters) to `url`; the reply holds the request, to [`deliver`](Self::deliver) it again or send
    /// its [`forged`](SignedWebhook::forged) twin.
    ///
    /// # Errors
    /// As [`sign_webhook`](Self::sign_webhook) and [`deliver`](Self::deliver).
    pub async fn send_inbound<K: AsRef<str>, V: AsRef<str>>(
        &self,
        url: &str,
        params: &[(K, V)],
    ) -> Result<WebhookReply, MockError> {
        let webhook = self.sign_webhook(url, params)?;
        self.deliver(&webhook).await
    }
}
