//! A channel's Twilio credentials: the stored config (no secret), the vault, and the resolved
//! credentials that hold the secrets.

use core::fmt;
use std::future::Future;

use secrecy::SecretString;
use serde_json::Value;

use crate::ids::{AccountSid, ApiKeySid, MessagingServiceSid};
use crate::phone::E164;
use crate::token::{ApiKeySecret, AuthToken, basic_authorization};
use crate::webhook::WebhookVerifier;

/// Why a stored channel config or its secrets could not be used. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config is not a JSON object.
    #[error("the channel config is not a JSON object")]
    NotAnObject,
    /// A required field is missing or empty.
    #[error("the channel config has no {0}")]
    Missing(&'static str),
    /// A field is present but invalid.
    #[error("the channel config's {field} is invalid: {reason}")]
    Invalid {
        /// The JSON field name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The config carries the Auth Token in plain text instead of a vault key.
    #[error(
        "the channel config holds a plaintext authToken: store the token in the vault and keep only authTokenVaultKey"
    )]
    PlaintextSecret,
    /// Neither a From number nor a Messaging Service SID is configured.
    #[error("the channel config has neither fromNumber nor messagingServiceSid")]
    NoSender,
    /// The vault has no secret under the key.
    #[error("the vault has no secret under {field}")]
    SecretNotFound {
        /// The config field that names the key, e.g. `authTokenVaultKey`.
        field: &'static str,
    },
    /// The vault failed.
    #[error("the vault could not be read: {0}")]
    Vault(String),
}

/// An error from a [`SecretSource`]. Its text must not contain the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SecretSourceError(pub String);

/// Where secrets live: Hivekeep's vault (`ctx.vault.getSecret(key)`), or anything that maps a key to a
/// secret.
pub trait SecretSource {
    /// The secret stored under `key`, or `None` when there is none.
    ///
    /// # Errors
    /// When the vault cannot be read.
    fn get_secret_value(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<SecretString>, SecretSourceError>> + Send;
}

/// A vault in memory, for tests, tools and single-process deployments.
#[derive(Default)]
pub struct MemoryVault {
    secrets: std::sync::Mutex<std::collections::HashMap<String, SecretString>>,
}

impl fmt::Debug for MemoryVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.secrets.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("MemoryVault").field("secrets", &keys).finish()
    }
}

impl MemoryVault {
    /// Stores `secret` under `key`.
    pub fn insert(&self, key: impl Into<String>, secret: impl Into<String>) {
        if let Ok(mut secrets) = self.secrets.lock() {
            secrets.insert(key.into(), SecretString::from(secret.into()));
        }
    }
}

impl SecretSource for MemoryVault {
    fn get_secret_value(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<SecretString>, SecretSourceError>> + Send {
        let found = self
            .secrets
            .lock()
            .map_err(|_| SecretSourceError("the in-memory vault is poisoned".to_owned()))
            .map(|s| s.get(key).cloned());
        std::future::ready(found)
    }
}

/// Who an SMS is sent from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sender {
    /// A Twilio phone number of the account.
    Number(E164),
    /// A Messaging Service, which picks a number from its pool.
    Service(MessagingServiceSid),
    /// A number sent through a Messaging Service.
    NumberViaService(E164, MessagingServiceSid),
}

impl Sender {
    /// The `From` number, when there is one.
    #[must_use]
    pub fn number(&self) -> Option<&E164> {
        match self {
            Self::Number(n) | Self::NumberViaService(n, _) => Some(n),
            Self::Service(_) => None,
        }
    }

    /// The Messaging Service, when there is one.
    #[must_use]
    pub fn service(&self) -> Option<&MessagingServiceSid> {
        match self {
            Self::Service(s) | Self::NumberViaService(_, s) => Some(s),
            Self::Number(_) => None,
        }
    }
}

/// A channel's config as Hivekeep stores it: `{"accountSid", "authTokenVaultKey", "fromNumber"}`, plus
/// optional `messagingServiceSid`, `apiKeySid` and `apiKeySecretVaultKey`. It holds no secret; other
/// keys (such as `allowedChatIds`) are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChannelConfig {
    account_sid: AccountSid,
    auth_token_vault_key: String,
    sender: Sender,
    api_key: Option<(ApiKeySid, String)>,
    configure_webhook: bool,
}

