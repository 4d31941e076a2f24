// Conformance through the built WebAssembly package: the official SDKs' vectors and the signed-request
// corpus must get exactly the native crate's strict verdicts (`check.strict_ref`, `expect`), and the
// same rejection reasons (`strict_reason`), by every path: the host MAC (node:crypto) and the wasm MAC,
// at the exact URL and as PUBLIC_URL + path and query.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fixtures, fullCorpusPath, loadPackage, readJsonLines, request, root, splitUrl } from "./support.mjs";

const pkg = await loadPackage();
pkg.load();
const { core } = pkg;

const FORM = "application/x-www-form-urlencoded";
const DUMMY_SIGNATURE = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";

function formBody(params) {
  return new URLSearchParams(params).toString();
}

/** Verifies with the host MAC (node:crypto) through a reusable low-level verifier. */
function hostVerify(verifier, { url, method, headers, body }, tokens) {
  const sig = headers["x-twilio-signature"];
  const data = verifier.prepareUrl(url, method, sig, headers["content-type"], false, body);
  return verifier.finish(macFor(verifier, data, sig, tokens));
}

function macFor(verifier, data, sig, tokens) {
  if (data.length === 0) return undefined;
  const tag = Buffer.from(sig, "base64");
  for (const candidate of [data, null]) {
    const bytes = candidate ?? verifier.variantData();
    for (const t of tokens) {
      const mac = createHmac("sha1", t).update(bytes).digest();
      if (mac.equals(tag)) return mac;
    }
  }
  return undefined;
}

test("every SDK vector gets its strict verdict", () => {
  const vectors = JSON.parse(readFileSync(path.join(fixtures, "sdk_vectors.json"), "utf8"));
  assert.equal(vectors.length, 94);
  const verifier = new core.Verifier();
  const failures = [];
  vectors.forEach((v, i) => {
    let expected;
    let got;
    if (v.kind === "body_hash") {
      // A JSON POST to a URL carrying the hash, without a signature: the core checks the hash first.
      expected = v.check.matches;
      const url = `https://example.com/hook?bodySHA256=${encodeURIComponent(v.signature)}`;
      verifier.prepareUrl(url, "POST", undefined, "application/json", false, Buffer.from(v.body, "utf8"));
      const reason = verifier.finish(undefined);
      got = reason === "signature: missing X-Twilio-Signature header";
      // The same answer as Node's own SHA-256.
      assert.equal(got, createHash("sha256").update(v.body, "utf8").digest("hex") === v.signature, `vector ${i}`);
    } else if (v.kind === "compute") {
      // The data string from the core, signed with node:crypto, compared with the vector's signature.
      expected = v.check.strict_ref;
      const body = Buffer.from(formBody(v.params), "utf8");
      const data = verifier.prepareUrl(v.url, "POST", DUMMY_SIGNATURE, FORM, false, body);
      verifier.finish(undefined);
      got = createHmac("sha1", v.token).update(data).digest("base64") === v.signature;
    } else {
      expected = v.check.strict_ref;
      const headers = {};
      if (typeof v.signature === "string") headers["x-twilio-signature"] = v.signature;
      let body;
      if (typeof v.body === "string") {
        headers["content-type"] = v.url.includes("bodySHA256=") ? "application/json" : FORM;
        body = v.body;
      } else {
        headers["content-type"] = FORM;
        body = formBody(v.params);
      }
      const req = { url: v.url, method: "POST", headers, body: Buffer.from(body, "utf8") };
      const host = hostVerify(verifier, req, [v.token]);
      const inWasm = pkg.verifyRequest(req, [v.token], { mac: "wasm" });
      assert.equal(host, inWasm, `vector ${i}: host and wasm MAC paths disagree`);
      got = host === undefined;
    }
    if (expected !== got) failures.push(`vector ${i} (${v.kind}, ${v.note}): expected ${expected}, got ${got}`);
  });
  verifier.free();
  assert.deepEqual(failures, []);
});

