// The plugin-facing API, as Hivekeep's twilio-sms plugin uses it: handleInboundWebhook on a Fetch
// Request (inbound SMS, status callbacks, binding checks, de-duplication and status ordering kept in
// a key-value store), sendMessage over a mock fetch (parts, status callbacks, error wording that
// Hivekeep's retry logic reads), SMS text, status helpers and phone numbers.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { loadPackage, pkgDir, sign, ID, AC, TOKEN, FROM, USER, SM1, PUBLIC, PATH, CONFIG } from "./support.mjs";

const pkg = await loadPackage();
const warm = pkg.warmUp();

const OTHER_ID = "9b2c1f8e-2d3a-4c5b-8e7f-0a1b2c3d4e5f";
const OLD_TOKEN = "fedcba9876543210fedcba9876543210";
const SM2 = "SM22222222222222222222222222222222";


/** A Fetch Request as Hivekeep's dispatcher hands it over: an internal host, the raw path and query. */
function webhook(params, { token = TOKEN, query = "", path = PATH, signedUrl, headers = {} } = {}) {
  const target = path + (query ? `?${query}` : "");
  const signature = sign(token, signedUrl ?? PUBLIC + target, params);
  return new Request(`http://127.0.0.1:3000${target}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature, ...headers },
    body: new URLSearchParams(params).toString(),
  });
}

function inbound(overrides = {}) {
  const base = { MessageSid: SM1, AccountSid: AC, From: USER, To: FROM, Body: "Hello, agent", NumMedia: "0", NumSegments: "1", FromCountry: "US" };
  return Object.entries({ ...base, ...overrides });
}

function status(sid, value, extra = {}) {
  return Object.entries({ MessageSid: sid, MessageStatus: value, AccountSid: AC, From: FROM, To: USER, ...extra });
}

function memoryStorage(map = new Map()) {
  return { map, get: async (k) => (map.has(k) ? structuredClone(map.get(k)) : null), set: async (k, v) => void map.set(k, structuredClone(v)) };
}

/** A memory store that can also list (its keys under a prefix, in the shape `list` makes) and delete. */
function sweepableStorage(map = new Map(), list = (keys, prefix) => [...keys].filter((k) => k.startsWith(prefix))) {
  const storage = memoryStorage(map);
  storage.list = async (prefix) => list(map.keys(), prefix, map);
  storage.delete = async (k) => void map.delete(k);
  return storage;
}

function channel(options = {}) {
  return new pkg.TwilioSmsChannel(ID, CONFIG, { publicUrl: PUBLIC, ...options });
}

test("the warm-up pays the cold start and reports it", () => {
  assert.equal(warm.ok, true);
  assert.ok(warm.loadMs >= 0 && warm.warmUpMs >= 0);
});

test("an inbound SMS becomes Hivekeep's IncomingMessage, once", async () => {
  const ch = channel();
  const storage = memoryStorage();
  const result = await ch.handleInboundWebhook(webhook(inbound()), { tokens: TOKEN, storage });
  assert.equal(result.response.status, 200);
  assert.equal(result.response.headers.get("content-type"), "application/xml");
  assert.match(await result.response.text(), /<Response><\/Response>/);
  assert.deepEqual(result.incoming, {
    platformUserId: USER,
    platformMessageId: SM1,
    platformChatId: USER,
    platformDisplayName: USER,
    content: "Hello, agent",
    metadata: { twilio: { accountSid: AC, toNumber: FROM, numMedia: 0, numSegments: 1, fromCountry: "US" } },
  });
  assert.equal(result.deliveryUpdate, undefined);
  assert.equal(result.idempotencyKey, `sms:${SM1}`);
  // Twilio's retry (a fresh idempotency token, same signed MessageSid): acknowledged, not delivered.
  const again = await ch.handleInboundWebhook(webhook(inbound(), { headers: { "i-twilio-idempotency-token": "x" } }), { tokens: TOKEN, storage });
  assert.equal(again.response.status, 200);
  assert.equal(again.incoming, null);
  assert.deepEqual([...storage.map.keys()], [`seen:${ID}:sms:${SM1}`]);
  ch.free();
});

test("an inbound MMS carries its media as attachments", async () => {
  const ch = channel();
  const url = (n) => `https://api.twilio.com/2010-04-01/Accounts/${AC}/Messages/${SM1}/Media/ME${n}${"f".repeat(31)}`;
  const params = inbound({ Body: "", NumMedia: "2", MediaUrl0: url(1), MediaContentType0: "image/gif", MediaUrl1: url(2) });
  const result = await ch.handleInboundWebhook(webhook(params), { tokens: TOKEN });
  assert.deepEqual(result.incoming.attachments, [
    { platformFileId: `ME1${"f".repeat(31)}`, mimeType: "image/gif", url: url(1) },
    { platformFileId: `ME2${"f".repeat(31)}`, url: url(2) },
  ]);
  assert.equal(result.incoming.metadata.twilio.numMedia, 2);
  ch.free();
});

test("a STOP is acknowledged but not handed to the agent; START and HELP are, marked", async () => {
  const ch = channel();
  const storage = memoryStorage();
  const sids = ["SM" + "a".repeat(32), "SM" + "b".repeat(32), "SM" + "c".repeat(32), "SM" + "d".repeat(32)];
  const send = (body, sid, extra = {}) => ch.handleInboundWebhook(webhook(inbound({ Body: body, MessageSid: sid, ...extra })), { tokens: TOKEN, storage });
  const stop = await send("Stop", sids[0]);
  assert.equal(stop.response.status, 200);
  assert.equal(stop.incoming, null);
  assert.deepEqual(stop.optOut, { keyword: "stop", sender: USER });
  const named = await send("no more texts please", sids[1], { OptOutType: "STOP" });
  assert.equal(named.incoming, null);
  const start = await send("START", sids[2]);
  assert.equal(start.incoming.metadata.twilio.optOut, "start");
  assert.deepEqual(start.optOut, { keyword: "start", sender: USER });
  assert.equal((await send("Hello", "SM" + "e".repeat(32))).optOut, undefined);
  const help = await send(" help ", sids[3]);
  assert.equal(help.incoming.metadata.twilio.optOut, "help");
  assert.equal(help.incoming.content, " help ");
  ch.free();
});

