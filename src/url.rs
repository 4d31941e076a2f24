//! The public base URL, the exact URL Twilio signed, and the base URL of Twilio's REST API.
//!
//! A Twilio signature covers the URL byte for byte, so nothing here goes through a URL library (which
//! would drop `:443`, lowercase the host or re-encode the query). The strings are checked and kept as
//! given.

use core::fmt;

/// Why a URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The URL does not start with `https://` or `http://`.
    #[error("the URL must start with https:// (or http://)")]
    UnsupportedScheme,
    /// The URL uses plain http for a host that is not loopback, without the explicit opt-in.
    #[error(
        "the public URL must use https (plain http is allowed for loopback hosts, or through PublicUrl::parse_allowing_http)"
    )]
    InsecureHttp,
    /// The URL has no host.
    #[error("the URL has no host")]
    MissingHost,
    /// The URL has a `#fragment`; Twilio never sends one, so a signed URL cannot have one.
    #[error("the URL has a #fragment")]
    Fragment,
    /// A base URL (the public URL, the API base) has a `?query`; only a request adds a query.
    #[error("the base URL must not have a ?query")]
    Query,
    /// The URL contains white space or a control character.
    #[error("the URL contains white space or a control character")]
    InvalidCharacter,
    /// The request target does not start with `/`.
    #[error("the request target must start with '/'")]
    RelativeTarget,
    /// The port is not a number.
    #[error("the URL's port is not a number")]
    InvalidPort,
    /// The API base uses plain http for a host that is not loopback: the Basic credential of every
    /// request would cross the network in the clear.
    #[error(
        "the API base must use https (plain http is allowed only to a loopback host: localhost, 127.0.0.0/8, [::1])"
    )]
    InsecureApiBase,
    /// The API base has a `user:password@`: credentials go in the `Authorization` header only.
    #[error("the API base must not have a user:password@")]
    Userinfo,
}

/// Where the authority of a URL ends, and the pieces of `scheme://authority` a signature cares about.
struct Authority {
    /// Byte offset of the end of the authority.
    end: usize,
    /// Byte range of `:port` (colon included) when a port is present.
    port: Option<(usize, usize)>,
    https: bool,
    host_empty: bool,
}

fn split_authority(url: &str) -> Result<Authority, UrlError> {
    // The scheme is what comes before the first `://`, so it is `https` or `http` exactly when the URL
    // starts with `https://` or `http://` (no `://` can come before, inside a scheme of letters).
    let starts_with = |prefix: &str| url.get(..prefix.len()).is_some_and(|s| s.eq_ignore_ascii_case(prefix));
    let (https, start) = if starts_with("https://") {
        (true, "https://".len())
    } else if starts_with("http://") {
        (false, "http://".len())
    } else {
        return Err(UrlError::UnsupportedScheme);
    };
    let rest = url.get(start..).ok_or(UrlError::MissingHost)?;
    // Byte searches: the delimiters are ASCII, so they never match inside a multi-byte character.
    let end = start + rest.bytes().position(|b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let authority = url.get(start..end).ok_or(UrlError::MissingHost)?;
    let host_start = authority.bytes().rposition(|b| b == b'@').map_or(0, |at| at + 1);
    let hostport = authority.get(host_start..).unwrap_or("");
    // The port colon: after the closing bracket of an IPv6 literal, else the last colon.
    let colon = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(close) if hostport.get(close + 1..close + 2) == Some(":") => Some(close + 1),
            Some(_) => None,
            None => return Err(UrlError::MissingHost),
        }
    } else {
        hostport.bytes().rposition(|b| b == b':')
    };
    let port = colon.map(|c| (start + host_start + c, end));
    if let Some((colon_at, port_end)) = port {
        let digits = url.get(colon_at + 1..port_end).unwrap_or("");
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UrlError::InvalidPort);
        }
    }
    let host_len = colon.unwrap_or(hostport.len());
    Ok(Authority { end, port, https, host_empty: host_len == 0 })
}

fn check_chars(url: &str) -> Result<(), UrlError> {
    // ASCII white space and control characters are the bytes up to the space, and DEL. Folded over all
    // the bytes without an early exit, so that the loop is vectorized (a GET's URL is kilobytes long).
    let bad_ascii = url.bytes().fold(false, |bad, b| bad | (b <= b' ') | (b == 0x7F));
    let bad_other = !url.is_ascii() && url.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad_ascii || bad_other {
        return Err(UrlError::InvalidCharacter);
    }
    if url.contains('#') {
        return Err(UrlError::Fragment);
    }
    Ok(())
}

