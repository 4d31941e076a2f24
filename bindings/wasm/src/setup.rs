//! The channel checks behind Hivekeep's `validateConfig` and `getBotInfo`, and the number's webhook
//! setup: the core's steps (`twilio_sms::checks`, which the native client runs too), run by the host.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use twilio_sms::checks::{
    CheckedAccount, Validation, ValidationRequest, ValidationStep, Waiting, WebhookSetup,
    WebhookSetupRequest, WebhookSetupStep,
};
use twilio_sms::credentials::StoredChannelConfig;
use twilio_sms::outbound::{RequestError, WebhookConfigured, WebhookSetupError};
use twilio_sms::retry::{RetryPolicy, Seen};
use wasm_bindgen::prelude::{JsError, wasm_bindgen};

use crate::send::{answer_headers, at, auth_json, readable_status, request_value};
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

/// Whether Twilio's webhooks to a channel behind `public_url` (Hivekeep's `PUBLIC_URL`) can be
/// verified: nothing when they can, else why not (not set: every webhook would be refused; not a public
/// https URL), for the "test" button.
#[wasm_bindgen(js_name = publicUrlProblem)]
#[must_use]
pub fn public_url_problem(public_url: Option<String>) -> Option<String> {
    match public_url.as_deref().map(str::trim).filter(|url| !url.is_empty()) {
        None => Some(
            "PUBLIC_URL is not set on the Hivekeep server: every Twilio webhook would be refused (SMS can still be sent, without live status)"
                .to_owned(),
        ),
        Some(url) => twilio_sms::PublicUrl::parse(url)
            .err()
            .map(|error| format!("PUBLIC_URL cannot be used for Twilio's webhooks: PUBLIC_URL: {error}")),
    }
}

/// What a [`CheckPlan`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Hivekeep's `validateConfig`: the Auth Token as read from the vault, the account, the From number,
    /// then (with the config's `configureWebhook`) the number's webhook.
    Validate,
    /// Hivekeep's `getBotInfo`: the account alone.
    BotInfo,
    /// The number's webhook pointed at the channel.
    Webhook,
}

/// Where a [`CheckPlan`] stands.
#[derive(Debug)]
enum Stage {
    /// The Auth Token is read from the vault first (it checks every webhook).
    Token,
    Validation(Box<ValidationRequest>),
    ValidationWait(Box<Waiting<ValidationRequest>>),
    Webhook(Box<WebhookSetupRequest>),
    WebhookWait(Box<Waiting<WebhookSetupRequest>>),
    Done,
}

/// The channel checks, as steps the host runs (the core's [`Validation`] and [`WebhookSetup`], each
/// request tried again by the retry policy). Each step is JSON: `{readToken: auth}` (read the Auth
/// Token from the vault, then [`Self::token`]), `{request: {method, url, headers, body, auth},
/// timeoutMs}` (send it with `Authorization: Basic` from the secret `auth` names within `timeoutMs`,
/// then [`Self::answered`] or [`Self::failed`]), `{wait: ms}` (then [`Self::waited`]), or `{done}`:
/// `validateConfig`'s `{valid, error?}`, `getBotInfo`'s `{name, username}` or null, or
/// `configureWebhook`'s `{ok, changed?, error?}`.
#[wasm_bindgen]
pub struct CheckPlan {
    kind: Kind,
    stage: Stage,
    current: String,
    auth: Value,
    config: StoredChannelConfig,
    api_base: twilio_sms::ApiBase,
    policy: RetryPolicy,
    /// The channel's webhook URL, when the plan points the number's webhook at it.
    webhook: Result<String, WebhookSetupError>,
}

impl core::fmt::Debug for CheckPlan {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CheckPlan")
            .field("kind", &self.kind)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl CheckPlan {
    fn checked(&self) -> CheckedAccount<'_> {
        CheckedAccount {
            api_base: &self.api_base,
            account: self.config.account_sid(),
            sender: self.config.sender(),
        }
    }

    fn done(&mut self, done: Value) {
        self.stage = Stage::Done;
        self.current = json!({"done": done}).to_string();
    }

    fn request(&mut self, request: &http::Request<String>, timeout: Duration) {
        let timeout_ms = crate::retry::ms(timeout);
        self.current =
            json!({"request": request_value(request, &self.auth), "timeoutMs": timeout_ms}).to_string();
    }

    fn wait(&mut self, wait: Duration) {
        self.current = json!({"wait": crate::retry::ms(wait)}).to_string();
    }

