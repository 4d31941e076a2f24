#!/usr/bin/env node
// Cold start of the package, as the plugin pays it (run with node or bun; each run is one fresh
// process): read the .wasm, compile, instantiate, the first verification, the first phone-number
// check; then the same first calls in a process that called warmUp() at activation.
// Usage: node bindings/wasm/bench/coldstart.mjs [--warm]   (prints one JSON object)
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { pkgDir } from "../test/support.mjs";

const warm = process.argv.includes("--warm");
const ms = (a, b) => +(b - a).toFixed(2);
const t0 = performance.now();
const pkg = await import(path.join(pkgDir, "index.js"));
const t1 = performance.now();
const bytes = readFileSync(path.join(pkgDir, "twilio_sms_wasm_bg.wasm"));
const t2 = performance.now();
const module = new WebAssembly.Module(bytes);
const t3 = performance.now();
pkg.load(module);
const t4 = performance.now();
let warmUpMs = null;
if (warm) {
  const w = pkg.warmUp();
  warmUpMs = +w.warmUpMs.toFixed(2);
}
const t5 = performance.now();

const ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const TOKEN = "0123456789abcdef0123456789abcdef";
const target = `/api/channels/plugin/twilio-sms/webhook/${ID}`;
const params = [["AccountSid", "AC0123456789abcdef0123456789abcdef"], ["Body", "Hello"], ["From", "+14155550142"], ["MessageSid", "SM" + "1".repeat(32)], ["To", "+14155550100"]];
const signature = createHmac("sha1", TOKEN).update("https://agents.example.com" + target + params.map(([k, v]) => k + v).join("")).digest("base64");
const config = { accountSid: params[0][1], authTokenVaultKey: "k", fromNumber: "+14155550100" };
const t6 = performance.now();
// The channel checks its fromNumber with the phone-number metadata: the first phone-number use.
const channel = new pkg.TwilioSmsChannel(ID, config, { publicUrl: "https://agents.example.com" });
const t7 = performance.now();
const outcome = channel.verify(
  { target, headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature }, body: new URLSearchParams(params).toString() },
  [TOKEN],
);
const t8 = performance.now();
if (!outcome.verified) throw new Error("coldstart: the webhook was not verified");
const other = pkg.isValidPhone("+447911123456");
const t9 = performance.now();

console.log(
  JSON.stringify({
    runtime: typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.version}`,
    warmedUp: warm,
    import_js_ms: ms(t0, t1),
    read_wasm_ms: ms(t1, t2),
    compile_ms: ms(t2, t3),
    instantiate_ms: ms(t3, t4),
    warm_up_ms: warmUpMs,
    first_channel_with_phone_check_ms: ms(t6, t7),
    first_verification_ms: ms(t7, t8),
    first_phone_check_other_region_ms: ms(t8, t9),
    other_valid: other,
    total_ms: ms(t0, t9),
  }),
);