fn is_loopback_host(url: &str, authority_end: usize) -> bool {
    let Some(scheme_end) = url.find("://") else { return false };
    let authority = url.get(scheme_end + 3..authority_end).unwrap_or("");
    let hostport = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    is_loopback_name(host)
}

/// Whether `host` (an IPv6 address without its brackets) names this machine: `localhost`, an address in
/// `127.0.0.0/8` or `::1`.
pub(crate) fn is_loopback_name(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The configured public base URL of the server Twilio calls (Hivekeep's `PUBLIC_URL`), such as
/// `https://agents.example.com` or `https://example.com:8443/hivekeep`.
///
/// Kept exactly as given. `https` is required, except for loopback hosts (`localhost`, `127.0.0.0/8`,
/// `[::1]`) or through the explicit [`PublicUrl::parse_allowing_http`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicUrl(Box<str>);

impl PublicUrl {
    /// Parses a public base URL that uses https (or http on a loopback host).
    ///
    /// # Errors
    /// [`UrlError`] names the problem: scheme, plain http on a public host, missing host, query,
    /// fragment, white space or a bad port.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let authority = Self::check(url)?;
        if !authority.https && !is_loopback_host(url, authority.end) {
            return Err(UrlError::InsecureHttp);
        }
        Ok(Self(url.into()))
    }

    /// Like [`parse`](Self::parse), but also accepts plain `http://` on any host.
    ///
    /// Twilio can call http URLs, but then the webhook, the signature and the message text cross the
    /// network in the clear, where they can be read and replayed. Use it only behind a trusted network.
    ///
    /// # Errors
    /// As [`parse`](Self::parse), except [`UrlError::InsecureHttp`].
    pub fn parse_allowing_http(url: &str) -> Result<Self, UrlError> {
        Self::check(url)?;
        Ok(Self(url.into()))
    }

    fn check(url: &str) -> Result<Authority, UrlError> {
        check_chars(url)?;
        let authority = split_authority(url)?;
        if authority.host_empty {
            return Err(UrlError::MissingHost);
        }
        if url.contains('?') {
            return Err(UrlError::Query);
        }
        Ok(authority)
    }

    /// The URL as configured.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Appends a path (and query) to the base, dropping one trailing `/` of the base first.
    ///
    /// # Errors
    /// [`UrlError::RelativeTarget`] when `target` does not start with `/`; [`UrlError::Fragment`] or
    /// [`UrlError::InvalidCharacter`] for a target that cannot be part of a URL Twilio called.
    pub fn join(&self, target: &str) -> Result<WebhookUrl, UrlError> {
        if !target.starts_with('/') {
            return Err(UrlError::RelativeTarget);
        }
        let base = self.0.strip_suffix('/').unwrap_or(&self.0);
        WebhookUrl::exact(&format!("{base}{target}"))
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `url` with any `user:password@` replaced by `•••@`, for `Debug`.
fn without_userinfo(url: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = url.find("://").map(|i| i + 3) else { return url.into() };
    let rest = url.get(start..).unwrap_or("");
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest.get(..authority_end).and_then(|a| a.rfind('@')) {
        Some(at) => format!("{}•••{}", url.get(..start).unwrap_or(""), rest.get(at..).unwrap_or("")).into(),
        None => url.into(),
    }
}

impl fmt::Debug for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicUrl({})", without_userinfo(&self.0))
    }
}

impl core::str::FromStr for PublicUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The base URL of Twilio's REST API, which every request's Basic credential is sent to:
/// `https://api.twilio.com` ([`ApiBase::twilio`], the default), or a mock Twilio on this machine in
/// tests.
///
/// Checked once, when parsed: `https`, or plain `http` only to a loopback host (`localhost`,
/// `127.0.0.0/8`, `[::1]`), so that credentials never cross the network in the clear; no
/// `user:password@`, `?query` or `#fragment`. A path prefix is kept. `TwilioClient`, the sans-I/O
/// requests of [`outbound`](crate::outbound) and the WebAssembly package all take this type.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ApiBase {
    url: Box<str>,
    loopback: bool,
}