test("refusals answer a bare 403 (or 404, 413) and deliver nothing", async () => {
  const ch = channel();
  const cases = [
    [webhook(inbound(), { token: OLD_TOKEN }), 403, "signature: mismatch"],
    [webhook(inbound({ AccountSid: "AC" + "f".repeat(32) })), 403, "binding: AccountSid is not the channel's account"],
    [webhook(inbound({ To: "+14155550199" })), 403, "binding: inbound To is not the channel's number"],
    [webhook(status(SM1, "delivered", { From: "+14155550199" })), 403, "binding: status callback From is not the channel's number"],
    [webhook(inbound(), { path: `/api/channels/plugin/twilio-sms/webhook/${OTHER_ID}` }), 404, "webhook for another channel id"],
    [webhook(inbound(), { headers: { "x-twilio-webhooks-signature-settings": "v1" } }), 403, undefined],
    [webhook([["Body", "x".repeat(70 * 1024)]]), 413, "body larger than the 65536-byte limit"],
  ];
  for (const [request, statusCode, reason] of cases) {
    const result = await ch.handleInboundWebhook(request, { tokens: TOKEN, storage: memoryStorage() });
    assert.equal(result.response.status, statusCode, reason);
    assert.equal(await result.response.text(), "");
    assert.equal(result.incoming, null);
    assert.equal(result.deliveryUpdate, undefined);
    if (reason) assert.equal(result.reason, reason);
  }
  // A request that cannot be signed is refused without reading the vault, for the core's own reason.
  let vaultReads = 0;
  const tokens = async () => {
    vaultReads += 1;
    return TOKEN;
  };
  const unsigned = (mutate) => {
    const request = webhook(inbound());
    const headers = new Headers(request.headers);
    mutate(headers);
    return new Request(request, { headers });
  };
  const probes = [
    [unsigned((h) => h.delete("x-twilio-signature")), "signature: missing X-Twilio-Signature header"],
    [unsigned((h) => h.set("x-twilio-signature", "c2lnbmF0dXJl")), "signature: malformed X-Twilio-Signature header"],
    [unsigned((h) => h.set("x-twilio-webhooks-signature-settings", "v1")), undefined],
  ];
  for (const [request, reason] of probes) {
    const result = await ch.handleInboundWebhook(request, { tokens, storage: memoryStorage() });
    assert.equal(result.response.status, 403);
    if (reason) assert.equal(result.reason, reason);
    assert.equal(result.incoming, null);
  }
  assert.equal(vaultReads, 0);
  assert.equal((await ch.handleInboundWebhook(webhook(inbound()), { tokens })).response.status, 200);
  assert.equal(vaultReads, 1);
  // No PUBLIC_URL: nothing can be verified.
  const blind = new pkg.TwilioSmsChannel(ID, CONFIG, {});
  const result = await blind.handleInboundWebhook(webhook(inbound()), { tokens: TOKEN });
  assert.equal(result.response.status, 403);
  assert.equal(blind.webhookUrl, undefined);
  blind.free();
  ch.free();
});

test("tokenCacheMs: the vault is read again when the kept token does not verify, after the time, and after a failed read", async () => {
  const ch = channel();
  let vault = TOKEN;
  let reads = 0;
  const tokens = async () => {
    reads += 1;
    if (vault instanceof Error) throw vault;
    return vault;
  };
  const now = 1_000_000;
  const send = (options = {}, sid = SM1) =>
    ch.handleInboundWebhook(webhook(inbound({ MessageSid: sid }), options), { tokens, now: options.now ?? now, tokenCacheMs: 60_000 });
  assert.equal((await send()).response.status, 200);
  assert.equal((await send({ now: now + 59_999 })).response.status, 200);
  assert.equal(reads, 1, "a kept token is used again");
  // A forged webhook: the kept token does not verify it, the vault is read again, still 403.
  assert.equal((await send({ token: OLD_TOKEN })).response.status, 403);
  assert.equal(reads, 2);
  // A refusal tokens cannot change (another account, signed with the kept token; another channel's
  // path) reads nothing more.
  assert.equal((await send({}, SM2).then(() => send({ now: now + 1 }, SM2))).response.status, 200);
  const otherAccount = webhook(inbound({ AccountSid: "AC" + "f".repeat(32) }));
  const refused = await ch.handleInboundWebhook(otherAccount, { tokens, now, tokenCacheMs: 60_000 });
  assert.equal(refused.response.status, 403);
  assert.equal((await send({ path: PATH.replace(ID, OTHER_ID) })).response.status, 404);
  assert.equal(reads, 2, "no vault read for a refusal the tokens do not decide");
  // The token replaced in the vault verifies from the first webhook it signs.
  vault = OLD_TOKEN;
  assert.equal((await send({ token: OLD_TOKEN })).response.status, 200);
  assert.equal(reads, 3);
  // The replaced one is accepted at most tokenCacheMs longer: then the vault decides.
  assert.equal((await send({ token: TOKEN, now: now + 60_000 })).response.status, 403);
  assert.equal(reads, 4);
  // A read that fails forgets the kept token: the next webhook reads again (and fails as before).
  assert.equal((await send({ token: OLD_TOKEN, now: now + 60_000 })).response.status, 200);
  assert.equal(reads, 4);
  assert.equal((await send({ token: TOKEN })).response.status, 403);
  vault = new Error("vault down");
  await assert.rejects(send({ token: TOKEN }), /vault down/);
  await assert.rejects(send({ token: OLD_TOKEN }), /vault down/);
  // A vault without a usable token: nothing kept, every webhook refused.
  vault = null;
  assert.equal((await send({ token: OLD_TOKEN })).response.status, 403);
  assert.equal((await send({ token: OLD_TOKEN })).response.status, 403);
  assert.equal(reads, 9);
  // Without tokenCacheMs, every signed webhook reads the vault.
  vault = TOKEN;
  await ch.handleInboundWebhook(webhook(inbound()), { tokens });
  await ch.handleInboundWebhook(webhook(inbound()), { tokens });
  assert.equal(reads, 11);
  ch.free();
});

test("the URL is PUBLIC_URL + the raw target, with its port variant and token rotation", async () => {
  const ch = channel({ publicUrl: "https://agents.example.com:443/hk/" });
  assert.equal(ch.webhookUrl, `https://agents.example.com:443/hk${PATH}`);
  // Twilio signed the URL without the port; the raw query is kept byte for byte (no re-encoding).
  const query = "note=It%27s+a%20test&x=%c3%a9";
  const request = webhook(inbound(), { query, signedUrl: `https://agents.example.com/hk${PATH}?${query}` });
  const result = await ch.handleInboundWebhook(request, { tokens: [OLD_TOKEN, TOKEN] });
  assert.equal(result.response.status, 200, result.reason);
  assert.equal(result.incoming.content, "Hello, agent");
  ch.free();
});

