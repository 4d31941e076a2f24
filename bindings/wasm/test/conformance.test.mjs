// Conformance through the built WebAssembly package's public API: the official SDKs' vectors and the
// signed-request corpus must get exactly the native crate's strict verdicts (`check.strict_ref`,
// `expect`), and the same rejection reasons, at the exact URL and as PUBLIC_URL + path and query
// (`verifyRequest`; the MAC is computed in the core).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fixtures, fullCorpusPath, loadPackage, readJsonLines, request, root, splitUrl } from "./support.mjs";

const pkg = await loadPackage();
pkg.load();

const FORM = "application/x-www-form-urlencoded";
const DUMMY_SIGNATURE = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const TOKEN = "0123456789abcdef0123456789abcdef";

function formBody(params) {
  return new URLSearchParams(params).toString();
}

test("every SDK vector gets its strict verdict", () => {
  const vectors = JSON.parse(readFileSync(path.join(fixtures, "sdk_vectors.json"), "utf8"));
  assert.equal(vectors.length, 94);
  const failures = [];
  vectors.forEach((v, i) => {
    let expected;
    let got;
    if (v.kind === "body_hash") {
      // A JSON POST to a URL carrying the hash, without a signature: the core checks the hash first.
      expected = v.check.matches;
      const url = `https://example.com/hook?bodySHA256=${encodeURIComponent(v.signature)}`;
      const headers = { "content-type": "application/json" };
      const reason = pkg.verifyRequest({ url, headers, body: Buffer.from(v.body, "utf8") }, [TOKEN]);
      got = reason === "signature: missing X-Twilio-Signature header";
      // The same answer as Node's own SHA-256.
      assert.equal(got, createHash("sha256").update(v.body, "utf8").digest("hex") === v.signature, `vector ${i}`);
    } else if (v.kind === "compute") {
      // The vector's signature over its URL and parameters, checked by the core under its token.
      expected = v.check.strict_ref;
      const headers = { "content-type": FORM, "x-twilio-signature": v.signature };
      got = pkg.verifyRequest({ url: v.url, headers, body: Buffer.from(formBody(v.params), "utf8") }, [v.token]) === undefined;
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
      got = pkg.verifyRequest(req, [v.token]) === undefined;
    }
    if (expected !== got) failures.push(`vector ${i} (${v.kind}, ${v.note}): expected ${expected}, got ${got}`);
  });
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
 * Runs every check of every case by two paths: at the exact URL, and at PUBLIC_URL + target (the
 * native `WebhookVerifier::verify`, compiled to wasm, both). The verdict must be `expect`, the native
 * run's verdict when there is one, and the reasons of the two paths the same.
 */
function runCorpus(cases, nativeVerdicts = null) {
  const out = { checks: 0, accepted: 0, viaPublicUrl: 0, againstNative: 0, failures: [] };
  for (const c of cases) {
    for (const check of c.checks) {
      const req = request(c, check);
      const exact = pkg.verifyRequest(req, [req.token]);
      const split = splitUrl(req.url);
      let viaPublic = exact;
      if (split) {
        out.viaPublicUrl++;
        viaPublic = pkg.verifyRequest({ ...req, url: undefined, publicUrl: split.publicUrl, target: split.target }, [req.token]);
      }
      out.checks++;
      const accepted = exact === undefined;
      if (accepted) out.accepted++;
      const where = `case ${c.id} ${check.name}`;
      if (accepted !== check.expect) out.failures.push(`${where}: expected ${check.expect}, got ${accepted} (${exact})`);
      const native = nativeVerdicts?.get(`${c.id}\t${check.name}`);
      if (native !== undefined && native !== accepted) out.failures.push(`${where}: native ${native}, wasm ${accepted}`);
      if (native !== undefined) out.againstNative++;
      if (viaPublic !== exact) out.failures.push(`${where}: PUBLIC_URL path ${viaPublic} != exact URL ${exact}`);
    }
  }
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
    // Signed over the plain reading's data string: the core verifies it only if its decoder built the
    // same bytes, and refuses what the plain reading refuses for a form error, before the MAC.
    const expected = referenceParams(body);
    const signature = expected === null ? DUMMY_SIGNATURE : createHmac("sha1", TOKEN).update(Buffer.concat([Buffer.from(url), expected])).digest("base64");
    const headers = { "content-type": FORM, "x-twilio-signature": signature };
    const reason = pkg.verifyRequest({ url, headers, body: Buffer.from(body, "latin1") }, [TOKEN]);
    if (expected === null) {
      assert.match(reason ?? "verified", /^form: /, `${JSON.stringify(body)} is refused by the decoder`);
    } else {
      accepted++;
      assert.equal(reason, undefined, JSON.stringify(body));
    }
  }
  assert.ok(accepted > bodies.length / 3 && accepted < bodies.length - 5000, `${accepted} of ${bodies.length} accepted`);
  t.diagnostic(`form decoder: ${bodies.length} bodies, ${accepted} decoded like the plain reading, the rest refused alike`);
});