impl ApiBase {
    /// Parses an API base URL.
    ///
    /// # Errors
    /// [`UrlError::InsecureApiBase`] for plain http to a host that is not loopback,
    /// [`UrlError::Userinfo`] for a `user:password@`; otherwise as [`PublicUrl::parse`] (scheme,
    /// missing host, query, fragment, white space or a bad port).
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let authority = PublicUrl::check(url)?;
        let start = url.find("://").map_or(0, |at| at + 3);
        if url.get(start..authority.end).is_some_and(|a| a.contains('@')) {
            return Err(UrlError::Userinfo);
        }
        let loopback = is_loopback_host(url, authority.end);
        if !authority.https && !loopback {
            return Err(UrlError::InsecureApiBase);
        }
        Ok(Self { url: url.into(), loopback })
    }

    /// Twilio's REST API, `https://api.twilio.com`.
    #[must_use]
    pub fn twilio() -> Self {
        Self { url: crate::outbound::DEFAULT_API_BASE.into(), loopback: false }
    }

    /// The URL as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Whether the host is this machine (`localhost`, `127.0.0.0/8`, `[::1]`): a mock Twilio.
    #[must_use]
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// The URL of an API `path` (which starts with `/`), dropping one trailing `/` of the base first.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url.strip_suffix('/').unwrap_or(&self.url))
    }
}

impl Default for ApiBase {
    fn default() -> Self {
        Self::twilio()
    }
}

impl fmt::Display for ApiBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl fmt::Debug for ApiBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiBase({})", self.url)
    }
}

impl core::str::FromStr for ApiBase {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The exact URL a webhook was sent to, as Twilio signed it, with its one port variant.
///
/// Built from a [`PublicUrl`] and the request target a server received ([`PublicUrl::join`]), or given
/// whole ([`WebhookUrl::exact`]) when the caller knows the URL Twilio called.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    exact: Box<str>,
    /// The byte range of `:port` when the URL has one.
    port: Option<(usize, usize)>,
    /// Where the authority ends, for adding a port.
    authority_end: usize,
    https: bool,
}

impl WebhookUrl {
    /// Takes a full URL (`http` or `https`) exactly as Twilio called it. An empty path stays empty.
    ///
    /// # Errors
    /// [`UrlError`] for another scheme, a missing host, a fragment, white space or a bad port.
    pub fn exact(url: &str) -> Result<Self, UrlError> {
        check_chars(url)?;
        let authority = split_authority(url)?;
        if authority.host_empty {
            return Err(UrlError::MissingHost);
        }
        Ok(Self {
            exact: url.into(),
            port: authority.port,
            authority_end: authority.end,
            https: authority.https,
        })
    }

    /// The URL exactly as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.exact
    }

    /// The one other form Twilio may have signed, made by string surgery on the authority: an explicit
    /// port removed, or the scheme's default port (`:443`, `:80`) added.
    #[must_use]
    pub fn port_variant(&self) -> String {
        let url = &*self.exact;
        let (head, insert, tail) = match self.port {
            Some((colon, end)) => (url.get(..colon), "", url.get(end..)),
            None => {
                let default = if self.https { ":443" } else { ":80" };
                (url.get(..self.authority_end), default, url.get(self.authority_end..))
            }
        };
        [head.unwrap_or(""), insert, tail.unwrap_or("")].concat()
    }

    /// The raw query string (without `?`), if the URL has one.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.exact.split_once('?').map(|(_, q)| q)
    }
}

/// Leaves the query's text out: a GET webhook's query holds its parameters (phone numbers, message text).
impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.exact.split_once('?') {
            Some((base, query)) => {
                write!(f, "WebhookUrl({}?<{} bytes>)", without_userinfo(base), query.len())
            }
            None => write!(f, "WebhookUrl({})", without_userinfo(&self.exact)),
        }
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.exact)
    }
}

/// Why an attachment cannot go out as an MMS `MediaUrl` (Twilio fetches the URL itself, so it must be a
/// public `https` address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaUrlError {
    /// Not a URL: a file on the server (Twilio cannot fetch it).
    #[error("a file on the server, not a public URL")]
    NotAUrl,
    /// Not `https`.
    #[error("not an https URL")]
    NotHttps,
    /// A host Twilio cannot reach: loopback, a private or link-local address, or a name without a dot.
    #[error("not a public address")]
    NotPublic,
    /// A `user:password@` (it would be handed to Twilio and kept in its logs).
    #[error("a URL with credentials")]
    Userinfo,
    /// White space, a control character, a fragment, a bad port, or longer than [`MediaUrl::MAX_LEN`].
    #[error("not a valid URL")]
    Invalid,
}