test("channel.verify gives the outcome without storage", () => {
  const ch = channel();
  const params = inbound({ Body: "Até às 23:59 🎉" });
  const target = PATH;
  const headers = { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": sign(TOKEN, PUBLIC + target, params), "i-twilio-idempotency-token": "tok" };
  const body = new URLSearchParams(params).toString();
  const outcome = ch.verify({ target, headers, body }, [TOKEN]);
  assert.equal(outcome.verified, true);
  assert.equal(outcome.response.status, 200);
  assert.equal(outcome.incoming.content, "Até às 23:59 🎉");
  assert.deepEqual(ch.verify({ target, headers, body }, [TOKEN]), outcome, "the same again: nothing is de-duplicated here");
  ch.free();
});

test("status callbacks become ordered delivery updates on the first part's SID", async () => {
  const ch = channel({ locale: "fr" });
  const storage = memoryStorage();
  const handle = async (params, query) => ch.handleInboundWebhook(webhook(params, { query }), { tokens: TOKEN, storage });
  let r = await handle(status(SM1, "sent"));
  assert.deepEqual(r.deliveryUpdate, { platformMessageId: SM1, status: "sent", contextLine: "Envoyé" });
  r = await handle(status(SM1, "delivered"));
  assert.deepEqual(r.deliveryUpdate, { platformMessageId: SM1, status: "delivered", contextLine: "✓ Distribué" });
  // A repeat of the "sent" callback is a duplicate: nothing is handed over.
  r = await handle(status(SM1, "sent", { SmsStatus: "sent", ApiVersion: "2010-04-01" }));
  assert.equal(r.response.status, 200);
  assert.equal(r.deliveryUpdate, undefined);
  // A late "queued" never moves the hint backwards: it hands over the kept "delivered" again.
  r = await handle(status(SM1, "queued"));
  assert.deepEqual(r.deliveryUpdate, { platformMessageId: SM1, status: "delivered", contextLine: "✓ Distribué" });
  // Part 2 of 2 failing is the message's failure, reported under part 1's SID: it replaces delivered.
  r = await handle(status(SM2, "undelivered", { ErrorCode: "30007" }), `part=2&of=2&first=${SM1}`);
  assert.deepEqual(r.deliveryUpdate, {
    platformMessageId: SM1,
    status: "undelivered",
    errorCode: "30007",
    contextLine: "✗ Échec de distribution (30007)",
  });
  // Nothing moves it back: a read receipt of the last part ranks below a failure, which it hands over.
  r = await handle(status(SM2, "read"), `part=2&of=2&first=${SM1}`);
  assert.equal(r.deliveryUpdate.status, "undelivered");
  assert.equal(r.deliveryUpdate.errorCode, "30007");
  const fresh = memoryStorage();
  r = await ch.handleInboundWebhook(webhook(status(SM2, "undelivered", { ErrorCode: "30007" }), { query: `part=2&of=2&first=${SM1}` }), { tokens: TOKEN, storage: fresh });
  assert.deepEqual(r.deliveryUpdate, {
    platformMessageId: SM1,
    status: "undelivered",
    errorCode: "30007",
    contextLine: "✗ Échec de distribution (30007)",
  });
  assert.ok(fresh.map.has(`status:${ID}:${SM1}`));
  ch.free();
});

test("a part's failure that came before the host linked the reply is what the last part's delivered hands over", async () => {
  const ch = channel();
  const storage = memoryStorage();
  const handle = async (params, query) => ch.handleInboundWebhook(webhook(params, { query }), { tokens: TOKEN, storage });
  // Part 1 fails while part 2 is being sent: Hivekeep has no link yet and drops this update.
  let r = await handle(status(SM1, "failed", { ErrorCode: "30007" }), "part=1&of=2");
  assert.equal(r.deliveryUpdate.status, "failed");
  const kept = storage.map.get(`status:${ID}:${SM1}`);
  assert.equal(kept.status, "failed");
  assert.equal(kept.errorCode, 30007);
  // The last part is delivered once the reply is linked: the update carries the reply's failure.
  r = await handle(status(SM2, "delivered"), `part=2&of=2&first=${SM1}`);
  assert.deepEqual(r.deliveryUpdate, {
    platformMessageId: SM1,
    status: "failed",
    errorCode: "30007",
    contextLine: "✗ Delivery failed (30007)",
  });
  assert.deepEqual(storage.map.get(`status:${ID}:${SM1}`), kept, "the kept record is unchanged");
  // A store that cannot be read: the callback's own update applies.
  const broken = { get: async () => { throw new Error("down"); }, set: async () => { throw new Error("down"); } };
  r = await ch.handleInboundWebhook(webhook(status(SM2, "delivered", { ApiVersion: "2010-04-01" }), { query: `part=2&of=2&first=${SM1}` }), { tokens: TOKEN, storage: broken });
  assert.equal(r.deliveryUpdate.status, "delivered");
  ch.free();
});

test("a sweep deletes this channel's stale records, whatever the store's list returns", async () => {
  const now = 1_800_000_000_000;
  const ttl = pkg.DEFAULT_TTL_MS;
  const seed = () =>
    new Map([
      [`seen:${ID}:sms:old`, { at: now - ttl }],
      [`seen:${ID}:sms:new`, { at: now - 1000 }],
      [`status:${ID}:${SM1}`, { rank: 5, at: now - ttl - 1 }],
      [`status:${ID}:${SM2}`, { rank: 4, at: now }],
      [`seen:${ID}:junk`, "not a record"],
      [`seen:${OTHER_ID}:sms:old`, { at: 0 }],
      ["unrelated", { at: 0 }],
    ]);
  const kept = [`seen:${ID}:sms:new`, `status:${ID}:${SM2}`, `seen:${OTHER_ID}:sms:old`, "unrelated"];
  const shapes = {
    keys: undefined,
    objects: (keys, prefix) => [...keys].filter((k) => k.startsWith(prefix)).map((key) => ({ key })),
    "entries, prefix ignored": (keys, prefix, map) => map.entries(),
    "an object": (keys, prefix, map) => Object.fromEntries(map),
    "an async iterable": async function* (keys) {
      yield* [...keys];
    },
    "a page of {name}": (keys) => ({ keys: [...keys].map((name) => ({ name })), list_complete: true }),
  };
  for (const [shape, list] of Object.entries(shapes)) {
    const storage = sweepableStorage(seed(), list);
    const ch = channel();
    assert.equal(await ch.sweepStorage(storage, { now }), 3, shape);
    assert.deepEqual([...storage.map.keys()].sort(), [...kept].sort(), shape);
    ch.free();
  }
  // A key that cannot be read (or deleted) is left for the next sweep; the others are swept.
  const flaky = sweepableStorage(seed());
  const get = flaky.get;
  flaky.get = async (k) => {
    if (k === `seen:${ID}:sms:old`) throw new Error("store hiccup");
    return get(k);
  };
  const del = flaky.delete;
  flaky.delete = async (k) => {
    if (k === `seen:${ID}:junk`) throw new Error("store hiccup");
    return del(k);
  };
  const sweeper = channel();
  assert.equal(await sweeper.sweepStorage(flaky, { now }), 1);
  assert.ok(!flaky.map.has(`status:${ID}:${SM1}`));
  assert.ok(flaky.map.has(`seen:${ID}:sms:old`) && flaky.map.has(`seen:${ID}:junk`));
  // The clock and the TTL are the caller's: with a 1-second TTL the record of a second ago goes too.
  assert.equal(await sweeper.sweepStorage(sweepableStorage(seed()), { now, ttlMs: 1000 }), 4);
  sweeper.free();
  // A store that cannot list or delete is left alone.
  const plain = memoryStorage(seed());
  const ch = channel();
  assert.equal(await ch.sweepStorage(plain, { now }), 0);
  assert.equal(plain.map.size, 7);
  assert.equal(pkg.isStale({ at: now - ttl + 1 }, now), false);
  assert.equal(pkg.isStale({ at: now - ttl }, now), true);
  assert.equal(pkg.isStale(null, now), true);
  ch.free();
});

test("handleInboundWebhook sweeps stale records in the background, at most once an interval", async () => {
  const ch = channel();
  const now = Date.now() + 30 * pkg.DEFAULT_TTL_MS;
  // The sweep judges by the request's clock: the second record expired a moment before `now` (a month
  // ahead of this machine's clock, by which it is not yet written).
  const storage = sweepableStorage(
    new Map([
      [`seen:${ID}:sms:old`, { at: 0 }],
      [`seen:${ID}:sms:expired`, { at: now - pkg.DEFAULT_TTL_MS - 1 }],
    ]),
  );
  // A refused webhook starts no sweep.
  const refused = await ch.handleInboundWebhook(webhook(inbound(), { token: OLD_TOKEN }), { tokens: TOKEN, storage, now });
  assert.equal(refused.response.status, 403);
  assert.equal(ch.lastSweep, undefined);
  await ch.handleInboundWebhook(webhook(inbound()), { tokens: TOKEN, storage, now });
  assert.equal(await ch.lastSweep, 2);
  assert.deepEqual([...storage.map.keys()], [`seen:${ID}:sms:${SM1}`], "the request's own record stays");
  // Within the interval, no new sweep; once it has passed, one.
  storage.map.set(`seen:${ID}:sms:older`, { at: 0 });
  const first = ch.lastSweep;
  await ch.handleInboundWebhook(webhook(inbound({ MessageSid: SM2 })), { tokens: TOKEN, storage, now: now + 1000 });
  assert.equal(ch.lastSweep, first);
  assert.ok(storage.map.has(`seen:${ID}:sms:older`));
  const later = now + pkg.SWEEP_INTERVAL_MS;
  await ch.handleInboundWebhook(webhook(status(SM2, "delivered")), { tokens: TOKEN, storage, now: later });
  assert.notEqual(ch.lastSweep, first);
  assert.equal(await ch.lastSweep, 1);
  assert.deepEqual(
    [...storage.map.keys()].sort(),
    [`seen:${ID}:sms:${SM1}`, `seen:${ID}:sms:${SM2}`, `seen:${ID}:status:${SM2}:delivered`, `status:${ID}:${SM2}`].sort(),
  );
  // One sweep at a time: a request while one runs starts none, even past the interval.
  let release;
  const slow = sweepableStorage(new Map([[`seen:${ID}:sms:older`, { at: 0 }]]));
  const list = slow.list;
  slow.list = async (prefix) => {
    await new Promise((resolve) => {
      release = resolve;
    });
    return list(prefix);
  };
  const busy = channel();
  await busy.handleInboundWebhook(webhook(inbound()), { tokens: TOKEN, storage: slow, now });
  const running = busy.lastSweep;
  await busy.handleInboundWebhook(webhook(inbound({ MessageSid: SM2 })), { tokens: TOKEN, storage: slow, now: later + 1 });
  assert.equal(busy.lastSweep, running);
  slow.list = list;
  release();
  assert.equal(await running, 1);
  // A clock set back (a `now` before the last sweep) does not hold the sweeps off; the request's TTL
  // is the sweep's.
  slow.map.set(`seen:${ID}:sms:recent`, { at: now - 5000 });
  await busy.handleInboundWebhook(webhook(status(SM2, "sent")), { tokens: TOKEN, storage: slow, now: now - 1000, ttlMs: 1000 });
  assert.notEqual(busy.lastSweep, running);
  assert.equal(await busy.lastSweep, 1);
  assert.ok(!slow.map.has(`seen:${ID}:sms:recent`));
  busy.free();
  // A webhook whose storage never answers holds no sweep back: the slot is taken when one is done.
  const stuck = channel();
  const hung = { get: () => new Promise(() => {}), set: async () => {}, list: async () => [], delete: async () => {} };
  void stuck.handleInboundWebhook(webhook(inbound()), { tokens: TOKEN, storage: hung, now });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(stuck.lastSweep, undefined, "nothing started yet");
  const fresh = sweepableStorage(new Map([[`seen:${ID}:sms:older`, { at: 0 }]]));
  await stuck.handleInboundWebhook(webhook(inbound({ MessageSid: SM2 })), { tokens: TOKEN, storage: fresh, now: now + 1 });
  assert.equal(await stuck.lastSweep, 1, "the next webhook sweeps");
  // A store that fails to list is tried again at the next interval; the webhook is unaffected.
  storage.list = async () => {
    throw new Error("store down");
  };
  const r = await ch.handleInboundWebhook(webhook(status(SM2, "read")), { tokens: TOKEN, storage, now: later + pkg.SWEEP_INTERVAL_MS });
  assert.equal(r.response.status, 200);
  assert.equal(await ch.lastSweep, 0);
  ch.free();
});

test("the decisions take and return the state the plugin keeps", () => {
  const now = 1_800_000_000_000;
  let d = pkg.firstSighting(null, now);
  assert.deepEqual(d, { first: true, record: { at: now } });
  assert.equal(pkg.firstSighting(d.record, now + 1000).first, false);
  assert.equal(pkg.firstSighting(d.record, now + pkg.DEFAULT_TTL_MS).first, true, "expired");
  let a = pkg.advanceStatus(null, pkg.statusRank("delivered"), now);
  assert.equal(a.applies, true);
  assert.equal(pkg.advanceStatus(a.record, pkg.statusRank("sent"), now).applies, false);
  assert.equal(pkg.advanceStatus(a.record, pkg.statusRank("delivered"), now).applies, true, "a final tie is applied again");
  assert.equal(pkg.advanceStatus(a.record, pkg.statusRank("read"), now).applies, true);
  // A failure (of another part) replaces delivered; only another failure comes after it (Hivekeep may
  // have missed the first, sent before it linked the message).
  const f = pkg.advanceStatus(a.record, pkg.statusRank("failed"), now);
  assert.equal(f.applies, true);
  assert.equal(pkg.advanceStatus(f.record, pkg.statusRank("read"), now).applies, false);
  assert.equal(pkg.advanceStatus(f.record, pkg.statusRank("undelivered"), now).applies, true);
  assert.equal(pkg.advanceStatus(f.record, pkg.statusRank("sent"), now).applies, false);
  const s = pkg.advanceStatus(null, pkg.statusRank("sent"), now);
  assert.equal(pkg.advanceStatus(s.record, pkg.statusRank("sent"), now).applies, false, "non-final ties stay");
  assert.equal(pkg.statusRank("received"), undefined);
  assert.equal(pkg.statusRank("teleported"), undefined);
  assert.equal(pkg.hivekeepStatus("partially_delivered"), "undelivered");
  assert.equal(pkg.hivekeepStatus("canceled"), "failed");
  assert.equal(pkg.statusHint("undelivered", 30007), "✗ Delivery failed (30007)");
  assert.equal(pkg.statusHint("delivered", undefined, "de-DE"), "✓ Zugestellt");
});

test("text is split into SMS parts with encodings and segment counts", () => {
  assert.deepEqual(pkg.segmentInfo("Hello"), { encoding: "GSM-7", segments: 1, units: 5, unitsPerSegment: 160, nonGsm7: "" });
  assert.deepEqual(pkg.segmentInfo("Ça va ? 😀"), { encoding: "UCS-2", segments: 1, units: 10, unitsPerSegment: 70, nonGsm7: "😀" });
  assert.equal(pkg.segmentInfo("x".repeat(161)).segments, 2);
  const paragraph = "This is a sentence. ".repeat(50).trim();
  const split = pkg.splitText(`${paragraph}\n\n${paragraph}`);
  assert.equal(split.parts.length, 2);
  assert.equal(split.parts[0].text, paragraph);
  assert.equal(split.parts[0].encoding, "GSM-7");
  assert.equal(split.parts[0].segments, Math.ceil(paragraph.length / 153));
  assert.match(pkg.splitText("   ").error, /empty/);
});

test("phone numbers: validity and normalisation", () => {
  assert.equal(pkg.isValidPhone("+14155550100"), true);
  assert.equal(pkg.isValidPhone("+15551234567"), false);
  assert.equal(pkg.isValidPhone("+1 415 555 0100"), false);
  assert.deepEqual(pkg.normalizePhone("(415) 555-0100", "US"), { ok: "+14155550100" });
  assert.ok(pkg.normalizePhone("hello", "US").error);
  assert.throws(() => new pkg.TwilioSmsChannel(ID, { ...CONFIG, fromNumber: "+15551234567" }, {}), /fromNumber/);
  assert.throws(() => new pkg.TwilioSmsChannel(ID, { ...CONFIG, authToken: TOKEN }, {}), /plaintext authToken/);
  assert.throws(() => new pkg.TwilioSmsChannel("nope", CONFIG, {}), /channel id/);
});

/** Hivekeep's channel-retry.ts rule: retry when the error text matches one of these. */
function hostWouldRetry(text) {
  const lower = text.toLowerCase();
  const words = ["429", "too many requests", "rate limit", "econnreset", "etimedout", "enotfound", "socket hang up", "network", "fetch failed", "aborted"];
  const standalone5xx = lower.split(/[^a-z0-9]/).some((w) => ["500", "502", "503", "504"].includes(w));
  return words.some((w) => lower.includes(w)) || standalone5xx;
}

function mockTwilio(answers) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init, form: Object.fromEntries(new URLSearchParams(init.body)) });
    const next = answers[Math.min(calls.length - 1, answers.length - 1)];
    if (next instanceof Error) throw next;
    const sid = `SM${String(calls.length).repeat(32)}`;
    const body = next.body ?? JSON.stringify({ sid, status: "queued", num_segments: "1" });
    return new Response(body, { status: next.status ?? 201, headers: { "content-type": "application/json", ...(next.headers ?? {}) } });
  };
  return { calls, fetch };
}

