// The scenario corpus (tests/scenarios/*.json, format in its README.md) run through the WebAssembly
// driver's public API: webhooks through TwilioSmsChannel.handleInboundWebhook with a key-value store,
// sends through sendMessage with a stand-in fetch that serves Twilio's scripted answers, store
// operations through firstSighting and advanceStatus. The crate's tests/scenarios.rs runs the same
// files through the native driver. A known divergence between the drivers is data in the scenario:
// this runner checks the wasm side of it and reports it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { loadPackage, root, sign } from "./support.mjs";

const pkg = await loadPackage();
const DRIVER = "wasm";
const NOW = 1_800_000_000_000;
const DEFAULT_TTL = 24 * 3600 * 1000;
const dir = path.join(root, "tests", "scenarios");

const scenarios = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((file) => {
    const text = readFileSync(path.join(dir, file), "utf8");
    const id = JSON.parse(text).channel?.id;
    return { file, s: JSON.parse(id ? text.split("{channel}").join(id) : text) };
  });

/** `content` as a string, or pieces: strings and `{repeat, times}`. */
function text(value) {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(text).join("");
  if (value && typeof value === "object") return value.repeat.repeat(value.times);
  return "";
}

const reported = [];

/** What this driver is expected to give: a divergence's field takes the wasm value. */
function forDriver(expect, file, at) {
  const out = { ...expect };
  for (const d of expect.divergences ?? []) {
    out[d.field] = d[DRIVER];
    reported.push(`${file} ${at}: ${d.field}: ${d.note ?? ""}`);
  }
  return out;
}


function storedConfig(spec) {
  return { accountSid: spec.accountSid, authTokenVaultKey: "scenario-auth-token", fromNumber: spec.fromNumber };
}

function channelOf(spec) {
  const options = {};
  if (spec.publicUrl) options.publicUrl = spec.publicUrl;
  if (spec.locale) options.locale = spec.locale;
  if (spec.bodyLimit) options.bodyLimit = spec.bodyLimit;
  return new pkg.TwilioSmsChannel(spec.id, storedConfig(spec), options);
}

// --- the store: the package's key-value records, normalised ---------------------------------------

function memoryStorage(map = new Map()) {
  return {
    map,
    get: async (k) => (map.has(k) ? structuredClone(map.get(k)) : null),
    set: async (k, v) => void map.set(k, structuredClone(v)),
  };
}

/** The key-value records of a normalised state, written `ageMs` before NOW. */
function load(map, state, channelId, ageMs = 0) {
  const at = NOW - ageMs;
  for (const key of state.seen ?? []) map.set(`seen:${channelId}:${key}`, { at });
  for (const [sid, r] of Object.entries(state.status ?? {})) {
    const record = { rank: r.rank, at };
    if ("status" in r) record.status = r.status;
    if ("errorCode" in r) record.errorCode = r.errorCode;
    map.set(`status:${channelId}:${sid}`, record);
  }
}

/** The normalised state of the records that still count. */
function state(map, channelId, ttl = DEFAULT_TTL) {
  const seen = [];
  const status = {};
  for (const [key, record] of map) {
    if (pkg.isStale(record, NOW, ttl)) continue;
    const { at, ...rest } = record;
    if (key.startsWith(`seen:${channelId}:`)) seen.push(key.slice(`seen:${channelId}:`.length));
    else if (key.startsWith(`status:${channelId}:`)) status[key.slice(`status:${channelId}:`.length)] = rest;
  }
  seen.sort();
  return { seen, status: Object.fromEntries(Object.entries(status).sort()) };
}

/** `text` with every phone number (`+` and 8 or more digits) masked but its last two digits. */
function masked(text) {
  return String(text).replace(/\+(\d{6,})(\d{2})/g, (_, head, tail) => "+" + "•".repeat(head.length) + tail);
}

/** Compares as the native runner does: JSON values, key order ignored. */
function check(failures, file, at, field, actual, expected) {
  try {
    assert.deepStrictEqual(actual, expected);
  } catch {
    failures.push(`${file} ${at}: ${field}: expected ${masked(JSON.stringify(expected))}, wasm gave ${masked(JSON.stringify(actual))}`);
  }
}

