//! Delivery policy (spec §1.11.3): the retry schedule, the circuit-breaker threshold, the attempt
//! timeout, and the egress policy that decides whether idv may POST to a receiver URL.
//! Pure apart from [`resolve`]: the clock, randomness and DNS results come in as arguments. Must not
//! send requests, read storage or configuration files.
//!
//! Egress. On-prem receivers usually live on private addresses, so private (RFC 1918, ULA, CGNAT)
//! and loopback addresses are allowed by default. Always refused, whatever the lists say:
//! unspecified (`0.0.0.0/8`, `::`), link-local (`169.254.0.0/16`, `fe80::/10`), cloud metadata
//! services (see [`METADATA_ADDRS`], [`METADATA_HOSTS`]), multicast, broadcast and reserved
//! `240.0.0.0/4`. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are judged as their IPv4 address.
//! Then the configured lists: a host or any of its addresses on the deny list is refused (deny
//! wins); when the allow list is not empty, the host must be on it by name or every address by IP.
//! Every resolved address must pass, because the connection may use any of them; the caller then
//! connects to the checked addresses ([`EgressTarget::addrs`]) instead of resolving again, which
//! closes the DNS-rebinding gap between check and connect.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// One attempt may take this long (spec: timeout 30 s; a timeout is a failure).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Retries after the first attempt; when the last one fails the delivery is `failed`.
pub const MAX_RETRIES: u32 = 5;
/// First retry delay; each later one is 4 times the previous (30 s, 2 min, 8 min, 32 min, 2 h 8 min).
pub const FIRST_RETRY_DELAY: Duration = Duration::from_secs(30);
pub const RETRY_FACTOR: u32 = 4;
/// An endpoint whose last this-many deliveries all ended `failed` is disabled.
pub const DISABLE_AFTER_CONSECUTIVE_FAILURES: u32 = 10;

/// Delay before retry number `retry` (1-based): `None` for 0 or past [`MAX_RETRIES`].
pub fn retry_delay(retry: u32) -> Option<Duration> {
    if retry == 0 || retry > MAX_RETRIES {
        return None;
    }
    Some(FIRST_RETRY_DELAY * RETRY_FACTOR.pow(retry - 1))
}

/// What happens after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Schedule the next attempt this long after the failed one.
    RetryIn(Duration),
    /// All retries used: mark the delivery `failed`.
    GiveUp,
}

/// `attempts_made` counts every attempt so far, the first included, all failed.
pub fn after_failed_attempt(attempts_made: u32) -> AfterFailure {
    // Attempt 1 failed -> retry 1; attempt 6 (retry 5) failed -> give up.
    match retry_delay(attempts_made) {
        Some(delay) => AfterFailure::RetryIn(delay),
        None => AfterFailure::GiveUp,
    }
}

/// Circuit breaker: `consecutive_failed_deliveries` counts deliveries that ended `failed` (all
/// retries exhausted) since the endpoint's last successful delivery.
pub fn should_disable(consecutive_failed_deliveries: u32) -> bool {
    consecutive_failed_deliveries >= DISABLE_AFTER_CONSECUTIVE_FAILURES
}

/// Instance-metadata addresses outside link-local: AWS IPv6 IMDS, Alibaba Cloud, Azure WireServer.
/// (AWS/GCP/Azure/OCI IPv4 IMDS at 169.254.169.254 and ECS at 169.254.170.2 are link-local.)
pub const METADATA_ADDRS: &[IpAddr] = &[
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)),
];
/// Metadata host names, refused before any resolution.
pub const METADATA_HOSTS: &[&str] =
    &["metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"];

/// Why an address is always refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForbiddenClass {
    Unspecified,
    LinkLocal,
    Metadata,
    Multicast,
    Broadcast,
    Reserved,
}

impl fmt::Display for ForbiddenClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ForbiddenClass::Unspecified => "an unspecified address",
            ForbiddenClass::LinkLocal => "a link-local address",
            ForbiddenClass::Metadata => "a cloud metadata service",
            ForbiddenClass::Multicast => "a multicast address",
            ForbiddenClass::Broadcast => "the broadcast address",
            ForbiddenClass::Reserved => "a reserved address",
        })
    }
}