const getSecret = async (key, kind) => (key === CONFIG.authTokenVaultKey && kind === "authToken" ? TOKEN : null);

test("sendMessage sends every part in order with its status callback, the secret only in the header", async () => {
  const ch = channel();
  const twilio = mockTwilio([{}]);
  const result = await ch.sendMessage({ chatId: USER, content: "Hi there", locale: "es" }, { getSecret, fetch: twilio.fetch });
  assert.equal(result.platformMessageId, `SM${"1".repeat(32)}`);
  assert.equal(result.contextLine, "Enviado por SMS");
  assert.equal(twilio.calls.length, 1);
  const [call] = twilio.calls;
  assert.equal(call.url, `https://api.twilio.com/2010-04-01/Accounts/${AC}/Messages.json`);
  assert.equal(call.init.headers.authorization, `Basic ${Buffer.from(`${AC}:${TOKEN}`).toString("base64")}`);
  assert.deepEqual(call.form, { To: USER, From: FROM, Body: "Hi there", StatusCallback: PUBLIC + PATH });

  const long = ("word ".repeat(300) + "\n\n").repeat(2).trim();
  const multi = mockTwilio([{}]);
  const r = await ch.sendMessage({ chatId: USER, content: long }, { getSecret, fetch: multi.fetch });
  assert.equal(multi.calls.length, 2);
  assert.equal(r.platformMessageId, `SM${"1".repeat(32)}`);
  assert.equal(r.contextLine, "Sent by SMS in 2 parts");
  assert.equal(multi.calls[0].form.StatusCallback, `${PUBLIC}${PATH}?part=1&of=2`);
  assert.equal(multi.calls[1].form.StatusCallback, `${PUBLIC}${PATH}?part=2&of=2&first=SM${"1".repeat(32)}`);
  assert.equal(r.deliveryMeta.twilio.parts.length, 2);
  ch.free();
});

