// What the package must never do, whatever its caller passes: verify a webhook under a token anyone
// can sign with (empty, white space, NULs), hand out anything that turns an unsigned request into a
// verified one, send credentials to an API base over plain http (except on this machine), or follow
// a redirect with them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import path from "node:path";
import { loadPackage, pkgDir, ID, AC, TOKEN, FROM, USER, SM1, PUBLIC, PATH, CONFIG } from "./support.mjs";

const pkg = await loadPackage();
pkg.load();

const FORM = "application/x-www-form-urlencoded";
/** Tokens anyone can sign with: an HMAC key of nothing, or of bytes HMAC pads with anyway. */
const UNUSABLE = ["", "\0", " ", "\0\0\0", "\t", "\n"];

const params = Object.entries({ MessageSid: SM1, AccountSid: AC, From: USER, To: FROM, Body: "forged", NumMedia: "0" });
const body = new URLSearchParams(params).toString();

/** Twilio's signature over `url` and the form parameters, under `token`. */
function sign(token, url) {
  const sorted = [...params].sort(([a, x], [b, y]) => Buffer.compare(Buffer.from(a), Buffer.from(b)) || Buffer.compare(Buffer.from(x), Buffer.from(y)));
  return createHmac("sha1", token).update(url + sorted.map(([k, v]) => k + v).join(""), "utf8").digest("base64");
}

function channel(options = {}) {
  return new pkg.TwilioSmsChannel(ID, CONFIG, { publicUrl: PUBLIC, ...options });
}

/** `fn()`, or `{threw}` when it throws: a refusal either way, never a verification. */
function attempt(fn) {
  try {
    return fn();
  } catch (error) {
    return { threw: String(error) };
  }
}

test("a request signed with an unusable token is never verified, by any path or option", () => {
  const ch = channel();
  for (const token of UNUSABLE) {
    const headers = { "content-type": FORM, "x-twilio-signature": sign(token, PUBLIC + PATH) };
    // The options a caller may still pass (the removed host-MAC path took `{mac: "host"}`) change nothing.
    for (const options of [undefined, { mac: "host" }, { mac: "wasm" }]) {
      const what = `${JSON.stringify(token)} ${JSON.stringify(options)}`;
      const outcome = attempt(() => ch.verify({ target: PATH, headers, body }, [token], options));
      assert.notEqual(outcome.verified, true, what);
      assert.equal(outcome.incoming ?? null, null, what);
      const atUrl = attempt(() => pkg.verifyRequest({ url: PUBLIC + PATH, headers, body }, [token], options));
      assert.notEqual(atUrl, undefined, what);
      // As the secondary of a usable token (which did not sign it), and alone in the list.
      const rotated = attempt(() => ch.verify({ target: PATH, headers, body }, [TOKEN, token], options));
      assert.notEqual(rotated.verified, true, what);
    }
  }
  // The keyed state of a usable token is not kept for a request that comes with an unusable one, or none.
  const headers = { "content-type": FORM, "x-twilio-signature": sign(TOKEN, PUBLIC + PATH) };
  assert.equal(ch.verify({ target: PATH, headers, body }, [TOKEN]).verified, true);
  assert.notEqual(attempt(() => ch.verify({ target: PATH, headers, body }, ["\0"])).verified, true);
  assert.equal(ch.verify({ target: PATH, headers, body }, []).verified, false);
  assert.equal(ch.verify({ target: PATH, headers, body }, [TOKEN]).verified, true);
  // A token given alone, not in a list, is the whole token: never its first character as the key.
  const byFirst = { "content-type": FORM, "x-twilio-signature": sign(TOKEN[0], PUBLIC + PATH) };
  assert.equal(ch.verify({ target: PATH, headers: byFirst, body }, TOKEN).verified, false);
  assert.notEqual(pkg.verifyRequest({ url: PUBLIC + PATH, headers: byFirst, body }, TOKEN), undefined);
  assert.equal(ch.verify({ target: PATH, headers, body }, TOKEN).verified, true);
  assert.equal(pkg.verifyRequest({ url: PUBLIC + PATH, headers, body }, TOKEN), undefined);
  ch.free();
});

