//! Conformance: the official SDKs' vectors and a subset of the signed-request corpus, with the strict
//! verdicts recorded in the files (`check.strict_ref`, `expect`). Fixtures: `tests/fixtures/README.md`.

mod support;

use http::{HeaderMap, HeaderValue, Method};
use serde_json::Value;
use support::corpus;
use twilio_sms::{AuthToken, BodyLimit, UnverifiedWebhook, VerifyError, WebhookUrl, WebhookVerifier};
use twilio_sms_testkit::{body_sha256_hex, encode_form, sign};

fn vectors() -> Vec<Value> {
    serde_json::from_str(include_str!("fixtures/sdk_vectors.json")).unwrap()
}

fn params(v: &Value) -> Vec<(String, String)> {
    v["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
        .collect()
}

fn borrowed(p: &[(String, String)]) -> Vec<(&str, &str)> {
    p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Verifies a vector as the request it describes: a form POST of its params, or a JSON POST of its body.
fn verify_vector(v: &Value) -> Result<(), VerifyError> {
    let token = AuthToken::new(v["token"].as_str().unwrap()).unwrap();
    let url = WebhookUrl::exact(v["url"].as_str().unwrap()).map_err(VerifyError::InvalidUrl)?;
    let mut headers = HeaderMap::new();
    if let Some(sig) = v["signature"].as_str() {
        headers.insert("x-twilio-signature", HeaderValue::from_str(sig).unwrap());
    }
    let body = match v["body"].as_str() {
        // A raw body is JSON when the URL carries its hash, else a form body (twilio-go's ValidateBody).
        Some(body) if url.as_str().contains("bodySHA256=") => {
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            body.to_owned()
        }
        Some(body) => {
            headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
            body.to_owned()
        }
        None => {
            headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
            encode_form(&borrowed(&params(v)))
        }
    };
    let webhook = UnverifiedWebhook::new(Method::POST, url, headers, body, BodyLimit::DEFAULT)?;
    WebhookVerifier::new(&token).verify(webhook).map(|_| ())
}

#[test]
fn every_sdk_vector_gets_its_strict_verdict() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 94);
    let mut failures = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let kind = v["kind"].as_str().unwrap();
        let (expected, got, detail) = match kind {
            "body_hash" => {
                let expected = v["check"]["matches"].as_bool().unwrap();
                let hex = body_sha256_hex(v["body"].as_str().unwrap().as_bytes());
                (expected, hex == v["signature"].as_str().unwrap(), hex)
            }
            "compute" => {
                let p = params(v);
                let sig =
                    sign(v["token"].as_str().unwrap(), v["url"].as_str().unwrap(), &borrowed(&p)).to_string();
                let expected = v["check"]["strict_ref"].as_bool().unwrap();
                (expected, Some(sig.as_str()) == v["signature"].as_str(), sig)
            }
            "validate" | "validate_body" => {
                let expected = v["check"]["strict_ref"].as_bool().unwrap();
                let result = verify_vector(v);
                (expected, result.is_ok(), format!("{result:?}"))
            }
            other => panic!("unknown vector kind {other}"),
        };
        if expected != got {
            failures.push(format!(
                "vector {i} ({kind}, {}): expected {expected}, got {got}: {detail}",
                v["note"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_subset_gets_the_strict_verdicts() {
    let outcomes = corpus::run(include_str!("fixtures/corpus_subset.jsonl"));
    assert!(outcomes.len() > 1500, "the fixture holds {} checks", outcomes.len());
    let accepted = outcomes.iter().filter(|o| o.accepted).count();
    assert!(accepted > 500 && accepted < outcomes.len() - 500, "both verdicts are exercised");
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| o.accepted != o.expect)
        .map(|o| format!("case {} {}: expected {} ({:?})", o.id, o.name, o.expect, o.reason))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The first genuine form case of the fixture, as (request pieces, verifier).
fn genuine_form_case() -> (Value, WebhookVerifier) {
    let line = include_str!("fixtures/corpus_subset.jsonl")
        .lines()
        .find(|l| l.contains("\"kind\":\"form_post\""))
        .unwrap();
    let case: Value = serde_json::from_str(line).unwrap();
    let verifier = WebhookVerifier::new(&AuthToken::new(case["token"].as_str().unwrap()).unwrap());
    (case, verifier)
}

fn verify_with(case: &Value, check: Value, verifier: &WebhookVerifier) -> Result<(), String> {
    corpus::verify(corpus::request(case, &check), verifier)
}

#[test]
fn missing_and_empty_headers_are_rejected() {
    let (case, verifier) = genuine_form_case();
    assert_eq!(verify_with(&case, serde_json::json!({}), &verifier), Ok(()));
    assert_eq!(
        verify_with(&case, serde_json::json!({"signature": null}), &verifier),
        Err(VerifyError::MissingSignature.to_string())
    );
    for bad in [
        "",
        "abc",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA*",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAB=",
    ] {
        assert_eq!(
            verify_with(&case, serde_json::json!({ "signature": bad }), &verifier),
            Err(VerifyError::MalformedSignature.to_string()),
            "{bad:?}"
        );
    }
}

#[test]
fn a_secondary_token_is_accepted_for_rotation_and_the_primary_still_is() {
    let (case, _) = genuine_form_case();
    let real = AuthToken::new(case["token"].as_str().unwrap()).unwrap();
    let other = AuthToken::new("ffffffffffffffffffffffffffffffff").unwrap();
    let rotating = WebhookVerifier::new(&other).with_secondary(&real);
    assert_eq!(verify_with(&case, serde_json::json!({}), &rotating), Ok(()));
    let rotated = WebhookVerifier::new(&real).with_secondary(&other);
    assert_eq!(verify_with(&case, serde_json::json!({}), &rotated), Ok(()));
    let neither = WebhookVerifier::new(&other);
    assert_eq!(
        verify_with(&case, serde_json::json!({}), &neither),
        Err(VerifyError::SignatureMismatch.to_string())
    );
}