test("send errors carry their retry safety in words Hivekeep's retry logic reads right", async () => {
  const ch = channel();
  const send = async (answers, content = "Hi") => {
    const twilio = mockTwilio(answers);
    try {
      await ch.sendMessage({ chatId: USER, content }, { getSecret, fetch: twilio.fetch, maxAttempts: 1 });
      return null;
    } catch (error) {
      return error;
    }
  };
  const rate = await send([{ status: 429, body: '{"code":20429,"message":"Too Many Requests","status":429}', headers: { "retry-after": "2" } }]);
  assert.equal(rate.retrySafety, "safe");
  assert.ok(hostWouldRetry(rate.message), rate.message);
  assert.equal(rate.detail.retryAfterMs, 2000);
  const refused = await send([{ status: 400, body: '{"code":21610,"message":"Attempt to send to unsubscribed recipient +14155550142","status":400}' }]);
  assert.equal(refused.retrySafety, "final");
  assert.match(refused.message, /21610/);
  assert.ok(!refused.message.includes("4155550142"), "no full phone number in the error");
  const server = await send([{ status: 503, body: '{"code":20503,"message":"Service Unavailable","status":503}' }]);
  assert.equal(server.retrySafety, "ambiguous");
  assert.ok(!hostWouldRetry(server.message), server.message);
  const refusedConnect = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
  const connect = await send([refusedConnect]);
  assert.equal(connect.retrySafety, "safe");
  assert.ok(hostWouldRetry(connect.message), connect.message);
  const timeout = await send([Object.assign(new Error("timed out"), { name: "TimeoutError" })]);
  assert.equal(timeout.retrySafety, "ambiguous");
  assert.ok(!hostWouldRetry(timeout.message), timeout.message);
  const long = ("word ".repeat(300) + "\n\n").repeat(2).trim();
  const partial = await send([{}, { status: 429, body: '{"code":20429,"message":"Too Many Requests","status":429}' }], long);
  assert.equal(partial.retrySafety, "ambiguous");
  assert.match(partial.message, /^part 2 of 2 could not be sent after parts 1 went out; the parts sent must not be sent again/);
  assert.ok(!hostWouldRetry(partial.message), partial.message);
  // A vault that fails, before anything or after a part went out: never the vault's own words (here
  // "fetch failed", which Hivekeep reads as a safe retry), never a resend of a part.
  const vaultDown = async () => {
    throw new TypeError("fetch failed: network unreachable");
  };
  const down = mockTwilio([{}]);
  const before = await ch.sendMessage({ chatId: USER, content: "Hi" }, { getSecret: vaultDown, fetch: down.fetch }).catch((e) => e);
  assert.ok(before instanceof pkg.SendError, String(before));
  assert.equal(before.retrySafety, "final");
  assert.match(before.message, /secret could not be read from the vault; nothing was sent/);
  assert.ok(!hostWouldRetry(before.message), before.message);
  assert.equal(down.calls.length, 0);
  let reads = 0;
  const flaky = async (...args) => (++reads === 1 ? getSecret(...args) : vaultDown());
  const halfway = mockTwilio([{}, {}]);
  const after = await ch.sendMessage({ chatId: USER, content: long }, { getSecret: flaky, fetch: halfway.fetch }).catch((e) => e);
  assert.equal(halfway.calls.length, 1);
  assert.equal(after.retrySafety, "ambiguous");
  assert.match(after.message, /^part 2 of 2 could not be sent after parts 1 went out; the parts sent must not be sent again/);
  assert.ok(!hostWouldRetry(after.message), after.message);
  const missing = await ch.sendMessage({ chatId: USER, content: "Hi" }, { getSecret: async () => null, fetch: down.fetch }).catch((e) => e);
  assert.equal(missing.retrySafety, "final");
  assert.ok(!hostWouldRetry(missing.message), missing.message);
  await assert.rejects(ch.sendMessage({ chatId: "+1555", content: "x" }, { getSecret }), /E\.164/);
  // A recipient as people write it, in the channel's country (US) when national.
  const written = mockTwilio([{}]);
  for (const chatId of ["+1 (415) 555-0142", "415-555-0142"]) await ch.sendMessage({ chatId, content: "x" }, { getSecret, fetch: written.fetch });
  assert.deepEqual(written.calls.map((c) => c.form.To), [USER, USER]);
  await assert.rejects(ch.sendMessage({ chatId: USER, content: "  " }, { getSecret }), /blank/);
  // More than ten SMS (about 13 here): refused before anything is sent, in words that invite no retry.
  const tooLong = mockTwilio([{}]);
  const refusedLong = await ch.sendMessage({ chatId: USER, content: "word ".repeat(4000) }, { getSecret, fetch: tooLong.fetch }).catch((e) => e);
  assert.match(refusedLong.message, /too long for SMS: it would take more than ten messages; nothing was sent/);
  assert.ok(!hostWouldRetry(refusedLong.message), refusedLong.message);
  assert.equal(tooLong.calls.length, 0);
  ch.free();
});