/// `::ffff:a.b.c.d` is `a.b.c.d` on the wire.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The built-in refusal for `ip`, if any.
pub fn forbidden_class(ip: IpAddr) -> Option<ForbiddenClass> {
    let ip = canonical_ip(ip);
    if METADATA_ADDRS.contains(&ip) {
        return Some(ForbiddenClass::Metadata);
    }
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if o[0] == 0 {
                Some(ForbiddenClass::Unspecified)
            } else if v4.is_link_local() {
                Some(ForbiddenClass::LinkLocal)
            } else if v4.is_multicast() {
                Some(ForbiddenClass::Multicast)
            } else if v4.is_broadcast() {
                Some(ForbiddenClass::Broadcast)
            } else if o[0] >= 240 {
                Some(ForbiddenClass::Reserved)
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_unspecified() {
                Some(ForbiddenClass::Unspecified)
            } else if first & 0xffc0 == 0xfe80 {
                Some(ForbiddenClass::LinkLocal)
            } else if v6.is_multicast() {
                Some(ForbiddenClass::Multicast)
            } else {
                None
            }
        }
    }
}

/// One allow/deny list entry: an IP, a CIDR block, an exact host name or `*.suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRule {
    Cidr {
        net: IpAddr,
        prefix: u8,
    },
    Host(String),
    /// `*.example.com`: any name ending in `.example.com` (not `example.com` itself).
    Suffix(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("egress rule '{rule}': {reason}")]
pub struct RuleError {
    pub rule: String,
    pub reason: &'static str,
}

fn normalise_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl HostRule {
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let bad = |reason| RuleError { rule: text.to_string(), reason };
        let t = text.trim();
        if t.is_empty() {
            return Err(bad("is empty"));
        }
        if let Some((addr, bits)) = t.split_once('/') {
            let net: IpAddr = addr.parse().map_err(|_| bad("is not an IP address before '/'"))?;
            let max = if net.is_ipv4() { 32 } else { 128 };
            let prefix: u8 = bits.parse().ok().filter(|b| *b <= max).ok_or_else(|| bad("has a bad prefix length"))?;
            return Ok(HostRule::Cidr { net, prefix });
        }
        let unbracketed = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(t);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(HostRule::Cidr { net: ip, prefix: if ip.is_ipv4() { 32 } else { 128 } });
        }
        let (suffix, name) = match t.strip_prefix("*.") {
            Some(rest) => (true, normalise_host(rest)),
            None => (false, normalise_host(t)),
        };
        let valid = !name.is_empty()
            && name
                .split('.')
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        if !valid {
            return Err(bad("is not an IP, CIDR, host name or *.domain"));
        }
        Ok(if suffix { HostRule::Suffix(name) } else { HostRule::Host(name) })
    }

    fn matches_ip(&self, ip: IpAddr) -> bool {
        let HostRule::Cidr { net, prefix } = self else { return false };
        match (canonical_ip(*net), canonical_ip(ip)) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let bits = u32::from(*prefix.min(&32));
                let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let bits = u32::from(*prefix.min(&128));
                let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }

    fn matches_name(&self, host: &str) -> bool {
        match self {
            HostRule::Host(name) => host == name,
            HostRule::Suffix(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            HostRule::Cidr { .. } => false,
        }
    }
}

impl fmt::Display for HostRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostRule::Cidr { net, prefix } => write!(f, "{net}/{prefix}"),
            HostRule::Host(name) => f.write_str(name),
            HostRule::Suffix(name) => write!(f, "*.{name}"),
        }
    }
}

/// Configured egress policy. `Default`: no lists, https required for live endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressPolicy {
    pub allow: Vec<HostRule>,
    pub deny: Vec<HostRule>,
    /// Refuse `http://` URLs on live endpoints (sandbox endpoints may use http for local testing).
    pub require_https_for_live: bool,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        EgressPolicy { allow: Vec::new(), deny: Vec::new(), require_https_for_live: true }
    }
}

/// Why a receiver URL is refused; `Display` is a sentence fit for an API error `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressRefusal {
    #[error("the URL is not valid: {0}")]
    InvalidUrl(String),
    #[error("the URL scheme must be https or http, not '{0}'")]
    UnsupportedScheme(String),
    #[error("the URL must not contain a user name or password")]
    CredentialsInUrl,
    #[error("live endpoints must use https")]
    HttpsRequired,
    #[error("host '{0}' is a cloud metadata service")]
    MetadataHost(String),
    #[error("host '{host}' resolves to {ip}, {class}")]
    ForbiddenAddress { host: String, ip: IpAddr, class: ForbiddenClass },
    #[error("host '{host}' ({ip}) is on the egress deny list (rule {rule})")]
    DeniedAddress { host: String, ip: IpAddr, rule: String },
    #[error("host '{host}' is on the egress deny list (rule {rule})")]
    DeniedHost { host: String, rule: String },
    #[error("host '{0}' is not on the egress allow list")]
    NotAllowed(String),
    #[error("host '{0}' did not resolve to any address")]
    Unresolved(String),
}

