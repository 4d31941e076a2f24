// Stand-ins on 127.0.0.1 for what the host would reach on the internet: Twilio's REST API (and Twilio
// itself, which signs and posts webhooks), an OpenAI-compatible LLM, a one-package npm registry and a
// git smart-HTTP server. Run under Bun by suite.mjs.
import { createHmac, randomBytes } from "node:crypto";

const hex = (n) => randomBytes(n).toString("hex");
export const newSid = (prefix) => prefix + hex(16);

/** Twilio's signature: HMAC-SHA1 over the URL and each parameter (sorted by name) name+value. */
export function twilioSignature(token, url, params) {
  const sorted = [...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const data = url + sorted.map(([k, v]) => k + v).join("");
  return createHmac("sha1", token).update(data).digest("base64");
}

// ─── Twilio ──────────────────────────────────────────────────────────────────────────────────────

/**
 * Twilio's REST API as the plugins use it: accounts, incoming numbers, message creation (recorded), and
 * media. `accounts` maps an Account SID to `{token, friendlyName, numbers: [phone], status}`.
 * `script(to)` returns the answers for the next message creations to that number (e.g. a 500, or a 429
 * with Retry-After), used up in order; an answer may have a `before` hook run before it is sent.
 */
export function startTwilio({ accounts }) {
  const messages = []; // every POST to Messages.json: {sid|null, status, accountSid, params, at}
  const scripts = new Map(); // to → [answers]
  const mediaRequests = [];
  // Each owned number's SID and "A message comes in" webhook (empty until set), and every update of one.
  const numbers = new Map(); // phone → {sid, smsUrl}
  const numberUpdates = [];
  const numberOf = (phone) => {
    if (!numbers.has(phone)) numbers.set(phone, { sid: "PN" + hex(16), smsUrl: "" });
    return numbers.get(phone);
  };
  const json = (status, value, headers = {}) =>
    new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", ...headers } });
  const authorised = (request, sid) => {
    const account = accounts[sid];
    if (!account) return false;
    const header = request.headers.get("authorization") ?? "";
    const [user, secret] = Buffer.from(header.replace(/^Basic /, ""), "base64").toString("utf8").split(":");
    return user === sid && secret === account.token;
  };
  const unauthorised = () => json(401, { code: 20003, message: "Authenticate", more_info: "https://www.twilio.com/docs/errors/20003", status: 401 });

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      let m = url.pathname.match(/^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})(\.json|\/.*)$/);
      if (!m) return json(404, { code: 20404, message: "not found", status: 404 });
      const [, sid, rest] = m;
      if (rest.startsWith("/Messages/") && rest.includes("/Media/") && request.method === "GET") {
        mediaRequests.push({ at: Date.now(), path: url.pathname });
        return new Response(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), { headers: { "content-type": "image/png" } });
      }
      if (!authorised(request, sid)) return unauthorised();
      const account = accounts[sid];
      if (rest === ".json" && request.method === "GET") {
        return json(200, { sid, friendly_name: account.friendlyName, status: account.status ?? "active", type: "Full" });
      }
      if (rest === "/IncomingPhoneNumbers.json" && request.method === "GET") {
        const wanted = url.searchParams.get("PhoneNumber");
        const list = account.numbers
          .filter((n) => !wanted || n === wanted)
          .map((n) => ({ sid: numberOf(n).sid, phone_number: n, capabilities: { sms: true, mms: true, voice: true }, sms_url: numberOf(n).smsUrl, sms_method: "POST" }));
        return json(200, { incoming_phone_numbers: list, page: 0, page_size: 50 });
      }
      m = rest.match(/^\/IncomingPhoneNumbers\/(PN[0-9a-f]{32})\.json$/);
      if (m && request.method === "POST") {
        const phone = account.numbers.find((n) => numberOf(n).sid === m[1]);
        if (!phone) return json(404, { code: 20404, message: "not found", status: 404 });
        const params = new URLSearchParams(await request.text());
        numberUpdates.push({ phone, smsUrl: params.get("SmsUrl"), smsMethod: params.get("SmsMethod"), at: Date.now() });
        if (params.has("SmsUrl")) numberOf(phone).smsUrl = params.get("SmsUrl");
        return json(200, { sid: m[1], phone_number: phone, sms_url: numberOf(phone).smsUrl, sms_method: params.get("SmsMethod") ?? "POST" });
      }
      if (rest === "/Messages.json" && request.method === "POST") {
        const params = [...new URLSearchParams(await request.text())];
        const get = (k) => params.find(([name]) => name === k)?.[1];
        const to = get("To");
        const queue = scripts.get(to) ?? [];
        const answer = queue.shift();
        const media = params.filter(([name]) => name === "MediaUrl").map(([, value]) => value);
        const record = { sid: null, status: 0, accountSid: sid, params, at: Date.now(), to, body: get("Body") ?? "", media, statusCallback: get("StatusCallback") };
        messages.push(record);
        if (answer?.before) await answer.before(record);
        if (answer && answer.status !== 201) {
          record.status = answer.status;
          const headers = answer.retryAfter != null ? { "retry-after": String(answer.retryAfter) } : {};
          return json(answer.status, { code: answer.code ?? (answer.status === 429 ? 20429 : 20500), message: answer.message ?? "stand-in failure", status: answer.status }, headers);
        }
        record.sid = newSid("SM");
        record.status = 201;
        if (answer?.after) await answer.after(record);
        const body = record.body;
        return json(201, {
          sid: record.sid, account_sid: sid, to, from: get("From"), body, status: "queued",
          num_segments: String(Math.max(1, Math.ceil(body.length / 153))), num_media: String(record.media.length), direction: "outbound-api",
          date_created: new Date().toUTCString(), uri: `/2010-04-01/Accounts/${sid}/Messages/${record.sid}.json`,
        });
      }
      return json(404, { code: 20404, message: "not found", status: 404 });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    messages,
    mediaRequests,
    /** The answers for the next message creations to `to`. */
    script(to, answers) {
      scripts.set(to, [...(scripts.get(to) ?? []), ...answers]);
    },
    created: () => messages.filter((m) => m.sid),
    /** A number's "A message comes in" webhook, as its owner would set it in the Console. */
    setSmsUrl: (phone, url) => {
      numberOf(phone).smsUrl = url;
    },
    smsUrl: (phone) => numberOf(phone).smsUrl,
    numberUpdates,
    stop: () => server.stop(true),
  };
}

