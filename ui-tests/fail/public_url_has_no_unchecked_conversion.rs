// Attack: configure a plain-http (or malformed) public URL without going through the check that
// refuses http on a public host. `PublicUrl` has no `From<&str>`.
use twilio_sms::PublicUrl;

fn public_url() -> PublicUrl {
    "http://agents.example.com".into()
}

fn main() {}
