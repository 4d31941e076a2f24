// The twilio-sms WebAssembly package, as Hivekeep's twilio-sms plugin loads it (Node 20+ and Bun).
//
// The .wasm (the crate's sans-I/O core) decides, the webhook's HMAC-SHA1 included; this file does the
// I/O: it reads the request body (bounded), hands the core the Auth Token(s) read from the vault, keeps
// the de-duplication and status-ordering state in the plugin's key-value store, and sends with fetch
// (never following a redirect, as the native client does not).
//
// The low-level bindings (twilio_sms_wasm.js) are not exported, and a channel's handle on them is
// private: nothing this package exports takes a MAC from its caller, so nothing turns an unsigned
// request into a verified one.
import { readFileSync } from "node:fs";
import { createHmac } from "node:crypto";
import * as core from "./twilio_sms_wasm.js";

const WASM_FILE = "twilio_sms_wasm_bg.wasm";
const SIGNATURE_HEADER = "x-twilio-signature";
const SHARED_KEY_HEADER = "x-twilio-webhooks-signature-settings";
const IDEMPOTENCY_HEADER = "i-twilio-idempotency-token";
/** The headers the core reads: `requestHeaders` keeps each one's value in the slot of its index. */
const READ_HEADERS = [SIGNATURE_HEADER, "content-type", SHARED_KEY_HEADER, IDEMPOTENCY_HEADER];
// The core's values (`defaultTtlMs()`, `defaultBodyLimit()`, `sweepIntervalMs()`, `sweepMaxKeys()`),
// exported as constants so that importing this file loads no WebAssembly; a test checks they agree.
/** How long de-duplication and status records count (Twilio retries within minutes). */
export const DEFAULT_TTL_MS = 24 * 3600 * 1000;
/** The default body limit, in bytes. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
/**
 * Every fetch the package makes carries a Basic credential: a redirect is never followed (the native
 * client's policy), its 3xx answer is read as Twilio's answer, a failure.
 */
const NO_REDIRECT = "manual";
/** How often `handleInboundWebhook` starts a sweep of a channel's expired records: once an hour. */
export const SWEEP_INTERVAL_MS = 3600 * 1000;
/** The most keys one sweep reads (the rest wait for the next). */
export const SWEEP_MAX_KEYS = 10_000;

let loaded = false;

/** The time of one request to Twilio by default (the core's retry policy: 15 s). */
function defaultTimeoutMs() {
  load();
  return core.defaultAttemptMs();
}

/**
 * Compiles and instantiates the WebAssembly module, synchronously (idempotent). `bytes` defaults to
 * the .wasm beside this file. Every other function calls it on first use.
 */
export function load(bytes) {
  if (loaded) return;
  const module = bytes ?? readFileSync(new URL("./" + WASM_FILE, import.meta.url));
  core.initSync({ module });
  loaded = true;
}

/**
 * Pays the cold start once, at plugin activation: instantiation, the phone-number metadata (about
 * 0.4 s), a whole webhook (strict decoding, HMAC, classification, the outcome) and a split. `numbers`
 * (optional) are phone numbers of the regions the channel sends to: each region's patterns are
 * compiled on their first use (30-90 ms). Returns whether every step answered as expected and the
 * milliseconds it took.
 */
export function warmUp({ numbers = [] } = {}) {
  const t0 = performance.now();
  load();
  const t1 = performance.now();
  let ok = core.warmUp();
  const id = "00000000-0000-4000-8000-000000000000";
  const token = "warm-up";
  const config = { accountSid: "AC" + "0".repeat(32), authTokenVaultKey: "warm-up", fromNumber: "+14155550100" };
  const channel = new TwilioSmsChannel(id, config, { publicUrl: "https://warm-up.invalid" });
  try {
    const target = `/api/channels/plugin/twilio-sms/webhook/${id}`;
    const params = [["AccountSid", config.accountSid], ["Body", "warm-up"], ["From", "+14155550142"], ["MessageSid", "SM" + "0".repeat(32)], ["To", config.fromNumber]];
    const data = "https://warm-up.invalid" + target + params.map(([k, v]) => k + v).join("");
    const signature = createHmac("sha1", token).update(data).digest("base64");
    const headers = { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature };
    const body = new URLSearchParams(params).toString();
    ok = channel.verify({ target, headers, body }, [token]).verified && ok;
  } finally {
    channel.free();
  }
  for (const number of numbers) core.isValidPhone(number);
  const t2 = performance.now();
  return { ok, loadMs: t1 - t0, warmUpMs: t2 - t1 };
}

