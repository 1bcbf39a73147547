//! The outbound URL guard (`executor-behaviour.md` §12): which URLs the Worker may fetch on a
//! user's behalf, how redirects are re-validated, and which headers survive a cross-origin hop.
//!
//! # Policy
//!
//! * Only `http:` and `https:` URLs; anything the WHATWG URL parser rejects is blocked.
//! * Always blocked, even with `ALLOW_LOCAL_NETWORK=true`: cloud metadata services — the names
//!   `metadata.google.internal`, `metadata`, `instance-data`, the address `169.254.169.254` (in
//!   any IPv4 spelling or embedded in IPv6) and AWS's IPv6 endpoint `fd00:ec2::254`.
//! * Unless local network access is allowed: `localhost`, `*.localhost`; IPv4 `0/8`, `10/8`,
//!   `127/8`, `100.64/10`, `169.254/16`, `172.16/12`, `192.0/16`, `192.168/16`, `198.18/15` and
//!   everything from `224.0.0.0` up; IPv6 `::`, `::1`, `fe80::/10`, `fec0::/10`, `fc00::/7`,
//!   `ff00::/8`, `64:ff9b:1::/48`, and every IPv6 form that carries an IPv4 address (mapped
//!   `::ffff:0:0/96`, compatible `::/96`, translated `::ffff:0:0:0/96`, NAT64 `64:ff9b::/96`, 6to4
//!   `2002::/16`) judged by that IPv4 address.
//!
//! Hosts are judged in the parser's canonical form, so every spelling collapses first: the `url`
//! crate implements WHATWG host parsing, which turns `2130706433`, `0x7f.1`, `017700000001` and
//! `127.1` into `127.0.0.1`, lowercases and IDNA-maps names (`ＬＯＣＡＬＨＯＳＴ` ⇒
//! `localhost`), and compresses IPv6 literals (brackets are not part of [`url::Host`]). Trailing
//! root dots are stripped (`localhost.` is `localhost`).
//!
//! This is stricter than upstream's guard at the pinned revision, which compared strings and so
//! missed `localhost.`, `[::7f00:1]`, NAT64/6to4 embeddings and metadata addresses written as
//! IPv6; none of the extra blocks affects a public destination.
//!
//! # No DNS resolution
//!
//! Upstream additionally resolves hostnames (Node `dns.lookup`) and blocks names that resolve to
//! private space. Workers have no DNS API, and a DNS-over-HTTPS lookup would be advisory anyway
//! (the platform resolves again when it connects). We rely on the platform instead: a Worker's
//! `fetch` cannot reach RFC 1918, loopback or link-local space, and the
//! `global_fetch_strictly_public` compatibility flag stops `fetch` from short-cutting to the origin
//! behind a hostname on the Worker's own zone. So hostnames are not resolved here; the
//! resolution-related [`BlockReason`]s exist for a future resolver (classify its answers with
//! [`is_blocked_ip`]). What can be judged without DNS is judged: names under the private-use
//! TLDs (`internal`, `local`, `localdomain`, `home.arpa`, `localhost`), public names that always
//! answer loopback (`localtest.me`, `lvh.me`, …) and names of wildcard-DNS services that answer
//! the address written in the name (`10.0.0.1.nip.io`, `app-7f000001.nip.io`, `--1.sslip.io`),
//! judged by that address. Any other name that happens to resolve privately still passes.
//!
//! # Redirects
//!
//! The edge fetches with `redirect: manual`, follows at most [`MAX_REDIRECTS`] hops, passes each
//! `Location` through [`redirect_target`] (which re-runs [`check_url`]) and calls
//! [`strip_cross_origin_headers`] before sending the next hop. After the last hop, a further 3xx
//! response is returned to the caller as is.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Redirect hops followed before the 3xx response is returned as is.
pub const MAX_REDIRECTS: usize = 10;

/// The setting that allows local and private destinations.
pub const ALLOW_LOCAL_NETWORK_VAR: &str = "ALLOW_LOCAL_NETWORK";

/// Hostnames of cloud metadata services, blocked whatever the settings.
const METADATA_HOSTNAMES: &[&str] = &["metadata.google.internal", "metadata", "instance-data"];

/// The link-local metadata address used by AWS, GCP, Azure and others.
const METADATA_IPV4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

/// AWS's IPv6 instance metadata endpoint.
const METADATA_IPV6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// Request headers kept on a cross-origin redirect hop; everything else is dropped.
pub const CROSS_ORIGIN_SAFE_HEADERS: &[&str] = &[
    "accept",
    "accept-language",
    "content-language",
    "content-type",
    "user-agent",
];

