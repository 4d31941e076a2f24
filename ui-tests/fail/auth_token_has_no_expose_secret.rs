// Attack: read the raw secret out of an `AuthToken`. There is no public accessor: the token is used
// only inside the crate, as an HMAC key.
use twilio_sms::AuthToken;

fn steal(token: &AuthToken) -> String {
    token.expose_secret().to_owned()
}

fn main() {}