test("verifyRequest keeps no token from one call to the next, re-entrant calls included", () => {
  const url = PUBLIC + PATH;
  const headers = { "content-type": FORM, "x-twilio-signature": sign(TOKEN, url) };
  assert.equal(pkg.verifyRequest({ url, headers, body }, [TOKEN]), undefined);
  // The next call's tokens, not the last one's: none, or an unusable one, verify nothing.
  assert.notEqual(pkg.verifyRequest({ url, headers, body }, []), undefined);
  assert.notEqual(attempt(() => pkg.verifyRequest({ url, headers, body }, ["\0"])), undefined);
  assert.notEqual(pkg.verifyRequest({ url, headers, body }, ["another-token"]), undefined);
  assert.equal(pkg.verifyRequest({ url, headers, body }, [TOKEN]), undefined);
  // A call made from inside another (a caller's `headers.get`) uses its own tokens, and leaves the outer
  // call's alone.
  const inner = [];
  const reentrant = (innerTokens) => ({
    get(name) {
      inner.push(pkg.verifyRequest({ url, headers, body }, innerTokens));
      return headers[name];
    },
  });
  assert.equal(pkg.verifyRequest({ url, headers: reentrant(["another-token"]), body }, [TOKEN]), undefined);
  assert.notEqual(pkg.verifyRequest({ url, headers: reentrant([TOKEN]), body }, ["another-token"]), undefined);
  // Each outer call reads its headers more than once: every inner call of the first fails, of the second
  // verifies.
  const half = inner.length / 2;
  assert.ok(half >= 3, `${inner.length} inner calls`);
  assert.deepEqual(inner.map((r) => r === undefined), [...Array(half).fill(false), ...Array(half).fill(true)]);
  assert.equal(pkg.verifyRequest({ url, headers, body }, [TOKEN]), undefined);
});

test("a token, URL, method or header value that is not a string throws a TypeError, and nothing is left broken", () => {
  const url = PUBLIC + PATH;
  const headers = { "content-type": FORM, "x-twilio-signature": sign(TOKEN, url) };
  const ch = channel();
  const wrong = [
    ["token", () => pkg.verifyRequest({ url, headers, body }, [123])],
    ["second token", () => pkg.verifyRequest({ url, headers, body }, [TOKEN, {}])],
    ["channel token", () => ch.verify({ target: PATH, headers, body }, [42])],
    ["url", () => pkg.verifyRequest({ url: 123, headers, body }, [TOKEN])],
    ["public URL", () => pkg.verifyRequest({ publicUrl: 1, target: PATH, headers, body }, [TOKEN])],
    ["target", () => pkg.verifyRequest({ publicUrl: PUBLIC, target: 1, headers, body }, [TOKEN])],
    ["method", () => pkg.verifyRequest({ url, method: 1, headers, body }, [TOKEN])],
    ["channel method", () => ch.verify({ target: PATH, method: 1, headers, body }, [TOKEN])],
    ["channel target", () => ch.verify({ target: [PATH], headers, body }, [TOKEN])],
    ["signature", () => pkg.verifyRequest({ url, headers: { ...headers, "x-twilio-signature": 7 }, body }, [TOKEN])],
    ["signature list", () => pkg.verifyRequest({ url, headers: { "content-type": FORM, "X-Twilio-Signature": ["a"] }, body }, [TOKEN])],
    ["content type", () => pkg.verifyRequest({ url, headers: { ...headers, "content-type": {} }, body }, [TOKEN])],
    ["idempotency", () => ch.verify({ target: PATH, headers: { ...headers, "i-twilio-idempotency-token": 1 }, body }, [TOKEN])],
    ["Headers-like get", () => pkg.verifyRequest({ url, headers: { get: () => 5 }, body }, [TOKEN])],
  ];
  for (const [what, call] of wrong) assert.throws(call, TypeError, what);
  // Missing values are still missing, not errors: no signature is a refusal.
  assert.notEqual(pkg.verifyRequest({ url, headers: { ...headers, "x-twilio-signature": null }, body }, [TOKEN]), undefined);
  // The package still verifies afterwards, by both paths.
  assert.equal(pkg.verifyRequest({ url, headers, body }, [TOKEN]), undefined);
  assert.equal(ch.verify({ target: PATH, headers, body }, [TOKEN]).verified, true);
  ch.free();
});