/// Why an outbound request was refused. [`BlockReason::as_str`] is the wire text (upstream's
/// `HostedOutboundRequestBlocked.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockReason {
    /// `URL is invalid`
    InvalidUrl,
    /// `Only HTTP and HTTPS outbound requests are allowed`
    UnsupportedScheme,
    /// `Metadata service addresses are not allowed`
    MetadataAddress,
    /// `Local and private network addresses are not allowed`
    LocalNetwork,
    /// `Hostname could not be resolved` (reserved for a resolver; unused on Workers)
    HostnameUnresolved,
    /// `Hostname did not resolve to an address` (reserved for a resolver; unused on Workers)
    HostnameWithoutAddress,
    /// `Resolved address is local or private` (reserved for a resolver; unused on Workers)
    ResolvedAddressPrivate,
    /// `Redirect target is not a valid URL`: a `Location` header that does not parse against the
    /// current URL.
    InvalidRedirect,
}

impl BlockReason {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockReason::InvalidUrl => "URL is invalid",
            BlockReason::UnsupportedScheme => "Only HTTP and HTTPS outbound requests are allowed",
            BlockReason::MetadataAddress => "Metadata service addresses are not allowed",
            BlockReason::LocalNetwork => "Local and private network addresses are not allowed",
            BlockReason::HostnameUnresolved => "Hostname could not be resolved",
            BlockReason::HostnameWithoutAddress => "Hostname did not resolve to an address",
            BlockReason::ResolvedAddressPrivate => "Resolved address is local or private",
            BlockReason::InvalidRedirect => "Redirect target is not a valid URL",
        }
    }

    /// Whether `ALLOW_LOCAL_NETWORK=true` would have let the request through.
    pub fn allowed_by_local_network_setting(self) -> bool {
        matches!(
            self,
            BlockReason::LocalNetwork | BlockReason::ResolvedAddressPrivate
        )
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused outbound request. `url` is a display form of the target without userinfo, query or
/// fragment (they may carry credentials), so the error is safe to log and to show the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub url: String,
    pub reason: BlockReason,
}

impl Blocked {
    /// Stable machine code for `{ok: false, error: {code, message}}` results.
    pub fn code(&self) -> &'static str {
        "outbound_blocked"
    }

    fn new(url: String, reason: BlockReason) -> Blocked {
        Blocked { url, reason }
    }
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Outbound request to {} blocked: {}",
            self.url, self.reason
        )?;
        if self.reason.allowed_by_local_network_setting() {
            write!(
                f,
                " (set {ALLOW_LOCAL_NETWORK_VAR}=true for local development)"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Blocked {}

/// Parses `url` and decides whether the Worker may fetch it. Returns the parsed URL to fetch.
pub fn check_url(url: &str, allow_local_network: bool) -> Result<Url, Blocked> {
    let parsed = super::parse_url(url)
        .map_err(|_| Blocked::new(display_raw(url), BlockReason::InvalidUrl))?;
    check_parsed(parsed, allow_local_network)
}

/// Resolves a redirect's `Location` against the current URL and re-validates the target.
pub fn redirect_target(
    current: &Url,
    location: &str,
    allow_local_network: bool,
) -> Result<Url, Blocked> {
    let next = current
        .join(location)
        .map_err(|_| Blocked::new(display_raw(location), BlockReason::InvalidRedirect))?;
    check_parsed(next, allow_local_network)
}

/// On a cross-origin hop (scheme, host or port differ), keeps only the headers in
/// [`CROSS_ORIGIN_SAFE_HEADERS`]. That drops `authorization`, `proxy-authorization` and `cookie`
/// as upstream does, and also the custom headers integrations put credentials in (`X-API-Key`
/// and friends). Same-origin hops keep every header.
pub fn strip_cross_origin_headers(from: &Url, to: &Url, headers: &mut Vec<(String, String)>) {
    if from.origin() == to.origin() {
        return;
    }
    headers.retain(|(name, _)| {
        CROSS_ORIGIN_SAFE_HEADERS
            .iter()
            .any(|safe| name.eq_ignore_ascii_case(safe))
    });
}

/// Whether an IP address is local or private (the local-network list, metadata included). For
/// classifying resolver answers; URL hosts go through [`check_url`].
pub fn is_blocked_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_blocked_ipv4(v4),
        IpAddr::V6(v6) => is_metadata_ipv6(v6) || is_blocked_ipv6(v6),
    }
}