/// A public `https` URL Twilio can fetch an MMS attachment from (`MediaUrl`): no credentials, a host
/// that is a name with a dot or a public IP address.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaUrl(Box<str>);

impl MediaUrl {
    /// The longest URL taken.
    pub const MAX_LEN: usize = 2048;

    /// Checks `url`.
    ///
    /// # Errors
    /// A [`MediaUrlError`] naming why Twilio could not fetch it.
    ///
    /// # Examples
    /// ```
    /// use twilio_sms::outbound::{MediaUrl, MediaUrlError};
    /// assert!(MediaUrl::parse("https://cdn.example.com/chart.png").is_ok());
    /// assert_eq!(MediaUrl::parse("/data/workspaces/a/chart.png"), Err(MediaUrlError::NotAUrl));
    /// assert_eq!(MediaUrl::parse("http://cdn.example.com/a.png"), Err(MediaUrlError::NotHttps));
    /// assert_eq!(MediaUrl::parse("https://192.168.1.2/a.png"), Err(MediaUrlError::NotPublic));
    /// ```
    pub fn parse(url: &str) -> Result<Self, MediaUrlError> {
        if !url.contains("://") {
            return Err(MediaUrlError::NotAUrl);
        }
        if url.len() > Self::MAX_LEN || check_chars(url).is_err() {
            return Err(MediaUrlError::Invalid);
        }
        let authority = split_authority(url).map_err(|error| match error {
            UrlError::UnsupportedScheme => MediaUrlError::NotHttps,
            _ => MediaUrlError::Invalid,
        })?;
        if !authority.https {
            return Err(MediaUrlError::NotHttps);
        }
        let start = url.find("://").map_or(0, |at| at + 3);
        let whole = url.get(start..authority.end).unwrap_or("");
        if whole.contains('@') {
            return Err(MediaUrlError::Userinfo);
        }
        // A `\` ends the authority for a WHATWG parser; `%` escapes the host for some resolvers.
        if whole.contains(['\\', '%']) {
            return Err(MediaUrlError::Invalid);
        }
        let host = match authority.port {
            Some((colon, end)) => {
                let port = url.get(colon + 1..end).and_then(|p| p.parse::<u16>().ok());
                if port.is_none_or(|p| p == 0) {
                    return Err(MediaUrlError::Invalid);
                }
                url.get(start..colon).unwrap_or("")
            }
            None => whole,
        };
        if !is_public_host(host) {
            return Err(MediaUrlError::NotPublic);
        }
        Ok(Self(url.into()))
    }

    /// The URL as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether Twilio could reach `host` (as written in a URL), by an allow-list of spellings: a global
/// unicast IPv6 address (`2000::/3`, without the documentation, 6to4 and Teredo ranges, which name or
/// embed other addresses), a public dotted-quad IPv4 address, or a DNS name of two or more labels (ASCII
/// letters, digits and `-`, the last one starting with a letter) that is not `localhost` or under
/// `.localhost`, `.local`, `.internal`, `.test` or `.invalid`. Any other spelling (a trailing dot, a
/// short, octal or hex IPv4, `%`-escapes) is refused, so that no resolver reads it as a private address.
fn is_public_host(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[') {
        let Some(addr) = v6.strip_suffix(']').and_then(|a| a.parse::<std::net::Ipv6Addr>().ok()) else {
            return false;
        };
        let [first, second, ..] = addr.segments();
        let global_unicast = (first & 0xe000) == 0x2000;
        let documentation = first == 0x2001 && second == 0x0db8;
        let embeds_v4 = first == 0x2002 || (first == 0x2001 && second == 0);
        return global_unicast && !documentation && !embeds_v4;
    }
    if let Ok(v4) = host.parse::<std::net::Ipv4Addr>() {
        return is_public_v4(v4);
    }
    let name = host.to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    let well_formed = |label: &&str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let private = ["localhost", "local", "internal", "test", "invalid"];
    match labels.last() {
        Some(last) => {
            labels.len() >= 2
                && labels.iter().all(well_formed)
                && last.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && !private.contains(last)
        }
        None => false,
    }
}

fn is_public_v4(ip: std::net::Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0 // "this network"
        || a >= 240 // reserved
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 198 && (18..20).contains(&b))) // benchmarking
}