// --- webhooks --------------------------------------------------------------------------------------

function requestOf(step, spec) {
  const r = step.request;
  const method = r.method ?? "POST";
  const params = r.params ?? [];
  const headers = { ...(r.headers ?? {}) };
  let body;
  if (r.body !== undefined) body = text(r.body);
  else if (r.params) body = new URLSearchParams(params).toString();
  if (r.params && method === "POST" && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
    headers["content-type"] = "application/x-www-form-urlencoded";
  }
  if (r.sign) {
    const token = r.sign.token ?? spec.token;
    const url = r.sign.url ?? (spec.publicUrl ?? "https://unset.invalid") + r.target;
    headers["x-twilio-signature"] = sign(token, url, params);
  }
  // As Hivekeep's dispatcher hands it over: an internal host, the raw path and query.
  return new Request(`http://127.0.0.1:3000${r.target}`, { method, headers, body: method === "GET" ? undefined : body });
}

async function runWebhook(file, s, failures) {
  const spec = s.channel;
  const storage = memoryStorage();
  load(storage.map, s.store.before, spec.id);
  const ch = channelOf(spec);
  try {
    for (const [i, step] of s.steps.entries()) {
      const at = `step ${i + 1}`;
      const expect = forDriver(step.expect, file, at);
      const result = await ch.handleInboundWebhook(requestOf(step, spec), { tokens: spec.token, storage, now: NOW });
      const status = result.response.status;
      check(failures, file, at, "response", status, expect.response);
      const body = await result.response.text();
      const type = result.response.headers.get("content-type");
      const rule = status === 200 ? [type === "application/xml", body === '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'] : [type === null, body === ""];
      if (!rule[0] || !rule[1]) failures.push(`${file} ${at}: the answer's body is not the rule's (${type}, ${JSON.stringify(body)})`);
      check(failures, file, at, "incoming", result.incoming ?? null, expect.incoming);
      check(failures, file, at, "deliveryUpdate", result.deliveryUpdate ?? null, expect.deliveryUpdate);
      check(failures, file, at, "optOut", result.optOut ?? null, expect.optOut);
      check(failures, file, at, "idempotencyKey", result.idempotencyKey ?? null, expect.idempotencyKey);
    }
  } finally {
    ch.free();
  }
  const after = forDriver(s.store, file, "store");
  check(failures, file, "store", "after", state(storage.map, spec.id), normalised(after.after));
}

function normalised(st) {
  return { seen: [...(st.seen ?? [])].sort(), status: Object.fromEntries(Object.entries(st.status ?? {}).sort()) };
}

// --- sends -------------------------------------------------------------------------------------------