fn check_parsed(url: Url, allow_local_network: bool) -> Result<Url, Blocked> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Blocked::new(
            display_parsed(&url),
            BlockReason::UnsupportedScheme,
        ));
    }
    let verdict = match url.host() {
        None => Some(BlockReason::InvalidUrl),
        Some(Host::Domain(name)) => classify_domain(name, allow_local_network),
        Some(Host::Ipv4(ip)) => classify_ipv4(ip, allow_local_network),
        Some(Host::Ipv6(ip)) => classify_ipv6(ip, allow_local_network),
    };
    match verdict {
        Some(reason) => Err(Blocked::new(display_parsed(&url), reason)),
        None => Ok(url),
    }
}

/// Names (and their subdomains) that only ever resolve on a private network: `localhost`, the
/// private-use TLDs `internal` (ICANN, 2024), `home.arpa` (RFC 8375), mDNS `local`, and
/// `localdomain`.
const PRIVATE_SUFFIXES: &[&str] = &["localhost", "internal", "local", "localdomain", "home.arpa"];

/// Public names whose DNS answers 127.0.0.1 for the name and every subdomain.
const LOOPBACK_NAMES: &[&str] = &["localtest.me", "lvh.me", "vcap.me", "lacolhost.com"];

/// Public wildcard-DNS services that answer the address written in the name
/// (`10.0.0.1.nip.io`, `app-10-0-0-1.sslip.io`, `app-0a000001.nip.io`, `--1.sslip.io`).
const ADDRESS_ECHO_DOMAINS: &[&str] = &["nip.io", "sslip.io", "xip.io", "traefik.me"];

/// `name` is `suffix` or a subdomain of it; returns the part before `.suffix` (empty for
/// `suffix` itself).
fn under<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let rest = name.strip_suffix(suffix)?;
    if rest.is_empty() {
        Some(rest)
    } else {
        rest.strip_suffix('.')
    }
}

/// The address an address-echo name resolves to, read the way those services read it: the
/// last four dotted labels, or the last label's dash-separated tail (dotted quad, 8 hex digits,
/// or IPv6 with `-` for `:`).
fn echoed_address(name: &str) -> Option<IpAddr> {
    let prefix = ADDRESS_ECHO_DOMAINS
        .iter()
        .find_map(|domain| under(name, domain))?;
    let labels: Vec<&str> = prefix.split('.').collect();
    if labels.len() >= 4 {
        let quad = labels[labels.len() - 4..].join(".");
        if let Ok(ip) = quad.parse::<Ipv4Addr>() {
            return Some(IpAddr::V4(ip));
        }
    }
    let last = labels.last().copied().unwrap_or_default();
    let dashes: Vec<&str> = last.split('-').collect();
    if dashes.len() >= 4 {
        let quad = dashes[dashes.len() - 4..].join(".");
        if let Ok(ip) = quad.parse::<Ipv4Addr>() {
            return Some(IpAddr::V4(ip));
        }
    }
    let tail = dashes.last().copied().unwrap_or_default();
    if tail.len() == 8 {
        if let Ok(n) = u32::from_str_radix(tail, 16) {
            return Some(IpAddr::V4(Ipv4Addr::from(n)));
        }
    }
    last.replace('-', ":")
        .parse::<Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

fn classify_domain(name: &str, allow_local_network: bool) -> Option<BlockReason> {
    // The parser has lowercased and IDNA-mapped the name; drop the root dot(s) so that
    // `metadata.` and `localhost.` are judged as the names they resolve as.
    let name = name.trim_end_matches('.');
    if METADATA_HOSTNAMES.contains(&name) {
        return Some(BlockReason::MetadataAddress);
    }
    // We cannot resolve names (module docs), but some names are addresses in disguise.
    match echoed_address(name) {
        Some(IpAddr::V4(ip)) => return classify_ipv4(ip, allow_local_network),
        Some(IpAddr::V6(ip)) => return classify_ipv6(ip, allow_local_network),
        None => {}
    }
    let private = PRIVATE_SUFFIXES
        .iter()
        .chain(LOOPBACK_NAMES)
        .any(|suffix| under(name, suffix).is_some());
    if !allow_local_network && private {
        return Some(BlockReason::LocalNetwork);
    }
    None
}

fn classify_ipv4(ip: Ipv4Addr, allow_local_network: bool) -> Option<BlockReason> {
    if ip == METADATA_IPV4 {
        Some(BlockReason::MetadataAddress)
    } else if !allow_local_network && is_blocked_ipv4(ip) {
        Some(BlockReason::LocalNetwork)
    } else {
        None
    }
}

fn classify_ipv6(ip: Ipv6Addr, allow_local_network: bool) -> Option<BlockReason> {
    if is_metadata_ipv6(ip) {
        Some(BlockReason::MetadataAddress)
    } else if !allow_local_network && is_blocked_ipv6(ip) {
        Some(BlockReason::LocalNetwork)
    } else {
        None
    }
}

fn is_blocked_ipv4(ip: Ipv4Addr) -> bool {
    let [a, b, _, _] = ip.octets();
    a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..=127).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..=31).contains(&b))
        // The whole 192.0.x.x, broader than the IANA special-purpose /24s, as upstream.
        || (a == 192 && b == 0)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 224
}