/** Posts a webhook as Twilio does: signed over `publicUrl`, sent to the host's loopback address. */
export async function postWebhook({ hostBase, url, token, params, signature, headers = {}, timeoutMs = 30000 }) {
  const target = new URL(url);
  const sig = signature === undefined ? twilioSignature(token, url, params) : signature;
  const h = { "content-type": "application/x-www-form-urlencoded; charset=utf-8", "i-twilio-idempotency-token": crypto.randomUUID(), ...headers };
  if (sig !== null) h["x-twilio-signature"] = sig;
  const started = performance.now();
  const response = await fetch(hostBase + target.pathname + target.search, {
    method: "POST",
    headers: h,
    body: new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  return { status: response.status, text, contentType: response.headers.get("content-type"), ms: performance.now() - started };
}

// ─── LLM ─────────────────────────────────────────────────────────────────────────────────────────

/**
 * An OpenAI-compatible LLM. The answer to a chat is `reply(lastUserText, body)`: a string, or
 * `{toolCalls: [{name, arguments}]}` for tool calls (or a promise of either, which lets a test hold an
 * answer). Every request body is kept (the prompts the Agent saw).
 */
export function startLlm({ reply }) {
  const requests = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname.endsWith("/models")) {
        return Response.json({ object: "list", data: [{ id: "standin-1", object: "model", created: 0, owned_by: "test" }] });
      }
      if (url.pathname.endsWith("/embeddings")) {
        const body = await request.json();
        const inputs = Array.isArray(body.input) ? body.input : [body.input];
        return Response.json({ object: "list", model: body.model, data: inputs.map((_, index) => ({ object: "embedding", index, embedding: Array.from({ length: 8 }, (_, i) => (i + 1) / 10) })), usage: { prompt_tokens: 1, total_tokens: 1 } });
      }
      if (!url.pathname.endsWith("/chat/completions")) return new Response("not found", { status: 404 });
      const body = await request.json();
      requests.push(body);
      const text = lastUserText(body.messages ?? []);
      const answer = await reply(text, body);
      const id = "chatcmpl-" + hex(6);
      const usage = { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 };
      // A string is the answer's text; `{toolCalls: [{name, arguments}]}` asks the host to call tools.
      const calls = typeof answer === "string" ? undefined : answer.toolCalls.map((c, i) => ({ index: i, id: `call_${hex(4)}`, type: "function", function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));
      const content = calls ? null : answer;
      const finish = calls ? "tool_calls" : "stop";
      if (!body.stream) {
        const message = calls ? { role: "assistant", content, tool_calls: calls.map(({ index, ...c }) => c) } : { role: "assistant", content };
        return Response.json({ id, object: "chat.completion", created: 0, model: body.model, choices: [{ index: 0, message, finish_reason: finish }], usage });
      }
      const chunk = (delta, finish) => `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 0, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      const first = calls ? { role: "assistant", content: null, tool_calls: calls } : { role: "assistant", content };
      const sse = chunk(first, null) + chunk({}, finish) +
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 0, model: body.model, choices: [], usage })}\n\n` + "data: [DONE]\n\n";
      return new Response(sse, { headers: { "content-type": "text/event-stream" } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, requests, stop: () => server.stop(true) };
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p === "string" ? p : (p?.text ?? ""))).join("\n");
  return "";
}

function lastUserText(messages) {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i].role === "user") return textOf(messages[i].content);
  return "";
}

