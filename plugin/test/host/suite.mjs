// The plugin inside the real Hivekeep host: installs it through the host's npm and git install paths,
// upgrades the old plugin (0.5.1's stand-in) through the host's update route, and checks what users see,
// with evidence from HTTP answers, the stand-ins and the host's database. Run by run.sh (Bun).
//
// Env: HIVEKEEP_HOST_DIR (the prepared host), PLUGIN_DIR (built plugin/), GIT_TREE (plugin/build.sh
// --git-tree output), SEED_PLUGIN (the old plugin's folder), WORK (scratch folder), LATENCY_N.
import { cpSync, mkdirSync, writeFileSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Instance, waitFor, sleep, scrub } from "./hivekeep.mjs";
import { startTwilio, startLlm, startRegistry, startGitServer, postWebhook, newSid, twilioSignature } from "./standins.mjs";

const WORK = process.env.WORK;
const PLUGIN_DIR = process.env.PLUGIN_DIR;
const GIT_TREE = process.env.GIT_TREE;
const SEED = process.env.SEED_PLUGIN;
const LATENCY_N = Number(process.env.LATENCY_N ?? 100);
const PUBLIC_URL = "https://hooks.example.com";
const PACKAGE = "hivekeep-plugin-twilio-sms";

// Test identities (Twilio's documented test numbers; never printed).
const AC_A = "AC" + "a1".repeat(16);
const AC_B = "AC" + "b2".repeat(16);
const TOKEN_A = "a".repeat(16) + "0123456789abcdef";
const TOKEN_B = "b".repeat(16) + "0123456789abcdef";
const FROM_A = "+15005550006";
const OTHER_OF_A = "+15005550007"; // owned by account A, not the channel's number
const FROM_B = "+15005550008";
let senderSeq = 0;
const sender = () => `+1415555${String(100 + ++senderSeq).padStart(4, "0")}`;

// ─── runner ──────────────────────────────────────────────────────────────────────────────────────
let passed = 0;
let failed = 0;
const started = performance.now();
async function check(name, fn, { timeoutMs = 90000 } = {}) {
  const t0 = performance.now();
  let timer;
  try {
    await Promise.race([fn(), new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs); })]);
    passed++;
    console.log(`ok - ${name} (${Math.round(performance.now() - t0)} ms)`);
    return true;
  } catch (error) {
    failed++;
    console.log(`not ok - ${name}: ${scrub(String(error?.message ?? error)).slice(0, 600)}`);
    return false;
  } finally {
    clearTimeout(timer);
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}
const eq = (actual, expected, what) => assert(actual === expected, `${what}: expected ${scrub(JSON.stringify(expected))}, got ${scrub(JSON.stringify(actual))}`);

// ─── stand-ins ───────────────────────────────────────────────────────────────────────────────────
const twilio = startTwilio({
  accounts: {
    [AC_A]: { token: TOKEN_A, friendlyName: "Test account A", numbers: [FROM_A, OTHER_OF_A] },
    [AC_B]: { token: TOKEN_B, friendlyName: "Test account B", numbers: [FROM_B] },
  },
});
const holds = new Map(); // marker → {promise, release}
function hold(marker) {
  let release;
  const promise = new Promise((resolve) => { release = resolve; });
  holds.set(marker, { promise, release });
}
const ATTACHMENTS = ["https://files.example.com/charts/q3.png", "http://files.example.com/report.pdf?sig=s3cret"];
const LONG_TEXT = Array.from({ length: 400 }, (_, i) => `word${i % 10}`).join(" ").slice(0, 2000);
const llm = startLlm({
  async reply(text, body) {
    const marker = text.match(/\[m[\w-]+\]/g)?.pop() ?? "";
    if (holds.has(marker)) await holds.get(marker).promise;
    if (text.includes("LONG")) return `${marker} ${LONG_TEXT}`.slice(0, 2000);
    // ATTACH: attach a public https file and a plain http one, then answer once their results are in.
    if (text.includes("ATTACH") && !body.messages.some((m) => m.role === "tool")) {
      return { toolCalls: ATTACHMENTS.map((source) => ({ name: "attach_file", arguments: { source } })) };
    }
    return `Reply ${marker}`.trim();
  },
});
const registry = startRegistry();
mkdirSync(join(WORK, "git"), { recursive: true });
const gitServer = startGitServer(join(WORK, "git"));

async function run(cmd, cwd, timeoutMs = 120000) {
  const proc = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, npm_config_update_notifier: "false" } });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [out, err] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text()];
  clearTimeout(timer);
  if ((await proc.exited) !== 0) throw new Error(`${cmd.join(" ")} failed: ${scrub(err || out).slice(0, 400)}`);
  return out.trim();
}

/** `npm pack` of a folder into WORK/packs; returns the tarball's path. */
async function pack(dir) {
  const dest = join(WORK, "packs");
  mkdirSync(dest, { recursive: true });
  const name = (await run(["npm", "pack", "--pack-destination", dest, "--loglevel", "error"], dir)).split("\n").pop();
  return join(dest, name);
}

