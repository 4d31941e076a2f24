// Attack: point the client at a plain-http API base on another host, so that the Basic credential of
// every request crosses the network in the clear. The client takes an `ApiBase`, which only
// `ApiBase::parse` makes (https, or http to a loopback host), never a raw string.
use twilio_sms::client::ClientConfig;

fn config() -> ClientConfig {
    ClientConfig::default().with_api_base("http://api.example.com")
}

fn main() {}