    fn validation(&mut self, step: ValidationStep, now: SystemTime) {
        match step {
            ValidationStep::Request(pending) => {
                self.request(pending.request(), pending.timeout());
                self.stage = Stage::Validation(pending);
            }
            ValidationStep::Wait(waiting) => {
                self.wait(waiting.duration());
                self.stage = Stage::ValidationWait(waiting);
            }
            ValidationStep::Done(found) if self.kind == Kind::BotInfo => {
                let info =
                    found.bot_info.ok().map(|info| json!({"name": info.name, "username": info.username}));
                self.done(info.unwrap_or(Value::Null));
            }
            ValidationStep::Done(found) => match found.account {
                Err(error) => self.done(json!({"valid": false, "error": error.to_string()})),
                Ok(_) if self.config.configure_webhook() => self.webhook_start(now),
                Ok(_) => self.done(json!({"valid": true})),
            },
        }
    }

    fn webhook_start(&mut self, now: SystemTime) {
        let step = match self.webhook.clone() {
            Ok(url) => WebhookSetup::start(self.checked(), &url, self.policy, now),
            Err(error) => WebhookSetupStep::Done(Err(error)),
        };
        self.webhook_step(step);
    }

    fn webhook_step(&mut self, step: WebhookSetupStep) {
        let outcome = match step {
            WebhookSetupStep::Request(pending) => {
                self.request(pending.request(), pending.timeout());
                self.stage = Stage::Webhook(pending);
                return;
            }
            WebhookSetupStep::Wait(waiting) => {
                self.wait(waiting.duration());
                self.stage = Stage::WebhookWait(waiting);
                return;
            }
            WebhookSetupStep::Done(outcome) => outcome,
        };
        let done = match (self.kind, outcome) {
            (Kind::Validate, Ok(_)) => json!({"valid": true}),
            (Kind::Validate, Err(error)) => json!({"valid": false, "error": error.to_string()}),
            (_, Ok(configured)) => json!({"ok": true, "changed": configured == WebhookConfigured::Set}),
            (_, Err(error)) => json!({"ok": false, "error": error.to_string()}),
        };
        self.done(done);
    }

    /// The stage, taken for a transition; `JsError` when it is not one `expected` accepts.
    fn take(&mut self, expected: fn(&Stage) -> bool) -> Result<Stage, JsError> {
        if !expected(&self.stage) {
            return Err(JsError::new("the checks are not at that step"));
        }
        Ok(std::mem::replace(&mut self.stage, Stage::Done))
    }
}

#[wasm_bindgen]
impl CheckPlan {
    /// The current step (JSON, see [`CheckPlan`]).
    #[must_use]
    pub fn step(&self) -> String {
        self.current.clone()
    }

    /// The Auth Token as read from the vault at `now_ms` (nothing when it could not be read): checked,
    /// then the account's check.
    ///
    /// # Errors
    /// The plan does not ask for the token.
    pub fn token(&mut self, token: Option<String>, now_ms: f64) -> Result<(), JsError> {
        self.take(|stage| matches!(stage, Stage::Token))?;
        match token.filter(|t| !t.is_empty()) {
            None => self.done(json!({
                "valid": false,
                "error": "the Auth Token could not be read from the vault (it checks every webhook)",
            })),
            Some(token) => match auth_token_error(&token) {
                Some(unusable) => {
                    self.done(
                        json!({"valid": false, "error": format!("{unusable} (as read from the vault)")}),
                    );
                }
                None => {
                    let now = at(now_ms);
                    let step = Validation::start(self.checked(), true, self.policy, now);
                    self.validation(step, now);
                }
            },
        }
        Ok(())
    }

    /// Twilio answered the request in flight at `now_ms` (`body`: at most one byte more than the core
    /// reads): the next step.
    ///
    /// # Errors
    /// No request in flight.
    pub fn answered(
        &mut self,
        status: u16,
        content_type: Option<String>,
        retry_after: Option<String>,
        body: &[u8],
        now_ms: f64,
    ) -> Result<(), JsError> {
        let stage = self.take(|stage| matches!(stage, Stage::Validation(_) | Stage::Webhook(_)))?;
        let headers = answer_headers(content_type, retry_after);
        let now = at(now_ms);
        let status = readable_status(status, body);
        match stage {
            Stage::Validation(pending) => self.validation(
                match status {
                    Ok(status) => pending.answered(status, &headers, body, now),
                    Err(error) => pending.refused(error),
                },
                now,
            ),
            Stage::Webhook(pending) => self.webhook_step(match status {
                Ok(status) => pending.answered(status, &headers, body, now),
                Err(error) => pending.refused(error),
            }),
            _ => {}
        }
        Ok(())
    }

