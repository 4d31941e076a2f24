// Loaded into the Hivekeep host under test (`bun --preload`): nothing leaves the machine. Twilio's API
// (api.twilio.com) is answered by the stand-in at $TWILIO_STANDIN (http://127.0.0.1:PORT); any other
// host that is not loopback is refused. Applies to both plugins alike (the old one hard-codes Twilio's URL).
const realFetch = globalThis.fetch;
const standin = process.env.TWILIO_STANDIN;

function isLoopback(hostname) {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function redirected(input, init) {
  const request = input instanceof Request ? input : null;
  const url = new URL(request ? request.url : String(input));
  if (url.hostname === "api.twilio.com" && standin) {
    const target = standin + url.pathname + url.search;
    return [request ? new Request(target, request) : target, init];
  }
  if (!isLoopback(url.hostname)) {
    throw new TypeError(`test isolation: no request beyond loopback (${url.hostname} refused)`);
  }
  return [input, init];
}

globalThis.fetch = Object.assign(
  async function isolatedFetch(input, init) {
    const [target, options] = redirected(input, init);
    return realFetch(target, options);
  },
  { preconnect: () => {} },
);
