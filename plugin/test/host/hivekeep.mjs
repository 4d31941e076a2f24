// Boots instances of the real Hivekeep host (from $HIVEKEEP_HOST_DIR, prepared by its setup.sh) on
// 127.0.0.1, drives them over their REST API and reads their database. Run under Bun by suite.mjs.
import { Database } from "bun:sqlite";
import { mkdirSync, symlinkSync, existsSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";

const HOST_DIR = process.env.HIVEKEEP_HOST_DIR;
const PRELOAD = new URL("./preload.mjs", import.meta.url).pathname;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a truthy value, at most `timeoutMs`; throws `what` when it does not. */
export async function waitFor(what, probe, { timeoutMs = 30000, everyMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (${last.message})` : ""}`);
}

async function freePort() {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = server.port;
  server.stop(true);
  return port;
}

/** Masks digit runs that could be phone numbers, and anything that looks like a token, in log output. */
export function scrub(text) {
  return String(text).replace(/\x1b\[[0-9;]*m/g, "").replace(/\+?\d[\d ()-]{5,}\d/g, "<number>").replace(/\b[0-9a-f]{32}\b/g, "<hex>");
}

export class Instance {
  constructor(name, root, { env = {} } = {}) {
    this.name = name;
    this.dir = join(root, name);
    this.env = env;
    this.proc = undefined;
    this.cookie = "";
  }

  get pluginsDir() {
    return join(this.dir, "plugins");
  }

  get dbPath() {
    return join(this.dir, "data", "hivekeep.db");
  }

  /** Boots the host (migrations run on boot) and waits for /api/health. `env` overrides per boot. */
  async boot({ env = {}, timeoutMs = 60000 } = {}) {
    mkdirSync(join(this.dir, "data"), { recursive: true });
    mkdirSync(this.pluginsDir, { recursive: true });
    for (const entry of ["src", "node_modules", "packages", "package.json", "tsconfig.json", "bunfig.toml"]) {
      const link = join(this.dir, entry);
      if (!existsSync(link) && existsSync(join(HOST_DIR, entry))) symlinkSync(join(HOST_DIR, entry), link);
    }
    this.port ??= await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    const merged = {
      ...process.env,
      PORT: String(this.port), HOST: "127.0.0.1",
      HIVEKEEP_DATA_DIR: join(this.dir, "data"), DB_PATH: this.dbPath,
      BETTER_AUTH_SECRET: "test-only-secret-of-more-than-32-characters-0000",
      HIVEKEEP_TERMINAL_ENABLED: "false", VERSION_CHECK_ENABLED: "false", HIVEKEEP_MODEL_REGISTRY: "false",
      WEB_BROWSING_HEADLESS_ENABLED: "false", BROWSER_SESSIONS_ENABLED: "false", MINI_APPS_BACKEND_ENABLED: "false",
      HIVEKEEP_EXTERNAL_API_ENABLED: "false", NODE_ENV: "development", NO_COLOR: "1", LOG_LEVEL: process.env.HOST_LOG_LEVEL ?? "info",
      npm_config_cache: join(this.dir, "npm-cache"), npm_config_update_notifier: "false", GIT_TERMINAL_PROMPT: "0",
      ...this.env,
      ...env,
    };
    for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
    this.logPath = join(this.dir, `host-${Date.now()}.log`);
    const log = openSync(this.logPath, "a");
    this.proc = Bun.spawn(["bun", "--preload", PRELOAD, "src/server/index.ts"], { cwd: this.dir, env: merged, stdout: log, stderr: log });
    const proc = this.proc;
    await waitFor(`${this.name} to answer /api/health`, async () => {
      if (proc.exitCode !== null) throw new Error(`the host exited (${proc.exitCode}): ${this.logTail()}`);
      const response = await fetch(`${this.base}/api/health`, { signal: AbortSignal.timeout(2000) });
      return response.ok;
    }, { timeoutMs, everyMs: 200 });
  }

  logTail(lines = 30) {
    try {
      return scrub(readFileSync(this.logPath, "utf8").split("\n").slice(-lines).join("\n"));
    } catch {
      return "";
    }
  }

  log() {
    try {
      return readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  /** Stops the host: SIGTERM (or SIGKILL with `kill`), then SIGKILL after `timeoutMs`. */
  async stop({ kill = false, timeoutMs = 10000 } = {}) {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    proc.kill(kill ? "SIGKILL" : "SIGTERM");
    const exited = await Promise.race([proc.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!exited) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
    this.proc = undefined;
  }

  rss() {
    try {
      const status = readFileSync(`/proc/${this.proc.pid}/status`, "utf8");
      return Number(status.match(/VmRSS:\s+(\d+)/)[1]) * 1024;
    } catch {
      return NaN;
    }
  }

  /** A JSON request with the session cookie and an Origin header. Throws on a status not in `ok`. */
  async api(method, path, body, { ok = [200, 201, 204], timeoutMs = 30000 } = {}) {
    const response = await fetch(this.base + path, {
      method,
      headers: { "content-type": "application/json", origin: this.base, cookie: this.cookie },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const setCookie = response.headers.getSetCookie?.() ?? [];
    if (setCookie.length) {
      const jar = new Map(this.cookie.split("; ").filter(Boolean).map((c) => c.split(/=(.*)/s).slice(0, 2)));
      for (const c of setCookie) {
        const [pair] = c.split(";");
        const [k, v] = pair.split(/=(.*)/s);
        jar.set(k, v);
      }
      this.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    }
    const text = await response.text();
    let value;
    try {
      value = text ? JSON.parse(text) : undefined;
    } catch {
      value = text;
    }
    if (ok && !ok.includes(response.status)) {
      throw new Error(`${method} ${path} → ${response.status}: ${scrub(text).slice(0, 400)}`);
    }
    return { status: response.status, body: value };
  }

  /** The first admin, onboarded. */
  async signUp() {
    await this.api("POST", "/api/auth/sign-up/email", { email: "admin@example.test", password: "a-long-test-password-1", name: "Admin" });
    await this.api("POST", "/api/onboarding/profile", { firstName: "Admin", pseudonym: "admin", language: "en" });
  }

  async signIn() {
    this.cookie = "";
    await this.api("POST", "/api/auth/sign-in/email", { email: "admin@example.test", password: "a-long-test-password-1" });
  }

  /** An LLM provider on the stand-in and an Agent using it. */
  async agent(llmUrl, name = "Sms Agent") {
    const provider = await this.api("POST", "/api/providers", { name: "Stand-in", type: "openai-compatible", config: { baseUrl: `${llmUrl}/v1`, apiKey: "none" }, families: ["llm"] });
    const providerId = provider.body?.provider?.id ?? provider.body?.id;
    const agent = await this.api("POST", "/api/agents", { name, role: "Assistant", character: "Brief.", expertise: "SMS", model: "standin-1", providerId });
    return agent.body?.agent?.id ?? agent.body?.id;
  }

  /** A twilio-sms channel for `agentId`, activated; returns its id. */
  async channel(agentId, { accountSid, authToken, fromNumber, name = "SMS", ...more }) {
    const created = await this.api("POST", "/api/channels", { agentId, name, platform: "twilio-sms", autoCreateContacts: true, platformConfig: { accountSid, authToken, fromNumber, ...more } });
    const id = created.body?.channel?.id ?? created.body?.id;
    await this.api("POST", `/api/channels/${id}/activate`);
    return id;
  }

  /** Reads the database (read-only, a fresh handle each time so that it sees the host's writes). */
  query(sql, ...params) {
    const db = new Database(this.dbPath, { readonly: true });
    try {
      return db.query(sql).all(...params);
    } finally {
      db.close();
    }
  }
}