test("every export that takes text refuses a value that is not a string with a TypeError", () => {
  const wrong = [
    ["splitText", () => pkg.splitText(123)],
    ["segmentInfo", () => pkg.segmentInfo({})],
    ["statusRank", () => pkg.statusRank(5)],
    ["hivekeepStatus", () => pkg.hivekeepStatus(null)],
    ["statusHint", () => pkg.statusHint(1, 30007, "en")],
    ["statusHint locale", () => pkg.statusHint("failed", 30007, 3)],
    ["isValidPhone", () => pkg.isValidPhone(14155550100)],
    ["normalizePhone", () => pkg.normalizePhone([], "US")],
    ["normalizePhone region", () => pkg.normalizePhone("4155550100")],
    ["parseSendAnswer", () => pkg.parseSendAnswer(201, 5, undefined, "{}")],
    ["TwilioSmsChannel", () => new pkg.TwilioSmsChannel(5, CONFIG, { publicUrl: PUBLIC })],
  ];
  for (const [what, call] of wrong) assert.throws(call, TypeError, what);
  // The same calls with text answer, and missing optional values are still missing.
  assert.equal(pkg.isValidPhone("+14155550100"), true);
  assert.equal(pkg.statusRank("delivered") > pkg.statusRank("sent"), true);
  assert.equal(typeof pkg.statusHint("failed", 30007, undefined), "string");
  assert.equal(pkg.normalizePhone("(415) 555-0100", "US").ok, "+14155550100");
  assert.equal(pkg.splitText("hello").parts.length, 1);
});

test("the headers of a plain object are read in one pass, however many keys it has", () => {
  // What an unsigned request can make the header reading (before the MAC) do: its keys listed once, and
  // only the first key of each name the core reads read.
  const url = PUBLIC + PATH;
  const plain = { "content-type": FORM, "X-Twilio-Signature": sign(TOKEN, url), "x-twilio-signature": "second" };
  for (let i = 0; i < 10_000; i++) plain[`x-filler-${i}`] = "v";
  const reads = { keys: 0, values: 0 };
  const headers = new Proxy(plain, {
    ownKeys: (target) => (reads.keys++, Reflect.ownKeys(target)),
    get: (target, key) => (key !== "get" && reads.values++, target[key]),
  });
  assert.equal(pkg.verifyRequest({ url, headers, body }, [TOKEN]), undefined);
  assert.deepEqual(reads, { keys: 1, values: 2 });
});

test("handleInboundWebhook with a vault giving an unusable token answers 403 and delivers nothing", async () => {
  for (const secret of [...UNUSABLE, [" ", "\0"], null]) {
    for (const signer of [...UNUSABLE, "no usable Auth Token"]) {
      for (const options of [{}, { mac: "host" }]) {
        const ch = channel();
        const stored = new Map();
        const storage = { get: async (k) => stored.get(k) ?? null, set: async (k, v) => void stored.set(k, v) };
        const request = new Request(`http://127.0.0.1:3000${PATH}`, {
          method: "POST",
          headers: { "content-type": FORM, "x-twilio-signature": sign(signer, PUBLIC + PATH) },
          body,
        });
        const what = `vault ${JSON.stringify(secret)}, signed with ${JSON.stringify(signer)}, ${JSON.stringify(options)}`;
        const result = await ch.handleInboundWebhook(request, { tokens: async () => secret, storage, ...options });
        assert.equal(result.response.status, 403, what);
        assert.equal(result.incoming, null, what);
        assert.equal(result.deliveryUpdate, undefined, what);
        assert.equal(stored.size, 0, what);
        ch.free();
      }
    }
  }
});

