//! Target `verify`: the whole verification path (`WebhookUrl::exact`, `UnverifiedWebhook::new`, the form
//! decoder, `WebhookVerifier::verify`) from raw parts: random method, URL, headers (signatures, content
//! types, the SharedKey header), body and body limit.
//!
//! Invariants, beyond "no panic": the result equals an independent oracle's (same verdict, same
//! rejection, same parameters in wire order): in particular a correctly signed request is accepted and
//! nothing else is; no error text carries the token or a signature.

use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};
use twilio_sms::{AuthToken, BodyLimit, UnverifiedWebhook, VerifyError, WebhookUrl, WebhookVerifier};

use crate::reference::{self, Pairs};
use crate::rng::Rng;
use crate::seeds::Seeds;

/// How many inputs were accepted and rejected (so a run shows both sides were exercised).
pub static ACCEPTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
pub static REJECTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub struct Input {
    pub method: Vec<u8>,
    pub url: String,
    pub content_type: Option<Vec<u8>>,
    pub signatures: Vec<Vec<u8>>,
    pub shared_key: bool,
    pub body: Vec<u8>,
    pub token: String,
    pub secondary: Option<String>,
    pub limit: usize,
    pub mode: &'static str,
}

const KEYS: &[&str] = &[
    "Body",
    "From",
    "To",
    "AccountSid",
    "MessageSid",
    "SmsSid",
    "NumMedia",
    "MessageStatus",
    "bodySHA256",
    "",
    "a",
    "A",
    "a=b",
    "é",
    "Digits",
];

fn random_pairs(rng: &mut Rng, seeds: &Seeds) -> Pairs {
    let n = rng.below(8);
    let mut pairs: Pairs = (0..n)
        .map(|_| {
            let key = if rng.chance(3, 4) { (*rng.pick(KEYS)).to_owned() } else { rng.unicode(6) };
            let value = match rng.below(5) {
                0 => String::new(),
                1 if !seeds.values.is_empty() => rng.pick(&seeds.values).clone(),
                2 => format!("+1{}", rng.digits(10)),
                _ => rng.unicode(24),
            };
            (key, value)
        })
        .collect();
    // Repeated keys and exact duplicates.
    if !pairs.is_empty() && rng.chance(1, 3) {
        let dup = pairs[rng.below(pairs.len())].clone();
        let at = rng.below(pairs.len() + 1);
        if rng.chance(1, 2) {
            pairs.insert(at, dup);
        } else {
            pairs.insert(at, (dup.0, rng.unicode(5)));
        }
    }
    pairs
}