fn text<'a>(
    object: &'a serde_json::Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, ConfigError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(_) => Err(ConfigError::Invalid { field, reason: "not a string".to_owned() }),
    }
}

fn invalid(field: &'static str) -> impl Fn(&dyn fmt::Display) -> ConfigError {
    move |e| ConfigError::Invalid { field, reason: e.to_string() }
}

impl StoredChannelConfig {
    /// Reads the stored JSON config.
    ///
    /// # Errors
    /// [`ConfigError`] for a config that is not an object, a missing or invalid field, no sender, or a
    /// plaintext `authToken` (or `apiKeySecret`), which is refused.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let value: Value = serde_json::from_str(json).map_err(|_| ConfigError::NotAnObject)?;
        let object = value.as_object().ok_or(ConfigError::NotAnObject)?;
        if object.contains_key("authToken") || object.contains_key("apiKeySecret") {
            return Err(ConfigError::PlaintextSecret);
        }
        let account_sid = text(object, "accountSid")?.ok_or(ConfigError::Missing("accountSid"))?;
        let account_sid = AccountSid::parse(account_sid).map_err(|e| invalid("accountSid")(&e))?;
        let auth_token_vault_key =
            text(object, "authTokenVaultKey")?.ok_or(ConfigError::Missing("authTokenVaultKey"))?.to_owned();
        let number = text(object, "fromNumber")?
            .map(E164::parse)
            .transpose()
            .map_err(|e| invalid("fromNumber")(&e))?;
        let service = text(object, "messagingServiceSid")?
            .map(MessagingServiceSid::parse)
            .transpose()
            .map_err(|e| invalid("messagingServiceSid")(&e))?;
        let sender = match (number, service) {
            (Some(n), Some(s)) => Sender::NumberViaService(n, s),
            (Some(n), None) => Sender::Number(n),
            (None, Some(s)) => Sender::Service(s),
            (None, None) => return Err(ConfigError::NoSender),
        };
        let api_key = match (text(object, "apiKeySid")?, text(object, "apiKeySecretVaultKey")?) {
            (Some(sid), Some(key)) => {
                Some((ApiKeySid::parse(sid).map_err(|e| invalid("apiKeySid")(&e))?, key.to_owned()))
            }
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::Missing("apiKeySecretVaultKey")),
            (None, Some(_)) => return Err(ConfigError::Missing("apiKeySid")),
        };
        // The switch: `true` (or "true", as a form may store it); anything else is off.
        let configure_webhook = matches!(object.get("configureWebhook"), Some(Value::Bool(true)))
            || matches!(object.get("configureWebhook"), Some(Value::String(s)) if s == "true");
        Ok(Self { account_sid, auth_token_vault_key, sender, api_key, configure_webhook })
    }

    /// The channel's id, as Hivekeep names the vault key of its Auth Token
    /// (`channel_twilio-sms_{channelId}_authToken`): what a check that gets the stored config alone
    /// (Hivekeep's `validateConfig`) knows of the channel's webhook URL. `None` for another key.
    #[must_use]
    pub fn channel_id(&self) -> Option<crate::ChannelId> {
        let id = self.auth_token_vault_key.strip_prefix("channel_twilio-sms_")?.strip_suffix("_authToken")?;
        crate::ChannelId::parse(id).ok()
    }

    /// Whether the channel points its From number's "A message comes in" webhook at itself
    /// (`configureWebhook`, off unless `true`).
    #[must_use]
    pub fn configure_webhook(&self) -> bool {
        self.configure_webhook
    }

    /// The account.
    #[must_use]
    pub fn account_sid(&self) -> &AccountSid {
        &self.account_sid
    }

    /// The sender.
    #[must_use]
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// The vault key of the Auth Token (`authTokenVaultKey`).
    #[must_use]
    pub fn auth_token_vault_key(&self) -> &str {
        &self.auth_token_vault_key
    }

    /// The API key that authenticates REST calls, when one is configured: its SID and the vault key of
    /// its secret (`apiKeySid`, `apiKeySecretVaultKey`).
    #[must_use]
    pub fn api_key(&self) -> Option<(&ApiKeySid, &str)> {
        self.api_key.as_ref().map(|(sid, key)| (sid, key.as_str()))
    }

    /// Reads the secrets from the vault, at use time, into [`Credentials`].
    ///
    /// # Errors
    /// [`ConfigError::SecretNotFound`] for a missing secret, [`ConfigError::Invalid`] for an empty one,
    /// [`ConfigError::Vault`] when the vault fails.
    pub async fn resolve(&self, vault: &impl SecretSource) -> Result<Credentials, ConfigError> {
        let secret = read_secret(vault, "authTokenVaultKey", &self.auth_token_vault_key).await?;
        let auth_token = AuthToken::from_secret(&secret).map_err(|e| invalid("authTokenVaultKey")(&e))?;
        let mut credentials = Credentials::new(self.account_sid.clone(), auth_token, self.sender.clone());
        if let Some((sid, key)) = &self.api_key {
            let secret = read_secret(vault, "apiKeySecretVaultKey", key).await?;
            let secret =
                ApiKeySecret::from_secret(&secret).map_err(|e| invalid("apiKeySecretVaultKey")(&e))?;
            credentials = credentials.with_api_key(sid.clone(), secret);
        }
        Ok(credentials)
    }
}