/**
 * Installs through the host's route, then waits for the platform: right after an install the host's file
 * watcher hot-reloads the plugin (deactivates and activates it again), during which it is not registered.
 */
async function install(inst, body) {
  await settled(inst, () => inst.api("POST", "/api/plugins/install", body, { timeoutMs: 120000 }));
}

/** Updates through the host's route, then waits for the hot reload that follows as `install` does. */
async function update(inst) {
  await settled(inst, () => inst.api("POST", "/api/plugins/twilio-sms/update", undefined, { timeoutMs: 120000 }));
}

/** Runs `change` (an install or an update), then waits for the hot reload and the platform. */
async function settled(inst, change) {
  const reloads = () => (inst.log().match(/Plugin hot-reloaded/g) ?? []).length;
  const before = reloads();
  await change();
  await waitFor("the hot reload after the change", () => reloads() > before, { timeoutMs: 5000 }).catch(() => {});
  await waitFor("the twilio-sms platform", async () => {
    const platforms = (await inst.api("GET", "/api/channels/platforms")).body.platforms;
    return platforms.find((p) => p.platform === "twilio-sms");
  }, { timeoutMs: 15000 });
}

// ─── helpers on an instance ──────────────────────────────────────────────────────────────────────
const webhookUrl = (channelId) => `${PUBLIC_URL}/api/channels/plugin/twilio-sms/webhook/${channelId}`;
function inboundParams({ from, to = FROM_A, body, sid = newSid("SM"), account = AC_A, extra = [] }) {
  return [["ToCountry", "US"], ["SmsMessageSid", sid], ["NumMedia", "0"], ["SmsSid", sid], ["SmsStatus", "received"], ["Body", body], ["To", to], ["NumSegments", "1"], ["MessageSid", sid], ["AccountSid", account], ["From", from], ["FromCountry", "US"], ["ApiVersion", "2010-04-01"], ...extra];
}
const userMessages = (inst, marker) => inst.query("SELECT id, content, metadata FROM messages WHERE role = 'user' AND content LIKE ?", `%${marker}%`);
const assistantMessages = (inst, marker) => inst.query("SELECT id, content, metadata FROM messages WHERE role = 'assistant' AND content LIKE ?", `%${marker}%`);
const sentTo = (to) => twilio.messages.filter((m) => m.to === to);
const llmSaw = (marker) => llm.requests.filter((r) => JSON.stringify(r.messages).includes(marker)).length;
function delivery(inst, marker) {
  const [row] = assistantMessages(inst, marker);
  return row ? JSON.parse(row.metadata ?? "{}").channelDelivery : undefined;
}
async function statusCallback(inst, message, status, { errorCode, partOf } = {}) {
  const url = message.statusCallback;
  assert(url, "the SMS was sent without a StatusCallback");
  const params = [["AccountSid", message.accountSid], ["ApiVersion", "2010-04-01"], ["From", FROM_A], ["To", message.to], ["MessageSid", message.sid], ["SmsSid", message.sid], ["MessageStatus", status], ["SmsStatus", status]];
  if (errorCode) params.push(["ErrorCode", String(errorCode)]);
  const r = await postWebhook({ hostBase: inst.base, url, token: TOKEN_A, params });
  eq(r.status, 200, `status callback ${status}`);
  return r;
}
/** Sends a signed inbound SMS and waits for the reply to go out; returns {from, marker, replies}. */
async function conversation(inst, channelId, { marker, body, from = sender(), parts = 1 } = {}) {
  const r = await postWebhook({ hostBase: inst.base, url: webhookUrl(channelId), token: TOKEN_A, params: inboundParams({ from, body: body ?? `Hello ${marker}` }) });
  eq(r.status, 200, "signed inbound");
  await waitFor(`the reply to ${marker}`, () => sentTo(from).filter((m) => m.sid).length >= parts, { timeoutMs: 30000 });
  return { from, marker, replies: sentTo(from).filter((m) => m.sid) };
}

// ─── instances ───────────────────────────────────────────────────────────────────────────────────
const env = { PUBLIC_URL, TWILIO_STANDIN: twilio.url, npm_config_registry: registry.url };
const A = new Instance("npm", WORK, { env }); // npm install of 0.6.0: most checks
const G = new Instance("git", WORK, { env }); // git install; restarts (de-duplication, no PUBLIC_URL)
const U = new Instance("upgrade", WORK, { env }); // 0.5.1's stand-in, upgraded through the update route

const ours = await pack(PLUGIN_DIR);
const seedDir = join(WORK, "seed");
cpSync(SEED, seedDir, { recursive: true });
writeFileSync(join(seedDir, "package.json"), JSON.stringify({ name: PACKAGE, version: "0.5.1", main: "index.ts", files: readdirSync(seedDir) }, null, 2));
const seed = await pack(seedDir);
await registry.publish(PACKAGE, "0.5.1", seed, { main: "index.ts" });

