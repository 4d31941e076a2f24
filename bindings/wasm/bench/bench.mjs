#!/usr/bin/env node
// The wasm verifier against the official `twilio` npm package's validateRequest, in one Node process,
// on the same corpus, timing the same work: the signature check of each request.
//
// Usage: PASSES=10 node bindings/wasm/bench/bench.mjs [CORPUS]
//   CORPUS defaults to ../shared/conformance/corpus.jsonl beside the checkout, else the crate's subset.
//   The twilio SDK is loaded from $PEERS_DIR/node (default ~/.cache/twilio-sms-peers; installed by
//   ../shared/bench/setup-peers.sh); without it only the wasm figures are printed.
//
// Inputs are prepared before timing as in ../shared/bench/bench_node.js: for twilio the form body is
// parsed with querystring.parse (as express.urlencoded does); the package takes the raw body bytes
// (its strict decoding is part of what it times). Only the package's public API is timed. Workloads:
//   valid      the true_signature check of every case (genuine requests: the hot path)
//   all        every check with a signature header (adds rejections)
// Verifiers:
//   twilio     validateRequest / validateRequestWithBody (node twilio@6.2.0) on pre-parsed params
//   twilio+parse  the same with querystring.parse of the form body inside the timed call (a Hivekeep
//              plugin gets the raw Request, so it pays that parse)
//   verifyRequest  the package's verification at an exact URL: the whole check in wasm
//              (WebhookVerifier::verify, HMAC-SHA1 compiled to wasm), its token keyed in each call,
//              as twilio's is (every corpus case has its own token)
//   floor      node:crypto HMAC-SHA1 alone over the data string, built beforehand
// Timed separately: classification (a channel's full webhook handling on a signed inbound SMS, its
// token keyed once, as a channel does) and phone-number checks.
import { createRequire } from "node:module";
import { createHmac } from "node:crypto";
import os from "node:os";
import path from "node:path";
import qs from "node:querystring";
import { fixtures, fullCorpusPath, loadPackage, readJsonLines, request } from "../test/support.mjs";

const PASSES = parseInt(process.env.PASSES ?? "10", 10);
const file = process.argv[2] ?? fullCorpusPath() ?? path.join(fixtures, "corpus_subset.jsonl");
const peersDir = process.env.PEERS_DIR ?? path.join(os.homedir(), ".cache", "twilio-sms-peers");

let twilio = null;
let twilioVersion = null;
try {
  const require = createRequire(path.join(peersDir, "node", "package.json"));
  twilio = require("twilio/lib/webhooks/webhooks");
  twilioVersion = require("twilio/package.json").version;
} catch {
  process.stderr.write(`bench: the twilio SDK is not in ${peersDir}/node; timing the wasm verifier only\n`);
}

const t0 = performance.now();
const pkg = await loadPackage();
pkg.load();
const tLoad = performance.now();

/** The string Twilio signs: the URL, then a form POST's decoded pairs, sorted, distinct (for the floor). */
function dataString(url, form, bodyText) {
  if (!form) return Buffer.from(url, "utf8");
  const pairs = [...new URLSearchParams(bodyText)].map(([k, v]) => [Buffer.from(k), Buffer.from(v)]);
  pairs.sort(([k1, v1], [k2, v2]) => Buffer.compare(k1, k2) || Buffer.compare(v1, v2));
  const kept = pairs.filter((p, i) => i === 0 || !(p[0].equals(pairs[i - 1][0]) && p[1].equals(pairs[i - 1][1])));
  return Buffer.concat([Buffer.from(url, "utf8"), ...kept.flat()]);
}

function load(cases) {
  const valid = [];
  const every = [];
  for (const c of cases) {
    for (const check of c.checks) {
      const req = request(c, check);
      const sig = req.headers["x-twilio-signature"];
      if (sig === undefined) continue;
      const bodyText = req.body.toString("utf8");
      let peer;
      if (c.kind === "json_post") peer = [twilio?.validateRequestWithBody, req.token, sig, req.url, bodyText];
      else if (c.kind === "get") peer = [twilio?.validateRequest, req.token, sig, req.url, {}];
      else peer = [twilio?.validateRequest, req.token, sig, req.url, qs.parse(bodyText)];
      const form = c.kind !== "json_post" && c.kind !== "get";
      const item = { req, sig, key: Buffer.from(req.token, "utf8"), peer, form, bodyText, expect: check.expect };
      every.push(item);
      if (check.name === "true_signature") valid.push(item);
    }
  }
  return { valid, every };
}