fn is_metadata_ipv6(ip: Ipv6Addr) -> bool {
    ip == METADATA_IPV6 || embedded_ipv4(ip) == Some(METADATA_IPV4)
}

fn is_blocked_ipv6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // RFC 8215 local-use NAT64: where the IPv4 address sits depends on local configuration, and
    // a translator that exists at all is on the local network.
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001 {
        return true;
    }
    if let Some(v4) = embedded_ipv4(ip) {
        // Includes `::` (0.0.0.0) and `::1` (0.0.0.1) through the compatible form.
        return is_blocked_ipv4(v4);
    }
    (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // deprecated site-local fec0::/10
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xff00) == 0xff00 // multicast ff00::/8
}

/// The IPv4 address an IPv6 address delivers to, for the forms that embed one at a fixed place.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    let zero = |range: std::ops::Range<usize>| s[range].iter().all(|w| *w == 0);
    if s[0] == 0x2002 {
        // 6to4 2002:AABB:CCDD::/48.
        return Some(v4(s[1], s[2]));
    }
    let mapped = zero(0..5) && s[5] == 0xffff; // ::ffff:a.b.c.d
    let compatible = zero(0..6); // ::a.b.c.d (deprecated)
    let translated = zero(0..4) && s[4] == 0xffff && s[5] == 0; // ::ffff:0:a.b.c.d
    let nat64 = s[0] == 0x0064 && s[1] == 0xff9b && zero(2..6); // 64:ff9b::a.b.c.d
    (mapped || compatible || translated || nat64).then(|| v4(s[6], s[7]))
}

/// A parsed URL for messages: no userinfo, query or fragment.
/// A URL for messages and logs: without userinfo, query or fragment (they may carry credentials).
pub fn display_url(raw: &str) -> String {
    match super::parse_url(raw) {
        Ok(url) => display_parsed(&url),
        Err(_) => display_raw(raw),
    }
}

