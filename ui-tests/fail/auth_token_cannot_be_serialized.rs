// Attack (or accident): serialise a configuration holding the Auth Token into JSON, where it ends up in
// a file, a response or a log. `AuthToken` does not implement `serde::Serialize`.
use twilio_sms::AuthToken;

fn dump(token: &AuthToken) -> serde_json::Result<String> {
    serde_json::to_string(token)
}

fn main() {}
