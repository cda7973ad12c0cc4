//! IP intelligence from what the operator imports (VerifyHQ A.6): MaxMind-format `.mmdb` databases for
//! geolocation and networks (City or Country, and ASN; read with the `maxminddb` crate), and text lists of
//! Tor exit nodes, datacenter, VPN and proxy ranges and known abusers (one address or CIDR block per line,
//! `#` comments). Loaded once at start from one folder; a lookup reads memory only and never calls out.
//! Where nothing is loaded the answer says so (`UNKNOWN`), never a guess. Must not write anything or log the
//! address looked up.

use crate::domain::api_key::{check_ip_or_cidr, ip_allowed};
use maxminddb::{path, Reader};
use serde::Serialize;
use std::net::IpAddr;
use std::path::Path;
use utoipa::ToSchema;

/// The threat lists idv reads from the folder, by file name.
const LISTS: &[(&str, Threat)] = &[
    ("tor-exit-nodes.txt", Threat::Tor),
    ("datacenter-ranges.txt", Threat::Datacenter),
    ("vpn-ranges.txt", Threat::Vpn),
    ("proxy-ranges.txt", Threat::Proxy),
    ("known-abusers.txt", Threat::KnownAbuser),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Threat {
    Tor,
    Datacenter,
    Vpn,
    Proxy,
    KnownAbuser,
}

impl Threat {
    fn name(self) -> &'static str {
        match self {
            Threat::Tor => "TOR",
            Threat::Datacenter => "DATACENTER",
            Threat::Vpn => "VPN",
            Threat::Proxy => "PROXY",
            Threat::KnownAbuser => "KNOWN_ABUSER",
        }
    }

    /// How much the threat alone weighs, 0 to 1.
    fn weight(self) -> f64 {
        match self {
            Threat::Tor => 0.9,
            Threat::KnownAbuser => 0.85,
            Threat::Proxy => 0.7,
            Threat::Vpn => 0.6,
            Threat::Datacenter => 0.4,
        }
    }
}

/// The databases and lists of one folder.
#[derive(Default)]
pub struct IpIntelligence {
    geo: Option<(String, Reader<Vec<u8>>)>,
    asn: Option<(String, Reader<Vec<u8>>)>,
    lists: Vec<(Threat, String, Vec<String>)>,
}