/// A receiver URL that passed the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressTarget {
    pub url: awc::http::Uri,
    /// Lower-case host, without brackets for IPv6 literals.
    pub host: String,
    pub port: u16,
    pub https: bool,
    /// The checked addresses to connect to (pin one with `awc::ClientRequest::address`).
    pub addrs: Vec<SocketAddr>,
}

/// A parsed receiver URL, before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverUrl {
    pub url: awc::http::Uri,
    pub host: String,
    pub port: u16,
    pub https: bool,
    /// Set when the host is an IP literal; then no resolution is needed.
    pub literal_ip: Option<IpAddr>,
}

/// Parses and checks the parts of `url` that need no DNS: scheme, credentials, https on live,
/// metadata host names.
pub fn parse_receiver_url(url: &str, live: bool, policy: &EgressPolicy) -> Result<ReceiverUrl, EgressRefusal> {
    let uri: awc::http::Uri = url.trim().parse().map_err(|e| EgressRefusal::InvalidUrl(format!("{e}")))?;
    let https = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => true,
        Some(s) if s.eq_ignore_ascii_case("http") => false,
        Some(s) => return Err(EgressRefusal::UnsupportedScheme(s.to_string())),
        None => return Err(EgressRefusal::InvalidUrl("it must be absolute (https://host/path)".into())),
    };
    let authority = uri.authority().ok_or_else(|| EgressRefusal::InvalidUrl("it has no host".into()))?;
    if authority.as_str().contains('@') {
        return Err(EgressRefusal::CredentialsInUrl);
    }
    let raw_host = authority.host();
    let host = normalise_host(raw_host.trim_start_matches('[').trim_end_matches(']'));
    if host.is_empty() {
        return Err(EgressRefusal::InvalidUrl("it has no host".into()));
    }
    if live && !https && policy.require_https_for_live {
        return Err(EgressRefusal::HttpsRequired);
    }
    if METADATA_HOSTS.contains(&host.as_str()) {
        return Err(EgressRefusal::MetadataHost(host));
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let literal_ip = host.parse::<IpAddr>().ok();
    Ok(ReceiverUrl { url: uri, host, port, https, literal_ip })
}

/// The whole egress decision. `resolved` is what DNS returned for the host (ignored when the host
/// is an IP literal); use [`resolve`] in production and a fixed list in tests.
pub fn check_egress(
    url: &str,
    live: bool,
    policy: &EgressPolicy,
    resolved: &[IpAddr],
) -> Result<EgressTarget, EgressRefusal> {
    let target = parse_receiver_url(url, live, policy)?;
    let ips: Vec<IpAddr> = match target.literal_ip {
        Some(ip) => vec![ip],
        None => resolved.to_vec(),
    };
    check_resolved(target, &ips, policy)
}

/// The DNS-dependent half of [`check_egress`], for callers that parsed first to learn the host.
pub fn check_resolved(
    target: ReceiverUrl,
    ips: &[IpAddr],
    policy: &EgressPolicy,
) -> Result<EgressTarget, EgressRefusal> {
    let host = target.host.clone();
    if ips.is_empty() {
        return Err(EgressRefusal::Unresolved(host));
    }
    for ip in ips {
        if let Some(class) = forbidden_class(*ip) {
            return Err(EgressRefusal::ForbiddenAddress { host, ip: *ip, class });
        }
    }
    if let Some(rule) = policy.deny.iter().find(|r| r.matches_name(&host)) {
        return Err(EgressRefusal::DeniedHost { host, rule: rule.to_string() });
    }
    for ip in ips {
        if let Some(rule) = policy.deny.iter().find(|r| r.matches_ip(*ip)) {
            return Err(EgressRefusal::DeniedAddress { host, ip: *ip, rule: rule.to_string() });
        }
    }
    if !policy.allow.is_empty() {
        let by_name = policy.allow.iter().any(|r| r.matches_name(&host));
        let by_ip = ips.iter().all(|ip| policy.allow.iter().any(|r| r.matches_ip(*ip)));
        if !by_name && !by_ip {
            return Err(EgressRefusal::NotAllowed(host));
        }
    }
    let addrs = ips.iter().map(|ip| SocketAddr::new(*ip, target.port)).collect();
    Ok(EgressTarget { url: target.url, host, port: target.port, https: target.https, addrs })
}

