// Attack: compare a guessed token with the real one using `==`, a comparison whose running time leaks
// how much of the guess is right. `AuthToken` has no `PartialEq`.
use twilio_sms::AuthToken;

fn guess(real: &AuthToken, guess: &AuthToken) -> bool {
    real == guess
}

fn main() {}