/**
 * The native crate's own per-check verdicts on the full corpus, when `.ci/run` (or
 * `cargo run --release --example conformance -- CORPUS > target/conformance.out`) wrote them.
 */
function readNativeVerdicts() {
  const file = process.env.NATIVE_VERDICTS ?? path.join(root, "target", "conformance.out");
  if (!existsSync(file)) return null;
  const verdicts = new Map();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [id, name, verdict] = line.split("\t");
    if (verdict === "accept" || verdict === "reject") verdicts.set(`${id}\t${name}`, verdict === "accept");
  }
  return verdicts;
}

/**
 * Runs every check of every case by three paths: the host MAC at the exact URL, the wasm MAC (the
 * native `WebhookVerifier::verify`, compiled to wasm), and the host MAC at PUBLIC_URL + target. The
 * verdict must be `expect`, the native run's verdict when there is one, and the reasons of the three
 * paths the same.
 */
function runCorpus(cases, nativeVerdicts = null) {
  const verifier = new core.Verifier();
  const wasmVerifiers = new Map();
  const out = { checks: 0, accepted: 0, viaPublicUrl: 0, againstNative: 0, failures: [] };
  for (const c of cases) {
    for (const check of c.checks) {
      const req = request(c, check);
      const sig = req.headers["x-twilio-signature"];
      const ct = req.headers["content-type"];
      const host = hostVerify(verifier, req, [req.token]);
      let w = wasmVerifiers.get(req.token);
      if (!w) {
        w = new core.Verifier();
        w.setTokens(req.token);
        wasmVerifiers.set(req.token, w);
      }
      const inWasm = w.verifyUrl(req.url, req.method, sig, ct, false, req.body);
      const split = splitUrl(req.url);
      let viaPublic = host;
      if (split) {
        out.viaPublicUrl++;
        const data = verifier.prepare(split.publicUrl, split.target, req.method, sig, ct, false, req.body);
        viaPublic = verifier.finish(macFor(verifier, data, sig, [req.token]));
      }
      out.checks++;
      const accepted = host === undefined;
      if (accepted) out.accepted++;
      const where = `case ${c.id} ${check.name}`;
      if (accepted !== check.expect) out.failures.push(`${where}: expected ${check.expect}, got ${accepted} (${host})`);
      const native = nativeVerdicts?.get(`${c.id}\t${check.name}`);
      if (native !== undefined && native !== accepted) out.failures.push(`${where}: native ${native}, wasm ${accepted}`);
      if (native !== undefined) out.againstNative++;
      if (inWasm !== host) out.failures.push(`${where}: wasm MAC ${inWasm} != host MAC ${host}`);
      if (viaPublic !== host) out.failures.push(`${where}: PUBLIC_URL path ${viaPublic} != exact URL ${host}`);
    }
  }
  verifier.free();
  for (const w of wasmVerifiers.values()) w.free();
  return out;
}

test("the corpus subset gets the strict verdicts and reasons by every path", (t) => {
  const cases = readJsonLines(path.join(fixtures, "corpus_subset.jsonl"));
  const out = runCorpus(cases);
  assert.ok(out.checks > 1500, `the fixture holds ${out.checks} checks`);
  assert.ok(out.accepted > 500 && out.accepted < out.checks - 500, "both verdicts are exercised");
  assert.ok(out.viaPublicUrl > 1000, "most checks also go through PUBLIC_URL + target");
  assert.deepEqual(out.failures.slice(0, 20), []);
  t.diagnostic(`corpus subset: ${out.checks} checks, ${out.accepted} accepted, identical to the native verdicts`);
});

const full = fullCorpusPath();
test("the full public corpus gets the strict verdicts", { skip: full ? false : "corpus.jsonl not present" }, (t) => {
  const native = readNativeVerdicts();
  const out = runCorpus(readJsonLines(full), native);
  assert.ok(out.checks > 9000, `the corpus holds ${out.checks} checks`);
  assert.deepEqual(out.failures.slice(0, 20), []);
  const compared = native ? `, ${out.againstNative} compared one by one with the native run` : "";
  t.diagnostic(`full corpus: ${out.checks} checks, ${out.accepted} accepted, identical verdicts${compared}`);
});