/// Mutations that know the shape of a form body.
fn mutate_body(rng: &mut Rng, body: &mut Vec<u8>) {
    for _ in 0..rng.range(1, 4) {
        let at = rng.below(body.len() + 1);
        match rng.below(14) {
            0 if !body.is_empty() => {
                let i = rng.below(body.len());
                body[i] ^= 1 << rng.below(8);
            }
            1 => body.insert(at, rng.next_u64() as u8),
            2 if !body.is_empty() => {
                let end = (at + rng.range(1, 8)).min(body.len());
                body.drain(at.min(end)..end);
            }
            3 => {
                let bad = *rng.pick(&[&b"%"[..], b"%4", b"%G1", b"%%", b"%4g", b"%\xc3", b"%&", b"%="]);
                body.splice(at..at, bad.iter().copied());
            }
            4 => {
                let esc = format!("%{:02X}", rng.next_u64() as u8);
                body.splice(at..at, esc.bytes());
            }
            5 => {
                let seq = *rng.pick(&[
                    &b"%C3%28"[..],
                    b"%FF",
                    b"%C0%AF",
                    b"%ED%A0%80",
                    b"%F4%90%80%80",
                    b"%E2%9C",
                    b"\xff",
                    b"\xc3",
                    b"\xed\xa0\x80",
                ]);
                body.splice(at..at, seq.iter().copied());
            }
            6 => {
                let sep = *rng.pick(&[&b"&"[..], b"=", b"+", b"&&", b"==", b"&=", b";"]);
                body.splice(at..at, sep.iter().copied());
            }
            7 => {
                // Duplicate or swap `&`-segments.
                let mut segments: Vec<Vec<u8>> = body.split(|&b| b == b'&').map(<[u8]>::to_vec).collect();
                let i = rng.below(segments.len());
                if rng.chance(1, 2) {
                    let copy = segments[i].clone();
                    segments.insert(rng.below(segments.len() + 1), copy);
                } else {
                    let j = rng.below(segments.len());
                    segments.swap(i, j);
                }
                *body = segments.join(&b'&');
            }
            8 => {
                let c = rng.any_char().to_string();
                body.splice(at..at, c.bytes());
            }
            9 if !body.is_empty() => body.truncate(rng.below(body.len())),
            10 => {
                // Re-encode one plain byte as %XX (neutral for the decoder).
                if let Some(i) =
                    (0..body.len()).map(|k| (at + k) % body.len()).find(|&i| body[i].is_ascii_alphanumeric())
                {
                    let esc = format!("%{:02x}", body[i]);
                    body.splice(i..=i, esc.bytes());
                }
            }
            11 => {
                let seg = format!("&{}={}", rng.pick(KEYS), rng.unicode(4));
                body.splice(at..at, seg.bytes());
            }
            _ => {
                let noise = {
                    let n = rng.range(1, 4);
                    rng.bytes(n)
                };
                body.splice(at..at, noise);
            }
        }
    }
}

fn mutate_url(rng: &mut Rng, url: &mut String, body: &[u8]) {
    for _ in 0..rng.range(0, 3) {
        let at = {
            let mut i = rng.below(url.len() + 1);
            while !url.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        match rng.below(12) {
            0 => {
                // Toggle a port after the host.
                if let Some(start) = url.find("://").map(|s| s + 3) {
                    let end = url[start..].find(['/', '?']).map_or(url.len(), |e| start + e);
                    let port = *rng.pick(&[":443", ":80", ":8443", ":", ":65535", ":99999999999999999999"]);
                    url.insert_str(end, port);
                }
            }
            1 => url.insert_str(at, *rng.pick(&["/", "//", "/./", "%2F", "%2f", "?", "&", "=", "+", "%"])),
            2 => url.push_str(&format!("{}bodySHA256={}", sep(url), reference::sha256_hex(body))),
            3 => url.push_str(&format!("{}bodySHA256={}", sep(url), {
                let n = rng.range(60, 66);
                rng.hex(n)
            })),
            4 => url.push_str(&format!(
                "{}bodySHA256={}",
                sep(url),
                reference::sha256_hex(body).to_uppercase()
            )),
            5 => url.insert(at, *rng.pick(&['#', ' ', '\t', '\u{7f}', 'é', '\u{a0}', '@', '[', ']'])),
            6 => *url = url.replacen("https://", *rng.pick(&["HTTPS://", "http://", "ftp://", "https:/"]), 1),
            7 => {
                *url = url.replacen(
                    "://",
                    *rng.pick(&["://user:pa:ss@", "://[2001:db8::1]", "://u@[::1]:80"]),
                    1,
                )
            }
            8 => url.push_str(&format!("{}{}={}", sep(url), rng.pick(KEYS), rng.unicode(4))),
            9 if at < url.len() => {
                url.remove(at);
            }
            _ => url.insert(at, rng.any_char()),
        }
    }
}

fn sep(url: &str) -> char {
    if url.contains('?') { '&' } else { '?' }
}

/// What the signature covers, by the oracle: `Ok((params, params_signed))`.
fn signed_content(
    method: &Method,
    url: &WebhookUrl,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Pairs, bool), VerifyError> {
    if method != Method::POST && method != Method::GET {
        return Err(VerifyError::UnsupportedMethod);
    }
    // A GET has no body, whatever its query says.
    if method == Method::GET && !body.is_empty() {
        return Err(VerifyError::GetWithBody);
    }
    if let Some(query) = url.query() {
        let hashes: Vec<&str> = query
            .split('&')
            .filter_map(|s| {
                let (name, value) = s.split_once('=').unwrap_or((s, ""));
                (name == "bodySHA256").then_some(value)
            })
            .collect();
        if hashes.len() > 1 {
            return Err(VerifyError::RepeatedBodyHash);
        }
        if let Some(hash) = hashes.first() {
            if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(VerifyError::MalformedBodyHash);
            }
            if reference::sha256_hex(body) != *hash {
                return Err(VerifyError::BodyHashMismatch);
            }
            return Ok((Vec::new(), false));
        }
    }
    if method == Method::GET {
        let pairs = reference::decode_form(url.query().unwrap_or("").as_bytes())
            .map_err(VerifyError::MalformedForm)?;
        return Ok((pairs, false));
    }
    let form = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !form {
        return Err(VerifyError::UnsupportedContentType);
    }
    let pairs = reference::decode_form(body).map_err(VerifyError::MalformedForm)?;
    Ok((pairs, true))
}

