#[path = "../tests/support/corpus.rs"]
mod corpus;
use serde_json::Value;
use twilio_sms::{AuthToken, BodyLimit, UnverifiedWebhook, WebhookUrl, WebhookVerifier};
fn main() {
    let kind = std::env::args().nth(1).unwrap();
    let reps: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let text = std::fs::read_to_string("../shared/conformance/corpus.jsonl").unwrap();
    let mut reqs = Vec::new();
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        if case["kind"] != kind.as_str() {
            continue;
        }
        let check = &case["checks"][0];
        assert_eq!(check["name"], "true_signature");
        let r = corpus::request(&case, check);
        let v = WebhookVerifier::new(&AuthToken::new(r.token.as_str()).unwrap());
        reqs.push((v, r));
    }
    let mut ok = 0;
    let mut ns = 0u128;
    for _ in 0..reps {
        for (v, r) in &reqs {
            let w = UnverifiedWebhook::new(
                r.method.clone(),
                WebhookUrl::exact(&r.url).unwrap(),
                r.headers.clone(),
                r.body.clone(),
                BodyLimit::DEFAULT,
            )
            .unwrap();
            let t = std::time::Instant::now();
            ok += usize::from(std::hint::black_box(v.verify(w)).is_ok());
            ns += t.elapsed().as_nanos();
        }
    }
    eprintln!(
        "{kind}: {} ok of {}, {:.0} ns per verify (hot)",
        ok,
        reqs.len() * reps,
        ns as f64 / (reqs.len() * reps) as f64
    );
}
