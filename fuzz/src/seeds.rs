//! Seed inputs: the conformance corpus (`corpus.jsonl`: signed requests with their URL, method, content
//! type, body, parameters and token) and the SDK vectors of `tests/fixtures`.

use std::path::Path;

use serde_json::Value;

/// One signed request of a corpus.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub content_type: Option<String>,
    pub body: String,
    pub token: String,
    pub params: Vec<(String, String)>,
}

#[derive(Default)]
pub struct Seeds {
    pub requests: Vec<Request>,
    /// Parameter values (message bodies, numbers...): material for texts and mutations.
    pub values: Vec<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let p = p.as_array()?;
            Some((p.first()?.as_str()?.to_owned(), p.get(1)?.as_str()?.to_owned()))
        })
        .collect()
}

impl Seeds {
    /// Reads every file that exists; a missing file is skipped (the shared corpus may be absent).
    pub fn load(paths: &[&Path]) -> Self {
        let mut seeds = Self::default();
        for path in paths {
            let Ok(content) = std::fs::read_to_string(path) else { continue };
            if path.extension().and_then(|e| e.to_str()) == Some("jsonl") {
                for line in content.lines().filter(|l| !l.trim().is_empty()) {
                    if let Ok(case) = serde_json::from_str::<Value>(line) {
                        seeds.add(&case);
                    }
                }
            } else if let Ok(Value::Array(cases)) = serde_json::from_str::<Value>(&content) {
                for case in &cases {
                    seeds.add(case);
                }
            }
        }
        if seeds.requests.is_empty() {
            seeds.requests.push(Request {
                method: "POST".into(),
                url: "https://mycompany.com/myapp.php?foo=1&bar=2".into(),
                content_type: Some("application/x-www-form-urlencoded".into()),
                body: "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234".into(),
                token: "12345".into(),
                params: vec![
                    ("CallSid".into(), "CA1234567890ABCDE".into()),
                    ("Digits".into(), "1234".into()),
                ],
            });
        }
        seeds
    }

    fn add(&mut self, case: &Value) {
        let Some(url) = text(case, "url") else { return };
        let params = pairs(case.get("params"));
        for (_, v) in &params {
            if !v.is_empty() {
                self.values.push(v.clone());
            }
        }
        self.requests.push(Request {
            method: text(case, "method").unwrap_or_else(|| "POST".into()),
            url,
            content_type: text(case, "content_type"),
            body: text(case, "body").unwrap_or_default(),
            token: text(case, "token").filter(|t| !t.trim().is_empty()).unwrap_or_else(|| "12345".into()),
            params,
        });
    }
}