/// Resolves `host` with the system resolver. Blocking: call it from the blocking-work helper.
pub fn resolve(host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
    let mut ips: Vec<IpAddr> = Vec::new();
    for addr in (host, port).to_socket_addrs()? {
        if !ips.contains(&addr.ip()) {
            ips.push(addr.ip());
        }
    }
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test IP")
    }

    fn rules(items: &[&str]) -> Vec<HostRule> {
        items.iter().map(|r| HostRule::parse(r).expect("test rule")).collect()
    }

    #[test]
    fn retry_schedule_is_30s_times_four_for_five_retries() {
        let mins = |m: u64| Duration::from_secs(m * 60);
        assert_eq!(retry_delay(0), None);
        assert_eq!(retry_delay(1), Some(Duration::from_secs(30)));
        assert_eq!(retry_delay(2), Some(mins(2)));
        assert_eq!(retry_delay(3), Some(mins(8)));
        assert_eq!(retry_delay(4), Some(mins(32)));
        assert_eq!(retry_delay(5), Some(mins(128)));
        assert_eq!(retry_delay(6), None);
        assert_eq!(after_failed_attempt(1), AfterFailure::RetryIn(Duration::from_secs(30)));
        assert_eq!(after_failed_attempt(5), AfterFailure::RetryIn(mins(128)));
        assert_eq!(after_failed_attempt(6), AfterFailure::GiveUp);
        assert_eq!(after_failed_attempt(u32::MAX), AfterFailure::GiveUp);
    }

    #[test]
    fn endpoint_disables_at_ten_consecutive_failed_deliveries() {
        assert!(!should_disable(0));
        assert!(!should_disable(9));
        assert!(should_disable(10));
        assert!(should_disable(11));
    }

    #[test]
    fn private_and_loopback_receivers_are_allowed_by_default() {
        let p = EgressPolicy::default();
        for (url, ips) in [
            ("https://hooks.internal/x", vec![ip("10.1.2.3")]),
            ("https://hooks.internal/x", vec![ip("192.168.0.5"), ip("fd12::5")]),
            ("https://127.0.0.1:8443/x", vec![]),
            ("https://[::1]/x", vec![]),
            ("https://example.com/x", vec![ip("93.184.216.34"), ip("2606:2800:220:1::1")]),
        ] {
            let t = check_egress(url, true, &p, &ips).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(!t.addrs.is_empty());
        }
        let t = check_egress("https://[::1]:9000/x", true, &p, &[]).expect("ok");
        assert_eq!((t.host.as_str(), t.port), ("::1", 9000));
        assert_eq!(t.addrs, vec!["[::1]:9000".parse::<SocketAddr>().expect("addr")]);
    }

    #[test]
    fn link_local_metadata_and_special_addresses_are_always_refused() {
        let p = EgressPolicy { allow: rules(&["0.0.0.0/0", "::/0"]), ..EgressPolicy::default() };
        let refused = |url: &str, ips: &[IpAddr]| check_egress(url, false, &p, ips).unwrap_err();
        assert!(matches!(
            refused("http://169.254.169.254/latest/meta-data", &[]),
            EgressRefusal::ForbiddenAddress { class: ForbiddenClass::Metadata, .. }
        ));
        assert!(matches!(
            refused("http://x.test/", &[ip("169.254.1.1")]),
            EgressRefusal::ForbiddenAddress { class: ForbiddenClass::LinkLocal, .. }
        ));
        assert!(matches!(
            refused("http://[fe80::1]/", &[]),
            EgressRefusal::ForbiddenAddress { class: ForbiddenClass::LinkLocal, .. }
        ));
        assert!(matches!(
            refused("http://[fd00:ec2::254]/", &[]),
            EgressRefusal::ForbiddenAddress { class: ForbiddenClass::Metadata, .. }
        ));
        assert!(matches!(
            refused("http://[::ffff:169.254.169.254]/", &[]),
            EgressRefusal::ForbiddenAddress { class: ForbiddenClass::Metadata, .. }
        ));
        assert!(matches!(refused("http://metadata.google.internal./x", &[]), EgressRefusal::MetadataHost(_)));
        assert!(matches!(refused("http://0.0.0.0/", &[]), EgressRefusal::ForbiddenAddress { .. }));
        assert!(matches!(refused("http://[::]/", &[]), EgressRefusal::ForbiddenAddress { .. }));
        assert!(matches!(refused("http://224.0.0.1/", &[]), EgressRefusal::ForbiddenAddress { .. }));
        assert!(matches!(refused("http://[ff02::1]/", &[]), EgressRefusal::ForbiddenAddress { .. }));
        assert!(matches!(refused("http://255.255.255.255/", &[]), EgressRefusal::ForbiddenAddress { .. }));
        // One bad address among good ones is enough: the client could pick it.
        assert!(matches!(
            refused("http://rebind.test/", &[ip("93.184.216.34"), ip("169.254.169.254")]),
            EgressRefusal::ForbiddenAddress { .. }
        ));
        assert_eq!(refused("http://nowhere.test/", &[]), EgressRefusal::Unresolved("nowhere.test".into()));
    }

    #[test]
    fn live_endpoints_need_https_unless_configured_otherwise() {
        let p = EgressPolicy::default();
        let ips = [ip("10.0.0.1")];
        assert_eq!(check_egress("http://hooks.test/x", true, &p, &ips).unwrap_err(), EgressRefusal::HttpsRequired);
        assert!(check_egress("http://hooks.test/x", false, &p, &ips).is_ok(), "sandbox may use http");
        let relaxed = EgressPolicy { require_https_for_live: false, ..EgressPolicy::default() };
        assert!(check_egress("http://hooks.test/x", true, &relaxed, &ips).is_ok());
        assert_eq!(
            EgressRefusal::HttpsRequired.to_string(),
            "live endpoints must use https",
            "reasons are sentences for API errors"
        );
    }

    #[test]
    fn malformed_urls_are_refused_with_a_reason() {
        let p = EgressPolicy::default();
        let ips = [ip("10.0.0.1")];
        assert!(matches!(check_egress("ftp://x.test/", false, &p, &ips), Err(EgressRefusal::UnsupportedScheme(_))));
        assert!(matches!(check_egress("/relative", false, &p, &ips), Err(EgressRefusal::InvalidUrl(_))));
        assert!(matches!(check_egress("not a url", false, &p, &ips), Err(EgressRefusal::InvalidUrl(_))));
        assert_eq!(
            check_egress("https://user:pw@x.test/", false, &p, &ips).unwrap_err(),
            EgressRefusal::CredentialsInUrl
        );
    }

    #[test]
    fn deny_list_wins_over_allow_list() {
        let p = EgressPolicy {
            allow: rules(&["10.0.0.0/8", "*.example.com"]),
            deny: rules(&["10.9.0.0/16", "bad.example.com", "2001:db8::/32"]),
            require_https_for_live: true,
        };
        assert!(check_egress("https://a.example.com/", true, &p, &[ip("93.184.216.34")]).is_ok());
        assert!(check_egress("https://internal.test/", true, &p, &[ip("10.1.1.1")]).is_ok());
        assert!(matches!(
            check_egress("https://BAD.example.com./", true, &p, &[ip("93.184.216.34")]),
            Err(EgressRefusal::DeniedHost { .. })
        ));
        assert!(matches!(
            check_egress("https://a.example.com/", true, &p, &[ip("10.9.3.4")]),
            Err(EgressRefusal::DeniedAddress { .. })
        ));
        assert!(matches!(
            check_egress("https://v6.example.com/", true, &p, &[ip("2001:db8::7")]),
            Err(EgressRefusal::DeniedAddress { .. })
        ));
        assert!(matches!(
            check_egress("https://example.com/", true, &p, &[ip("93.184.216.34")]),
            Err(EgressRefusal::NotAllowed(_))
        ));
        assert!(matches!(
            check_egress("https://other.test/", true, &p, &[ip("10.1.1.1"), ip("192.168.1.1")]),
            Err(EgressRefusal::NotAllowed(_))
        ));
    }

    #[test]
    fn deny_rules_cover_private_ranges_when_an_operator_wants_that() {
        let p = EgressPolicy { deny: rules(&["10.0.0.0/8", "127.0.0.0/8", "::1/128"]), ..EgressPolicy::default() };
        assert!(check_egress("https://127.0.0.1/", true, &p, &[]).is_err());
        assert!(check_egress("https://[::1]/", true, &p, &[]).is_err());
        assert!(check_egress("https://[::ffff:10.0.0.1]/", true, &p, &[]).is_err(), "mapped v4 matches v4 rules");
    }

    #[test]
    fn rules_parse_and_refuse_garbage() {
        assert_eq!(HostRule::parse("10.0.0.0/8").expect("ok").to_string(), "10.0.0.0/8");
        assert_eq!(HostRule::parse("[::1]").expect("ok").to_string(), "::1/128");
        assert_eq!(HostRule::parse("*.Example.COM").expect("ok"), HostRule::Suffix("example.com".into()));
        for bad in ["", "10.0.0.0/33", "::/129", "x/8", "a b", "*.", "http://x"] {
            assert!(HostRule::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn resolve_helper_handles_literals_and_localhost() {
        assert_eq!(resolve("127.0.0.1", 80).expect("literal"), vec![ip("127.0.0.1")]);
        assert!(resolve("localhost", 80).expect("localhost").iter().all(|i| i.is_loopback()));
    }
}
