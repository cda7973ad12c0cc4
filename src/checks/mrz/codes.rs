//! ICAO 9303 state and nationality codes: ISO 3166-1 alpha-3, the ICAO additions (D, GBD, UNO, XXA, ...),
//! the specimen state UTO, and the alpha-3 to alpha-2 mapping used when comparing with entered data.
//! Owns the tables only; must not decide whether a document is acceptable.

/// What a three-letter (or `D`) code on an MRZ designates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateCode {
    /// An ISO 3166-1 alpha-3 code; carries its alpha-2 form.
    Iso(&'static str),
    /// A code ICAO 9303 Part 3 adds to ISO 3166-1 (Germany's `D`, British nationality classes, UN,
    /// international organisations, stateless persons and refugees), or Kosovo's `RKS`. Carries the alpha-2
    /// country it belongs to, if any.
    Icao(Option<&'static str>),
    /// `UTO`, Utopia: the fictional state of ICAO's specimens. Never on a real document.
    Specimen,
    /// Anything else.
    Unknown,
}

/// ISO 3166-1 alpha-3 to alpha-2 (249 codes, from the iso-codes package's ISO 3166-1 table).
const ISO_3166: &[(&str, &str)] = &[
    ("ABW", "AW"),
    ("AFG", "AF"),
    ("AGO", "AO"),
    ("AIA", "AI"),
    ("ALA", "AX"),
    ("ALB", "AL"),
    ("AND", "AD"),
    ("ARE", "AE"),
    ("ARG", "AR"),
    ("ARM", "AM"),
    ("ASM", "AS"),
    ("ATA", "AQ"),
    ("ATF", "TF"),
    ("ATG", "AG"),
    ("AUS", "AU"),
    ("AUT", "AT"),
    ("AZE", "AZ"),
    ("BDI", "BI"),
    ("BEL", "BE"),
    ("BEN", "BJ"),
    ("BES", "BQ"),
    ("BFA", "BF"),
    ("BGD", "BD"),
    ("BGR", "BG"),
    ("BHR", "BH"),
    ("BHS", "BS"),
    ("BIH", "BA"),
    ("BLM", "BL"),
    ("BLR", "BY"),
    ("BLZ", "BZ"),
    ("BMU", "BM"),
    ("BOL", "BO"),
    ("BRA", "BR"),
    ("BRB", "BB"),
    ("BRN", "BN"),
    ("BTN", "BT"),
    ("BVT", "BV"),
    ("BWA", "BW"),
    ("CAF", "CF"),
    ("CAN", "CA"),
    ("CCK", "CC"),
    ("CHE", "CH"),
    ("CHL", "CL"),
    ("CHN", "CN"),
    ("CIV", "CI"),
    ("CMR", "CM"),
    ("COD", "CD"),
    ("COG", "CG"),
    ("COK", "CK"),
    ("COL", "CO"),
    ("COM", "KM"),
    ("CPV", "CV"),
    ("CRI", "CR"),
    ("CUB", "CU"),
    ("CUW", "CW"),
    ("CXR", "CX"),
    ("CYM", "KY"),
    ("CYP", "CY"),
    ("CZE", "CZ"),
    ("DEU", "DE"),
    ("DJI", "DJ"),
    ("DMA", "DM"),
    ("DNK", "DK"),
    ("DOM", "DO"),
    ("DZA", "DZ"),
    ("ECU", "EC"),
    ("EGY", "EG"),
    ("ERI", "ER"),
    ("ESH", "EH"),
    ("ESP", "ES"),
    ("EST", "EE"),
    ("ETH", "ET"),
    ("FIN", "FI"),
    ("FJI", "FJ"),
    ("FLK", "FK"),
    ("FRA", "FR"),
    ("FRO", "FO"),
    ("FSM", "FM"),
    ("GAB", "GA"),
    ("GBR", "GB"),
    ("GEO", "GE"),
    ("GGY", "GG"),
    ("GHA", "GH"),
    ("GIB", "GI"),
    ("GIN", "GN"),
    ("GLP", "GP"),
    ("GMB", "GM"),
    ("GNB", "GW"),
    ("GNQ", "GQ"),
    ("GRC", "GR"),
    ("GRD", "GD"),
    ("GRL", "GL"),
    ("GTM", "GT"),
    ("GUF", "GF"),
    ("GUM", "GU"),
    ("GUY", "GY"),
    ("HKG", "HK"),
    ("HMD", "HM"),
    ("HND", "HN"),
    ("HRV", "HR"),
    ("HTI", "HT"),
    ("HUN", "HU"),
    ("IDN", "ID"),
    ("IMN", "IM"),
    ("IND", "IN"),
    ("IOT", "IO"),
    ("IRL", "IE"),
    ("IRN", "IR"),
    ("IRQ", "IQ"),
    ("ISL", "IS"),
    ("ISR", "IL"),
    ("ITA", "IT"),
    ("JAM", "JM"),
    ("JEY", "JE"),
    ("JOR", "JO"),
    ("JPN", "JP"),
    ("KAZ", "KZ"),
    ("KEN", "KE"),
    ("KGZ", "KG"),
    ("KHM", "KH"),
    ("KIR", "KI"),
    ("KNA", "KN"),
    ("KOR", "KR"),
    ("KWT", "KW"),
    ("LAO", "LA"),
    ("LBN", "LB"),
    ("LBR", "LR"),
    ("LBY", "LY"),
    ("LCA", "LC"),
    ("LIE", "LI"),
    ("LKA", "LK"),
    ("LSO", "LS"),
    ("LTU", "LT"),
    ("LUX", "LU"),
    ("LVA", "LV"),
    ("MAC", "MO"),
    ("MAF", "MF"),
    ("MAR", "MA"),
    ("MCO", "MC"),
    ("MDA", "MD"),
    ("MDG", "MG"),
    ("MDV", "MV"),
    ("MEX", "MX"),
    ("MHL", "MH"),
    ("MKD", "MK"),
    ("MLI", "ML"),
    ("MLT", "MT"),
    ("MMR", "MM"),
    ("MNE", "ME"),
    ("MNG", "MN"),
    ("MNP", "MP"),
    ("MOZ", "MZ"),
    ("MRT", "MR"),
    ("MSR", "MS"),
    ("MTQ", "MQ"),
    ("MUS", "MU"),
    ("MWI", "MW"),
    ("MYS", "MY"),
    ("MYT", "YT"),
    ("NAM", "NA"),
    ("NCL", "NC"),
    ("NER", "NE"),
    ("NFK", "NF"),
    ("NGA", "NG"),
    ("NIC", "NI"),
    ("NIU", "NU"),
    ("NLD", "NL"),
    ("NOR", "NO"),
    ("NPL", "NP"),
    ("NRU", "NR"),
    ("NZL", "NZ"),
    ("OMN", "OM"),
    ("PAK", "PK"),
    ("PAN", "PA"),
    ("PCN", "PN"),
    ("PER", "PE"),
    ("PHL", "PH"),
    ("PLW", "PW"),
    ("PNG", "PG"),
    ("POL", "PL"),
    ("PRI", "PR"),
    ("PRK", "KP"),
    ("PRT", "PT"),
    ("PRY", "PY"),
    ("PSE", "PS"),
    ("PYF", "PF"),
    ("QAT", "QA"),
    ("REU", "RE"),
    ("ROU", "RO"),
    ("RUS", "RU"),
    ("RWA", "RW"),
    ("SAU", "SA"),
    ("SDN", "SD"),
    ("SEN", "SN"),
    ("SGP", "SG"),
    ("SGS", "GS"),
    ("SHN", "SH"),
    ("SJM", "SJ"),
    ("SLB", "SB"),
    ("SLE", "SL"),
    ("SLV", "SV"),
    ("SMR", "SM"),
    ("SOM", "SO"),
    ("SPM", "PM"),
    ("SRB", "RS"),
    ("SSD", "SS"),
    ("STP", "ST"),
    ("SUR", "SR"),
    ("SVK", "SK"),
    ("SVN", "SI"),
    ("SWE", "SE"),
    ("SWZ", "SZ"),
    ("SXM", "SX"),
    ("SYC", "SC"),
    ("SYR", "SY"),
    ("TCA", "TC"),
    ("TCD", "TD"),
    ("TGO", "TG"),
    ("THA", "TH"),
    ("TJK", "TJ"),
    ("TKL", "TK"),
    ("TKM", "TM"),
    ("TLS", "TL"),
    ("TON", "TO"),
    ("TTO", "TT"),
    ("TUN", "TN"),
    ("TUR", "TR"),
    ("TUV", "TV"),
    ("TWN", "TW"),
    ("TZA", "TZ"),
    ("UGA", "UG"),
    ("UKR", "UA"),
    ("UMI", "UM"),
    ("URY", "UY"),
    ("USA", "US"),
    ("UZB", "UZ"),
    ("VAT", "VA"),
    ("VCT", "VC"),
    ("VEN", "VE"),
    ("VGB", "VG"),
    ("VIR", "VI"),
    ("VNM", "VN"),
    ("VUT", "VU"),
    ("WLF", "WF"),
    ("WSM", "WS"),
    ("YEM", "YE"),
    ("ZAF", "ZA"),
    ("ZMB", "ZM"),
    ("ZWE", "ZW"),
];

/// ICAO 9303 Part 3 §5 codes that are not ISO 3166-1 alpha-3, with the alpha-2 country they belong to.
const ICAO_EXTRA: &[(&str, Option<&str>)] = &[
    ("D", Some("DE")),   // Germany (the only one-letter code)
    ("EUE", None),       // European Union
    ("GBD", Some("GB")), // British Overseas Territories Citizen
    ("GBN", Some("GB")), // British National (Overseas)
    ("GBO", Some("GB")), // British Overseas Citizen
    ("GBP", Some("GB")), // British Protected Person
    ("GBS", Some("GB")), // British Subject
    ("RKS", Some("XK")), // Kosovo: printed on Kosovo passports; ISO has only the user-assigned XK
    ("UNA", None),       // specialised agency of the United Nations
    ("UNK", Some("XK")), // resident of Kosovo, travel document issued by UNMIK
    ("UNO", None),       // United Nations Organization
    ("XBA", None),       // African Development Bank
    ("XCC", None),       // Caribbean Community (CARICOM)
    ("XCE", None),       // Council of Europe
    ("XCO", None),       // Common Market for Eastern and Southern Africa
    ("XDC", None),       // Southern African Development Community
    ("XEC", None),       // Economic Community of West African States
    ("XES", None),       // Organisation of Eastern Caribbean States
    ("XIM", None),       // African Export-Import Bank
    ("XMP", None),       // Parliamentary Assembly of the Mediterranean
    ("XOM", None),       // Sovereign Military Order of Malta
    ("XPO", None),       // INTERPOL
    ("XXA", None),       // stateless person (1954 Convention)
    ("XXB", None),       // refugee (1951 Convention)
    ("XXC", None),       // refugee (other)
    ("XXX", None),       // unspecified nationality
];

/// Classifies a code as printed, fillers already removed (`"D"`, `"UTO"`).
pub fn state_code(code: &str) -> StateCode {
    if code == "UTO" {
        return StateCode::Specimen;
    }
    if let Some((_, a2)) = ISO_3166.iter().find(|(a3, _)| *a3 == code) {
        return StateCode::Iso(a2);
    }
    if let Some((_, a2)) = ICAO_EXTRA.iter().find(|(c, _)| *c == code) {
        return StateCode::Icao(*a2);
    }
    StateCode::Unknown
}

/// The ISO alpha-2 country an MRZ code belongs to (`DEU` and `D` give `DE`, `GBD` gives `GB`).
pub fn alpha2_of(code: &str) -> Option<&'static str> {
    match state_code(code) {
        StateCode::Iso(a2) => Some(a2),
        StateCode::Icao(a2) => a2,
        StateCode::Specimen | StateCode::Unknown => None,
    }
}

