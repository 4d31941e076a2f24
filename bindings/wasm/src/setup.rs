//! The channel checks behind Hivekeep's `validateConfig` and `getBotInfo`, sans I/O: the requests
//! (without the secret, as the send plan's) and the reading of Twilio's answers, with the native
//! client's rules (`TwilioClient::validate_config` and `bot_info`): the account answers and is active,
//! and the From number belongs to it and can send SMS.

use http::{HeaderMap, StatusCode};
use serde_json::json;
use twilio_sms::api_error::parse_error_response;
use twilio_sms::outbound::{self, Answer, BotInfo, RequestError, ValidationError};
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

/// An answer read as `T`, or the request error it is.
fn answer<T>(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    parse: impl FnOnce(StatusCode, &[u8]) -> Answer<T>,
) -> Result<T, RequestError> {
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
}