/** A stand-in fetch serving the scripted answers in order (an unscripted request gets a 500). */
function scriptedTwilio(script) {
  const received = [];
  let next = 0;
  const fetch = async (url, init) => {
    const step = script[next++];
    if (step?.fail === "refuse") throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    const u = new URL(url);
    const basic = Buffer.from(String(init.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString("utf8");
    const colon = basic.indexOf(":");
    received.push({
      method: init.method,
      path: u.pathname + u.search,
      user: colon < 0 ? null : basic.slice(0, colon),
      password: colon < 0 ? null : basic.slice(colon + 1),
      form: [...new URLSearchParams(init.body ?? "")],
    });
    if (step?.fail === "reset") throw Object.assign(new TypeError("fetch failed"), { cause: { code: "UND_ERR_SOCKET" } });
    if (step?.fail === "stall") {
      // Never answered: the attempt's own timeout aborts it (a timer keeps the process alive meanwhile).
      const alive = setTimeout(() => {}, 20_000);
      return new Promise((_, reject) =>
        init.signal.addEventListener("abort", () => {
          clearTimeout(alive);
          reject(init.signal.reason);
        }),
      );
    }
    if (!step) {
      const body = JSON.stringify({ code: 20500, message: "unscripted request", status: 500 });
      return new Response(body, { status: 500, headers: { "content-type": "application/json" } });
    }
    let body = typeof step.body === "string" ? step.body : step.body == null ? "" : JSON.stringify(step.body);
    if (step.padTo) body = body.padEnd(step.padTo, " ");
    return new Response(body, { status: step.status, headers: step.headers ?? {} });
  };
  return { received, fetch };
}

async function runSend(file, s, failures) {
  const spec = s.channel;
  const ch = channelOf(spec);
  const twilio = scriptedTwilio(s.twilio);
  const getSecret = async (key, kind) => (key === "scenario-auth-token" && kind === "authToken" ? spec.token : null);
  const options = { getSecret, fetch: twilio.fetch };
  if (s.client?.maxAttempts) options.maxAttempts = s.client.maxAttempts;
  if (s.client?.attemptTimeoutMs) options.timeoutMs = s.client.attemptTimeoutMs;
  if (s.client?.deadlineMs) options.deadlineMs = s.client.deadlineMs;
  const params = { chatId: s.params.chatId, content: text(s.params.content) };
  if (s.params.locale) params.locale = s.params.locale;
  if (s.params.attachments) params.attachments = s.params.attachments;
  const expect = forDriver(s.expect, file, "send");
  let result = null;
  let error = null;
  try {
    result = await ch.sendMessage(params, options);
  } catch (e) {
    // A SendError, or the plan's refusal before anything is sent (a plain Error: never retry-safe).
    error = { message: e.message, retrySafety: e.retrySafety ?? "final" };
    if (expect.error && "httpStatus" in expect.error) error.httpStatus = e.detail?.httpStatus ?? null;
    if (expect.error && "code" in expect.error) error.code = e.detail?.code ?? null;
  } finally {
    ch.free();
  }
  check(failures, file, "send", "result", result, expect.result);
  check(failures, file, "send", "error", error, expect.error);
  for (const r of twilio.received) {
    if (r.password !== spec.token) failures.push(`${file}: a request without the channel's Basic credential`);
  }
  const requests = twilio.received.map(({ method, path, user, form }) => ({ method, path, user, form }));
  check(failures, file, "send", "requests", requests, expect.requests);
}

// --- store operations --------------------------------------------------------------------------------

function runStore(file, s, failures) {
  const ttl = s.ttlMs ?? DEFAULT_TTL;
  const id = "00000000-0000-4000-8000-000000000000";
  const map = new Map();
  load(map, s.before, id, s.ageMs ?? 0);
  for (const [i, op] of s.operations.entries()) {
    const at = `operation ${i + 1}`;
    const expect = forDriver(op, file, at);
    let got;
    if (op.op === "firstSighting") {
      const key = `seen:${id}:${op.key}`;
      const d = pkg.firstSighting(map.get(key) ?? null, NOW, ttl);
      if (d.first) map.set(key, d.record);
      got = d.first;
    } else if (op.op === "advance") {
      const key = `status:${id}:${op.message}`;
      const d = pkg.advanceStatus(map.get(key) ?? null, pkg.statusRank(op.status), NOW, ttl);
      if (d.applies) map.set(key, d.record);
      got = d.applies;
    } else {
      throw new Error(`${file}: unknown operation ${op.op}`);
    }
    check(failures, file, at, "expect", got, expect.expect);
  }
  const after = forDriver(s, file, "store");
  check(failures, file, "store", "after", state(map, id, ttl), normalised(after.after));
}

test("the scenario corpus holds for the wasm driver", { timeout: 120_000 }, async () => {
  assert.ok(scenarios.length >= 25, `the corpus is missing: ${scenarios.length} scenarios`);
  const failures = [];
  const kinds = {};
  for (const { file, s } of scenarios) {
    kinds[s.kind] = (kinds[s.kind] ?? 0) + 1;
    if (s.kind === "webhook") await runWebhook(file, s, failures);
    else if (s.kind === "send") await runSend(file, s, failures);
    else if (s.kind === "store") runStore(file, s, failures);
    else throw new Error(`${file}: unknown kind ${s.kind}`);
  }
  console.log(`scenarios (wasm): ${scenarios.length} run, by kind ${JSON.stringify(kinds)}`);
  for (const d of reported) console.log(`known divergence: ${d}`);
  assert.equal(failures.length, 0, `${failures.length} scenario check(s) failed:\n${failures.join("\n")}`);
});