impl IpIntelligence {
    /// Reads every `.mmdb` file and threat list of `dir` (a missing folder loads nothing). A file that cannot
    /// be read is skipped with a warning naming it; so is a list line that is not an address or block.
    pub fn load(dir: &Path) -> IpIntelligence {
        let mut out = IpIntelligence::default();
        let Ok(entries) = std::fs::read_dir(dir) else { return out };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "mmdb")) {
            match Reader::open_readfile(path) {
                Ok(reader) => {
                    let kind = reader.metadata().database_type.clone();
                    let label =
                        format!("{kind} ({})", path.file_name().map(|f| f.to_string_lossy()).unwrap_or_default());
                    if kind.contains("ASN") || kind.contains("ISP") {
                        out.asn = Some((label, reader));
                    } else if kind.contains("City") || kind.contains("Country") {
                        out.geo = Some((label, reader));
                    } else {
                        tracing::warn!(file = %path.display(), database_type = %kind, "an .mmdb of a kind idv does not read");
                    }
                }
                Err(e) => tracing::warn!(file = %path.display(), error = %e, "cannot read an .mmdb file"),
            }
        }
        for (file, threat) in LISTS {
            let Ok(text) = std::fs::read_to_string(dir.join(file)) else { continue };
            let mut skipped = 0usize;
            let blocks: Vec<String> = text
                .lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .filter_map(|l| match check_ip_or_cidr(l) {
                    Ok(()) => Some(l.to_string()),
                    Err(_) => {
                        skipped += 1;
                        None
                    }
                })
                .collect();
            if skipped > 0 {
                tracing::warn!(file = %file, skipped, "lines that are not an address or CIDR block were skipped");
            }
            out.lists.push((*threat, (*file).to_string(), blocks));
        }
        out
    }

    /// What idv can say about `ip`.
    pub fn lookup(&self, ip: IpAddr) -> IpReport {
        let geolocation = self.geo.as_ref().and_then(|(_, r)| {
            let found = r.lookup(ip).ok()?;
            let text = |p: &[maxminddb::PathElement<'_>]| found.decode_path::<String>(p).ok().flatten();
            let number = |p: &[maxminddb::PathElement<'_>]| found.decode_path::<f64>(p).ok().flatten();
            let country = text(&path!["country", "iso_code"]);
            country.as_ref()?;
            Some(Geolocation {
                country,
                country_name: text(&path!["country", "names", "en"]),
                region: text(&path!["subdivisions", 0usize, "names", "en"]),
                city: text(&path!["city", "names", "en"]),
                latitude: number(&path!["location", "latitude"]),
                longitude: number(&path!["location", "longitude"]),
            })
        });
        let threats: Vec<Threat> =
            self.lists.iter().filter(|(_, _, blocks)| ip_allowed(Some(blocks), ip)).map(|(t, _, _)| *t).collect();
        let network = self.asn.as_ref().and_then(|(_, r)| {
            let found = r.lookup(ip).ok()?;
            // Writers store the number as uint32 (MaxMind's), or as a wider or signed integer.
            let number = path!["autonomous_system_number"];
            let asn = found
                .decode_path::<u32>(&number)
                .ok()
                .flatten()
                .map(u64::from)
                .or_else(|| found.decode_path::<u64>(&number).ok().flatten())
                .or_else(|| found.decode_path::<i64>(&number).ok().flatten().and_then(|n| u64::try_from(n).ok()))?;
            let organization = found.decode_path::<String>(&path!["autonomous_system_organization"]).ok().flatten();
            Some(Network {
                isp: found.decode_path::<String>(&path!["isp"]).ok().flatten().or_else(|| organization.clone()),
                organization,
                asn: Some(format!("AS{asn}")),
                connection_type: threats.contains(&Threat::Datacenter).then(|| "DATACENTER".to_string()),
            })
        });
        let has = |t: Threat| threats.contains(&t);
        let (risk_score, risk_level) = risk(&threats, !self.lists.is_empty());
        IpReport {
            ip: ip.to_string(),
            risk_score,
            risk_level: risk_level.to_string(),
            geolocation,
            network,
            threats: Threats {
                is_vpn: has(Threat::Vpn),
                is_proxy: has(Threat::Proxy),
                is_tor: has(Threat::Tor),
                is_datacenter: has(Threat::Datacenter),
                is_known_abuser: has(Threat::KnownAbuser),
                threat_types: threats.iter().map(|t| t.name().to_string()).collect(),
            },
            sources: Sources {
                geolocation: self.geo.as_ref().map(|(l, _)| l.clone()).unwrap_or_else(|| "unknown".into()),
                network: self.asn.as_ref().map(|(l, _)| l.clone()).unwrap_or_else(|| "unknown".into()),
                threat_lists: self.lists.iter().map(|(_, f, b)| format!("{f} ({} entries)", b.len())).collect(),
            },
            checked_at: String::new(),
        }
    }
}

/// The risk from the threats found: the heaviest one, raised a little by each other; LOW below 0.4,
/// MEDIUM below 0.7, HIGH above. With no threat list loaded a clean answer proves nothing: `UNKNOWN`.
fn risk(threats: &[Threat], lists_loaded: bool) -> (Option<f64>, &'static str) {
    if threats.is_empty() {
        return if lists_loaded { (Some(0.05), "LOW") } else { (None, "UNKNOWN") };
    }
    let top = threats.iter().map(|t| t.weight()).fold(0.0, f64::max);
    let score = (top + 0.05 * (threats.len() as f64 - 1.0)).min(1.0);
    let score = (score * 100.0).round() / 100.0;
    (
        Some(score),
        if score >= 0.7 {
            "HIGH"
        } else if score >= 0.4 {
            "MEDIUM"
        } else {
            "LOW"
        },
    )
}

/// An IP intelligence answer (A.6), with `sources` (an addition) saying what it was read from.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpReport {
    pub ip: String,
    /// 0 to 1; null when no threat list is loaded.
    pub risk_score: Option<f64>,
    /// LOW, MEDIUM or HIGH; UNKNOWN when no threat list is loaded.
    #[schema(example = "LOW")]
    pub risk_level: String,
    /// Null when no geolocation database is loaded or it does not know the address.
    pub geolocation: Option<Geolocation>,
    /// Null when no ASN database is loaded or it does not know the address.
    pub network: Option<Network>,
    pub threats: Threats,
    pub sources: Sources,
    pub checked_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Geolocation {
    pub country: Option<String>,
    pub country_name: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    pub isp: Option<String>,
    pub organization: Option<String>,
    #[schema(example = "AS15169")]
    pub asn: Option<String>,
    /// DATACENTER when the address is in a datacenter range; null otherwise (the other kinds need a
    /// connection-type database).
    pub connection_type: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Threats {
    pub is_vpn: bool,
    pub is_proxy: bool,
    pub is_tor: bool,
    pub is_datacenter: bool,
    pub is_known_abuser: bool,
    /// VPN, PROXY, TOR, DATACENTER, KNOWN_ABUSER.
    pub threat_types: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sources {
    /// The geolocation database read, or `unknown`.
    pub geolocation: String,
    /// The ASN database read, or `unknown`.
    pub network: String,
    /// The threat lists read, with their sizes.
    pub threat_lists: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_takes_the_heaviest_threat_and_says_unknown_without_lists() {
        assert_eq!(risk(&[], false), (None, "UNKNOWN"));
        assert_eq!(risk(&[], true), (Some(0.05), "LOW"));
        assert_eq!(risk(&[Threat::Datacenter], true), (Some(0.4), "MEDIUM"));
        assert_eq!(risk(&[Threat::Tor, Threat::Datacenter], true), (Some(0.95), "HIGH"));
    }

    #[test]
    fn lists_skip_bad_lines_and_match_blocks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tor-exit-nodes.txt"), "# exits\n185.220.101.4\nnot-an-ip\n").unwrap();
        std::fs::write(dir.path().join("datacenter-ranges.txt"), "34.64.0.0/10 # cloud\n").unwrap();
        let ip = IpIntelligence::load(dir.path());
        let r = ip.lookup("185.220.101.4".parse().unwrap());
        assert!(r.threats.is_tor && !r.threats.is_datacenter);
        assert_eq!(r.risk_level, "HIGH");
        assert!(ip.lookup("34.100.1.1".parse().unwrap()).threats.is_datacenter);
        let clean = ip.lookup("192.0.2.1".parse().unwrap());
        assert_eq!((clean.risk_level.as_str(), clean.geolocation.is_none()), ("LOW", true));
        assert_eq!(clean.sources.geolocation, "unknown");
        assert_eq!(
            IpIntelligence::load(&dir.path().join("missing")).lookup("192.0.2.1".parse().unwrap()).risk_level,
            "UNKNOWN"
        );
    }
}