/** The parameter part of the data string by a plain reading of the form body, or null when refused. */
function referenceParams(body) {
  const bytes = Buffer.from(body, "latin1");
  const isHex = (b) => b !== undefined && /[0-9a-fA-F]/.test(String.fromCharCode(b));
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x25 && !(isHex(bytes[i + 1]) && isHex(bytes[i + 2]))) return null;
  }
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const unescape = (piece) => {
    const out = [];
    for (let i = 0; i < piece.length; i++) {
      if (piece[i] === 0x25) {
        out.push(parseInt(String.fromCharCode(piece[i + 1], piece[i + 2]), 16));
        i += 2;
      } else out.push(piece[i] === 0x2b ? 0x20 : piece[i]);
    }
    return Buffer.from(utf8.decode(Uint8Array.from(out)), "utf8");
  };
  const pairs = [];
  let start = 0;
  try {
    for (let end = 0; end <= bytes.length; end++) {
      if (end < bytes.length && bytes[end] !== 0x26) continue;
      const segment = bytes.subarray(start, end);
      start = end + 1;
      if (segment.length === 0) continue;
      const eq = segment.indexOf(0x3d);
      const [name, value] = eq < 0 ? [segment, segment.subarray(0, 0)] : [segment.subarray(0, eq), segment.subarray(eq + 1)];
      pairs.push([unescape(name), unescape(value)]);
    }
  } catch {
    return null; // invalid UTF-8
  }
  pairs.sort(([k1, v1], [k2, v2]) => Buffer.compare(k1, k2) || Buffer.compare(v1, v2));
  const kept = pairs.filter((p, i) => i === 0 || !(p[0].equals(pairs[i - 1][0]) && p[1].equals(pairs[i - 1][1])));
  return Buffer.concat(kept.flat());
}

test("the form decoder (the module's SIMD one) gives a plain reading's data string at every offset", (t) => {
  const verifier = new core.Verifier();
  const url = "https://example.com/hook";
  const bodies = [];
  for (let len = 1; len < 80; len++) {
    for (let at = 0; at < len; at++) {
      for (const insert of ["%41", "%c3%a9", "%E2%82%AC", "&", "=", "%", "%4", "+", "%2B", "%26", "%3d", "%ZZ", "%C3", "\xff"]) {
        bodies.push("x".repeat(at) + insert + "x".repeat(len - at - 1));
      }
    }
  }
  // Random bodies of Twilio-like pieces, some malformed (xorshift, fixed seed).
  let seed = 0x9e3779b9;
  const next = (n) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const pieces = ["&", "=", "+", "a", "Body", "%C3%A9", "%e2%82%ac", "%F0%9F%98%82", "%26", "%3D", "%2B", "%", "%4", "%FF", "%C0%AF"];
  for (let i = 0; i < 3000; i++) {
    let body = "";
    const len = next(400);
    while (body.length < len) body += pieces[next(i % 3 === 0 ? pieces.length : 11)];
    bodies.push(body);
  }
  let accepted = 0;
  for (const body of bodies) {
    const expected = referenceParams(body);
    const data = verifier.prepareUrl(url, "POST", DUMMY_SIGNATURE, FORM, false, Buffer.from(body, "latin1"));
    const reason = verifier.finish(undefined);
    if (expected === null) {
      assert.equal(data.length, 0, `${JSON.stringify(body)} is refused (${reason})`);
    } else {
      accepted++;
      assert.equal(Buffer.from(data).toString("latin1"), Buffer.concat([Buffer.from(url), expected]).toString("latin1"), JSON.stringify(body));
    }
  }
  verifier.free();
  assert.ok(accepted > bodies.length / 3 && accepted < bodies.length - 5000, `${accepted} of ${bodies.length} accepted`);
  t.diagnostic(`form decoder: ${bodies.length} bodies, ${accepted} decoded like the plain reading, the rest refused alike`);
});