/** The raw path and query of a request URL, byte for byte (no URL parser: it would re-encode). */
export function rawTarget(url) {
  const scheme = url.indexOf("://");
  const start = scheme < 0 ? 0 : scheme + 3;
  const slash = url.indexOf("/", start);
  const query = url.indexOf("?", start);
  if (slash < 0 && query < 0) return "/";
  if (slash < 0 || (query >= 0 && query < slash)) return "/" + url.slice(query);
  return url.slice(slash);
}

/**
 * Reads at most `limit + 1` bytes of a request's (or an answer's) body, so that the core can refuse one
 * over the limit in its order (a webhook's 413, Twilio's answer as the native client's).
 */
export async function readBounded(request, limit) {
  const length = request.headers.get("content-length");
  const declared = Number(length);
  // A declared length within the limit (a server's request holds exactly that many bytes): one read
  // by the runtime, without a stream. A body longer than declared is still cut at `limit + 1`.
  if (length !== null && Number.isInteger(declared) && declared >= 0 && declared <= limit) {
    const whole = new Uint8Array(await request.arrayBuffer());
    return whole.length > limit ? whole.subarray(0, limit + 1) : whole;
  }
  if (!request.body) return new Uint8Array(0);
  if (Number.isFinite(declared) && declared > limit) {
    await request.body.cancel().catch(() => {});
    return new Uint8Array(limit + 1);
  }
  const reader = request.body.getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      break;
    }
  }
  const body = new Uint8Array(Math.min(total, limit + 1));
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, body.length - at);
    body.set(part, at);
    at += part.length;
    if (at >= body.length) break;
  }
  return body;
}

/**
 * The tokens as a list: one token alone is a list of one (never its characters), nothing is none. A token
 * that is not a string (nor missing) throws a `TypeError`.
 */
function tokenList(tokens) {
  const list = typeof tokens === "string" ? [tokens] : Array.isArray(tokens) ? tokens : [];
  for (const token of list) text(token, "an Auth Token");
  return list;
}

/**
 * `value` when it is a string, `undefined` when it is missing (`null` or `undefined`). Anything else is a
 * caller's mistake, refused with a `TypeError` here: the core takes only text.
 */
function text(value, what) {
  return value == null ? undefined : requiredText(value, what);
}

/** `value` when it is a string; anything else, missing included, throws a `TypeError`. */
function requiredText(value, what) {
  if (typeof value === "string") return value;
  throw new TypeError(`${what} must be a string`);
}

function bytes(body) {
  if (body == null) return new Uint8Array(0);
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body instanceof Uint8Array) return body;
  return new Uint8Array(body);
}

/**
 * The request headers the core reads: from a `Headers` (its `get`), or from a plain object in one pass
 * over one list of its keys, in their order, the first key of each name whatever its case. A value the
 * core reads that is neither a string nor missing throws a `TypeError`.
 */
function requestHeaders(headers) {
  // Each name's value, by its index in READ_HEADERS; a plain object's first key of a name counts, even
  // when its value is undefined.
  const first = [];
  if (headers && typeof headers.get === "function") {
    READ_HEADERS.forEach((name, at) => (first[at] = headers.get(name) ?? undefined));
  } else if (headers) {
    for (const key of Object.keys(headers)) {
      const at = READ_HEADERS.indexOf(key.toLowerCase());
      if (at >= 0 && !(at in first)) first[at] = headers[key];
    }
  }
  return {
    signature: text(first[0], SIGNATURE_HEADER),
    contentType: text(first[1], "content-type"),
    sharedKey: first[2] !== undefined,
    idempotency: text(first[3], IDEMPOTENCY_HEADER),
  };
}