// ─── npm registry ────────────────────────────────────────────────────────────────────────────────

/** A registry serving packed tarballs: `publish(name, version, tarballPath)`; `latest` follows the last. */
export function startRegistry() {
  const packages = new Map(); // name → {versions: Map(version → {tarball bytes, manifest}), latest}
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const path = decodeURIComponent(url.pathname).replace(/^\//, "");
      const tarball = path.match(/^(.+)\/-\/(.+)-(\d+\.\d+\.\d+)\.tgz$/);
      if (tarball) {
        const pkg = packages.get(tarball[1]);
        const version = pkg?.versions.get(tarball[3]);
        return version ? new Response(version.bytes, { headers: { "content-type": "application/octet-stream" } }) : new Response("not found", { status: 404 });
      }
      const pkg = packages.get(path);
      if (!pkg) return Response.json({ error: "not_found" }, { status: 404 });
      const versions = {};
      for (const [version, entry] of pkg.versions) {
        versions[version] = { ...entry.manifest, name: path, version, dist: { tarball: `http://127.0.0.1:${server.port}/${path}/-/${path}-${version}.tgz`, integrity: entry.integrity } };
      }
      return Response.json({ name: path, "dist-tags": { latest: pkg.latest }, versions });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/`,
    async publish(name, version, tarballPath, manifest = {}) {
      const bytes = new Uint8Array(await Bun.file(tarballPath).arrayBuffer());
      const integrity = "sha512-" + new Bun.CryptoHasher("sha512").update(bytes).digest("base64");
      if (!packages.has(name)) packages.set(name, { versions: new Map(), latest: version });
      const pkg = packages.get(name);
      pkg.versions.set(version, { bytes, integrity, manifest });
      pkg.latest = version;
    },
    stop: () => server.stop(true),
  };
}

// ─── git ─────────────────────────────────────────────────────────────────────────────────────────

/** Serves the bare repositories under `root` over git's smart HTTP protocol (`git http-backend`). */
export function startGitServer(root) {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const body = request.method === "POST" ? new Uint8Array(await request.arrayBuffer()) : undefined;
      const proc = Bun.spawn(["git", "http-backend"], {
        env: {
          PATH: process.env.PATH, GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: "1",
          REQUEST_METHOD: request.method, PATH_INFO: decodeURIComponent(url.pathname), QUERY_STRING: url.search.replace(/^\?/, ""),
          CONTENT_TYPE: request.headers.get("content-type") ?? "", CONTENT_LENGTH: body ? String(body.length) : "0",
          GIT_PROTOCOL: request.headers.get("git-protocol") ?? "", REMOTE_ADDR: "127.0.0.1",
        },
        stdin: body ?? "ignore",
        stdout: "pipe",
        stderr: "ignore",
      });
      const out = new Uint8Array(await new Response(proc.stdout).arrayBuffer());
      await proc.exited;
      let split = -1;
      for (let i = 0; i + 3 < out.length; i++) {
        if (out[i] === 13 && out[i + 1] === 10 && out[i + 2] === 13 && out[i + 3] === 10) { split = i; break; }
      }
      if (split < 0) return new Response("git http-backend gave no headers", { status: 500 });
      const head = new TextDecoder().decode(out.subarray(0, split));
      const headers = new Headers();
      let status = 200;
      for (const line of head.split("\r\n")) {
        const at = line.indexOf(":");
        if (at < 0) continue;
        const name = line.slice(0, at).trim();
        const value = line.slice(at + 1).trim();
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
        else headers.append(name, value);
      }
      return new Response(out.subarray(split + 4), { status, headers });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
