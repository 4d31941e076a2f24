#!/usr/bin/env python3
"""Precomputes signed inbound-SMS webhooks for the wrk load test (bench/load/run.sh).

Writes a Lua file `return {path = "...", requests = {{body, signature}, ...}}` for wrk_inbound.lua.
Each request is an inbound SMS as Twilio posts it (the parameters of MockTwilio::inbound_sms), with its
own MessageSid when --count > 1, form-encoded as Twilio encodes it (java.net.URLEncoder) and signed as
Twilio signs it: base64(HMAC-SHA1(token, url + every key and value, sorted, no separators)).
"""
import argparse
import base64
import hashlib
import hmac


def encode(s: str) -> str:
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in ".-*_"):
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def signature(token: str, url: str, params) -> str:
    data = url + "".join(k + v for k, v in sorted(set(params)))
    mac = hmac.new(token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--public-url", required=True)
    p.add_argument("--channel-id", required=True)
    p.add_argument("--account-sid", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--to", required=True, help="the channel's From Number")
    p.add_argument("--from", dest="sender", default="+14155550142")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    path = f"/api/channels/plugin/twilio-sms/webhook/{a.channel_id}"
    url = a.public_url.rstrip("/") + path
    lines = []
    for i in range(a.count):
        sid = "SM%032x" % (0x10AD0000 + i)
        params = [
            ("SmsMessageSid", sid), ("NumMedia", "0"), ("SmsSid", sid), ("SmsStatus", "received"),
            ("Body", f"Load test message {i}: caf\u00e9 \u2713, is the table free at 8?"),
            ("To", a.to), ("NumSegments", "1"), ("MessageSid", sid), ("AccountSid", a.account_sid),
            ("From", a.sender), ("ApiVersion", "2010-04-01"),
        ]
        body = "&".join(encode(k) + "=" + encode(v) for k, v in params)
        lines.append('  {"%s", "%s"},' % (body, signature(a.token, url, params)))
    with open(a.out, "w", encoding="ascii") as f:
        f.write('return {\n path = "%s",\n requests = {\n%s\n }\n}\n' % (path, "\n".join(lines)))


if __name__ == "__main__":
    main()