async fn read_secret(
    vault: &impl SecretSource,
    field: &'static str,
    key: &str,
) -> Result<SecretString, ConfigError> {
    vault
        .get_secret_value(key)
        .await
        .map_err(|e| ConfigError::Vault(e.to_string()))?
        .ok_or(ConfigError::SecretNotFound { field })
}

/// A channel's resolved credentials: the account, its Auth Token (which signs webhooks), an optional
/// API key for REST calls, and the sender.
pub struct Credentials {
    account_sid: AccountSid,
    auth_token: AuthToken,
    api_key: Option<(ApiKeySid, ApiKeySecret)>,
    sender: Sender,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &self.auth_token)
            .field("api_key", &self.api_key.as_ref().map(|(sid, _)| sid))
            .field("sender", &self.sender)
            .finish()
    }
}

impl Credentials {
    /// Credentials that authenticate REST calls with the Auth Token.
    #[must_use]
    pub fn new(account_sid: AccountSid, auth_token: AuthToken, sender: Sender) -> Self {
        Self { account_sid, auth_token, api_key: None, sender }
    }

    /// Authenticates REST calls with an API key instead (Twilio's recommendation); webhooks are still
    /// verified with the Auth Token.
    #[must_use]
    pub fn with_api_key(mut self, sid: ApiKeySid, secret: ApiKeySecret) -> Self {
        self.api_key = Some((sid, secret));
        self
    }

    /// The account.
    #[must_use]
    pub fn account_sid(&self) -> &AccountSid {
        &self.account_sid
    }

    /// The sender.
    #[must_use]
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// Whether REST calls use an API key.
    #[must_use]
    pub fn uses_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    /// A verifier for this channel's webhooks (always the Auth Token).
    #[must_use]
    pub fn webhook_verifier(&self) -> WebhookVerifier {
        WebhookVerifier::new(&self.auth_token)
    }