/// The ISO alpha-3 code for an alpha-2 code.
pub fn alpha3_of(alpha2: &str) -> Option<&'static str> {
    ISO_3166.iter().find(|(_, a2)| *a2 == alpha2).map(|(a3, _)| *a3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        assert_eq!(ISO_3166.len(), 249);
        assert_eq!(state_code("DEU"), StateCode::Iso("DE"));
        assert_eq!(state_code("D"), StateCode::Icao(Some("DE")));
        assert_eq!(state_code("GBD"), StateCode::Icao(Some("GB")));
        assert_eq!(state_code("XXX"), StateCode::Icao(None));
        assert_eq!(state_code("UTO"), StateCode::Specimen);
        for bad in ["", "GB", "INP", "ASU", "BOS", "UT0", "deu", "DEUX"] {
            assert_eq!(state_code(bad), StateCode::Unknown, "{bad}");
        }
        assert_eq!(alpha2_of("GBN"), Some("GB"));
        assert_eq!(alpha2_of("UNO"), None);
        assert_eq!(alpha3_of("CH"), Some("CHE"));
        assert_eq!(alpha3_of("XK"), None);
    }

    #[test]
    fn tables_are_consistent() {
        for (a3, a2) in ISO_3166 {
            assert!(a3.len() == 3 && a3.bytes().all(|b| b.is_ascii_uppercase()), "{a3}");
            assert!(a2.len() == 2 && a2.bytes().all(|b| b.is_ascii_uppercase()), "{a2}");
            assert_eq!(alpha3_of(a2), Some(*a3));
        }
        for (code, _) in ICAO_EXTRA {
            assert!(!ISO_3166.iter().any(|(a3, _)| a3 == code), "{code} is ISO");
        }
    }
}