test("a part that surely was not sent is sent again, as the native client does", async () => {
  const ch = channel();
  const long = ("word ".repeat(300) + "\n\n").repeat(2).trim();
  const limited = { status: 429, body: '{"code":20429,"message":"Too Many Requests","status":429}', headers: { "retry-after": "0" } };
  // Part 2 rate-limited once: sent again, the reply whole.
  const rate = mockTwilio([{}, limited, {}]);
  const r = await ch.sendMessage({ chatId: USER, content: long }, { getSecret, fetch: rate.fetch });
  assert.equal(rate.calls.length, 3);
  assert.equal(r.deliveryMeta.twilio.parts.length, 2);
  assert.equal(rate.calls[2].form.Body, rate.calls[1].form.Body);
  // No connection twice, then Twilio: three attempts, after 250 and 500 ms.
  const refused = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
  const flaky = mockTwilio([refused, refused, {}]);
  const started = Date.now();
  assert.equal((await ch.sendMessage({ chatId: USER, content: "Hi" }, { getSecret, fetch: flaky.fetch })).platformMessageId, `SM${"3".repeat(32)}`);
  assert.ok(Date.now() - started >= 700, "backoff");
  // Never beyond the attempts or the deadline, and never after an answer that may have sent it.
  const down = mockTwilio([refused]);
  const gaveUp = await ch.sendMessage({ chatId: USER, content: "Hi" }, { getSecret, fetch: down.fetch, maxAttempts: 2 }).catch((e) => e);
  assert.equal(down.calls.length, 2);
  assert.equal(gaveUp.retrySafety, "safe");
  assert.match(gaveUp.message, /nothing was sent/);
  // The deadline bounds the attempts too: a refusal, then an attempt that hangs is cut at the deadline
  // (not after `timeoutMs`), and, sent but unanswered, is not tried again.
  let tries = 0;
  const hangs = async (url, init) => {
    if (++tries === 1) throw refused;
    // A pending request keeps the process alive (the abort timer alone does not).
    const alive = setTimeout(() => {}, 20000);
    return new Promise((_, reject) =>
      init.signal.addEventListener("abort", () => {
        clearTimeout(alive);
        reject(init.signal.reason);
      }),
    );
  };
  const t0 = Date.now();
  const cut = await ch.sendMessage({ chatId: USER, content: "Hi" }, { getSecret, fetch: hangs, deadlineMs: 600 }).catch((e) => e);
  assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
  assert.equal(tries, 2);
  assert.equal(cut.retrySafety, "ambiguous");
  const later = mockTwilio([{ ...limited, headers: { "retry-after": "60" } }]);
  assert.equal((await ch.sendMessage({ chatId: USER, content: "Hi" }, { getSecret, fetch: later.fetch }).catch((e) => e)).retrySafety, "safe");
  assert.equal(later.calls.length, 1, "Retry-After beyond the deadline: Hivekeep retries later");
  for (const maybeSent of [{ status: 503, body: '{"code":20503,"message":"Service Unavailable","status":503}' }, Object.assign(new Error("timed out"), { name: "TimeoutError" })]) {
    const twilio = mockTwilio([maybeSent, {}]);
    const error = await ch.sendMessage({ chatId: USER, content: "Hi" }, { getSecret, fetch: twilio.fetch }).catch((e) => e);
    assert.equal(error.retrySafety, "ambiguous");
    assert.equal(twilio.calls.length, 1);
  }
  ch.free();
});