test("nothing the package exports takes a MAC from its caller", async () => {
  assert.equal("core" in pkg, false, "the low-level bindings are not exported");
  const ch = channel();
  assert.equal(ch.inner, undefined, "the channel's handle on the core is private");
  assert.deepEqual(Object.keys(ch).filter((k) => /inner|primary|secondary|token/i.test(k)), []);
  // Nor the wasm-bindgen glue, imported directly: the split check does not exist in the core at all.
  const glue = await import(path.join(pkgDir, "twilio_sms_wasm.js"));
  const forbidden = /prepare|finish|variantdata|hostmac/i;
  const offenders = [];
  const names = (value) => [
    ...Object.getOwnPropertyNames(value),
    ...(typeof value === "function" && value.prototype ? Object.getOwnPropertyNames(value.prototype) : []),
  ];
  for (const [file, module] of [["index.js", pkg], ["twilio_sms_wasm.js", glue]]) {
    for (const [name, value] of Object.entries(module)) {
      if (forbidden.test(name)) offenders.push(`${file}: ${name}`);
      if (typeof value === "function" || (typeof value === "object" && value !== null)) {
        for (const key of names(value)) if (forbidden.test(key)) offenders.push(`${file}: ${name}.${key}`);
      }
    }
  }
  for (const key of names(Object.getPrototypeOf(ch))) if (forbidden.test(key)) offenders.push(`TwilioSmsChannel.${key}`);
  assert.deepEqual(offenders, []);
  // The raw glue classes still verify only with a token: a request's own signature proves nothing.
  const headers = { "x-twilio-signature": sign("anyone", PUBLIC + PATH) };
  const verifier = new glue.Verifier();
  const args = [PUBLIC + PATH, "POST", headers["x-twilio-signature"], FORM, false, Buffer.from(body)];
  assert.notEqual(verifier.verifyUrl(undefined, undefined, ...args), undefined);
  assert.notEqual(verifier.verifyUrl("another-token", undefined, ...args), undefined);
  verifier.free();
  ch.free();
});

test("the API base is https, or plain http only to this machine, checked when the channel is made", async () => {
  const refused = [
    ["http://example.com", /apiBase: the API base must use https \(plain http is allowed only to a loopback host/],
    ["http://api.twilio.com", /must use https/],
    ["http://10.0.0.1:8080", /must use https/],
    ["http://127.0.0.1.example.com", /must use https/],
    ["https://AC1:secret@api.twilio.com", /apiBase: the API base must not have a user:password@$/],
    ["https://api.twilio.com?x=1", /apiBase: the base URL must not have a \?query$/],
    ["https://api.twilio.com/#x", /apiBase: the URL has a #fragment/],
    ["ftp://api.twilio.com", /apiBase: the URL must start with https:/],
  ];
  for (const [apiBase, message] of refused) {
    // The error's text (an Error's string is "Error: " and its message).
    assert.throws(() => channel({ apiBase }), message, apiBase);
    let calls = 0;
    const fetch = async () => {
      calls += 1;
      return new Response("{}", { status: 500 });
    };
    const checked = await pkg.validateConfig(CONFIG, { apiBase, getSecret: async () => TOKEN, fetch });
    assert.equal(checked.valid, false, apiBase);
    assert.match(checked.error, /^apiBase: /, apiBase);
    assert.ok(!checked.error.includes("secret"), checked.error);
    assert.equal(await pkg.getBotInfo(CONFIG, { apiBase, getSecret: async () => TOKEN, fetch }), null);
    assert.equal(calls, 0, apiBase);
  }
  for (const apiBase of ["https://api.twilio.com", "https://api.twilio.com/", "http://127.0.0.1:4010", "http://localhost:1", "http://[::1]:3000/mock"]) {
    channel({ apiBase }).free();
  }
});

/** A server on this machine; `handler(req, res, body)`. */
async function listen(handler) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => handler(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections?.();
    });
  return { url: `http://127.0.0.1:${server.address().port}`, close };
}