const { valid, every } = load(readJsonLines(file));

function verifyRequestCheck(item) {
  return pkg.verifyRequest(item.req, item.tokens) === undefined;
}
for (const item of every) item.tokens = [item.req.token];

function twilioCheck(item) {
  const [fn, tok, sig, url, params] = item.peer;
  return fn(tok, sig, url, params);
}

// The same, with the form body parsed inside the timed call: what a Hivekeep plugin pays, since it gets
// the raw Request (no framework parses the body for it).
function twilioParseCheck(item) {
  const [fn, tok, sig, url, params] = item.peer;
  return fn(tok, sig, url, item.form ? qs.parse(item.bodyText) : params);
}

// The data strings, built once, for the HMAC floor.
for (const item of valid) item.data = dataString(item.req.url, item.form, item.bodyText);
function floor(item) {
  return createHmac("sha1", item.key).update(item.data).digest();
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** One pass of `fn` over `items`: its mean, and each call's time pushed on `perCall`. */
function pass(items, fn, perCall) {
  const now = process.hrtime.bigint;
  const start = now();
  for (const item of items) {
    const a = now();
    fn(item);
    perCall.push(Number(now() - a));
  }
  return Number(now() - start) / items.length;
}

function stats(n, passMean, perCall) {
  perCall.sort((a, b) => a - b);
  const m = median(passMean);
  return {
    n,
    passes: passMean.length,
    pass_mean_ns_median: Math.round(m),
    pass_mean_ns_min: Math.round(Math.min(...passMean)),
    call_ns_median: perCall[Math.floor(perCall.length / 2)],
    call_ns_p99: perCall[Math.floor(perCall.length * 0.99)],
    ops_per_s: Math.round(1e9 / m),
  };
}

function run(items, fn, passes = PASSES) {
  for (const item of items.slice(0, 500)) fn(item); // warm-up / JIT
  const passMean = [];
  const perCall = [];
  for (let p = 0; p < passes; p++) passMean.push(pass(items, fn, perCall));
  return stats(items.length, passMean, perCall);
}

/**
 * The verifiers' passes interleaved (one pass of each in turn), so that a speed-up compares passes run
 * side by side: this machine's speed drifts over a run. Returns each one's stats and pass means.
 */
function runSideBySide(items, fns, passes = PASSES) {
  for (const fn of Object.values(fns)) for (const item of items.slice(0, 500)) fn(item); // warm-up / JIT
  const means = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  const calls = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let p = 0; p < passes; p++) {
    for (const [name, fn] of Object.entries(fns)) means[name].push(pass(items, fn, calls[name]));
  }
  const out = Object.fromEntries(Object.keys(fns).map((k) => [k, stats(items.length, means[k], calls[k])]));
  return { stats: out, means };
}

// Verdicts first: the same work must give the native verdicts.
for (const item of every) {
  if (verifyRequestCheck(item) !== item.expect) {
    throw new Error("bench: a verdict differs from the corpus's expectation");
  }
}
// The floor's data strings are the signed ones (over the exact URL; a few cases signed the port variant).
const signedAsBuilt = valid.filter((item) => floor(item).toString("base64") === item.sig).length;
if (signedAsBuilt < valid.length * 0.9) throw new Error("bench: the floor's data strings are not the signed ones");

const results = { valid: {}, all: {} };
const passMeans = {};
for (const [name, items] of [["valid", valid], ["all", every]]) {
  const fns = twilio ? { twilio: twilioCheck, "twilio+parse": twilioParseCheck } : {};
  Object.assign(fns, { verifyRequest: verifyRequestCheck });
  const { stats, means } = runSideBySide(items, fns);
  Object.assign(results[name], stats);
  passMeans[name] = means;
}
results.valid.floor = run(valid, floor);