test("validateConfig and getBotInfo check the account and the From number, as the native client does", async () => {
  const ch = channel();
  const twilio = (route) => {
    const calls = [];
    const fetch = async (url, init) => {
      calls.push({ url, authorization: init.headers.authorization });
      const { status = 200, body } = route(url);
      return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    };
    return { calls, fetch };
  };
  const account = (status) => ({ body: { sid: AC, friendly_name: "Hivekeep prod", status, auth_token: TOKEN } });
  const numbers = (list) => ({ body: { incoming_phone_numbers: list } });
  const owned = (sms) => (url) => (url.includes("IncomingPhoneNumbers") ? numbers([{ phone_number: FROM, capabilities: { sms } }]) : account("active"));
  const ok = twilio(owned(true));
  assert.deepEqual(await ch.validateConfig({ getSecret, fetch: ok.fetch }), { valid: true });
  assert.deepEqual(
    ok.calls.map((c) => c.url),
    [`https://api.twilio.com/2010-04-01/Accounts/${AC}.json`, `https://api.twilio.com/2010-04-01/Accounts/${AC}/IncomingPhoneNumbers.json?PhoneNumber=%2B14155550100`],
  );
  assert.equal(ok.calls[0].authorization, `Basic ${Buffer.from(`${AC}:${TOKEN}`).toString("base64")}`);
  assert.deepEqual(await ch.getBotInfo({ getSecret, fetch: ok.fetch }), { name: "Hivekeep prod", username: FROM });
  assert.equal(ok.calls.length, 3, "getBotInfo reads the account only");
  // The same from a stored config alone, as Hivekeep calls them.
  assert.deepEqual(await pkg.validateConfig(CONFIG, { getSecret, fetch: twilio(owned(false)).fetch }), {
    valid: false,
    error: "the From number of this account cannot send SMS (it has no SMS capability)",
  });
  assert.deepEqual(await pkg.getBotInfo(JSON.stringify(CONFIG), { getSecret, fetch: ok.fetch }), { name: "Hivekeep prod", username: FROM });
  const refusals = [
    [twilio(() => ({ status: 401, body: { code: 20003, message: "Authenticate", status: 401 } })), /20003/],
    [twilio(() => account("suspended")), /suspended, not active/],
    [twilio((url) => (url.includes("IncomingPhoneNumbers") ? numbers([]) : account("active"))), /not a phone number of this Twilio account/],
    [twilio(owned(false)), /cannot send SMS/],
  ];
  for (const [mock, error] of refusals) {
    const result = await ch.validateConfig({ getSecret, fetch: mock.fetch });
    assert.equal(result.valid, false);
    assert.match(result.error, error);
    assert.ok(!result.error.includes(TOKEN) && !result.error.includes("4155550100"), result.error);
  }
  // The vault or the network failing: invalid, in words of their own; no bot info.
  assert.deepEqual(await ch.validateConfig({ getSecret: async () => null, fetch: ok.fetch }), {
    valid: false,
    error: "the Auth Token could not be read from the vault (it checks every webhook)",
  });
  const down = async () => {
    throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
  };
  assert.equal((await ch.validateConfig({ getSecret, fetch: down })).valid, false);
  assert.equal(await ch.getBotInfo({ getSecret, fetch: down }), null);
  // getBotInfo reads the account only, and names a suspended one too (as the native bot_info does).
  const suspended = twilio(() => account("suspended"));
  assert.deepEqual(await ch.getBotInfo({ getSecret, fetch: suspended.fetch }), { name: "Hivekeep prod", username: FROM });
  assert.equal(suspended.calls.length, 1);
  // A 503, then the answer: read again, as the native client reads.
  let busy = 0;
  const flaky = twilio((url) => (busy++ === 0 ? { status: 503, body: { code: 20503, message: "busy", status: 503 } } : owned(true)(url)));
  assert.deepEqual(await ch.validateConfig({ getSecret, fetch: flaky.fetch }), { valid: true });
  assert.equal(flaky.calls.length, 3);
  // A vault that does not answer: the check ends within its time.
  const hanging = () => new Promise(() => {});
  const started = Date.now();
  assert.deepEqual(await ch.validateConfig({ getSecret: hanging, fetch: ok.fetch, timeoutMs: 300 }), {
    valid: false,
    error: "the Auth Token could not be read from the vault (it checks every webhook)",
  });
  assert.ok(Date.now() - started < 2000);
  ch.free();
  // A channel that sends with an API key still needs its Auth Token (it checks every webhook); the
  // requests use the key. A Messaging Service channel has no number to check.
  const keyed = { ...CONFIG, apiKeySid: "SK" + "1".repeat(32), apiKeySecretVaultKey: "key-vault" };
  const keyOnly = async (key, kind) => (key === "key-vault" && kind === "apiKeySecret" ? "key-secret" : null);
  assert.deepEqual(await pkg.validateConfig(keyed, { getSecret: keyOnly, fetch: ok.fetch }), {
    valid: false,
    error: "the Auth Token could not be read from the vault (it checks every webhook)",
  });
  const both = async (key, kind) => (await keyOnly(key, kind)) ?? (await getSecret(key, kind));
  const keyedCalls = twilio(owned(true));
  assert.deepEqual(await pkg.validateConfig(keyed, { getSecret: both, fetch: keyedCalls.fetch }), { valid: true });
  assert.equal(keyedCalls.calls[0].authorization, `Basic ${Buffer.from(`SK${"1".repeat(32)}:key-secret`).toString("base64")}`);
  assert.deepEqual(await pkg.validateConfig({ ...CONFIG, authTokenVaultKey: "blank" }, { getSecret: async () => " x", fetch: ok.fetch }), {
    valid: false,
    error: "the Auth Token has leading or trailing white space (as read from the vault)",
  });
  const service = { accountSid: AC, authTokenVaultKey: CONFIG.authTokenVaultKey, messagingServiceSid: "MG" + "2".repeat(32) };
  const serviceCalls = twilio(owned(true));
  assert.deepEqual(await pkg.validateConfig(service, { getSecret, fetch: serviceCalls.fetch }), { valid: true });
  assert.equal(serviceCalls.calls.length, 1);
  assert.deepEqual(await pkg.getBotInfo(service, { getSecret, fetch: serviceCalls.fetch }), { name: "Hivekeep prod", username: "MG" + "2".repeat(32) });
  // A config the channel cannot use: invalid (or no bot info), never a throw.
  const broken = await pkg.validateConfig({ ...CONFIG, accountSid: "nope" }, { getSecret, fetch: ok.fetch });
  assert.equal(broken.valid, false);
  assert.match(broken.error, /accountSid/);
  assert.equal(await pkg.getBotInfo("{not json", { getSecret, fetch: ok.fetch }), null);
});

test("a reply's public https attachments go as MMS media; the others are named in the text and the context line", async () => {
  const ch = channel();
  const twilio = mockTwilio([{}]);
  const attachments = [
    { source: "https://cdn.example.com/charts/q3.png?sig=s3cret", mimeType: "image/png" },
    { source: "/srv/hivekeep/data/workspaces/a/report.pdf", mimeType: "application/pdf", fileName: "report.pdf" },
    { source: "http://cdn.example.com/b.png?token=s3cret", mimeType: "image/png" },
  ];
  const result = await ch.sendMessage({ chatId: USER, content: "Here is the chart.", attachments }, { getSecret, fetch: twilio.fetch });
  assert.equal(twilio.calls.length, 1);
  const form = new URLSearchParams(twilio.calls[0].init.body);
  assert.deepEqual(form.getAll("MediaUrl"), ["https://cdn.example.com/charts/q3.png?sig=s3cret"]);
  assert.equal(form.get("Body"), "Here is the chart.\n\n[Attachments not sent: report.pdf, b.png]");
  assert.equal(result.contextLine, "Sent by SMS · attachments not sent: report.pdf (a file on the server, not a public URL), b.png (not an https URL)");
  assert.equal(result.deliveryMeta.twilio.media, 1);
  assert.deepEqual(result.deliveryMeta.twilio.attachmentsNotSent.map((a) => a.name), ["report.pdf", "b.png"]);
  assert.ok(!JSON.stringify(result).includes("s3cret"), "a refused URL's query is named nowhere");
  assert.ok(!form.get("Body").includes("s3cret"));

  // Attachments alone: the media, with its name as the text; none sendable: the note alone.
  const only = mockTwilio([{}]);
  await ch.sendMessage({ chatId: USER, content: "", attachments: [{ source: "https://cdn.example.com/q3.png", mimeType: "image/png", fileName: "Q3.png" }] }, { getSecret, fetch: only.fetch });
  const onlyForm = new URLSearchParams(only.calls[0].init.body);
  assert.deepEqual([onlyForm.get("Body"), onlyForm.getAll("MediaUrl").length], ["Q3.png", 1]);
  const none = mockTwilio([{}]);
  await ch.sendMessage({ chatId: USER, content: " ", attachments: [{ source: "/tmp/a.pdf", mimeType: "application/pdf" }] }, { getSecret, fetch: none.fetch });
  assert.equal(new URLSearchParams(none.calls[0].init.body).get("Body"), "[Attachment not sent: a.pdf]");
  // A long reply: the media ride on the first part only.
  const long = mockTwilio([{}]);
  await ch.sendMessage({ chatId: USER, content: "word ".repeat(400), attachments: attachments.slice(0, 1) }, { getSecret, fetch: long.fetch });
  assert.deepEqual(long.calls.map((c) => new URLSearchParams(c.init.body).getAll("MediaUrl").length), [1, 0]);
  ch.free();
});

