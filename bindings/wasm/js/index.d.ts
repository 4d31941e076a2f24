// Types of the twilio-sms WebAssembly package (index.js). Shapes follow @hivekeep/sdk.

/** How long de-duplication and status records count (24 h). */
export const DEFAULT_TTL_MS: number;
/** The default body limit in bytes (64 KiB). */
export const DEFAULT_BODY_LIMIT: number;
/** How often `handleInboundWebhook` starts a sweep of a channel's stale records (one hour). */
export const SWEEP_INTERVAL_MS: number;
/** The most keys one sweep reads (10,000; the rest wait for the next sweep). */
export const SWEEP_MAX_KEYS: number;

/** Instantiates the WebAssembly module synchronously (idempotent); `bytes` defaults to the .wasm beside index.js. */
export function load(bytes?: BufferSource | WebAssembly.Module): void;
/**
 * Pays the cold start (instantiation, phone-number metadata, a whole webhook) at activation; `numbers`
 * warm the phone-number patterns of the regions the channel sends to.
 */
export function warmUp(options?: { numbers?: string[] }): { ok: boolean; loadMs: number; warmUpMs: number };

/** The raw path and query of a request URL, byte for byte. */
export function rawTarget(url: string): string;
/** Reads at most `limit + 1` bytes of a request body. */
export function readBounded(request: Request, limit: number): Promise<Uint8Array>;

/** The Auth Token, or [primary, secondary] while rotating (missing ones are skipped). */
export type TokenSource = string | null | undefined | (string | null | undefined)[];
export type HeadersLike = Headers | Record<string, string | undefined>;
export type BodyLike = Uint8Array | ArrayBuffer | string | null | undefined;

/**
 * Verifies a request at an exact `url`, or at `publicUrl` + `target` (its raw path and query), the MAC
 * computed in the core: undefined when verified, else the reason (no secret, no number). Without a token
 * every request is refused; an unusable token (empty, padded, holding a control character) throws, and a
 * value of another type than declared throws a `TypeError`.
 */
export function verifyRequest(
  request:
    | { url: string; method?: string; headers: HeadersLike; body: BodyLike }
    | { publicUrl: string; target: string; method?: string; headers: HeadersLike; body: BodyLike },
  tokens: string | string[],
): string | undefined;

/** Hivekeep's stored channel config (no secret: the Auth Token stays in the vault). */
export interface StoredChannelConfig {
  accountSid: string;
  authTokenVaultKey: string;
  fromNumber?: string;
  messagingServiceSid?: string;
  apiKeySid?: string;
  apiKeySecretVaultKey?: string;
  [key: string]: unknown;
}

export interface ChannelOptions {
  /** Hivekeep's PUBLIC_URL: the base of the URL Twilio calls (https, or http on loopback). */
  publicUrl?: string;
  /** Accept a plain-http public URL on a non-loopback host. */
  allowHttp?: boolean;
  /** Locale of the delivery hints (en, fr, de, es). */
  locale?: string;
  /** Webhook body limit in bytes (default 64 KiB). */
  bodyLimit?: number;
  /**
   * Twilio's REST base URL (default https://api.twilio.com): https, or plain http only to a loopback
   * host (localhost, 127.0.0.0/8, [::1]); no user:password@, query or fragment. Anything else makes the
   * constructor throw. No request follows a redirect.
   */
  apiBase?: string;
}

export interface IncomingMessage {
  platformUserId: string;
  platformMessageId: string;
  platformChatId: string;
  /** The sender's number, as the contact's name. */
  platformDisplayName: string;
  content: string;
  /** An MMS's media (absent for an SMS): Hivekeep downloads `url` (Twilio's; no credentials are given). */
  attachments?: { platformFileId: string; mimeType?: string; url: string }[];
  metadata: {
    twilio: {
      accountSid: string;
      toNumber: string;
      numMedia: number;
      numSegments: number;
      fromCountry?: string;
      /** An opt-out keyword (a `stop` is never handed over: Twilio unsubscribed the sender). */
      optOut?: "start" | "help";
    };
  };
}

export type DeliveryStatus = "queued" | "sent" | "delivered" | "undelivered" | "failed" | "read" | "unknown";

export interface DeliveryStatusUpdate {
  platformMessageId: string;
  status: DeliveryStatus;
  errorCode?: string;
  errorMessage?: string;
  contextLine?: string;
}