/**
 * Verifies one request without a channel, at the exact `url`, or at `publicUrl` + `target` (the raw path
 * and query, joined as a channel joins them): `undefined` when verified, else the reason. `tokens` are
 * the Auth Token(s), primary first; without one every request is refused. Throws for an unusable token
 * (empty, padded with white space, holding a control character), and a `TypeError` for a token, URL,
 * target, method or header value that is neither a string nor missing.
 */
export function verifyRequest({ url, publicUrl, target, method = "POST", headers, body }, tokens) {
  load();
  // The core keys the HMAC with the tokens of this call and drops them when it returns.
  const [primary, secondary] = tokenList(tokens);
  const h = requestHeaders(headers);
  const signed = [text(method, "method") ?? "POST", h.signature, h.contentType, h.sharedKey, bytes(body)];
  requestVerifier ??= new core.Verifier();
  if (url === undefined && publicUrl !== undefined) {
    const at = [text(publicUrl, "publicUrl"), text(target, "target") ?? ""];
    return requestVerifier.verifyAt(primary, secondary, ...at, ...signed);
  }
  return requestVerifier.verifyUrl(primary, secondary, text(url, "url") ?? "", ...signed);
}

/** The verifier of `verifyRequest` (it holds no token), made on its first call. */
let requestVerifier = null;

function toResponse(r) {
  return new Response(r.body === "" ? null : r.body, { status: r.status, headers: r.headers });
}

async function resolve(value, ...args) {
  return typeof value === "function" ? await value(...args) : await value;
}

function classifyFetchError(error) {
  if (error && (error.name === "TimeoutError" || error.name === "AbortError")) return "timeout";
  const code = String(error?.cause?.code ?? error?.code ?? "");
  const connect = [
    "ECONNREFUSED",
    "ENOTFOUND",
    "EAI_AGAIN",
    // Not EHOSTUNREACH or ENETUNREACH: an established connection can fail with them after the request
    // was written, and a message create must not be sent twice.
    "UND_ERR_CONNECT_TIMEOUT",
    "ConnectionRefused",
    "FailedToOpenSocket",
  ];
  return connect.includes(code) ? "connect" : "lost";
}

/** An error for Hivekeep's retry logic: its text decides whether the host retries. */
export class SendError extends Error {
  constructor(detail) {
    super(detail.message);
    this.name = "SendError";
    this.retrySafety = detail.retrySafety;
    this.detail = detail.cause;
  }
}

/**
 * One twilio-sms channel. The stored config is Hivekeep's (`accountSid`, `authTokenVaultKey`,
 * `fromNumber`...; no secret); options: `publicUrl` (Hivekeep's PUBLIC_URL), `allowHttp`, `locale`,
 * `bodyLimit`, `apiBase`. Call `free()` when the channel goes away.
 */
export class TwilioSmsChannel {
  /** The core's channel: private, so that no caller reaches the low-level bindings through it. */
  #inner;
  /** The tokens the core's keyed HMAC states were built from (none until `verify` gives some). */
  #primary;
  #secondary;
  /** The usable tokens last read from the vault by `handleInboundWebhook`, and when (its `now`). */
  #readTokens = undefined;
  #readAt = undefined;
  /** The last sweep `handleInboundWebhook` started: resolves to the number of records deleted. */
  lastSweep = undefined;

  constructor(channelId, storedConfig, options = {}) {
    load();
    const config = typeof storedConfig === "string" ? storedConfig : JSON.stringify(storedConfig);
    this.channelId = requiredText(channelId, "channelId");
    this.#inner = new core.Channel(channelId, config, JSON.stringify(options));
    this.bodyLimit = this.#inner.bodyLimit();
  }

  /** The webhook URL to paste in the Twilio Console (undefined without a public URL). */
  get webhookUrl() {
    return this.#inner.webhookUrl();
  }

  /** Whether the stored config asks for the From number's webhook to point at this channel (`configureWebhook`). */
  get configuresWebhook() {
    return this.#inner.configureWebhook();
  }

  /** The vault key of the Auth Token. */
  get authTokenVaultKey() {
    return this.#inner.authTokenVaultKey();
  }

