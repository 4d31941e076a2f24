// Attack: reach the secret through the tuple field of `AuthToken`. The field is private.
use twilio_sms::AuthToken;

fn steal(token: &AuthToken) -> usize {
    std::mem::size_of_val(&token.0)
}

fn main() {}
