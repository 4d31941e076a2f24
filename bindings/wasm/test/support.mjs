// Shared by the tests and the benchmark: where the package and the fixtures are, and the corpus
// reader (the same request construction as the crate's tests/support/corpus.rs).
import { createHmac } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, "..", "..", "..");
export const pkgDir = process.env.PKG_DIR ? path.resolve(process.env.PKG_DIR) : path.resolve(here, "..", "pkg");
export const fixtures = path.join(root, "tests", "fixtures");

/** Loads the built package the way the plugin does: an ES module import of pkg/index.js. */
export async function loadPackage() {
  const entry = path.join(pkgDir, "index.js");
  if (!existsSync(entry)) throw new Error(`no package at ${pkgDir}: run bindings/wasm/build.sh first`);
  return import(entry);
}

/** The full public corpus when it is beside the checkout (or $CORPUS), else null. */
export function fullCorpusPath() {
  const candidates = [process.env.CORPUS, path.join(root, "..", "shared", "conformance", "corpus.jsonl")];
  return candidates.find((p) => p && existsSync(p)) ?? null;
}

export function readJsonLines(file) {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** The request of `c` with the overrides of `check` applied (corpus format: twilio-signature.md §6.2). */
export function request(c, check) {
  const method = c.method === "GET" ? "GET" : "POST";
  const url = check.received_url ?? c.url;
  let body = typeof check.body === "string" ? check.body : typeof c.body === "string" ? c.body : "";
  if (Array.isArray(check.segment_order)) {
    const segments = body.split("&");
    body = check.segment_order.map((i) => segments[i]).filter((s) => s !== undefined).join("&");
  }
  if (typeof check.body_suffix === "string") body += check.body_suffix;
  const headers = {};
  if (c.content_type) headers["content-type"] = c.content_type;
  const signature = "signature" in check ? check.signature : c.signature;
  if (typeof signature === "string") headers["x-twilio-signature"] = signature;
  const token = check.verifier_token ?? c.token;
  return { method, url, headers, body: Buffer.from(body, "utf8"), token };
}

/** Splits an absolute URL into (origin, path-and-query) when it has a path; null otherwise. */
export function splitUrl(url) {
  const start = url.indexOf("://") + 3;
  const slash = url.indexOf("/", start);
  const query = url.indexOf("?", start);
  if (slash < 0 || (query >= 0 && query < slash)) return null;
  return { publicUrl: url.slice(0, slash), target: url.slice(slash) };
}

/** Twilio's signature over a URL and form parameters (keys in byte order, each key's distinct values in
 * byte order). */
export function sign(token, url, params) {
  const keys = [...new Set(params.map(([k]) => k))].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  let data = url;
  for (const k of keys) {
    const values = [...new Set(params.filter(([n]) => n === k).map(([, v]) => v))];
    values.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const v of values) data += k + v;
  }
  return createHmac("sha1", token).update(data, "utf8").digest("base64");
}

// The test channel the JS tests share: its id, account, token, numbers, public URL and stored config.
export const ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
export const AC = "AC0123456789abcdef0123456789abcdef";
export const TOKEN = "0123456789abcdef0123456789abcdef";
export const FROM = "+14155550100";
export const USER = "+14155550142";
export const SM1 = "SM11111111111111111111111111111111";
export const PUBLIC = "https://agents.example.com";
export const PATH = `/api/channels/plugin/twilio-sms/webhook/${ID}`;
export const CONFIG = { accountSid: AC, authTokenVaultKey: `channel_twilio-sms_${ID}_authToken`, fromNumber: FROM };