  /**
   * Verifies and classifies a webhook, synchronously: `target` is the request's raw path and query;
   * `tokens` the Auth Token(s), primary first (without one, every webhook is refused). The MAC is
   * computed in the core. Throws for an unusable token (empty, padded with white space, holding a
   * control character), and a `TypeError` for a token, target, method or header value that is neither a
   * string nor missing.
   * Returns the outcome: `{response: {status, headers, body}, verified, reason, event, incoming,
   * deliveryUpdate, idempotencyKey, statusMessageId, statusRank, optOut}`. Nothing is de-duplicated here.
   */
  verify({ target, method = "POST", headers, body }, tokens) {
    this.#useTokens(tokenList(tokens));
    const h = requestHeaders(headers);
    const [t, m] = [text(target, "target") ?? "", text(method, "method") ?? "POST"];
    return JSON.parse(this.#inner.outcome(t, m, h.signature, h.contentType, h.sharedKey, h.idempotency, bytes(body)));
  }

  /** Gives the core `tokens` when they changed: its keyed HMAC states are built once per token pair. */
  #useTokens([primary, secondary]) {
    if (primary === this.#primary && secondary === this.#secondary) return;
    // The core drops its tokens before it takes new ones, and keeps none when it refuses one.
    this.#primary = this.#secondary = undefined;
    this.#inner.setTokens(primary, secondary);
    this.#primary = primary;
    this.#secondary = secondary;
  }

  /**
   * Hivekeep's `handleInboundWebhook` for this channel: `tokens` is the Auth Token (or `[primary,
   * secondary]` during a rotation, or a function giving either); `storage` is `ctx.storage` (or any
   * `{get, set}`), where duplicates and the last applied status rank are remembered; with its `list`
   * and `delete`, a background `sweepStorage` deletes the stale ones at most every `SWEEP_INTERVAL_MS`.
   * A token the core finds unusable (empty, padded with white space, holding a control character) is
   * not used: with no usable token, every webhook is refused (403).
   * `tokenCacheMs` (default 0: the vault is read for every signed webhook): usable tokens read less
   * than that long ago are used again without a read; a webhook whose MAC does not match under them
   * reads the vault again and is decided with what it gives (no other refusal reads it) (a token replaced in the vault counts from the first
   * webhook signed with it; an old one, at most `tokenCacheMs` longer). A read that fails or gives no
   * usable token forgets the kept ones.
   * The core decides every step; this runs them: the vault reads, and each `get` and `set` of the
   * storage (a storage that fails never loses an event: it is delivered, at least once).
   */
  async handleInboundWebhook(request, { tokens, storage, now = Date.now(), ttlMs, tokenCacheMs = 0 } = {}) {
    const body = await readBounded(request, this.bodyLimit);
    const h = requestHeaders(request.headers);
    const target = rawTarget(request.url);
    const source = this.#inner.tokenSource(h.signature, h.sharedKey, this.#readAt, now, tokenCacheMs);
    const handle = (list, kept) => {
      this.#useTokens(list);
      const args = [target, request.method, h.signature, h.contentType, h.sharedKey, h.idempotency, body];
      return this.#inner.handle(...args, kept, Boolean(storage), now, ttlMs);
    };
    let handled = handle(source === "none" ? [] : source === "kept" ? this.#readTokens : await this.#read(tokens, now), source === "kept");
    try {
      let step = JSON.parse(handled.next(undefined, false));
      for (;;) {
        if (step.readTokens) {
          handled.free();
          handled = undefined;
          handled = handle(await this.#read(tokens, now), false);
          step = JSON.parse(handled.next(undefined, false));
        } else if (step.get !== undefined) {
          let value;
          let failed = false;
          try {
            value = json(await storage.get(step.get));
          } catch {
            failed = true;
          }
          step = JSON.parse(handled.next(value, failed));
        } else if (step.set !== undefined) {
          let failed = false;
          try {
            await storage.set(step.set, step.record);
          } catch {
            failed = true;
          }
          step = JSON.parse(handled.next(undefined, failed));
        } else {
          // After this request's own records are written, so the sweep does not race them.
          if (step.sweep && this.#inner.startSweep(now)) this.#sweep(storage, now, ttlMs);
          const done = step.done;
          return {
            incoming: done.incoming,
            response: toResponse(done.response),
            deliveryUpdate: done.deliveryUpdate ?? undefined,
            idempotencyKey: done.idempotencyKey ?? undefined,
            reason: done.reason ?? undefined,
            // `{keyword, sender}` for an opt-out keyword: after a "stop" (not in `incoming`: any answer
            // would fail) Twilio refuses to send to the sender until they send "start".
            optOut: done.optOut ?? undefined,
          };
        }
      }
    } finally {
      handled?.free();
    }
  }

  /** Reads the token(s) from the vault: the usable ones, kept with the time of the read when any. */
  async #read(tokens, now) {
    this.#readTokens = this.#readAt = undefined;
    const resolved = await resolve(tokens);
    const usable = (t) => typeof t === "string" && !core.authTokenError(t);
    const list = (Array.isArray(resolved) ? resolved : [resolved]).filter(usable);
    if (list.length) {
      this.#readTokens = list;
      this.#readAt = now;
    }
    return list;
  }

  /** Runs the sweep the core started (`startSweep`), and tells it when it ends. */
  #sweep(storage, now, ttlMs) {
    this.lastSweep = this.sweepStorage(storage, { now, ttlMs })
      .catch(() => 0) // the store cannot list: the next interval tries again
      .finally(() => {
        try {
          this.#inner.sweepEnded();
        } catch {
          // The channel was freed meanwhile.
        }
      });
  }

  /**
   * Deletes this channel's records from `storage` (`ctx.storage`, which keeps everything until deleted)
   * that no longer count: de-duplication and status records older than `ttlMs`, and anything under their
   * keys that is not a record. Needs the store's `list` (whatever it returns: keys, `{key}` or `{name}`
   * objects, `[key, value]` entries, `{keys: [...]}`, or an object keyed by them; one page, no cursor)
   * and `delete`; without them it deletes nothing. At most `SWEEP_MAX_KEYS` keys a sweep; a key whose
   * read or delete fails is left for the next. Resolves to the number of records deleted.
   * `handleInboundWebhook` starts one in the background at most every `SWEEP_INTERVAL_MS` (see
   * `lastSweep`). A record rewritten between the sweep's read and its delete (a retry that came just as
   * its record expired) is lost, so one more retry of that event would be delivered again.
   */
  async sweepStorage(storage, { now = Date.now(), ttlMs } = {}) {
    if (typeof storage?.list !== "function" || typeof storage?.delete !== "function") return 0;
    const prefixes = this.#inner.recordPrefixes();
    const max = core.sweepMaxKeys();
    const keys = new Set();
    for (const prefix of prefixes) {
      for (const key of await listedKeys(await storage.list(prefix))) {
        if (keys.size < max && prefixes.some((p) => key.startsWith(p))) keys.add(key);
      }
    }
    let deleted = 0;
    for (const key of keys) {
      try {
        if (core.isStale(json(await storage.get(key)), now, ttlMs)) {
          await storage.delete(key);
          deleted += 1;
        }
      } catch {
        // This key cannot be read or deleted now: the next sweep tries it again.
      }
    }
    return deleted;
  }

  /**
   * Hivekeep's `sendMessage`: splits the text into SMS, sends each part in order with `fetch`, and
   * returns the `OutboundMessageResult`. `getSecret(vaultKey)` reads the Auth Token (or API key
   * secret) from the vault (`ctx.vault.getSecret`). A part that Twilio rate-limited (429) or that could
   * not connect is sent again after `Retry-After` or a backoff, by the core's retry policy (the native
   * client's): at most `maxAttempts` (4) attempts within `deadlineMs` (30 s), each bounded by
   * `timeoutMs` (15 s). Throws a SendError whose text tells Hivekeep's retry logic whether a resend is
   * safe.
   */
  async sendMessage(params, { getSecret, fetch = globalThis.fetch, timeoutMs, maxAttempts, deadlineMs } = {}) {
    // The core's steps: each part's request (sent in order), the waits of its retry policy, then the
    // result or the error. This runs them.
    const plan = this.#inner.planSend(JSON.stringify(params), maxAttempts, timeoutMs, deadlineMs, Date.now());
    // Read for each request (a vault that fails halfway fails the send there, as a partial send).
    const secretOf = (auth) => readSecret(getSecret, auth, timeoutMs ?? defaultTimeoutMs());
    try {
      let step = JSON.parse(plan.step());
      for (;;) {
        if (step.send) {
          step = JSON.parse(await this.#sendPart(plan, step.send, step.timeoutMs, secretOf, fetch));
        } else if (step.wait !== undefined) {
          await new Promise((resolve) => setTimeout(resolve, step.wait));
          step = JSON.parse(plan.waited(Date.now()));
        } else if (step.done) {
          return step.done;
        } else {
          throw new SendError(step.fail);
        }
      }
    } finally {
      plan.free();
    }
  }

  /**
   * Sends one request of a send plan within `timeoutMs` and gives the plan's next step (JSON). A vault
   * that fails (or lacks the secret) must not surface its own words: "fetch failed" or "network" in them
   * would make Hivekeep resend the parts already sent.
   */
  async #sendPart(plan, request, timeoutMs, secretOf, fetch) {
    const secret = await secretOf(request.auth);
    if (!secret) return plan.failed("secret", Date.now());
    const answer = await fetchBounded(fetch, request, secret, timeoutMs);
    if (answer.failure) return plan.failed(answer.failure, Date.now());
    return plan.answered(answer.status, answer.contentType, answer.retryAfter, answer.body, Date.now());
  }

  /**
   * Hivekeep's `validateConfig`, with the native client's checks: the credentials work, the account is
   * active, and the From number belongs to it and can send SMS; then, when the stored config's
   * `configureWebhook` is on, `configureWebhook`. `getSecret` and `fetch` as for `sendMessage`.
   * Resolves to `{valid: true}` or `{valid: false, error}` (never a secret or the number).
   */
  async validateConfig({ getSecret, fetch = globalThis.fetch, timeoutMs = defaultTimeoutMs() } = {}) {
    return this.#check("validate", { getSecret, fetch, timeoutMs });
  }

  /**
   * Points the From number's "A message comes in" webhook at this channel's webhook URL when it points
   * nowhere of its owner's (empty, or Twilio's demo reply); another URL is never overwritten. `getSecret`
   * and `fetch` as for `sendMessage`. Resolves to `{ok: true, changed}` or `{ok: false, error}` (where
   * another URL points, shown without credentials or query; never a secret).
   */
  async configureWebhook({ getSecret, fetch = globalThis.fetch, timeoutMs = defaultTimeoutMs() } = {}) {
    return this.#check("webhook", { getSecret, fetch, timeoutMs });
  }

  /**
   * Hivekeep's `getBotInfo`: `{name, username}` (the account's friendly name; the From number or the
   * Messaging Service SID), or null when the account cannot be read.
   */
  async getBotInfo({ getSecret, fetch = globalThis.fetch, timeoutMs = defaultTimeoutMs() } = {}) {
    return this.#check("botInfo", { getSecret, fetch, timeoutMs });
  }

  /** `auth` (`{secret, vaultKey}`) → its secret, each read once, within `timeoutMs`. */
  #secrets(getSecret, timeoutMs) {
    const secrets = new Map();
    return (auth) => {
      const key = `${auth.secret}:${auth.vaultKey}`;
      if (!secrets.has(key)) secrets.set(key, readSecret(getSecret, auth, timeoutMs));
      return secrets.get(key);
    };
  }

  /**
   * Runs the core's checks of `kind`: the vault reads and the requests it asks for (each attempt within
   * `timeoutMs`, each request tried again by the core's retry policy), and its waits. Resolves to what
   * the core concludes.
   */
  async #check(kind, { getSecret, fetch, timeoutMs }) {
    const secretOf = this.#secrets(getSecret, timeoutMs);
    const plan = this.#inner.checks(kind, timeoutMs, Date.now());
    try {
      let step = JSON.parse(plan.step());
      while (step.done === undefined) {
        if (step.readToken) {
          plan.token((await secretOf(step.readToken)) ?? undefined, Date.now());
        } else if (step.wait !== undefined) {
          await new Promise((resolve) => setTimeout(resolve, step.wait));
          plan.waited(Date.now());
        } else {
          await this.#request(plan, step.request, step.timeoutMs, secretOf, fetch);
        }
        step = JSON.parse(plan.step());
      }
      return step.done;
    } finally {
      plan.free();
    }
  }