fn oracle(
    input: &Input,
    method: &Method,
    url: &WebhookUrl,
    headers: &HeaderMap,
) -> Result<Pairs, VerifyError> {
    if input.body.len() > input.limit {
        return Err(VerifyError::BodyTooLarge { limit: input.limit });
    }
    let (pairs, params_signed) = signed_content(method, url, headers, &input.body)?;
    if headers.contains_key("x-twilio-webhooks-signature-settings") {
        return Err(VerifyError::SharedKeySignature);
    }
    let values: Vec<&HeaderValue> = headers.get_all("x-twilio-signature").iter().collect();
    let value = match values.as_slice() {
        [] => return Err(VerifyError::MissingSignature),
        [one] => one.as_bytes(),
        _ => return Err(VerifyError::MalformedSignature),
    };
    if !reference::well_formed_signature(value) {
        return Err(VerifyError::MalformedSignature);
    }
    let signed = params_signed.then_some(pairs.as_slice());
    let tokens = std::iter::once(input.token.as_str()).chain(input.secondary.as_deref());
    let variant = url.port_variant();
    let ok = tokens.into_iter().any(|token| {
        [url.as_str(), variant.as_str()]
            .iter()
            .any(|u| reference::signature(token, u, signed).as_bytes() == value)
    });
    if ok { Ok(pairs) } else { Err(VerifyError::SignatureMismatch) }
}