/** What the core decided about a webhook, before de-duplication. */
export interface WebhookOutcome {
  response: { status: number; headers: Record<string, string>; body: string };
  verified: boolean;
  /** Why it was refused (for logs: no secret, no phone number). */
  reason: string | null;
  event: "inbound" | "status" | "other" | null;
  incoming: IncomingMessage | null;
  deliveryUpdate: DeliveryStatusUpdate | null;
  idempotencyKey: string | null;
  /** The message a status applies to (the first part's SID) and the status's rank. */
  statusMessageId: string | null;
  statusRank: number | null;
  optOut: OptOutNotice | null;
}

/** `ctx.storage`, or anything with the same get/set (and list/delete, for sweeping stale records). */
export interface KeyValueStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  /** Keys by prefix: strings, `{key}` or `{name}` objects or `[key, value]` entries (or such an array
   * under `keys`), or an object keyed by them; one page. */
  list?(prefix?: string): Promise<unknown>;
  delete?(key: string): Promise<unknown>;
}

/** An opt-out keyword and who sent it: after a "stop" Twilio refuses to send to them until "start". */
export interface OptOutNotice {
  keyword: "stop" | "start" | "help";
  sender: string;
}

export interface WebhookResult {
  incoming: IncomingMessage | null;
  response: Response;
  deliveryUpdate?: DeliveryStatusUpdate;
  idempotencyKey?: string;
  reason?: string;
  /** Set for an opt-out keyword; a "stop" is not in `incoming`. */
  optOut?: OptOutNotice;
}

export interface OutboundMessageParams {
  chatId: string;
  content: string;
  replyToMessageId?: string;
  /**
   * Hivekeep's outbound attachments: a public https `source` goes out as an MMS `MediaUrl` (at most 10,
   * on the first part); any other (a file on the server, plain http, a private host) is named at the end
   * of the text and in the context line.
   */
  attachments?: { source: string; mimeType?: string; fileName?: string }[];
  locale?: string;
}

export interface OutboundMessageResult {
  platformMessageId: string;
  contextLine: string;
  deliveryMeta: {
    twilio: {
      parts: { sid: string; status: string; segments: number | null }[];
      liveStatus: boolean;
      /** The media sent (absent for none). */
      media?: number;
      /** The attachments not sent, and why (absent for none). */
      attachmentsNotSent?: { name: string; reason: string }[];
    };
  };
}

export type RetrySafety = "safe" | "ambiguous" | "final";

/** A failed send: its message is what Hivekeep's retry logic reads. */
export class SendError extends Error {
  retrySafety: RetrySafety;
  detail: unknown;
}

export class TwilioSmsChannel {
  constructor(channelId: string, storedConfig: StoredChannelConfig | string, options?: ChannelOptions);
  readonly channelId: string;
  readonly bodyLimit: number;
  /** The URL to paste in the Twilio Console (undefined without a public URL). */
  readonly webhookUrl: string | undefined;
  readonly authTokenVaultKey: string;
  /**
   * Verifies (the MAC computed in the core) and classifies a webhook, synchronously; nothing is
   * de-duplicated. Without a token every webhook is refused; an unusable token throws, and a value of
   * another type than declared throws a `TypeError`.
   */
  verify(
    request: { target: string; method?: string; headers: HeadersLike; body: BodyLike },
    tokens: string | string[],
  ): WebhookOutcome;
  /** Hivekeep's handleInboundWebhook (a token the core finds unusable is not used: then 403). */
  handleInboundWebhook(
    request: Request,
    options: {
      tokens: TokenSource | (() => TokenSource | Promise<TokenSource>);
      storage?: KeyValueStore;
      now?: number;
      ttlMs?: number;
      /** Usable tokens read less than this long ago are used again (default 0: read every time); a webhook whose MAC does not match under them reads the vault again. */
      tokenCacheMs?: number;
    },
  ): Promise<WebhookResult>;
  /** Deletes this channel's stale de-duplication and status records; resolves to how many. */
  sweepStorage(storage: KeyValueStore, options?: { now?: number; ttlMs?: number }): Promise<number>;
  /** The last background sweep `handleInboundWebhook` started (at most every `SWEEP_INTERVAL_MS`). */
  readonly lastSweep: Promise<number> | undefined;
  /** Hivekeep's sendMessage; throws a SendError. */
  sendMessage(
    params: OutboundMessageParams,
    options: {
      getSecret: (vaultKey: string, secret: "authToken" | "apiKeySecret") => Promise<string | null | undefined>;
      fetch?: typeof fetch;
      /** Per attempt (15 s). */
      timeoutMs?: number;
      /** Attempts at a part that surely was not sent: a 429 or no connection (4). */
      maxAttempts?: number;
      /** Time for a part's attempts and waits (30 s): an attempt gets at most the time left. */
      deadlineMs?: number;
    },
  ): Promise<OutboundMessageResult>;
  /** Whether the stored config asks for the From number's webhook to point at this channel (`configureWebhook`). */
  readonly configuresWebhook: boolean;
  /**
   * Hivekeep's validateConfig: the credentials, the account's status, the From number's ownership and SMS
   * capability; then, when the stored config's `configureWebhook` is on, `configureWebhook`.
   */
  validateConfig(options: CheckOptions): Promise<{ valid: true } | { valid: false; error: string }>;
  /**
   * Points the From number's "A message comes in" webhook at this channel's webhook URL when it points
   * nowhere of its owner's (empty, or Twilio's demo reply); another URL is never overwritten, and the
   * error says where it points (without credentials or query).
   */
  configureWebhook(options: CheckOptions): Promise<{ ok: true; changed: boolean } | { ok: false; error: string }>;
  /** Hivekeep's getBotInfo: the account's friendly name and the sender, or null. */
  getBotInfo(options: CheckOptions): Promise<{ name: string; username?: string | null } | null>;
  free(): void;
}