// The git remote users install from: the --git-tree output, one commit.
await run(["git", "init", "-q", "-b", "main"], GIT_TREE).catch(() => run(["git", "init", "-q"], GIT_TREE));
await run(["git", "-c", "user.name=release", "-c", "user.email=release@example.test", "add", "-A"], GIT_TREE);
await run(["git", "-c", "user.name=release", "-c", "user.email=release@example.test", "commit", "-q", "-m", "release 0.6.0"], GIT_TREE);
await run(["git", "clone", "-q", "--bare", GIT_TREE, join(WORK, "git", "twilio-sms.git")], WORK);
console.log(`# package: ${(Bun.file(ours).size / 1024).toFixed(0)} KiB packed`);

await Promise.all([A.boot(), G.boot(), U.boot()]);
await Promise.all([A.signUp(), G.signUp(), U.signUp()]);
const [agentA, agentG, agentU] = await Promise.all([A.agent(llm.url), G.agent(llm.url), U.agent(llm.url)]);
let chA, chG, chU;

try {
  // ── install paths ──
  await check("0.5.1 (old plugin) installs through the host's npm path", async () => {
    await install(U, { source: "npm", package: PACKAGE });
    chU = await U.channel(agentU, { accountSid: AC_A, authToken: TOKEN_A, fromNumber: FROM_A });
    await conversation(U, chU, { marker: "[m-old]" });
  });
  await registry.publish(PACKAGE, "0.6.0", ours, { main: "index.mjs" });

  await check("0.6.0 installs through the host's npm path and registers the twilio-sms platform", async () => {
    await install(A, { source: "npm", package: PACKAGE });
    const platforms = (await A.api("GET", "/api/channels/platforms")).body.platforms;
    const ours = platforms.find((p) => p.platform === "twilio-sms");
    assert(ours?.isPlugin, "twilio-sms is not among the platforms");
    eq(ours.displayName, "Twilio SMS", "display name");
    chA = await A.channel(agentA, { accountSid: AC_A, authToken: TOKEN_A, fromNumber: FROM_A });
  });

  await check("0.6.0 installs through the host's git path (the --git-tree output, no build step)", async () => {
    await install(G, { source: "git", url: `${gitServer.url}/twilio-sms.git` });
    chG = await G.channel(agentG, { accountSid: AC_A, authToken: TOKEN_A, fromNumber: FROM_A });
    await conversation(G, chG, { marker: "[m-git]" });
  });

  // ── inbound ──
  let first;
  await check("a signed inbound SMS reaches the Agent; the reply goes out with a StatusCallback, without [Agent] prefix", async () => {
    first = await conversation(A, chA, { marker: "[m1]" });
    eq(userMessages(A, "[m1]").length, 1, "user messages");
    const [reply] = first.replies;
    eq(reply.body, "Reply [m1]", "reply body");
    assert(reply.statusCallback?.startsWith(webhookUrl(chA)), "no StatusCallback at the channel's webhook URL");
    const meta = JSON.parse(userMessages(A, "[m1]")[0].metadata).channel.twilio;
    eq(meta.accountSid, AC_A, "metadata twilio.accountSid");
    eq(meta.toNumber, FROM_A, "metadata twilio.toNumber");
    eq(meta.numMedia, 0, "metadata twilio.numMedia");
  });

  await check("the sender shows as a phone number in the Agent's contacts and prompt, not twilio-sms:+…", async () => {
    const names = A.query("SELECT n.nickname AS name FROM contact_platform_ids p JOIN contact_nicknames n ON n.contact_id = p.contact_id WHERE p.platform = 'twilio-sms' AND p.platform_id = ?", first.from).map((r) => r.name);
    eq(JSON.stringify(names), JSON.stringify([first.from]), "the contact's names");
    const [msg] = userMessages(A, "[m1]");
    // Hivekeep tags the sender as [<platform>:<sender's name>]; the name is the number.
    assert(msg.content.startsWith(`[twilio-sms:${first.from}]`), "the prompt does not name the sender by number");
    const prompts = llm.requests.filter((r) => JSON.stringify(r.messages).includes("[m1]"));
    assert(prompts.length > 0 && prompts.every((r) => !JSON.stringify(r.messages).includes("twilio-sms:twilio-sms:")), "an LLM prompt names the sender twilio-sms:+…");
  });

  await check("a forged and an unsigned webhook get a bare 403 and nothing reaches the Agent", async () => {
    const from = sender();
    const forged = await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: "x".repeat(32), params: inboundParams({ from, body: "Forged [m-forged]" }) });
    const unsigned = await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: TOKEN_A, signature: null, params: inboundParams({ from, body: "Unsigned [m-unsigned]" }) });
    for (const [r, what] of [[forged, "forged"], [unsigned, "unsigned"]]) {
      eq(r.status, 403, what);
      eq(r.text, "", `${what} body`);
    }
    await sleep(1000);
    eq(userMessages(A, "[m-forged]").length + userMessages(A, "[m-unsigned]").length, 0, "user messages");
    eq(llmSaw("[m-forged]") + llmSaw("[m-unsigned]"), 0, "LLM requests");
    eq(sentTo(from).length, 0, "SMS to the forger");
  });

  await check("a Twilio retry of the same request is one Agent turn", async () => {
    const from = sender();
    const params = inboundParams({ from, body: "Retry [m-retry]" });
    for (let i = 0; i < 3; i++) eq((await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: TOKEN_A, params })).status, 200, `delivery ${i + 1}`);
    await waitFor("the reply", () => sentTo(from).some((m) => m.sid));
    await sleep(1500);
    eq(userMessages(A, "[m-retry]").length, 1, "user messages");
    eq(sentTo(from).length, 1, "replies");
  });

  await check("a signed webhook to another number or another account is refused", async () => {
    const from = sender();
    const otherNumber = await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: TOKEN_A, params: inboundParams({ from, to: OTHER_OF_A, body: "Other number [m-othernum]" }) });
    const otherAccount = await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: TOKEN_A, params: inboundParams({ from, account: AC_B, body: "Other account [m-otheracc]" }) });
    eq(otherNumber.status, 403, "another number");
    eq(otherAccount.status, 403, "another account");
    await sleep(1000);
    eq(userMessages(A, "[m-othernum]").length + userMessages(A, "[m-otheracc]").length, 0, "user messages");
  });

  // ── delivery status ──
  await check("delivered, a late sent, and undelivered 30007 change the bubble's hint; callbacks are never turns", async () => {
    const before = { users: A.query("SELECT count(*) AS n FROM messages WHERE role = 'user'")[0].n, llm: llm.requests.length };
    const [reply] = first.replies;
    await statusCallback(A, reply, "delivered");
    await waitFor("✓ Delivered", () => delivery(A, "Reply [m1]")?.deliveryStatus === "delivered", { timeoutMs: 10000 });
    assert(/Delivered/.test(delivery(A, "Reply [m1]").contextLine), `hint: ${delivery(A, "Reply [m1]").contextLine}`);
    await statusCallback(A, reply, "sent");
    await sleep(500);
    eq(delivery(A, "Reply [m1]").deliveryStatus, "delivered", "after a late sent");
    const second = await conversation(A, chA, { marker: "[m2]" });
    await statusCallback(A, second.replies[0], "undelivered", { errorCode: 30007 });
    await waitFor("the failure hint", () => delivery(A, "Reply [m2]")?.deliveryStatus === "undelivered", { timeoutMs: 10000 });
    assert(/30007/.test(delivery(A, "Reply [m2]").contextLine), `hint: ${delivery(A, "Reply [m2]").contextLine}`);
    await sleep(500);
    const after = { users: A.query("SELECT count(*) AS n FROM messages WHERE role = 'user'")[0].n };
    eq(after.users, before.users + 1, "user messages (only [m2]'s)");
    eq(llm.requests.filter((r) => JSON.stringify(r.messages).includes("MessageStatus")).length, 0, "LLM requests about a status");
  });

  await check("a 2,000-character reply goes out in parts of at most 1,600 characters", async () => {
    const from = sender();
    await conversation(A, chA, { marker: "[m-long]", body: "LONG [m-long]", from, parts: 2 });
    await sleep(500);
    const parts = sentTo(from).filter((m) => m.sid);
    assert(parts.length >= 2, `${parts.length} parts`);
    assert(parts.every((p) => p.body.length <= 1600), "a part over 1,600 characters");
    eq(parts.map((p) => p.body).join("").replace(/\s+/g, ""), `[m-long] ${LONG_TEXT}`.slice(0, 2000).replace(/\s+/g, ""), "the parts' text");
    assert(parts.every((p) => p.statusCallback), "a part without StatusCallback");
  });

  await check("Twilio answering 500 sends the SMS once (the host does not resend)", async () => {
    const from = sender();
    twilio.script(from, [{ status: 500, message: "Internal Server Error" }]);
    const r = await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: TOKEN_A, params: inboundParams({ from, body: "Five hundred [m-500]" }) });
    eq(r.status, 200, "inbound");
    await waitFor("the send attempt", () => sentTo(from).length > 0, { timeoutMs: 30000 });
    await sleep(8000); // the host's retries would come after 1 s, 2 s, 4 s
    eq(sentTo(from).length, 1, "message creations");
  }, { timeoutMs: 60000 });

  await check("a 429 with Retry-After ends in exactly one SMS", async () => {
    const from = sender();
    twilio.script(from, [{ status: 429, retryAfter: 1, message: "Too Many Requests" }]);
    const r = await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: TOKEN_A, params: inboundParams({ from, body: "Rate [m-429]" }) });
    eq(r.status, 200, "inbound");
    await waitFor("the SMS", () => sentTo(from).some((m) => m.sid), { timeoutMs: 30000 });
    await sleep(4000);
    eq(sentTo(from).filter((m) => m.sid).length, 1, "SMS created");
    eq(sentTo(from).length, 2, "attempts (one 429, one created)");
  }, { timeoutMs: 60000 });

  await check("a 10 MB body is refused early (413) with bounded memory", async () => {
    const rss0 = A.rss();
    const big = new Uint8Array(10 * 1024 * 1024).fill(0x61);
    const t0 = performance.now();
    const declared = await fetch(`${A.base}/api/channels/plugin/twilio-sms/webhook/${chA}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "A".repeat(27) + "=" }, body: big, signal: AbortSignal.timeout(20000) });
    eq(declared.status, 413, "with Content-Length");
    await declared.arrayBuffer();
    let sent = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (sent >= big.length) return controller.close();
        controller.enqueue(big.subarray(sent, sent + 65536));
        sent += 65536;
      },
    });
    const chunked = await fetch(`${A.base}/api/channels/plugin/twilio-sms/webhook/${chA}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "A".repeat(27) + "=" }, body: stream, duplex: "half", signal: AbortSignal.timeout(20000) });
    eq(chunked.status, 413, "streamed without Content-Length");
    await chunked.arrayBuffer();
    const growth = (A.rss() - rss0) / 1048576;
    console.log(`#   10 MB bodies: answered in ${Math.round(performance.now() - t0)} ms; host RSS grew ${growth.toFixed(1)} MiB`);
    assert(growth < 40, `host RSS grew ${growth.toFixed(1)} MiB`);
  });

  await check("an inbound MMS reaches the Agent with its media handed to the host, which downloads it", async () => {
    const from = sender();
    const sid = newSid("MM");
    const media = `https://api.twilio.com/2010-04-01/Accounts/${AC_A}/Messages/${sid}/Media/${newSid("ME")}`;
    const params = inboundParams({ from, sid, body: "Picture [m-mms]", extra: [["MediaUrl0", media], ["MediaContentType0", "image/png"]] }).map(([k, v]) => (k === "NumMedia" ? [k, "1"] : [k, v]));
    const before = twilio.mediaRequests.length;
    const r = await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: TOKEN_A, params });
    eq(r.status, 200, "inbound MMS");
    await waitFor("the user message", () => userMessages(A, "[m-mms]").length === 1, { timeoutMs: 15000 });
    await waitFor("the host's download of the media", () => twilio.mediaRequests.length > before, { timeoutMs: 15000 });
    eq(JSON.parse(userMessages(A, "[m-mms]")[0].metadata).channel.twilio.numMedia, 1, "numMedia");
  });

  await check("STOP is acknowledged and never becomes an Agent turn or a reply", async () => {
    const from = sender();
    const r = await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: TOKEN_A, params: inboundParams({ from, body: "STOP" }) });
    eq(r.status, 200, "STOP");
    await sleep(2000);
    eq(A.query("SELECT count(*) AS n FROM messages WHERE role = 'user' AND content LIKE '%STOP%'")[0].n, 0, "user messages");
    eq(sentTo(from).length, 0, "replies");
  });

  // ── the "test" button ──
  await check("the test button passes for a good channel and names a wrong Auth Token (401) and a From number not owned, with no secret", async () => {
    const good = (await A.api("POST", `/api/channels/${chA}/test`)).body;
    assert(good.valid === true, `good channel: ${scrub(JSON.stringify(good))}`);
    const wrong = "w".repeat(32);
    const badToken = await A.channel(agentA, { accountSid: AC_A, authToken: wrong, fromNumber: FROM_A, name: "bad token" });
    const t = (await A.api("POST", `/api/channels/${badToken}/test`)).body;
    assert(t.valid === false && /401|auth|credential/i.test(t.error), `wrong token: ${scrub(JSON.stringify(t))}`);
    assert(!JSON.stringify(t).includes(wrong) && !JSON.stringify(t).includes(TOKEN_A), "a secret in the answer");
    const notOwned = await A.channel(agentA, { accountSid: AC_A, authToken: TOKEN_A, fromNumber: FROM_B, name: "not owned" });
    const n = (await A.api("POST", `/api/channels/${notOwned}/test`)).body;
    assert(n.valid === false && /own|number/i.test(n.error), `number not owned: ${scrub(JSON.stringify(n))}`);
    assert(!JSON.stringify(n).includes(TOKEN_A), "a secret in the answer");
    console.log(`#   test button: wrong token → "${scrub(t.error)}"; not owned → "${scrub(n.error)}"`);
  });

  // ── beyond 0.5.1 ──
  await check("an Agent reply with attachments: a public https one goes as MMS media, the other is named in the SMS and the hint", async () => {
    const from = sender();
    const r = await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: TOKEN_A, params: inboundParams({ from, body: "ATTACH [m-attach]" }) });
    eq(r.status, 200, "inbound");
    await waitFor("the reply", () => sentTo(from).some((m) => m.sid), { timeoutMs: 30000 });
    const sent = sentTo(from).filter((m) => m.sid);
    eq(sent.length, 1, "messages");
    eq(JSON.stringify(sent[0].media), JSON.stringify([ATTACHMENTS[0]]), "MediaUrl");
    eq(sent[0].body, "Reply [m-attach]\n\n[Attachment not sent: report.pdf]", "the SMS text");
    await waitFor("the hint", () => delivery(A, "[m-attach]")?.contextLine, { timeoutMs: 10000 });
    const hint = delivery(A, "[m-attach]").contextLine;
    assert(hint.includes("attachment not sent: report.pdf (not an https URL)"), `hint: ${scrub(hint)}`);
    assert(!hint.includes("s3cret") && !sent[0].body.includes("s3cret"), "a refused URL's query is shown");
  });

  await check("the webhook switch points the number's webhook at the channel when started and tested, never over another URL", async () => {
    const updates = () => twilio.numberUpdates.filter((u) => u.phone === OTHER_OF_A).length;
    twilio.setSmsUrl(OTHER_OF_A, "https://demo.twilio.com/welcome/sms/reply");
    const ch = await A.channel(agentA, { accountSid: AC_A, authToken: TOKEN_A, fromNumber: OTHER_OF_A, configureWebhook: true, name: "auto webhook" });
    await waitFor("the number's webhook, set when the channel started", () => twilio.smsUrl(OTHER_OF_A) === webhookUrl(ch), { timeoutMs: 15000 });
    eq(updates(), 1, "updates");
    const again = (await A.api("POST", `/api/channels/${ch}/test`)).body;
    assert(again.valid === true, `test: ${scrub(JSON.stringify(again))}`);
    eq(updates(), 1, "updates after a test that found the webhook set");
    const other = "https://user:pw@crm.example.com/twilio/sms?key=s3cret";
    twilio.setSmsUrl(OTHER_OF_A, other);
    const t = (await A.api("POST", `/api/channels/${ch}/test`)).body;
    assert(t.valid === false && t.error.includes("on crm.example.com"), `test: ${scrub(JSON.stringify(t))}`);
    assert(!JSON.stringify(t).includes("s3cret") && !JSON.stringify(t).includes("pw@") && !JSON.stringify(t).includes(TOKEN_A), "a secret in the answer");
    eq(twilio.smsUrl(OTHER_OF_A), other, "the other URL");
    eq(updates(), 1, "updates");
    // Off by default: the channels without the switch never touch their number.
    eq(twilio.numberUpdates.filter((u) => u.phone === FROM_A).length, 0, "updates of the other channels' number");
    console.log(`#   webhook switch: another URL → "${scrub(t.error)}"`);
  });

  // ── a part fails before Hivekeep links the reply (the gap 0.6.0 closes; KNOWN_GAP=0 skips it) ──
  if (process.env.KNOWN_GAP !== "0") {
    await check("a part that fails before the reply is linked still shows as failed after the last part is delivered", async () => {
      const from = sender();
      // Part 1 fails (30007) while sendMessage is still sending part 2: Hivekeep has no link yet.
      let part1;
      twilio.script(from, [{ status: 201 }, { status: 201, before: async () => {
        part1 = sentTo(from).find((m) => m.sid);
        await statusCallback(A, part1, "failed", { errorCode: 30007 });
      } }]);
      const r = await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: TOKEN_A, params: inboundParams({ from, body: "LONG [m-gap]" }) });
      eq(r.status, 200, "inbound");
      await waitFor("part 2", () => sentTo(from).filter((m) => m.sid).length >= 2, { timeoutMs: 30000 });
      await waitFor("the parts and the link", () => A.query("SELECT 1 FROM channel_message_links WHERE platform_message_id = ?", part1.sid).length === 1, { timeoutMs: 30000 });
      const parts = sentTo(from).filter((m) => m.sid);
      await statusCallback(A, parts[parts.length - 1], "delivered");
      await sleep(500);
      const d = delivery(A, "[m-gap]");
      assert(d && d.deliveryStatus !== "delivered" && /30007|fail/i.test(d.contextLine ?? ""), `hint: ${scrub(JSON.stringify(d))}`);
    });
  }

  // ── the git install, upgraded by git pull (the restarts below then run the new commit) ──
  await check("the git install upgrades through the update route (git pull of a new commit written by build.sh --git-tree)", async () => {
    // The branch users install from gets one more commit: plugin/build.sh --git-tree into a checkout of
    // it (its .git kept, every file replaced), here of a copy of plugin/ with the version bumped.
    const next = join(WORK, "plugin-next");
    cpSync(PLUGIN_DIR, next, { recursive: true });
    for (const file of ["plugin.json", "package.json"]) {
      const path = join(next, file);
      writeFileSync(path, readFileSync(path, "utf8").replace('"version": "0.6.0"', '"version": "0.6.1"'));
    }
    const checkout = join(WORK, "release-checkout");
    await run(["git", "clone", "-q", join(WORK, "git", "twilio-sms.git"), checkout], WORK);
    await run(["bash", join(next, "build.sh"), "--pkg", join(next, "wasm"), "--git-tree", checkout], WORK, 180000);
    const git = (...args) => run(["git", "-c", "user.name=release", "-c", "user.email=release@example.test", ...args], checkout);
    await git("add", "-A");
    await git("commit", "-q", "-m", "release 0.6.1");
    await git("push", "-q", "origin", "HEAD");
    const released = await git("rev-parse", "HEAD");
    const plugin = join(G.pluginsDir, "twilio-sms");
    assert((await run(["git", "rev-parse", "HEAD"], plugin)) !== released, "the installed plugin is already at the new commit");
    await update(G);
    eq(await run(["git", "rev-parse", "HEAD"], plugin), released, "the installed plugin's commit");
    const plugins = (await G.api("GET", "/api/plugins")).body;
    const listed = (plugins.plugins ?? plugins).find((p) => p.name === "twilio-sms");
    eq(listed?.version ?? listed?.manifest?.version, "0.6.1", "installed version");
    await waitFor("the twilio-sms platform", async () => (await G.api("GET", "/api/channels/platforms")).body.platforms.find((p) => p.platform === "twilio-sms"), { timeoutMs: 15000 });
    const after = await conversation(G, chG, { marker: "[m-git-upgraded]" });
    eq(after.replies[0].body, "Reply [m-git-upgraded]", "reply after the git update");
  }, { timeoutMs: 240000 });

  // ── restarts: de-duplication, then no PUBLIC_URL ──
  await check("de-duplication survives a host restart", async () => {
    const from = sender();
    const params = inboundParams({ from, body: "Before restart [m-restart]" });
    eq((await postWebhook({ hostBase: G.base, url: webhookUrl(chG), token: TOKEN_A, params })).status, 200, "first delivery");
    await waitFor("the reply", () => sentTo(from).some((m) => m.sid));
    await G.stop();
    await G.boot();
    eq((await postWebhook({ hostBase: G.base, url: webhookUrl(chG), token: TOKEN_A, params })).status, 200, "retry after restart");
    await sleep(2000);
    eq(userMessages(G, "[m-restart]").length, 1, "user messages");
    eq(sentTo(from).length, 1, "replies");
  }, { timeoutMs: 120000 });

  await check("without PUBLIC_URL replies still go out (no StatusCallback; the hint says no live status) and the test button says why webhooks fail", async () => {
    const from = sender();
    hold("[m-nourl]");
    eq((await postWebhook({ hostBase: G.base, url: webhookUrl(chG), token: TOKEN_A, params: inboundParams({ from, body: "Held [m-nourl]" }) })).status, 200, "inbound");
    await waitFor("the Agent's turn", () => llmSaw("[m-nourl]") > 0, { timeoutMs: 30000 });
    await G.stop({ kill: true });
    await G.boot({ env: { PUBLIC_URL: undefined } });
    await G.signIn();
    holds.get("[m-nourl]").release();
    await waitFor("the reply", () => sentTo(from).some((m) => m.sid), { timeoutMs: 60000 });
    const [reply] = sentTo(from).filter((m) => m.sid);
    eq(reply.statusCallback, undefined, "StatusCallback");
    await waitFor("the hint", () => delivery(G, "[m-nourl]"), { timeoutMs: 10000 });
    assert(/PUBLIC_URL/.test(delivery(G, "[m-nourl]").contextLine ?? ""), `hint: ${scrub(JSON.stringify(delivery(G, "[m-nourl]")))}`);
    const t = (await G.api("POST", `/api/channels/${chG}/test`)).body;
    assert(t.valid === false && /PUBLIC_URL/.test(t.error), `test button: ${scrub(JSON.stringify(t))}`);
    const refused = await postWebhook({ hostBase: G.base, url: webhookUrl(chG), token: TOKEN_A, params: inboundParams({ from, body: "No url [m-nourl2]" }) });
    eq(refused.status, 403, "a webhook without PUBLIC_URL");
  }, { timeoutMs: 150000 });

  // ── latency, interleaved, then the upgrade ──
  const latency = { old: [], new: [] };
  await check(`latency: ${LATENCY_N} signed inbound webhooks to each plugin, interleaved`, async () => {
    const fromOld = sender();
    const fromNew = sender();
    for (let i = 0; i < 5; i++) {
      await postWebhook({ hostBase: U.base, url: webhookUrl(chU), token: TOKEN_A, params: inboundParams({ from: fromOld, body: `warm ${i}` }) });
      await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: TOKEN_A, params: inboundParams({ from: fromNew, body: `warm ${i}` }) });
    }
    for (let i = 0; i < LATENCY_N; i++) {
      const pair = [[U, chU, fromOld, latency.old], [A, chA, fromNew, latency.new]];
      if (i % 2) pair.reverse();
      for (const [inst, ch, from, into] of pair) {
        const r = await postWebhook({ hostBase: inst.base, url: webhookUrl(ch), token: TOKEN_A, params: inboundParams({ from, body: `Latency ${i}` }) });
        eq(r.status, 200, "inbound");
        into.push(r.ms);
      }
    }
  }, { timeoutMs: 300000 });

  await check("the channel made under 0.5.1 keeps working after the update route installs 0.6.0", async () => {
    // The latency run queued one Agent turn per webhook: let them finish first.
    await waitFor("the Agent's queue to drain", () => U.query("SELECT count(*) AS n FROM queue_items WHERE status != 'done'")[0].n === 0, { timeoutMs: 120000, everyMs: 500 });
    const before = U.query("SELECT platform_config FROM channels WHERE id = ?", chU)[0].platform_config;
    await update(U);
    const plugins = (await U.api("GET", "/api/plugins")).body;
    const listed = (plugins.plugins ?? plugins).find((p) => p.name === "twilio-sms");
    eq(listed?.version ?? listed?.manifest?.version, "0.6.0", "installed version");
    eq(U.query("SELECT platform_config FROM channels WHERE id = ?", chU)[0].platform_config, before, "stored config");
    const after = await conversation(U, chU, { marker: "[m-upgraded]" });
    eq(after.replies[0].body, "Reply [m-upgraded]", "reply (no [Agent] prefix)");
    assert(after.replies[0].statusCallback?.startsWith(webhookUrl(chU)), "no StatusCallback");
    const forged = await postWebhook({ hostBase: U.base, url: webhookUrl(chU), token: "x".repeat(32), params: inboundParams({ from: sender(), body: "forged" }) });
    eq(forged.status, 403, "forged after the upgrade");
  }, { timeoutMs: 300000 });

  // LATENCY_CONTROL=1: the same interleaved run once both instances have this plugin (the old one's
  // instance upgraded): what the two instances differ by, whatever the plugin.
  const control = { U: [], A: [] };
  if (process.env.LATENCY_CONTROL === "1") {
    await check(`latency control: ${LATENCY_N} signed inbound webhooks to each instance, both with 0.6.0`, async () => {
      const fromU = sender();
      const fromA = sender();
      for (let i = 0; i < 5; i++) {
        await postWebhook({ hostBase: U.base, url: webhookUrl(chU), token: TOKEN_A, params: inboundParams({ from: fromU, body: `warm ${i}` }) });
        await postWebhook({ hostBase: A.base, url: webhookUrl(chA), token: TOKEN_A, params: inboundParams({ from: fromA, body: `warm ${i}` }) });
      }
      for (let i = 0; i < LATENCY_N; i++) {
        const pair = [[U, chU, fromU, control.U], [A, chA, fromA, control.A]];
        if (i % 2) pair.reverse();
        for (const [inst, ch, from, into] of pair) {
          const r = await postWebhook({ hostBase: inst.base, url: webhookUrl(ch), token: TOKEN_A, params: inboundParams({ from, body: `Control ${i}` }) });
          eq(r.status, 200, "inbound");
          into.push(r.ms);
        }
      }
    }, { timeoutMs: 300000 });
  }

  const stat = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    return { median: q(0.5), p95: q(0.95) };
  };
  if (latency.old.length && latency.new.length) {
    const o = stat(latency.old);
    const n = stat(latency.new);
    console.log(`# latency (signed inbound webhook through the host, ${latency.new.length} each, interleaved; report only):`);
    console.log(`#   old plugin (0.5.1 stand-in): median ${o.median.toFixed(2)} ms, p95 ${o.p95.toFixed(2)} ms`);
    console.log(`#   this plugin (0.6.0):         median ${n.median.toFixed(2)} ms, p95 ${n.p95.toFixed(2)} ms`);
    console.log(`#   median ratio new/old: ${(n.median / o.median).toFixed(3)}`);
  }
  if (control.U.length && control.A.length) {
    const u = stat(control.U);
    const a = stat(control.A);
    console.log(`# latency control (both instances with 0.6.0, ${control.A.length} each, interleaved):`);
    console.log(`#   the old plugin's instance, upgraded: median ${u.median.toFixed(2)} ms, p95 ${u.p95.toFixed(2)} ms`);
    console.log(`#   this plugin's instance:              median ${a.median.toFixed(2)} ms, p95 ${a.p95.toFixed(2)} ms`);
  }
} finally {
  if (failed && process.env.SHOW_HOST_LOGS !== "0") {
    for (const inst of [A, G, U]) console.log(`# ${inst.name} host log (tail, numbers masked):\n${inst.logTail(15).replace(/^/gm, "#   ")}`);
  }
  await Promise.all([A.stop(), G.stop(), U.stop()]);
  for (const s of [twilio, llm, registry, gitServer]) s.stop();
}
console.log(`# in-host suite took ${((performance.now() - started) / 1000).toFixed(1)} s`);
console.log(`hivekeep: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