    /// The request in flight got no answer at `now_ms`: `kind` is `secret` (its secret could not be read
    /// from the vault, so it was not sent), `connect`, `timeout` or anything else (the connection broke).
    ///
    /// # Errors
    /// No request in flight.
    pub fn failed(&mut self, kind: &str, now_ms: f64) -> Result<(), JsError> {
        let stage = self.take(|stage| matches!(stage, Stage::Validation(_) | Stage::Webhook(_)))?;
        let now = at(now_ms);
        let secret = || RequestError::Build("the Twilio secret could not be read from the vault".to_owned());
        let seen = match kind {
            "connect" => Seen::Connect,
            "timeout" => Seen::Timeout,
            _ => Seen::Lost,
        };
        match stage {
            Stage::Validation(pending) if kind == "secret" => self.validation(pending.refused(secret()), now),
            Stage::Validation(pending) => self.validation(pending.failed(now, seen), now),
            Stage::Webhook(pending) if kind == "secret" => self.webhook_step(pending.refused(secret())),
            Stage::Webhook(pending) => self.webhook_step(pending.failed(now, seen)),
            _ => {}
        }
        Ok(())
    }

    /// The wait is over at `now_ms`: the next step.
    ///
    /// # Errors
    /// No wait in progress.
    pub fn waited(&mut self, now_ms: f64) -> Result<(), JsError> {
        let stage = self.take(|stage| matches!(stage, Stage::ValidationWait(_) | Stage::WebhookWait(_)))?;
        let now = at(now_ms);
        match stage {
            Stage::ValidationWait(waiting) => self.validation(waiting.over(now), now),
            Stage::WebhookWait(waiting) => self.webhook_step(waiting.over(now)),
            _ => {}
        }
        Ok(())
    }
}

#[wasm_bindgen]
impl Channel {
    /// The checks of `kind` at `now_ms`, as steps: `validate` (Hivekeep's `validateConfig`: the Auth
    /// Token, the account, the From number, then the number's webhook when the config asks for it),
    /// `botInfo` (`getBotInfo`: the account alone) or `webhook` (the From number's webhook pointed at
    /// this channel). Each request is tried again by the native client's retry policy; each attempt,
    /// and the whole check, is bounded by `attemptTimeoutMs` (default 15 s).
    ///
    /// # Errors
    /// Another `kind`.
    pub fn checks(
        &self,
        kind: &str,
        attempt_timeout_ms: Option<f64>,
        now_ms: f64,
    ) -> Result<CheckPlan, JsError> {
        let kind = match kind {
            "validate" => Kind::Validate,
            "botInfo" => Kind::BotInfo,
            "webhook" => Kind::Webhook,
            _ => return Err(JsError::new("checks: validate, botInfo or webhook")),
        };
        // The channel the stored config names (by its vault key), as Hivekeep made it: never another.
        let webhook = if self.config().channel_id().as_ref() != Some(self.id()) {
            Err(WebhookSetupError::ChannelUnknown)
        } else {
            self.webhook_url().ok_or(WebhookSetupError::NoWebhookUrl)
        };
        let mut plan = CheckPlan {
            kind,
            stage: Stage::Done,
            current: String::new(),
            auth: auth_json(self.config()),
            config: self.config().clone(),
            api_base: self.api_base().clone(),
            // `timeoutMs` bounds each attempt and the whole check, as the plugin's "test" button waits.
            policy: crate::retry::policy(None, attempt_timeout_ms, attempt_timeout_ms),
            webhook,
        };
        let now = at(now_ms);
        match kind {
            Kind::Validate => {
                let auth = json!({"secret": "authToken", "vaultKey": self.config().auth_token_vault_key()});
                plan.stage = Stage::Token;
                plan.current = json!({"readToken": auth}).to_string();
            }
            Kind::BotInfo => {
                let step = Validation::start(plan.checked(), false, plan.policy, now);
                plan.validation(step, now);
            }
            Kind::Webhook => plan.webhook_start(now),
        }
        Ok(plan)
    }

    /// Whether the stored config asks for the From number's webhook to be pointed at the channel
    /// (`configureWebhook`).
    #[wasm_bindgen(js_name = configureWebhook)]
    #[must_use]
    pub fn configure_webhook(&self) -> bool {
        self.config().configure_webhook()
    }
}