    /// The `Authorization` header for REST calls, marked sensitive.
    pub(crate) fn authorization(&self) -> http::HeaderValue {
        match &self.api_key {
            Some((sid, secret)) => basic_authorization(sid.as_str(), secret),
            None => basic_authorization(self.account_sid.as_str(), &self.auth_token),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AC: &str = "AC0123456789abcdef0123456789abcdef";

    #[test]
    fn reads_hivekeeps_shape_and_ignores_host_keys() {
        let config = StoredChannelConfig::from_json(&format!(
            r#"{{"accountSid":"{AC}","authTokenVaultKey":"channel_twilio-sms_x_authToken","fromNumber":"+14155550100","allowedChatIds":["+1"]}}"#
        ))
        .unwrap();
        assert_eq!(config.account_sid().as_str(), AC);
        assert_eq!(config.sender().number().unwrap().as_str(), "+14155550100");
        assert_eq!(config.channel_id(), None, "not a Hivekeep vault key");
        assert!(!config.configure_webhook());
    }

    #[test]
    fn the_channel_id_is_read_from_hivekeeps_vault_key_and_the_switch_is_off_unless_true() {
        let id = "0b8f0b38-2f43-4a52-9c39-6f8d2d1a4e77";
        let config = |key: &str, switch: &str| {
            StoredChannelConfig::from_json(&format!(
                r#"{{"accountSid":"{AC}","authTokenVaultKey":"{key}","fromNumber":"+14155550100"{switch}}}"#
            ))
            .unwrap()
        };
        let stored = config(&format!("channel_twilio-sms_{id}_authToken"), r#","configureWebhook":true"#);
        assert_eq!(stored.channel_id().map(|c| c.to_string()).as_deref(), Some(id));
        assert!(stored.configure_webhook());
        assert_eq!(config(&format!("channel_telegram_{id}_authToken"), "").channel_id(), None);
        assert_eq!(config("channel_twilio-sms_x_authToken", "").channel_id(), None);
        for off in
            [r#","configureWebhook":false"#, r#","configureWebhook":"yes""#, r#","configureWebhook":1"#, ""]
        {
            assert!(!config("k", off).configure_webhook(), "{off}");
        }
        assert!(config("k", r#","configureWebhook":"true""#).configure_webhook());
    }

    #[test]
    fn refuses_plaintext_tokens_and_names_bad_fields() {
        let plaintext = format!(
            r#"{{"accountSid":"{AC}","authToken":"0123456789abcdef0123456789abcdef","fromNumber":"+14155550100"}}"#
        );
        let err = StoredChannelConfig::from_json(&plaintext).unwrap_err();
        assert_eq!(err, ConfigError::PlaintextSecret);
        assert!(!err.to_string().contains("0123456789abcdef"));
        assert_eq!(StoredChannelConfig::from_json("[]").unwrap_err(), ConfigError::NotAnObject);
        assert_eq!(StoredChannelConfig::from_json("{").unwrap_err(), ConfigError::NotAnObject);
        assert_eq!(
            StoredChannelConfig::from_json(r#"{"authTokenVaultKey":"k","fromNumber":"+14155550100"}"#)
                .unwrap_err(),
            ConfigError::Missing("accountSid")
        );
        let no_sender = format!(r#"{{"accountSid":"{AC}","authTokenVaultKey":"k"}}"#);
        assert_eq!(StoredChannelConfig::from_json(&no_sender).unwrap_err(), ConfigError::NoSender);
        let bad_number =
            format!(r#"{{"accountSid":"{AC}","authTokenVaultKey":"k","fromNumber":"+15551234567"}}"#);
        assert!(matches!(
            StoredChannelConfig::from_json(&bad_number).unwrap_err(),
            ConfigError::Invalid { field: "fromNumber", .. }
        ));
        let bad_sid = r#"{"accountSid":"SM0123456789abcdef0123456789abcdef","authTokenVaultKey":"k","fromNumber":"+14155550100"}"#;
        assert!(matches!(
            StoredChannelConfig::from_json(bad_sid).unwrap_err(),
            ConfigError::Invalid { field: "accountSid", .. }
        ));
    }

    #[tokio::test]
    async fn resolves_secrets_from_the_vault_at_use_time() {
        let config = StoredChannelConfig::from_json(&format!(
            r#"{{"accountSid":"{AC}","authTokenVaultKey":"tok","messagingServiceSid":"MG0123456789abcdef0123456789abcdef","apiKeySid":"SK0123456789abcdef0123456789abcdef","apiKeySecretVaultKey":"sk"}}"#
        ))
        .unwrap();
        let vault = MemoryVault::default();
        assert_eq!(
            config.resolve(&vault).await.unwrap_err(),
            ConfigError::SecretNotFound { field: "authTokenVaultKey" }
        );
        vault.insert("tok", "feedfacefeedfacefeedfacefeedface");
        assert_eq!(
            config.resolve(&vault).await.unwrap_err(),
            ConfigError::SecretNotFound { field: "apiKeySecretVaultKey" }
        );
        vault.insert("sk", "keysecretkeysecretkeysecret12345");
        let credentials = config.resolve(&vault).await.unwrap();
        assert!(credentials.uses_api_key());
        assert!(matches!(credentials.sender(), Sender::Service(_)));
        let debug = format!("{credentials:?} {vault:?}");
        assert!(!debug.contains("feedface") && !debug.contains("keysecret"), "{debug}");
        let auth = credentials.authorization();
        assert!(auth.is_sensitive());
        assert!(auth.to_str().unwrap().starts_with("Basic U0sw"), "the API key SID is the user");
    }
}
