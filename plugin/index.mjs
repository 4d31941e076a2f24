// Hivekeep's twilio-sms plugin: the channel adapter. Glue only: every decision (signature, binding to
// the channel, classification, de-duplication, status ordering, splitting, retry safety, the checks of
// the "test" button) is taken by the Rust core in ./wasm; this file hands it what Hivekeep gives
// (the request, the stored config, ctx.vault, ctx.storage, PUBLIC_URL) and returns what it decided.
// (The entry is index.mjs, not index.js: Bun, which runs Hivekeep, maps an import of index.js to the
// index.ts that 0.5.1 had, from a stale directory cache, right after the update route replaced the files.)
import { TwilioSmsChannel, configSchema, getBotInfo, publicUrlProblem, validateConfig, warmUp } from "./wasm/index.js";

const PLATFORM = "twilio-sms";
/**
 * How long the Auth Token read from the vault for a webhook is used again without a read (a token
 * replaced in the vault is read again on the first webhook it signs). A channel whose stored config
 * changes, or that stops, starts with none.
 */
const TOKEN_CACHE_MS = 60 * 1000;

/** Hivekeep's PUBLIC_URL (the base of the URL Twilio calls), read when a channel is built. */
function publicUrl() {
  const value = process.env.PUBLIC_URL;
  return value && value.trim() ? value.trim() : undefined;
}

function configKey(config) {
  return typeof config === "string" ? config : JSON.stringify(config);
}

export default function twilioSms(ctx) {
  // At activation, so that no webhook pays the cold start (instantiation, phone-number metadata).
  const warm = warmUp();
  ctx.log?.info?.({ ok: warm.ok, loadMs: Math.round(warm.loadMs), warmUpMs: Math.round(warm.warmUpMs) }, "twilio-sms core loaded");

  const getSecret = (vaultKey) => ctx.vault.getSecret(vaultKey);
  /** channelId → {key, channel}: one core channel per channel and stored config. */
  const channels = new Map();

  function channelFor(channelId, config) {
    const key = configKey(config) + "\n" + (publicUrl() ?? "");
    let entry = channels.get(channelId);
    if (!entry || entry.key !== key) {
      entry?.channel.free();
      channels.delete(channelId);
      // Throws on a config the core cannot use; Hivekeep then answers 500 (webhook) or fails the send.
      entry = { key, channel: new TwilioSmsChannel(channelId, config, { publicUrl: publicUrl() }) };
      channels.set(channelId, entry);
    }
    return entry.channel;
  }

  function forget(channelId) {
    channels.get(channelId)?.channel.free();
    channels.delete(channelId);
  }

  const adapter = {
    platform: PLATFORM,
    configSchema: configSchema(),
    // The default ("prefix") puts "[AgentName] " before every reply, which costs SMS segments.
    identitySwitchMode: "none",

    // Webhook-driven: nothing to start but, when the config asks for it, pointing the From number's
    // incoming webhook at the channel (in the background: Hivekeep awaits start while it boots). The
    // core's state is built now, so a config it cannot use is logged here rather than at a webhook.
    async start(channelId, config) {
      let channel;
      try {
        channel = channelFor(channelId, config);
      } catch (error) {
        ctx.log?.warn?.({ channelId, reason: error instanceof Error ? error.message : "refused" }, "twilio-sms channel config not usable");
        return;
      }
      if (!channel.configuresWebhook) return;
      channel
        .configureWebhook({ getSecret })
        .then((done) => {
          if (done.ok) ctx.log?.info?.({ channelId, changed: done.changed }, "twilio-sms number webhook points at the channel");
          else ctx.log?.warn?.({ channelId, reason: done.error }, "twilio-sms number webhook not set");
        })
        .catch(() => ctx.log?.warn?.({ channelId }, "twilio-sms number webhook not set"));
    },
    async stop(channelId) {
      forget(channelId);
    },

    async handleInboundWebhook(channelId, config, request) {
      const channel = channelFor(channelId, config);
      const { incoming, response, deliveryUpdate, reason } = await channel.handleInboundWebhook(request, {
        tokens: () => ctx.vault.getSecret(channel.authTokenVaultKey),
        storage: ctx.storage,
        tokenCacheMs: TOKEN_CACHE_MS,
      });
      if (reason) ctx.log?.warn?.({ channelId, reason }, "twilio-sms webhook refused");
      return { incoming, response, deliveryUpdate };
    },

    async sendMessage(channelId, config, params) {
      return channelFor(channelId, config).sendMessage(params, { getSecret });
    },

    // The "test" button: the credentials, the account, the From number (the core's checks), the number's
    // incoming webhook when the config asks for it, then whether PUBLIC_URL lets Twilio's webhooks be
    // verified.
    async validateConfig(config) {
      const checked = await validateConfig(config, { getSecret, publicUrl: publicUrl() });
      if (!checked.valid) return checked;
      const problem = publicUrlProblem(publicUrl());
      return problem ? { valid: false, error: problem } : checked;
    },
    getBotInfo: (config) => getBotInfo(config, { getSecret }),
  };

  return {
    channels: { [PLATFORM]: adapter },
    async deactivate() {
      for (const channelId of [...channels.keys()]) forget(channelId);
    },
  };
}