fn display_parsed(url: &Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs without a host (cannot-be-a-base); those keep their form.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// An unparsable URL for messages: the same redactions done textually, and at most 200
/// characters.
fn display_raw(raw: &str) -> String {
    const MAX_CHARS: usize = 200;
    let raw = raw.trim();
    let cut = raw.find(['?', '#']).unwrap_or(raw.len());
    let (before, rest) = raw.split_at(cut);
    let mut shown = match before.find("://") {
        Some(scheme_end) => {
            let (scheme, after) = before.split_at(scheme_end + 3);
            let authority_end = after.find('/').unwrap_or(after.len());
            let (authority, path) = after.split_at(authority_end);
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}{host}{path}")
        }
        None => before.to_string(),
    };
    if !rest.is_empty() && shown.is_empty() {
        shown.push_str("(redacted)");
    }
    if shown.chars().count() > MAX_CHARS {
        shown = shown.chars().take(MAX_CHARS).collect::<String>() + "…";
    }
    shown
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use super::BlockReason::*;
    use super::*;

    /// `(url, verdict without local network, verdict with ALLOW_LOCAL_NETWORK=true)`;
    /// `None` means allowed.
    pub(crate) const MATRIX: &[(&str, Option<BlockReason>, Option<BlockReason>)] = &[
        // Public destinations.
        ("https://example.com/", None, None),
        ("http://example.com:8080/path?q=1#f", None, None),
        ("https://api.github.com/repos", None, None),
        ("http://8.8.8.8/", None, None),
        ("http://[2606:4700:4700::1111]/", None, None),
        ("https://localhost.example.com/", None, None),
        ("https://metadata.example.com/", None, None),
        ("https://beef.cafe/", None, None),
        ("https://127.0.0.1.nip.io/", Some(LocalNetwork), None), // an address in disguise
        // Invalid.
        ("", Some(InvalidUrl), Some(InvalidUrl)),
        ("not a url", Some(InvalidUrl), Some(InvalidUrl)),
        ("http://", Some(InvalidUrl), Some(InvalidUrl)),
        ("//example.com/", Some(InvalidUrl), Some(InvalidUrl)),
        ("http://exa mple.com/", Some(InvalidUrl), Some(InvalidUrl)),
        ("http://[::1/", Some(InvalidUrl), Some(InvalidUrl)),
        ("http://256.0.0.1/", Some(InvalidUrl), Some(InvalidUrl)),
        (
            "http://[fe80::1%25eth0]/",
            Some(InvalidUrl),
            Some(InvalidUrl),
        ),
        // Schemes.
        (
            "ftp://example.com/",
            Some(UnsupportedScheme),
            Some(UnsupportedScheme),
        ),
        (
            "file:///etc/passwd",
            Some(UnsupportedScheme),
            Some(UnsupportedScheme),
        ),
        (
            "ws://example.com/",
            Some(UnsupportedScheme),
            Some(UnsupportedScheme),
        ),
        (
            "javascript:alert(1)",
            Some(UnsupportedScheme),
            Some(UnsupportedScheme),
        ),
        (
            "data:text/plain,hi",
            Some(UnsupportedScheme),
            Some(UnsupportedScheme),
        ),
        (
            "gopher://127.0.0.1:25/",
            Some(UnsupportedScheme),
            Some(UnsupportedScheme),
        ),
        ("HTTPS://EXAMPLE.COM/", None, None),
        // Metadata: always blocked.
        (
            "http://169.254.169.254/latest/meta-data/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://2852039166/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://0xa9fea9fe/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://0251.0376.0251.0376/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://169.254.43518/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://[::ffff:169.254.169.254]/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://[::ffff:a9fe:a9fe]/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://[64:ff9b::a9fe:a9fe]/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://[2002:a9fe:a9fe::]/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://[fd00:ec2::254]/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://metadata.google.internal/computeMetadata/v1/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://METADATA.GOOGLE.INTERNAL./",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://metadata/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://metadata./",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://instance-data/latest/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "https://169.254.169.254:443/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        // localhost names.
        ("http://localhost/", Some(LocalNetwork), None),
        ("http://localhost:8080/", Some(LocalNetwork), None),
        ("http://LOCALHOST/", Some(LocalNetwork), None),
        ("http://localhost./", Some(LocalNetwork), None),
        ("http://api.localhost/", Some(LocalNetwork), None),
        ("http://a.b.localhost../", Some(LocalNetwork), None),
        // Full-width: the Worker's own `URL` maps it to `localhost` first (`net::parse_url`:
        // LocalNetwork there); host builds carry no IDNA tables and refuse it as invalid.
        (
            "http://ｌｏｃａｌｈｏｓｔ/",
            Some(InvalidUrl),
            Some(InvalidUrl),
        ),
        ("http://user:pass@localhost/", Some(LocalNetwork), None),
        // IPv4 spellings of loopback.
        ("http://127.0.0.1/", Some(LocalNetwork), None),
        ("http://127.0.0.1:8080/", Some(LocalNetwork), None),
        ("http://127.0.0.1./", Some(LocalNetwork), None),
        ("http://127.1/", Some(LocalNetwork), None),
        ("http://2130706433/", Some(LocalNetwork), None),
        ("http://0x7f.1/", Some(LocalNetwork), None),
        ("http://0x7f000001/", Some(LocalNetwork), None),
        ("http://017700000001/", Some(LocalNetwork), None),
        ("http://0177.0.0.1/", Some(LocalNetwork), None),
        ("http://127.255.255.254/", Some(LocalNetwork), None),
        // Full-width digits: 127.0.0.1 through the Worker's `URL`, invalid on the host (above).
        ("http://０x7f.1/", Some(InvalidUrl), Some(InvalidUrl)),
        // IPv4 ranges with their edges.
        ("http://0.0.0.0/", Some(LocalNetwork), None),
        ("http://0/", Some(LocalNetwork), None),
        ("http://0.255.255.255/", Some(LocalNetwork), None),
        ("http://1.0.0.1/", None, None),
        ("http://9.255.255.255/", None, None),
        ("http://10.0.0.1/", Some(LocalNetwork), None),
        ("http://10.255.255.255/", Some(LocalNetwork), None),
        ("http://11.0.0.0/", None, None),
        ("http://126.255.255.255/", None, None),
        ("http://128.0.0.0/", None, None),
        ("http://100.63.255.255/", None, None),
        ("http://100.64.0.0/", Some(LocalNetwork), None),
        ("http://100.127.255.255/", Some(LocalNetwork), None),
        ("http://100.128.0.0/", None, None),
        ("http://169.253.255.255/", None, None),
        ("http://169.254.0.1/", Some(LocalNetwork), None),
        ("http://169.254.170.2/", Some(LocalNetwork), None),
        ("http://169.255.0.0/", None, None),
        ("http://172.15.255.255/", None, None),
        ("http://172.16.0.0/", Some(LocalNetwork), None),
        ("http://172.31.255.255/", Some(LocalNetwork), None),
        ("http://172.32.0.0/", None, None),
        ("http://191.255.255.255/", None, None),
        ("http://192.0.0.1/", Some(LocalNetwork), None),
        ("http://192.0.2.1/", Some(LocalNetwork), None),
        ("http://192.0.255.255/", Some(LocalNetwork), None),
        ("http://192.1.0.0/", None, None),
        ("http://192.167.255.255/", None, None),
        ("http://192.168.0.1/", Some(LocalNetwork), None),
        ("http://192.168.255.255/", Some(LocalNetwork), None),
        ("http://192.169.0.0/", None, None),
        ("http://198.17.255.255/", None, None),
        ("http://198.18.0.0/", Some(LocalNetwork), None),
        ("http://198.19.255.255/", Some(LocalNetwork), None),
        ("http://198.20.0.0/", None, None),
        ("http://223.255.255.255/", None, None),
        ("http://224.0.0.1/", Some(LocalNetwork), None),
        ("http://239.255.255.250/", Some(LocalNetwork), None),
        ("http://240.0.0.1/", Some(LocalNetwork), None),
        ("http://255.255.255.255/", Some(LocalNetwork), None),
        // IPv6.
        ("http://[::]/", Some(LocalNetwork), None),
        ("http://[::1]/", Some(LocalNetwork), None),
        ("http://[::1]:8080/", Some(LocalNetwork), None),
        ("http://[0:0:0:0:0:0:0:1]/", Some(LocalNetwork), None),
        (
            "http://[0000:0000:0000:0000:0000:0000:0000:0001]/",
            Some(LocalNetwork),
            None,
        ),
        ("http://[fe80::1]/", Some(LocalNetwork), None),
        ("http://[febf:ffff::1]/", Some(LocalNetwork), None),
        ("http://[fec0::1]/", Some(LocalNetwork), None),
        ("http://[fc00::1]/", Some(LocalNetwork), None),
        ("http://[fd12:3456::1]/", Some(LocalNetwork), None),
        ("http://[ff02::1]/", Some(LocalNetwork), None),
        ("http://[FF0E::1]/", Some(LocalNetwork), None),
        ("http://[fbff::1]/", None, None),
        ("http://[2001:db8::1]/", None, None),
        // IPv4-mapped and other embeddings, dotted and hex.
        ("http://[::ffff:127.0.0.1]/", Some(LocalNetwork), None),
        ("http://[::ffff:7f00:1]/", Some(LocalNetwork), None),
        (
            "http://[0:0:0:0:0:ffff:7f00:0001]/",
            Some(LocalNetwork),
            None,
        ),
        ("http://[::ffff:10.0.0.1]/", Some(LocalNetwork), None),
        ("http://[::ffff:192.168.1.1]/", Some(LocalNetwork), None),
        ("http://[::ffff:c0a8:101]/", Some(LocalNetwork), None),
        ("http://[::ffff:8.8.8.8]/", None, None),
        ("http://[::ffff:808:808]/", None, None),
        ("http://[::127.0.0.1]/", Some(LocalNetwork), None),
        ("http://[::ffff:0:7f00:1]/", Some(LocalNetwork), None),
        ("http://[64:ff9b::7f00:1]/", Some(LocalNetwork), None),
        ("http://[64:ff9b::808:808]/", None, None),
        ("http://[64:ff9b:1::8.8.8.8]/", Some(LocalNetwork), None),
        ("http://[2002:7f00:1::]/", Some(LocalNetwork), None),
        ("http://[2002:c0a8:101::1]/", Some(LocalNetwork), None),
        ("http://[2002:808:808::]/", None, None),
        // DNS names that are private addresses in disguise: private-use TLDs, public names that
        // always answer 127.0.0.1, and wildcard services that answer the address in the name.
        (
            "http://metadata.google.internal./",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        ("http://db.internal/", Some(LocalNetwork), None),
        ("http://ip-10-0-0-1.ec2.internal/", Some(LocalNetwork), None),
        ("http://printer.local/", Some(LocalNetwork), None),
        ("http://router.home.arpa/", Some(LocalNetwork), None),
        ("http://localhost.localdomain/", Some(LocalNetwork), None),
        ("http://localtest.me/", Some(LocalNetwork), None),
        ("http://api.lvh.me:8080/", Some(LocalNetwork), None),
        ("http://vcap.me/", Some(LocalNetwork), None),
        ("http://127.0.0.1.nip.io/", Some(LocalNetwork), None),
        ("http://app.10.0.0.1.nip.io/", Some(LocalNetwork), None),
        ("http://app-192-168-1-1.nip.io/", Some(LocalNetwork), None),
        ("http://app-7f000001.nip.io/", Some(LocalNetwork), None),
        ("http://127-0-0-1.sslip.io./", Some(LocalNetwork), None),
        ("http://--1.sslip.io/", Some(LocalNetwork), None),
        ("http://172.16.0.1.xip.io/", Some(LocalNetwork), None),
        ("http://10.0.0.1.traefik.me/", Some(LocalNetwork), None),
        (
            "http://169.254.169.254.nip.io/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        (
            "http://a9fea9fe.nip.io/",
            Some(MetadataAddress),
            Some(MetadataAddress),
        ),
        // Public addresses through those services, and lookalikes, are not private.
        ("http://8.8.8.8.nip.io/", None, None),
        ("http://app-1-1-1-1.sslip.io/", None, None),
        ("http://nip.io/", None, None),
        ("http://internal.example.com/", None, None),
        ("http://example.internal.com/", None, None),
        ("http://lvh.me.example.com/", None, None),
        ("http://mynip.io/", None, None),
        ("http://127.0.0.1.example.com/", None, None),
    ];

    #[test]
    fn the_host_matrix() {
        for (url, strict, relaxed) in MATRIX {
            for (allow, expected) in [(false, strict), (true, relaxed)] {
                let got = check_url(url, allow).err().map(|b| b.reason);
                assert_eq!(
                    got, *expected,
                    "check_url({url:?}, allow_local_network={allow})"
                );
            }
        }
    }

    #[test]
    fn url_crate_canonicalises_ipv4_spellings() {
        for spelling in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://017700000001/",
            "http://127.1/",
            "http://127.0.0.1./",
        ] {
            let url = check_url(spelling, true).unwrap();
            assert_eq!(
                url.host(),
                Some(Host::Ipv4(Ipv4Addr::LOCALHOST)),
                "{spelling}"
            );
            assert_eq!(url.as_str(), "http://127.0.0.1/", "{spelling}");
        }
    }

    #[test]
    fn reason_texts_are_upstreams() {
        let texts = [
            (InvalidUrl, "URL is invalid"),
            (
                UnsupportedScheme,
                "Only HTTP and HTTPS outbound requests are allowed",
            ),
            (
                MetadataAddress,
                "Metadata service addresses are not allowed",
            ),
            (
                LocalNetwork,
                "Local and private network addresses are not allowed",
            ),
            (HostnameUnresolved, "Hostname could not be resolved"),
            (
                HostnameWithoutAddress,
                "Hostname did not resolve to an address",
            ),
            (
                ResolvedAddressPrivate,
                "Resolved address is local or private",
            ),
            (InvalidRedirect, "Redirect target is not a valid URL"),
        ];
        for (reason, text) in texts {
            assert_eq!(reason.as_str(), text);
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn messages_name_the_reason_and_the_setting() {
        let local = check_url("http://127.0.0.1:8080/", false).unwrap_err();
        assert_eq!(local.code(), "outbound_blocked");
        assert_eq!(
            local.to_string(),
            "Outbound request to http://127.0.0.1:8080/ blocked: Local and private network \
             addresses are not allowed (set ALLOW_LOCAL_NETWORK=true for local development)"
        );

        let metadata = check_url("http://169.254.169.254/latest/meta-data/", true).unwrap_err();
        assert_eq!(
            metadata.to_string(),
            "Outbound request to http://169.254.169.254/latest/meta-data/ blocked: Metadata \
             service addresses are not allowed"
        );
        assert!(!metadata.to_string().contains("ALLOW_LOCAL_NETWORK"));

        let scheme = check_url("file:///etc/passwd", false).unwrap_err();
        assert_eq!(
            scheme.to_string(),
            "Outbound request to file:///etc/passwd blocked: Only HTTP and HTTPS outbound \
             requests are allowed"
        );
    }

    #[test]
    fn messages_never_show_credentials() {
        let blocked = check_url(
            "http://admin:hunter2@127.0.0.1:8080/x?api_key=sk-123#frag",
            false,
        )
        .unwrap_err();
        assert_eq!(blocked.url, "http://127.0.0.1:8080/x");

        for raw in [
            "http://admin:hunter2@exa mple.com/x?api_key=sk-123",
            "http://admin:hunter2@[::1/?token=sk-123",
            "  ht!tp://admin:hunter2@host/path#sk-123",
        ] {
            let blocked = check_url(raw, false).unwrap_err();
            let text = blocked.to_string();
            assert!(!text.contains("hunter2"), "{text}");
            assert!(!text.contains("sk-123"), "{text}");
        }

        let long = format!("http://exa mple.com/{}", "a".repeat(1000));
        let blocked = check_url(&long, false).unwrap_err();
        assert!(blocked.url.chars().count() <= 201);

        // Odd inputs must not panic.
        for raw in ["://", "@", "http://@/", "?#", "🔑://🔑@🔑/🔑", "\u{0}"] {
            let _ = check_url(raw, false);
            let _ = display_raw(raw);
        }
    }

    #[test]
    fn redirects_are_resolved_and_rechecked() {
        let current = Url::parse("https://api.example.com/v1/items?page=2").unwrap();
        let cases: &[(&str, Result<&str, BlockReason>)] = &[
            ("/v2/items", Ok("https://api.example.com/v2/items")),
            ("next", Ok("https://api.example.com/v1/next")),
            ("?page=3", Ok("https://api.example.com/v1/items?page=3")),
            ("//cdn.example.net/file", Ok("https://cdn.example.net/file")),
            (
                "https://other.example.org/",
                Ok("https://other.example.org/"),
            ),
            ("http://127.0.0.1/admin", Err(LocalNetwork)),
            ("//localhost/", Err(LocalNetwork)),
            (
                "http://169.254.169.254/latest/meta-data/",
                Err(MetadataAddress),
            ),
            ("http://[::ffff:10.0.0.1]/", Err(LocalNetwork)),
            ("file:///etc/passwd", Err(UnsupportedScheme)),
            ("http://exa mple.com/", Err(InvalidRedirect)),
            ("http://[::1", Err(InvalidRedirect)),
        ];
        for (location, expected) in cases {
            let got = redirect_target(&current, location, false);
            match expected {
                Ok(url) => assert_eq!(got.unwrap().as_str(), *url, "{location}"),
                Err(reason) => assert_eq!(got.unwrap_err().reason, *reason, "{location}"),
            }
        }
        // Local development lets a redirect to loopback through, never to metadata.
        assert!(redirect_target(&current, "http://127.0.0.1/", true).is_ok());
        assert_eq!(
            redirect_target(&current, "http://metadata/", true)
                .unwrap_err()
                .reason,
            MetadataAddress
        );
        assert_eq!(MAX_REDIRECTS, 10);
    }

    fn headers() -> Vec<(String, String)> {
        [
            ("Authorization", "Bearer sk-123"),
            ("proxy-authorization", "Basic abc"),
            ("Cookie", "session=1"),
            ("X-API-Key", "sk-456"),
            ("Accept", "application/json"),
            ("User-Agent", "executor"),
            ("content-type", "application/json"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn cross_origin_hops_drop_credentials() {
        let from = Url::parse("https://api.example.com/a").unwrap();
        for to in [
            "https://other.example.com/a",    // host
            "http://api.example.com/a",       // scheme
            "https://api.example.com:8443/a", // port
        ] {
            let to = Url::parse(to).unwrap();
            let mut h = headers();
            strip_cross_origin_headers(&from, &to, &mut h);
            let names: Vec<&str> = h.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(names, ["Accept", "User-Agent", "content-type"], "{to}");
        }
        for to in [
            "https://api.example.com/b?x=1",
            "https://API.example.com:443/c",
        ] {
            let to = Url::parse(to).unwrap();
            let mut h = headers();
            strip_cross_origin_headers(&from, &to, &mut h);
            assert_eq!(h, headers(), "{to}");
        }
    }

    #[test]
    fn resolver_answers_can_be_classified() {
        for blocked in [
            "127.0.0.1",
            "10.1.2.3",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:192.168.0.1",
            "fd00:ec2::254",
        ] {
            assert!(is_blocked_ip(blocked.parse().unwrap()), "{blocked}");
        }
        for public in ["1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1"] {
            assert!(!is_blocked_ip(public.parse().unwrap()), "{public}");
        }
    }
}