// Classification, timed separately: a channel's whole webhook handling (verify, binding checks, event,
// idempotency key, outcome JSON) on a signed inbound SMS.
const ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const AC = "AC0123456789abcdef0123456789abcdef";
const TOKEN = "0123456789abcdef0123456789abcdef";
const channel = new pkg.TwilioSmsChannel(ID, { accountSid: AC, authTokenVaultKey: "k", fromNumber: "+14155550100" }, { publicUrl: "https://agents.example.com" });
const target = `/api/channels/plugin/twilio-sms/webhook/${ID}`;
const params = [
  ["ToCountry", "US"], ["ToState", "CA"], ["SmsMessageSid", "SM" + "1".repeat(32)], ["NumMedia", "0"], ["ToCity", "SAN FRANCISCO"],
  ["FromZip", "94105"], ["SmsSid", "SM" + "1".repeat(32)], ["FromState", "CA"], ["SmsStatus", "received"], ["FromCity", "SAN FRANCISCO"],
  ["Body", "Hello! Could you remind me what time the meeting is tomorrow, and whether I need to bring anything?"],
  ["FromCountry", "US"], ["To", "+14155550100"], ["MessagingServiceSid", ""], ["ToZip", "94105"], ["NumSegments", "1"],
  ["MessageSid", "SM" + "1".repeat(32)], ["AccountSid", AC], ["From", "+14155550142"], ["ApiVersion", "2010-04-01"],
];
function sign(url) {
  const sorted = [...params].sort(([a, x], [b, y]) => Buffer.compare(Buffer.from(a + "\0" + x), Buffer.from(b + "\0" + y)));
  return createHmac("sha1", TOKEN).update(url + sorted.map(([k, v]) => k + v).join("")).digest("base64");
}
const inbound = {
  target,
  headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": sign("https://agents.example.com" + target) },
  body: Buffer.from(new URLSearchParams(params).toString()),
};
if (channel.verify(inbound, [TOKEN]).incoming?.content !== params[10][1]) throw new Error("bench: the inbound SMS was not accepted");
const classify = new Array(2000).fill(inbound);
results.classification = {
  "channel.verify (verify + classify + outcome JSON)": run(classify, (x) => channel.verify(x, [TOKEN])),
};

// Phone-number checks, timed separately (full libphonenumber validity).
const numbers = { "valid US +14155550100": "+14155550100", "valid GB mobile +447911123456": "+447911123456", "invalid +15551234567": "+15551234567", "invalid GB +447700900123": "+447700900123" };
results.phone = {};
for (const [name, n] of Object.entries(numbers)) results.phone[name] = run(new Array(200).fill(n), (x) => pkg.isValidPhone(x), 3);

/** The median, over the interleaved passes, of the peer's pass mean over ours in the same round. */
function speedups(name) {
  const m = passMeans[name];
  const x = (peer, ours) => +median(m[peer].map((t, i) => t / m[ours][i])).toFixed(2);
  return {
    "twilio / verifyRequest": x("twilio", "verifyRequest"),
    "twilio+parse / verifyRequest": x("twilio+parse", "verifyRequest"),
  };
}
const report = {
  peer: twilio ? `node twilio@${twilioVersion}` : null,
  runtime: `node ${process.version}`,
  cpu: os.cpus()[0]?.model,
  cores: os.cpus().length,
  loadavg: os.loadavg().map((x) => x.toFixed(2)),
  corpus: path.basename(file),
  package_load_ms: +(tLoad - t0).toFixed(1),
  results,
  speedup_vs_twilio: twilio
    ? {
        valid: speedups("valid"),
        all: speedups("all"),
      }
    : null,
};
console.log(JSON.stringify(report, null, 1));
if (twilio) {
  const us = (name, v) => (results[name][v].pass_mean_ns_median / 1000).toFixed(1);
  process.stderr.write(
    `bench: per genuine validation: twilio ${us("valid", "twilio")} µs (with the body parse ${us("valid", "twilio+parse")} µs), ` +
      `verifyRequest ${us("valid", "verifyRequest")} µs (${speedups("valid")["twilio / verifyRequest"]}x; ${speedups("valid")["twilio+parse / verifyRequest"]}x), ` +
      `node:crypto HMAC alone ${us("valid", "floor")} µs\n`,
  );
}