test("no request the package makes follows a redirect", async () => {
  // Where a redirect would lead: a stand-in that accepts everything, as a thief of the credentials would.
  const reached = [];
  const elsewhere = await listen((req, res, text) => {
    reached.push(`${req.method} ${req.url} ${text}`);
    res.writeHead(req.method === "POST" ? 201 : 200, { "content-type": "application/json" });
    const answer = req.url.includes("/Messages.json")
      ? { sid: SM1, status: "queued", num_segments: "1", to: USER }
      : req.url.includes("IncomingPhoneNumbers")
        ? { incoming_phone_numbers: [{ phone_number: FROM, capabilities: { sms: true } }] }
        : { sid: AC, friendly_name: "elsewhere", status: "active" };
    res.end(JSON.stringify(answer));
  });
  const redirector = await listen((req, res) => {
    res.writeHead(307, { location: elsewhere.url + req.url, "content-length": "0" });
    res.end();
  });
  try {
    const ch = channel({ apiBase: redirector.url });
    const getSecret = async () => TOKEN;
    const sent = await ch.sendMessage({ chatId: USER, content: "Hi" }, { getSecret }).then(
      (result) => result,
      (error) => error,
    );
    assert.ok(sent instanceof pkg.SendError, `the send must fail, not follow: ${JSON.stringify(sent)}`);
    assert.equal(sent.retrySafety, "ambiguous");
    const checked = await ch.validateConfig({ getSecret });
    assert.equal(checked.valid, false);
    assert.equal(await ch.getBotInfo({ getSecret }), null);
    assert.deepEqual(reached, [], "nothing reached the redirect's target");
    ch.free();
  } finally {
    await redirector.close();
    await elsewhere.close();
  }
});

test("a fragment in the request target is refused, never dropped", async () => {
  // Twilio never sends one; a target with one is not the URL that was signed (the signature here is a
  // genuine one over the URL without it).
  const ch = channel();
  const headers = { "content-type": FORM, "x-twilio-signature": sign(TOKEN, PUBLIC + PATH) };
  assert.equal(ch.verify({ target: PATH, headers, body }, [TOKEN]).verified, true);
  for (const target of [`${PATH}#x`, `${PATH}#`, `${PATH}?a=1#x`]) {
    const outcome = attempt(() => ch.verify({ target, headers, body }, [TOKEN]));
    assert.notEqual(outcome.verified, true, target);
    assert.equal(outcome.incoming ?? null, null, target);
  }
  assert.notEqual(pkg.verifyRequest({ url: `${PUBLIC}${PATH}#x`, headers, body }, [TOKEN]), undefined);
  // Through Hivekeep's entry point the Request's URL keeps the fragment: after the channel id it makes
  // another channel's path (404), after the query a URL that was not signed (403); nothing is delivered.
  assert.equal(pkg.rawTarget(`http://127.0.0.1:3000${PATH}#x`), `${PATH}#x`);
  for (const [target, status] of [[`${PATH}#x`, 404], [`${PATH}?a=1#x`, 403]]) {
    const request = new Request(`http://127.0.0.1:3000${target}`, { method: "POST", headers, body });
    const result = await ch.handleInboundWebhook(request, { tokens: [TOKEN] });
    assert.equal(result.response.status, status, target);
    assert.equal(result.incoming, null, target);
  }
  ch.free();
});