pub fn generate(rng: &mut Rng, seeds: &Seeds) -> Input {
    let seed = rng.pick(&seeds.requests).clone();
    let token = if AuthToken::new(seed.token.as_str()).is_ok() { seed.token.clone() } else { "12345".into() };
    let secondary = rng.chance(1, 6).then(|| rng.hex(32));
    let method = match rng.below(20) {
        0 => b"PUT".to_vec(),
        1 => b"HEAD".to_vec(),
        2 => b"post".to_vec(),
        3 => {
            let n = rng.range(0, 5);
            rng.bytes(n)
        }
        4..=6 => b"GET".to_vec(),
        _ if seed.method == "GET" && rng.chance(3, 4) => b"GET".to_vec(),
        _ => b"POST".to_vec(),
    };
    let is_get = method == b"GET";
    // The body: the seed's, or fresh pairs encoded in one of the styles; then maybe mutated.
    let mut url = seed.url.clone();
    let mut body: Vec<u8> = match rng.below(3) {
        0 => seed.body.clone().into_bytes(),
        // The seed's parameters re-encoded in another style (same pairs, other bytes).
        1 => reference::encode(&seed.params, rng.below(4)).into_bytes(),
        _ => reference::encode(&random_pairs(rng, seeds), rng.below(4)).into_bytes(),
    };
    if is_get && rng.chance(4, 5) {
        if rng.chance(1, 2) && !url.contains('?') {
            let query = reference::encode(&random_pairs(rng, seeds), rng.below(4));
            url.push('?');
            url.push_str(&query);
        }
        body.clear();
    }
    let json = seed.content_type.as_deref().is_some_and(|c| c.contains("json")) || rng.chance(1, 10);
    if json && rng.chance(1, 2) {
        body = serde_json::to_vec(&json!({"v": rng.unicode(12), "n": rng.next_u64()})).unwrap_or_default();
        url = url.split('?').next().unwrap_or("").to_owned();
        url.push_str(&format!("?x={}&bodySHA256={}", rng.digits(2), reference::sha256_hex(&body)));
    }
    if rng.chance(1, 3) {
        mutate_body(rng, &mut body);
    }
    if rng.chance(1, 3) {
        mutate_url(rng, &mut url, &body);
    }
    let content_type: Option<Vec<u8>> = match rng.below(14) {
        0 => None,
        1 => Some(b"application/json".to_vec()),
        2 => Some(b"text/plain".to_vec()),
        3 => Some(b"APPLICATION/X-WWW-FORM-URLENCODED".to_vec()),
        4 => Some(b" application/x-www-form-urlencoded ; charset=utf-8".to_vec()),
        5 => Some(b"application/x-www-form-urlencoded-not".to_vec()),
        6 => Some(b"multipart/form-data; boundary=x".to_vec()),
        7 => Some({
            let n = rng.range(0, 12);
            rng.bytes(n)
        }),
        8 => Some(b"application/x-www-form-urlencoded\xe9".to_vec()),
        _ if json => seed.content_type.clone().map(String::into_bytes),
        _ => Some(b"application/x-www-form-urlencoded; charset=utf-8".to_vec()),
    };
    let limit = if rng.chance(1, 20) { rng.below(body.len() + 2) } else { BodyLimit::DEFAULT.get() };

    // The signature the oracle says is right for these parts, then a mode that uses it or not.
    let parsed_method = Method::from_bytes(&method).unwrap_or(Method::POST);
    let headers = content_headers(&content_type);
    let (right, variant) = match WebhookUrl::exact(&url) {
        Ok(u) => {
            let signed = signed_content(&parsed_method, &u, &headers, &body).ok();
            let params = signed.as_ref().and_then(|(p, signed)| signed.then_some(p.as_slice()));
            let signer = if secondary.is_some() && rng.chance(1, 2) { secondary.as_deref() } else { None };
            let signer = signer.unwrap_or(&token);
            (
                reference::signature(signer, u.as_str(), params),
                reference::signature(signer, &u.port_variant(), params),
            )
        }
        Err(_) => (reference::signature(&token, &url, None), String::new()),
    };
    let (mode, signatures): (&'static str, Vec<Vec<u8>>) = match rng.below(20) {
        0..=7 => ("right", vec![right.into_bytes()]),
        8 | 9 => ("port-variant", vec![variant.into_bytes()]),
        10 => (
            "wrong-token",
            vec![reference::signature("ffffffffffffffffffffffffffffffff", &url, None).into_bytes()],
        ),
        11 => {
            use base64::Engine as _;
            ("random", vec![base64::engine::general_purpose::STANDARD.encode(rng.bytes(20)).into_bytes()])
        }
        12 => {
            let mut s = right.into_bytes();
            let i = rng.below(s.len());
            s[i] = *rng.pick(b"AZaz09+/=-_ ");
            ("one-char-changed", vec![s])
        }
        13 => ("missing", vec![]),
        14 => ("duplicated", vec![right.clone().into_bytes(), right.into_bytes()]),
        15 => (
            "garbage",
            vec![{
                let n = rng.range(0, 40);
                rng.bytes(n)
            }],
        ),
        16 => ("lowercased", vec![right.to_lowercase().into_bytes()]),
        17 => ("truncated", vec![right.as_bytes()[..27].to_vec()]),
        _ => ("right", vec![right.into_bytes()]),
    };
    Input {
        method,
        url,
        content_type,
        signatures,
        shared_key: rng.chance(1, 30),
        body,
        token,
        secondary,
        limit,
        mode,
    }
}