/** The options of the channel checks. */
export interface CheckOptions {
  getSecret: (vaultKey: string, secret: "authToken" | "apiKeySecret") => Promise<string | null | undefined>;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** For `validateConfig(config, ...)` and `getBotInfo(config, ...)`: the API base (tests, mocks). */
  apiBase?: string;
  /**
   * For `validateConfig(config, ...)`: Hivekeep's PUBLIC_URL, used when the config's `configureWebhook`
   * is on (the channel is the one its Auth Token's vault key names).
   */
  publicUrl?: string;
}

/** Hivekeep's `validateConfig(config)`: `TwilioSmsChannel.validateConfig` for a stored config alone. */
export function validateConfig(
  storedConfig: StoredChannelConfig | string,
  options: CheckOptions,
): Promise<{ valid: true } | { valid: false; error: string }>;
/** Hivekeep's `getBotInfo(config)`: `TwilioSmsChannel.getBotInfo` for a stored config alone. */
export function getBotInfo(
  storedConfig: StoredChannelConfig | string,
  options: CheckOptions,
): Promise<{ name: string; username?: string | null } | null>;

export interface SegmentInfo {
  encoding: "GSM-7" | "UCS-2";
  segments: number;
  units: number;
  unitsPerSegment: number;
}

export function splitText(text: string): { parts: (SegmentInfo & { text: string })[] } | { error: string };
export function segmentInfo(text: string): SegmentInfo & { nonGsm7: string };
export function statusRank(status: string): number | undefined;
export function hivekeepStatus(status: string): DeliveryStatus;
export function statusHint(status: string, errorCode?: number, locale?: string): string;
/** Whether a stored record no longer counts (older than `ttlMs`, or not a record): it may be deleted. */
export function isStale(previous: unknown, now?: number, ttlMs?: number): boolean;
export function firstSighting(previous: unknown, now?: number, ttlMs?: number): { first: boolean; record: { at: number } | null };
export function advanceStatus(
  previous: unknown,
  rank: number,
  now?: number,
  ttlMs?: number,
): { applies: boolean; record: { rank: number; at: number } | null };
export function isValidPhone(number: string): boolean;
export function normalizePhone(input: string, region: string): { ok: string } | { error: string };
export function parseSendAnswer(
  status: number,
  contentType: string | null | undefined,
  retryAfter: string | null | undefined,
  body: BodyLike,
  now?: number,
): { ok: Record<string, unknown> } | { error: { kind: string; httpStatus: number | null; code: number | null; message: string; retrySafety: RetrySafety; retryAfterMs?: number | null } };
/**
 * Why Twilio's webhooks to a channel behind `publicUrl` (Hivekeep's `PUBLIC_URL`) cannot be verified
 * (not set, or not a public https URL), or undefined when they can.
 */
export function publicUrlProblem(publicUrl?: string): string | undefined;
export function configSchema(): { fields: Record<string, unknown>[] };
export function version(): string;
