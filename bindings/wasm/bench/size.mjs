#!/usr/bin/env node
// What the .wasm is made of: section sizes, the data segments (static data such as the phone-number
// metadata), and code size per crate from the name section.
// Usage: node bindings/wasm/bench/size.mjs [path/to/module.wasm]  (default: the built package's)
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { pkgDir } from "../test/support.mjs";

const file = process.argv[2] ?? path.join(pkgDir, "twilio_sms_wasm_bg.wasm");
const buf = readFileSync(file);
let at = 8;
function leb() {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[at++];
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(byte & 0x80)) return result;
  }
}
const names = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount"];
const sections = {};
let code = null;
const functionNames = new Map();
let importedFunctions = 0;
while (at < buf.length) {
  const id = buf[at++];
  const size = leb();
  const start = at;
  let name = names[id] ?? `id${id}`;
  if (id === 0) {
    const len = leb();
    name = `custom:${buf.subarray(at, at + len).toString("utf8")}`;
    at += len;
    if (name === "custom:name") {
      const end = start + size;
      while (at < end) {
        const sub = buf[at++];
        const subSize = leb();
        const subEnd = at + subSize;
        if (sub === 1) {
          const count = leb();
          for (let i = 0; i < count; i++) {
            const index = leb();
            const nlen = leb();
            functionNames.set(index, buf.subarray(at, at + nlen).toString("utf8"));
            at += nlen;
          }
        }
        at = subEnd;
      }
    }
  } else if (id === 2) {
    const count = leb();
    for (let i = 0; i < count; i++) {
      for (let s = 0; s < 2; s++) {
        const len = leb();
        at += len;
      }
      const kind = buf[at++];
      if (kind === 0) {
        leb();
        importedFunctions++;
      } else if (kind === 1) {
        at++;
        const flags = leb();
        leb();
        if (flags & 1) leb();
      } else if (kind === 2) {
        const flags = leb();
        leb();
        if (flags & 1) leb();
      } else if (kind === 3) {
        at += 2;
      }
    }
  } else if (id === 10) {
    code = { start, size };
  }
  sections[name] = (sections[name] ?? 0) + size;
  at = start + size;
}

// Code size per function, then per crate (the first path segment of the demangled name).
const perCrate = new Map();
if (code) {
  at = code.start;
  const count = leb();
  for (let i = 0; i < count; i++) {
    const size = leb();
    const name = functionNames.get(importedFunctions + i) ?? "?";
    const trimmed = name.replace(/^<+/, "").replace(/^_?ZN/, "");
    const crate = (trimmed.match(/^([A-Za-z_][A-Za-z0-9_]*)/)?.[1] ?? "?").replace(/\[.*$/, "");
    perCrate.set(crate, (perCrate.get(crate) ?? 0) + size);
    at += size;
  }
}
const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
console.log(`${path.basename(file)}: ${kb(buf.length)} (${kb(gzipSync(buf, { level: 9 }).length)} gzipped)`);
console.log("sections:");
for (const [name, size] of Object.entries(sections).sort((a, b) => b[1] - a[1])) {
  console.log(`  ${name.padEnd(28)} ${kb(size).padStart(9)}  ${((100 * size) / buf.length).toFixed(1)}%`);
}
if (perCrate.size > 0) {
  console.log("code by crate (top 12):");
  for (const [crate, size] of [...perCrate.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    console.log(`  ${crate.padEnd(28)} ${kb(size).padStart(9)}`);
  }
}
