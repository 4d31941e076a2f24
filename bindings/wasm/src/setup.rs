//! The channel checks behind Hivekeep's `validateConfig` and `getBotInfo`, sans I/O: the requests
//! (without the secret, as the send plan's) and the reading of Twilio's answers, with the native
//! client's rules (`TwilioClient::validate_config` and `bot_info`): the account answers and is active,
//! and the From number belongs to it and can send SMS.

use http::{HeaderMap, StatusCode};
use serde_json::json;
use twilio_sms::api_error::parse_error_response;
use twilio_sms::outbound::{self, Answer, BotInfo, RequestError, ValidationError, WebhookSetupError};
use wasm_bindgen::prelude::{JsError, wasm_bindgen};

use crate::send::{auth_json, request_json};
use crate::webhook::Channel;

/// Why `token` cannot be an Auth Token (empty, surrounding spaces, control characters), or nothing:
/// the text never repeats the token.
#[wasm_bindgen(js_name = authTokenError)]
#[must_use]
pub fn auth_token_error(token: &str) -> Option<String> {
    twilio_sms::AuthToken::new(token).err().map(|error| error.to_string())
}

/// For the checks of a stored config alone: the channel whose number's webhook they point at itself,
/// when the config asks for it (`configureWebhook`) and names its channel through Hivekeep's vault key
/// of its Auth Token (see `StoredChannelConfig::channel_id`); else nothing (also for a config that
/// cannot be read).
#[wasm_bindgen(js_name = webhookSetupChannelId)]
#[must_use]
pub fn webhook_setup_channel_id(config_json: &str) -> Option<String> {
    let config = twilio_sms::credentials::StoredChannelConfig::from_json(config_json).ok()?;
    config.configure_webhook().then(|| config.channel_id()).flatten().map(|id| id.to_string())
}

/// An answer read as `T`, or the request error it is.
fn answer<T>(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    parse: impl FnOnce(StatusCode, &[u8]) -> Answer<T>,
) -> Result<T, RequestError> {
    if let Some(error) = crate::send::too_large(status, body) {
        return Err(error);
    }
    match StatusCode::from_u16(status) {
        Ok(code) if code.is_success() => match parse(code, body) {
            Answer::Ok(value) => Ok(value),
            Answer::Unreadable(unreadable) => Err(RequestError::Unreadable(unreadable)),
            Answer::Error(error) => Err(RequestError::Api(error)),
        },
        _ => Err(RequestError::Api(parse_error_response(status, content_type, body))),
    }
}

fn refused(error: ValidationError) -> String {
    json!({"ok": false, "error": error.to_string()}).to_string()
}

#[wasm_bindgen]
impl Channel {
    /// The requests of the channel checks: `{account, number}`, each `{method, url, headers, body,
    /// auth}` as `SendPlan.request` gives them; `number` is null for a channel that sends through a
    /// Messaging Service.
    ///
    /// # Errors
    /// An API base that makes no valid URL.
    #[wasm_bindgen(js_name = setupRequests)]
    pub fn setup_requests(&self) -> Result<String, JsError> {
        let config = self.config();
        let auth = auth_json(config);
        let invalid = |_| JsError::new("the API base URL is not a valid URL");
        let get = |path: String| outbound::get_request_without_auth(self.api_base(), &path).map_err(invalid);
        let account = request_json(&get(outbound::account_path(config.account_sid()))?, &auth);
        let number = match config.sender().number() {
            Some(number) => {
                Some(request_json(&get(outbound::number_path(config.account_sid(), number))?, &auth))
            }
            None => None,
        };
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap_or_default();
        Ok(json!({"account": parse(&account), "number": number.as_deref().map(parse)}).to_string())
    }

    /// Reads the answer to the account request: `{ok, error?, botInfo?}`: `ok` when the credentials
    /// work and the account is active, else `error` with `validateConfig`'s text (bad credentials, a
    /// suspended account...); `botInfo` (`{name, username}`) whenever the account could be read, active
    /// or not, as the native `bot_info` gives it.
    #[wasm_bindgen(js_name = readAccount)]
    #[must_use]
    pub fn read_account(&self, status: u16, content_type: Option<String>, body: &[u8]) -> String {
        let read = answer(status, content_type.as_deref(), body, |code, body| {
            outbound::parse_account(code, &HeaderMap::new(), body)
        });
        let account = match read {
            Ok(account) => account,
            Err(error) => return refused(ValidationError::Request(error)),
        };
        let info = BotInfo::new(&account, self.config().sender());
        let bot_info = json!({"name": info.name, "username": info.username});
        match outbound::check_account(account) {
            Ok(_) => json!({"ok": true, "botInfo": bot_info}).to_string(),
            Err(error) => json!({"ok": false, "error": error.to_string(), "botInfo": bot_info}).to_string(),
        }
    }