  /** One attempt at a request of the checks within `timeoutMs`: the plan reads the answer, or its absence. */
  async #request(plan, request, timeoutMs, secretOf, fetch) {
    const secret = await secretOf(request.auth);
    if (!secret) return plan.failed("secret", Date.now());
    const answer = await fetchBounded(fetch, request, secret, timeoutMs);
    if (answer.failure) return plan.failed(answer.failure, Date.now());
    plan.answered(answer.status, answer.contentType, answer.retryAfter, answer.body, Date.now());
  }

  /** Releases the channel's wasm memory. */
  free() {
    this.#inner.free();
  }
}

/** A channel id for checks that use no webhook URL (a fixed version-4 UUID). */
const CHECK_CHANNEL_ID = "00000000-0000-4000-8000-000000000000";

/**
 * Runs `check` on a channel made for a stored config alone. When the config asks for the number's
 * webhook (`configureWebhook`), that is the channel its Auth Token's vault key names (Hivekeep's
 * `channel_twilio-sms_{id}_authToken`) at `options.publicUrl` (Hivekeep's PUBLIC_URL), whose webhook
 * URL it needs; otherwise a fixed id, which shapes no request of the checks.
 */
async function checkStored(storedConfig, options, check, unusable) {
  let channel;
  try {
    load();
    const id = core.webhookSetupChannelId(typeof storedConfig === "string" ? storedConfig : JSON.stringify(storedConfig));
    const publicUrl = id ? options?.publicUrl : undefined;
    channel = new TwilioSmsChannel(id ?? CHECK_CHANNEL_ID, storedConfig, { apiBase: options?.apiBase, publicUrl });
  } catch (error) {
    return unusable(error instanceof Error ? error.message : "the channel config is not usable");
  }
  try {
    return await check(channel);
  } finally {
    channel.free();
  }
}