/// Leaves the path and query out (they may name a private file).
impl fmt::Debug for MediaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host_end = self.0.get(8..).and_then(|rest| rest.find(['/', '?'])).map_or(self.0.len(), |i| i + 8);
        write!(f, "MediaUrl({}/…)", self.0.get(..host_end).unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(url: &str) -> String {
        WebhookUrl::exact(url).unwrap().port_variant()
    }

    #[test]
    fn port_variants_by_string_surgery() {
        assert_eq!(variant("https://example.com/a?b=1"), "https://example.com:443/a?b=1");
        assert_eq!(variant("https://example.com:443/a"), "https://example.com/a");
        assert_eq!(variant("http://Example.COM/"), "http://Example.COM:80/");
        assert_eq!(variant("http://example.com:8080?x"), "http://example.com?x");
        assert_eq!(variant("https://example.com"), "https://example.com:443");
        assert_eq!(variant("HTTPS://example.com/x"), "HTTPS://example.com:443/x");
        assert_eq!(variant("https://user:pa:ss@example.com/x"), "https://user:pa:ss@example.com:443/x");
        assert_eq!(variant("https://user:pass@example.com:8443/x"), "https://user:pass@example.com/x");
        assert_eq!(variant("https://[2001:db8::1]/x"), "https://[2001:db8::1]:443/x");
        assert_eq!(variant("https://[2001:db8::1]:8443/x"), "https://[2001:db8::1]/x");
        assert_eq!(variant("https://u@[::1]:80"), "https://u@[::1]");
    }

    #[test]
    fn debug_hides_userinfo() {
        let u = WebhookUrl::exact("https://user:s3cret@example.com:8443/x?From=%2B14155550100").unwrap();
        assert_eq!(format!("{u:?}"), "WebhookUrl(https://•••@example.com:8443/x?<19 bytes>)");
        let p = PublicUrl::parse("https://user:s3cret@example.com").unwrap();
        assert_eq!(format!("{p:?}"), "PublicUrl(https://•••@example.com)");
    }

    #[test]
    fn exact_urls_are_kept_byte_for_byte() {
        let u = "HTTPS://Example.com:443//a/%2f/./b/?q=It's+x&a=%C3%A9";
        assert_eq!(WebhookUrl::exact(u).unwrap().as_str(), u);
        assert_eq!(WebhookUrl::exact(u).unwrap().query(), Some("q=It's+x&a=%C3%A9"));
    }

    #[test]
    fn bad_urls_are_named() {
        assert_eq!(WebhookUrl::exact("ftp://x/").unwrap_err(), UrlError::UnsupportedScheme);
        assert_eq!(WebhookUrl::exact("example.com/x").unwrap_err(), UrlError::UnsupportedScheme);
        assert_eq!(WebhookUrl::exact("https:///x").unwrap_err(), UrlError::MissingHost);
        assert_eq!(WebhookUrl::exact("https://x/#frag").unwrap_err(), UrlError::Fragment);
        assert_eq!(WebhookUrl::exact("https://x/ a").unwrap_err(), UrlError::InvalidCharacter);
        assert_eq!(WebhookUrl::exact("https://x:8o/").unwrap_err(), UrlError::InvalidPort);
        assert_eq!(WebhookUrl::exact("https://[::1/").unwrap_err(), UrlError::MissingHost);
        // The scheme is what comes before the first `://`.
        for bad in
            ["https:x://y", "httpsx://y", "http:/x://y", "htp://y", "https//y", "://y", "", "h", "https:"]
        {
            assert_eq!(WebhookUrl::exact(bad).unwrap_err(), UrlError::UnsupportedScheme, "{bad}");
        }
        for (url, https) in
            [("hTtPs://y", true), ("HTTP://y", false), ("http://y://z", false), ("https://y", true)]
        {
            assert_eq!(WebhookUrl::exact(url).unwrap().https, https, "{url}");
        }
    }

    #[test]
    fn public_url_requires_https_except_on_loopback() {
        assert!(PublicUrl::parse("https://agents.example.com").is_ok());
        assert_eq!(PublicUrl::parse("http://agents.example.com").unwrap_err(), UrlError::InsecureHttp);
        assert!(PublicUrl::parse_allowing_http("http://agents.example.com").is_ok());
        assert!(PublicUrl::parse("http://127.0.0.1:8080").is_ok());
        assert!(PublicUrl::parse("http://localhost:3000/").is_ok());
        assert!(PublicUrl::parse("http://[::1]:3000").is_ok());
        assert_eq!(PublicUrl::parse("http://127.0.0.1.example.com").unwrap_err(), UrlError::InsecureHttp);
        assert_eq!(PublicUrl::parse("https://x.com/?a=1").unwrap_err(), UrlError::Query);
    }

    #[test]
    fn the_api_base_is_https_or_loopback_http() {
        for base in [
            "https://api.twilio.com",
            "https://api.twilio.com/",
            "HTTPS://proxy.example.com:8443/twilio",
            "http://127.0.0.1:4010",
            "http://127.9.9.9",
            "http://localhost:1/",
            "http://LOCALHOST",
            "http://[::1]:80",
        ] {
            assert_eq!(ApiBase::parse(base).map(|b| b.as_str().to_owned()), Ok(base.to_owned()));
        }
        let refused = [
            ("http://example.com", UrlError::InsecureApiBase),
            ("http://api.twilio.com", UrlError::InsecureApiBase),
            ("http://10.0.0.1:8080", UrlError::InsecureApiBase),
            ("http://localhost.example.com", UrlError::InsecureApiBase),
            ("http://127.0.0.1.example.com", UrlError::InsecureApiBase),
            ("http://[::2]:80", UrlError::InsecureApiBase),
            ("https://AC123:secret@api.twilio.com", UrlError::Userinfo),
            ("https://user@api.twilio.com", UrlError::Userinfo),
            ("http://user:pw@127.0.0.1:4010", UrlError::Userinfo),
            ("https://api.twilio.com?x=1", UrlError::Query),
            ("https://api.twilio.com/#x", UrlError::Fragment),
            ("https://api.twilio.com /", UrlError::InvalidCharacter),
            ("ftp://api.twilio.com", UrlError::UnsupportedScheme),
            ("api.twilio.com", UrlError::UnsupportedScheme),
            ("https://", UrlError::MissingHost),
            ("https://api.twilio.com:44x", UrlError::InvalidPort),
        ];
        for (base, error) in refused {
            assert_eq!(ApiBase::parse(base), Err(error), "{base}");
        }
        assert!(ApiBase::parse("http://127.0.0.1:4010").unwrap().is_loopback());
        assert!(!ApiBase::parse("https://api.twilio.com").unwrap().is_loopback());
        assert_eq!(ApiBase::default(), ApiBase::parse("https://api.twilio.com").unwrap());
        assert_eq!(
            ApiBase::twilio().url("/2010-04-01/Accounts.json"),
            "https://api.twilio.com/2010-04-01/Accounts.json"
        );
        let prefixed = ApiBase::parse("http://[::1]:4010/mock/").unwrap();
        assert_eq!(prefixed.url("/x.json"), "http://[::1]:4010/mock/x.json");
        assert_eq!(format!("{prefixed:?}"), "ApiBase(http://[::1]:4010/mock/)");
    }

    #[test]
    fn join_drops_one_trailing_slash_and_keeps_the_rest() {
        let base = PublicUrl::parse("https://Example.com:443/").unwrap();
        assert_eq!(base.join("/hook?a=1").unwrap().as_str(), "https://Example.com:443/hook?a=1");
        let base = PublicUrl::parse("https://example.com/prefix//").unwrap();
        assert_eq!(base.join("/hook").unwrap().as_str(), "https://example.com/prefix//hook");
        assert_eq!(base.join("hook").unwrap_err(), UrlError::RelativeTarget);
        assert_eq!(base.join("/hook#x").unwrap_err(), UrlError::Fragment);
    }
    #[test]
    fn media_urls_must_be_public_https() {
        let ok = [
            "https://cdn.example.com/a.png",
            "https://example.com:8443/x?y=1",
            "https://8.8.8.8/a",
            "https://[2001:4860::1]/a",
            "HTTPS://Example.COM/a",
            "https://xn--bcher-kva.example/a.png",
        ];
        for url in ok {
            assert!(MediaUrl::parse(url).is_ok(), "{url}");
        }
        let refused = [
            ("/home/agent/report.pdf", MediaUrlError::NotAUrl),
            ("report.pdf", MediaUrlError::NotAUrl),
            ("C:\\files\\a.png", MediaUrlError::NotAUrl),
            ("http://cdn.example.com/a.png", MediaUrlError::NotHttps),
            ("ftp://cdn.example.com/a.png", MediaUrlError::NotHttps),
            ("data://x", MediaUrlError::NotHttps),
            ("https://user:pw@cdn.example.com/a.png", MediaUrlError::Userinfo),
            ("https://localhost/a.png", MediaUrlError::NotPublic),
            ("https://files.localhost/a.png", MediaUrlError::NotPublic),
            ("https://nas.local/a.png", MediaUrlError::NotPublic),
            ("https://intranet/a.png", MediaUrlError::NotPublic),
            ("https://127.0.0.1/a.png", MediaUrlError::NotPublic),
            ("https://10.1.2.3/a.png", MediaUrlError::NotPublic),
            ("https://172.16.0.1:8443/a.png", MediaUrlError::NotPublic),
            ("https://192.168.1.2/a.png", MediaUrlError::NotPublic),
            ("https://169.254.169.254/latest", MediaUrlError::NotPublic),
            ("https://100.64.0.1/a", MediaUrlError::NotPublic),
            ("https://[::1]/a.png", MediaUrlError::NotPublic),
            ("https://[fd00::1]/a.png", MediaUrlError::NotPublic),
            ("https://[fe80::1]/a.png", MediaUrlError::NotPublic),
            ("https://[::ffff:10.0.0.1]/a.png", MediaUrlError::NotPublic),
            ("https:///a.png", MediaUrlError::NotPublic),
            ("https://cdn.example.com/a b.png", MediaUrlError::Invalid),
            ("https://cdn.example.com/a.png#x", MediaUrlError::Invalid),
            ("https://cdn.example.com:x/a.png", MediaUrlError::Invalid),
            // Spellings a resolver or a WHATWG parser reads as a private address.
            ("https://127.0.0.1./a.png", MediaUrlError::NotPublic),
            ("https://169.254.169.254./latest/meta-data", MediaUrlError::NotPublic),
            ("https://example.com./a.png", MediaUrlError::NotPublic),
            ("https://example.com../a.png", MediaUrlError::NotPublic),
            ("https://localhost\\.example.com/a.png", MediaUrlError::Invalid),
            ("https://10.0.0.1%2e/a.png", MediaUrlError::Invalid),
            ("https://127.1/a.png", MediaUrlError::NotPublic),
            ("https://0x7f.0.0.1/a.png", MediaUrlError::NotPublic),
            ("https://0177.0.0.1/a.png", MediaUrlError::NotPublic),
            ("https://2130706433/a.png", MediaUrlError::NotPublic),
            ("https://[::a00:1]/a.png", MediaUrlError::NotPublic),
            ("https://[64:ff9b::a00:1]/a.png", MediaUrlError::NotPublic),
            ("https://[2001:db8::1]/a.png", MediaUrlError::NotPublic),
            ("https://[2002:a00:1::1]/a.png", MediaUrlError::NotPublic),
            ("https://[2001:0:a00:1::1]/a.png", MediaUrlError::NotPublic),
            ("https://[ff02::1]/a.png", MediaUrlError::NotPublic),
            ("https://224.0.0.1/a.png", MediaUrlError::NotPublic),
            ("https://240.0.0.1/a.png", MediaUrlError::NotPublic),
            ("https://0.1.2.3/a.png", MediaUrlError::NotPublic),
            ("https://198.18.0.1/a.png", MediaUrlError::NotPublic),
            ("https://-cdn.example.com/a.png", MediaUrlError::NotPublic),
            ("https://cdn_1.example.com/a.png", MediaUrlError::NotPublic),
            ("https://bücher.example/a.png", MediaUrlError::NotPublic),
            ("https://cdn.example.com:/a.png", MediaUrlError::Invalid),
            ("https://cdn.example.com:0/a.png", MediaUrlError::Invalid),
            ("https://cdn.example.com:99999/a.png", MediaUrlError::Invalid),
        ];
        for (url, why) in refused {
            assert_eq!(MediaUrl::parse(url), Err(why), "{url}");
        }
        let long = format!("https://cdn.example.com/{}", "a".repeat(MediaUrl::MAX_LEN));
        assert_eq!(MediaUrl::parse(&long), Err(MediaUrlError::Invalid));
        let url = MediaUrl::parse("https://cdn.example.com/private/report.png?sig=abc").unwrap();
        assert_eq!(format!("{url:?}"), "MediaUrl(https://cdn.example.com/…)");
    }
}