    /// Reads the answer to the number request: `{ok: true}` when the account owns the From number and
    /// it can send SMS, else `{ok: false, error}`.
    #[wasm_bindgen(js_name = readNumber)]
    #[must_use]
    pub fn read_number(&self, status: u16, content_type: Option<String>, body: &[u8]) -> String {
        let Some(number) = self.config().sender().number() else {
            return json!({"ok": true}).to_string();
        };
        let read = answer(status, content_type.as_deref(), body, |code, body| {
            outbound::parse_number_ownership(code, &HeaderMap::new(), body, number)
        });
        match read.map_err(ValidationError::Request).and_then(|ownership| ownership.check()) {
            Ok(()) => json!({"ok": true}).to_string(),
            Err(error) => refused(error),
        }
    }

    /// Whether the stored config asks for the From number's webhook to be pointed at the channel
    /// (`configureWebhook`).
    #[wasm_bindgen(js_name = configureWebhook)]
    #[must_use]
    pub fn configure_webhook(&self) -> bool {
        self.config().configure_webhook()
    }

    /// Reads the answer to the number request (`setupRequests().number`) as what to do about the number's
    /// "A message comes in" webhook (`NumberWebhook::setup`): `{action: "done", alreadySet: true}` when
    /// it points at this channel; `{action: "update", request}` (as `SendPlan.request` gives it) when it
    /// points nowhere of its owner's (empty, Twilio's demo reply, this channel at another base);
    /// `{action: "refused", error}` when it points elsewhere (never overwritten: the text names the
    /// host), or for a stored config that does not name this channel (Hivekeep's vault key), no public
    /// https URL, no From number, a number the account does not own, or a failed request.
    #[wasm_bindgen(js_name = readNumberWebhook)]
    #[must_use]
    pub fn read_number_webhook(&self, status: u16, content_type: Option<String>, body: &[u8]) -> String {
        let refused =
            |error: WebhookSetupError| json!({"action": "refused", "error": error.to_string()}).to_string();
        // The channel the stored config names (by its vault key), as Hivekeep made it: never another.
        if self.config().channel_id().as_ref() != Some(self.id()) {
            return refused(WebhookSetupError::ChannelUnknown);
        }
        let Some(url) = self.webhook_url() else { return refused(WebhookSetupError::NoWebhookUrl) };
        let config = self.config();
        let Some(number) = config.sender().number() else { return refused(WebhookSetupError::NoNumber) };
        let read = answer(status, content_type.as_deref(), body, |code, body| {
            outbound::parse_number_webhook(code, &HeaderMap::new(), body, number)
        });
        let webhook = match read {
            Ok(Some(webhook)) => webhook,
            Ok(None) => return refused(WebhookSetupError::Validation(ValidationError::NumberNotOwned)),
            Err(error) => return refused(WebhookSetupError::Validation(ValidationError::Request(error))),
        };
        match webhook.setup(&url).needs_update() {
            Ok(false) => json!({"action": "done", "alreadySet": true}).to_string(),
            Err(error) => refused(error),
            Ok(true) => match webhook.update_request(self.api_base(), config.account_sid(), &url) {
                Ok(request) => {
                    let request = request_json(&request, &auth_json(config));
                    let request = serde_json::from_str::<serde_json::Value>(&request).unwrap_or_default();
                    json!({"action": "update", "request": request}).to_string()
                }
                Err(_) => refused(WebhookSetupError::Validation(ValidationError::Request(
                    RequestError::Build("the API base URL is not a valid URL".to_owned()),
                ))),
            },
        }
    }

    /// Reads the answer to the update `readNumberWebhook` asked for: `{ok: true}` when the number's
    /// webhook now points at this channel, else `{ok: false, error}`.
    #[wasm_bindgen(js_name = readWebhookUpdate)]
    #[must_use]
    pub fn read_webhook_update(&self, status: u16, content_type: Option<String>, body: &[u8]) -> String {
        let Some(url) = self.webhook_url() else {
            return json!({"ok": false, "error": WebhookSetupError::NoWebhookUrl.to_string()}).to_string();
        };
        let read = answer(status, content_type.as_deref(), body, |code, body| {
            outbound::parse_webhook_update(code, &HeaderMap::new(), body, &url)
        });
        let error = match read {
            Ok(true) => return json!({"ok": true}).to_string(),
            Ok(false) => WebhookSetupError::NotApplied,
            Err(error) => WebhookSetupError::Validation(ValidationError::Request(error)),
        };
        json!({"ok": false, "error": error.to_string()}).to_string()
    }
}