/** `TwilioSmsChannel.validateConfig` for a stored config alone, as Hivekeep's `validateConfig(config)`:
 * a config the channel cannot use is `{valid: false, error}` too. */
export const validateConfig = (storedConfig, options) =>
  checkStored(storedConfig, options, (c) => c.validateConfig(options), (error) => ({ valid: false, error }));

/** `TwilioSmsChannel.getBotInfo` for a stored config alone, as Hivekeep's `getBotInfo(config)` (null for
 * a config the channel cannot use). */
export const getBotInfo = (storedConfig, options) => checkStored(storedConfig, options, (c) => c.getBotInfo(options), () => null);

/**
 * The secret `auth` names (`{secret, vaultKey}`), read with `getSecret` within `timeoutMs`; null when the
 * vault fails, lacks it or does not answer in time (its own error is dropped: its words could mislead
 * Hivekeep's retry logic).
 */
async function readSecret(getSecret, auth, timeoutMs) {
  let timer;
  const late = new Promise((resolve) => {
    // A timer takes at most 2^31 - 1 ms (a longer or infinite one would fire at once).
    timer = setTimeout(resolve, Math.min(timeoutMs, 2_147_483_647), null);
  });
  const read = Promise.resolve()
    .then(() => getSecret(auth.vaultKey, auth.secret))
    .catch(() => null);
  try {
    const secret = await Promise.race([read, late]);
    return typeof secret === "string" && secret ? secret : null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One attempt at a request the core planned (`{method, url, headers, body, auth}`), with the Basic
 * credential, within `timeoutMs`, never following a redirect: `{status, contentType, retryAfter, body}`
 * (the body read up to one byte past what the core reads), or `{failure}` (how no answer came).
 */
async function fetchBounded(fetch, request, secret, timeoutMs) {
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: { ...request.headers, authorization: `Basic ${basicCredential(request.auth, secret)}` },
      body: request.body || undefined,
      redirect: NO_REDIRECT,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await readBounded(response, core.maxResponseBytes());
    const h = response.headers;
    return { status: response.status, contentType: h.get("content-type") ?? undefined, retryAfter: h.get("retry-after") ?? undefined, body };
  } catch (error) {
    return { failure: classifyFetchError(error) };
  }
}

/** `base64(username:secret)`, for `Authorization: Basic`. */
function basicCredential(auth, secret) {
  return Buffer.from(`${auth.username}:${secret}`, "utf8").toString("base64");
}

/** The keys in what a store's `list` returned: an array or iterable of keys, `{key}` or `{name}`
 * objects or `[key, value]` entries, such an array under `keys`, or an object whose own keys are the
 * keys. */
async function listedKeys(listed) {
  if (listed == null) return [];
  if (Array.isArray(listed.keys)) return listedKeys(listed.keys);
  const iterable = typeof listed[Symbol.iterator] === "function" || typeof listed[Symbol.asyncIterator] === "function";
  if (typeof listed === "object" && !iterable) return Object.keys(listed);
  const keys = [];
  for await (const item of listed) {
    const key = typeof item === "string" ? item : Array.isArray(item) ? item[0] : (item?.key ?? item?.name);
    if (typeof key === "string") keys.push(key);
  }
  return keys;
}

function json(value) {
  if (value == null) return undefined;
  return typeof value === "string" ? value : JSON.stringify(value);
}

function parsed(fn) {
  return (...args) => {
    load();
    return JSON.parse(fn(...args));
  };
}

function plain(fn) {
  return (...args) => {
    load();
    return fn(...args);
  };
}

/** `fn` with its first arguments, one for each of `names`, required to be strings (else a `TypeError`). */
function texts(fn, ...names) {
  return (...args) => {
    names.forEach((name, i) => requiredText(args[i], name));
    return fn(...args);
  };
}

/** `{parts: [{text, encoding, segments, units, unitsPerSegment}]}` or `{error}`. */
export const splitText = parsed(texts(core.splitText, "text"));
/** `{encoding, segments, units, unitsPerSegment, nonGsm7}`. */
export const segmentInfo = parsed(texts(core.segmentInfo, "text"));
/** The delivery rank of a Twilio status, or undefined for inbound and unknown statuses. */
export const statusRank = plain(texts(core.statusRank, "status"));
/** The status Hivekeep shows for a Twilio status. */
export const hivekeepStatus = plain(texts(core.hivekeepStatus, "status"));
/** The localized hint for a status, e.g. `✗ Delivery failed (30007)`. */
export const statusHint = plain(texts((status, errorCode, locale) => core.statusHint(status, errorCode, text(locale, "locale")), "status"));
/** The de-duplication decision: `{first, record}` from the stored record (or nothing). */
export const firstSighting = (previous, now = Date.now(), ttlMs = undefined) => {
  load();
  return JSON.parse(core.firstSighting(json(previous), now, ttlMs));
};
/** The status-ordering decision: `{applies, record}` from the stored record (or nothing). */
export const advanceStatus = (previous, rank, now = Date.now(), ttlMs = undefined) => {
  load();
  return JSON.parse(core.advanceStatus(json(previous), rank, now, ttlMs));
};
/** Whether a stored record no longer counts (older than `ttlMs`, or not a record): it may be deleted. */
export const isStale = (previous, now = Date.now(), ttlMs = undefined) => {
  load();
  return core.isStale(json(previous), now, ttlMs);
};
/** Whether a number is a valid phone number in E.164 form. */
export const isValidPhone = plain(texts(core.isValidPhone, "number"));
/** `{ok: "+1…"}` or `{error}`. */
export const normalizePhone = parsed(texts(core.normalizePhone, "number", "region"));
/** Twilio's answer to a message create: `{ok: {...}}` or `{error: {..., retrySafety}}`. */
export const parseSendAnswer = (status, contentType, retryAfter, body, now = Date.now()) => {
  load();
  const [type, after] = [text(contentType, "contentType"), text(retryAfter, "retryAfter")];
  return JSON.parse(core.parseSendAnswer(status, type, after, bytes(body), now));
};
/**
 * Why Twilio's webhooks to a channel behind `publicUrl` (Hivekeep's `PUBLIC_URL`) cannot be verified
 * (not set, or not a public https URL), or undefined when they can: for the "test" button.
 */
export const publicUrlProblem = (publicUrl) => {
  load();
  return core.publicUrlProblem(typeof publicUrl === "string" ? publicUrl : undefined);
};
/** The channel config schema for plugin.json. */
export const configSchema = parsed(core.configSchema);
/** The package version. */
export const version = plain(core.version);