test("configureWebhook points the number's webhook at the channel only when it points nowhere of its owner's", async () => {
  const PN = "PN0123456789abcdef0123456789abcdef";
  const standIn = (smsUrl) => {
    const state = { smsUrl, calls: [] };
    state.fetch = async (url, init) => {
      state.calls.push({ url, method: init.method, body: init.body, authorization: init.headers.authorization, redirect: init.redirect });
      const json = (status, value) => new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
      if (url.endsWith(`/IncomingPhoneNumbers/${PN}.json`) && init.method === "POST") {
        state.smsUrl = new URLSearchParams(init.body).get("SmsUrl");
        return json(200, { sid: PN, phone_number: FROM, sms_url: state.smsUrl });
      }
      if (url.includes("/IncomingPhoneNumbers.json")) return json(200, { incoming_phone_numbers: [{ sid: PN, phone_number: FROM, sms_url: state.smsUrl, capabilities: { sms: true } }] });
      return json(200, { sid: AC, friendly_name: "Hivekeep prod", status: "active" });
    };
    return state;
  };
  const ch = channel();
  const empty = standIn("");
  assert.deepEqual(await ch.configureWebhook({ getSecret, fetch: empty.fetch }), { ok: true, changed: true });
  assert.equal(empty.smsUrl, PUBLIC + PATH);
  const update = empty.calls.find((c) => c.method === "POST");
  assert.equal(update.url, `https://api.twilio.com/2010-04-01/Accounts/${AC}/IncomingPhoneNumbers/${PN}.json`);
  assert.equal(new URLSearchParams(update.body).get("SmsMethod"), "POST");
  assert.equal(update.authorization, `Basic ${Buffer.from(`${AC}:${TOKEN}`).toString("base64")}`);
  assert.equal(update.redirect, "manual");
  assert.deepEqual(await ch.configureWebhook({ getSecret, fetch: empty.fetch }), { ok: true, changed: false });
  assert.deepEqual(await ch.configureWebhook({ getSecret, fetch: standIn("https://demo.twilio.com/welcome/sms/reply").fetch }), { ok: true, changed: true });

  const other = standIn("https://user:pw@crm.example.com/twilio/sms?key=s3cret");
  const refused = await ch.configureWebhook({ getSecret, fetch: other.fetch });
  assert.equal(refused.ok, false);
  assert.match(refused.error, /points at another URL \(on crm\.example\.com\), not at this channel; it was left as it is/);
  assert.ok(!refused.error.includes("s3cret") && !refused.error.includes("pw@"));
  assert.equal(other.calls.filter((c) => c.method === "POST").length, 0, "another URL is never overwritten");
  const noUrl = new pkg.TwilioSmsChannel(ID, CONFIG, {});
  assert.match((await noUrl.configureWebhook({ getSecret, fetch: empty.fetch })).error, /PUBLIC_URL is not set/);
  noUrl.free();
  // A loopback PUBLIC_URL (Twilio could not call it), or a channel the stored config does not name: nothing is written.
  const loopback = new pkg.TwilioSmsChannel(ID, CONFIG, { publicUrl: "http://localhost:3000" });
  const notPublic = standIn("");
  assert.match((await loopback.configureWebhook({ getSecret, fetch: notPublic.fetch })).error, /not a public https address/);
  loopback.free();
  const stranger = new pkg.TwilioSmsChannel(OTHER_ID, CONFIG, { publicUrl: PUBLIC });
  assert.match((await stranger.configureWebhook({ getSecret, fetch: notPublic.fetch })).error, /does not name this channel/);
  stranger.free();
  assert.equal(notPublic.calls.filter((c) => c.method === "POST").length, 0);

  // The package's validateConfig(config): with the switch on, the channel is the one the vault key names.
  const on = { ...CONFIG, configureWebhook: true };
  const fresh = standIn("");
  assert.deepEqual(await pkg.validateConfig(on, { getSecret, fetch: fresh.fetch, publicUrl: PUBLIC }), { valid: true });
  assert.equal(fresh.smsUrl, PUBLIC + PATH);
  const elsewhere = await pkg.validateConfig(on, { getSecret, fetch: standIn("https://crm.example.com/sms").fetch, publicUrl: PUBLIC });
  assert.equal(elsewhere.valid, false);
  assert.match(elsewhere.error, /on crm\.example\.com\)/);
  const off = standIn("https://crm.example.com/sms");
  assert.deepEqual(await pkg.validateConfig(CONFIG, { getSecret, fetch: off.fetch, publicUrl: PUBLIC }), { valid: true });
  assert.equal(off.calls.filter((c) => c.method === "POST").length, 0, "off by default");
  assert.equal(ch.configuresWebhook, false);
  ch.free();
});

test("Twilio's answers read alone, with their retry safety", () => {
  const ok = pkg.parseSendAnswer(201, "application/json", null, JSON.stringify({ sid: SM1, status: "queued", num_segments: "2", to: USER }));
  assert.deepEqual({ sid: ok.ok.sid, status: ok.ok.status, numSegments: ok.ok.numSegments }, { sid: SM1, status: "queued", numSegments: 2 });
  assert.ok(!JSON.stringify(ok).includes("4155550142"));
  const html = pkg.parseSendAnswer(502, "text/html", null, "<html><title>502 Bad Gateway</title></html>");
  assert.equal(html.error.retrySafety, "ambiguous");
  assert.equal(pkg.parseSendAnswer(201, "application/json", null, "{}").error.retrySafety, "ambiguous");
  assert.equal(pkg.parseSendAnswer(401, "application/json", null, '{"code":20003,"status":401}').error.kind, "badCredentials");
  assert.equal(pkg.configSchema().fields.length, 4);
});

test("the exported constants are the core's", async () => {
  pkg.load();
  // The low-level bindings the package imports (the same module, so already instantiated).
  const core = await import(path.join(pkgDir, "twilio_sms_wasm.js"));
  assert.equal(pkg.DEFAULT_TTL_MS, core.defaultTtlMs());
  assert.equal(pkg.DEFAULT_BODY_LIMIT, core.defaultBodyLimit());
  assert.equal(pkg.SWEEP_INTERVAL_MS, core.sweepIntervalMs());
  assert.equal(pkg.SWEEP_MAX_KEYS, core.sweepMaxKeys());
});

test("publicUrlProblem: what keeps Twilio's webhooks from being verified", () => {
  assert.equal(pkg.publicUrlProblem("https://agents.example.com"), undefined);
  assert.match(pkg.publicUrlProblem(undefined), /PUBLIC_URL is not set/);
  assert.match(pkg.publicUrlProblem("  "), /PUBLIC_URL is not set/);
  assert.match(pkg.publicUrlProblem("http://agents.example.com"), /cannot be used for Twilio's webhooks/);
  assert.match(pkg.publicUrlProblem("agents.example.com"), /cannot be used/);
});