fn content_headers(content_type: &Option<Vec<u8>>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(value) = content_type.as_deref().and_then(|c| HeaderValue::from_bytes(c).ok()) {
        headers.insert(http::header::CONTENT_TYPE, value);
    }
    headers
}

/// Runs one input; `Err` describes a broken invariant.
pub fn check(input: &Input) -> Result<(), String> {
    let Ok(url) = WebhookUrl::exact(&input.url) else {
        // Refused URLs must still never panic (done) and have no port variant to build.
        return Ok(());
    };
    let method = Method::from_bytes(&input.method).unwrap_or(Method::POST);
    let mut headers = content_headers(&input.content_type);
    for s in &input.signatures {
        if let Ok(value) = HeaderValue::from_bytes(s) {
            headers.append("x-twilio-signature", value);
        }
    }
    if input.shared_key {
        headers.insert("x-twilio-webhooks-signature-settings", HeaderValue::from_static("key=KS1"));
    }
    let expected = oracle(input, &method, &url, &headers);
    let token = AuthToken::new(input.token.as_str()).map_err(|e| format!("bad token in input: {e}"))?;
    let mut verifier = WebhookVerifier::new(&token);
    if let Some(secondary) = &input.secondary {
        verifier = verifier.with_secondary(&AuthToken::new(secondary.as_str()).map_err(|e| e.to_string())?);
    }
    let got = UnverifiedWebhook::new(
        method.clone(),
        url.clone(),
        headers.clone(),
        input.body.clone(),
        BodyLimit::bytes(input.limit),
    )
    .and_then(|w| verifier.verify(w));
    let got: Result<Pairs, VerifyError> =
        got.map(|v| v.params().map(|(k, v)| (k.to_owned(), v.to_owned())).collect());
    let counter = if got.is_ok() { &ACCEPTED } else { &REJECTED };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if got != expected {
        return Err(format!(
            "verify disagrees with the oracle (mode {}): got {got:?}, expected {expected:?}",
            input.mode
        ));
    }
    if let Err(e) = &got {
        let text = format!("{e} {e:?}");
        if text.contains(&input.token)
            || input
                .signatures
                .iter()
                .any(|s| s.len() > 8 && text.as_bytes().windows(s.len()).any(|w| w == s.as_slice()))
        {
            return Err(format!("an error text carries the token or a signature: {text}"));
        }
    }
    Ok(())
}

pub fn to_json(input: &Input) -> Value {
    json!({
        "method": reference::show(&input.method),
        "url": input.url,
        "content_type": input.content_type.as_deref().map(reference::show),
        "signatures": input.signatures.iter().map(|s| reference::show(s)).collect::<Vec<_>>(),
        "shared_key": input.shared_key,
        "body": reference::show(&input.body),
        "token": input.token,
        "secondary": input.secondary,
        "limit": input.limit,
        "mode": input.mode,
    })
}

pub fn from_json(v: &Value) -> Option<Input> {
    Some(Input {
        method: reference::unshow(v.get("method")?)?,
        url: v.get("url")?.as_str()?.to_owned(),
        content_type: v.get("content_type").filter(|c| !c.is_null()).and_then(reference::unshow),
        signatures: v.get("signatures")?.as_array()?.iter().filter_map(reference::unshow).collect(),
        shared_key: v.get("shared_key")?.as_bool()?,
        body: reference::unshow(v.get("body")?)?,
        token: v.get("token")?.as_str()?.to_owned(),
        secondary: v.get("secondary").and_then(Value::as_str).map(str::to_owned),
        limit: usize::try_from(v.get("limit")?.as_u64()?).ok()?,
        mode: "replay",
    })
}
