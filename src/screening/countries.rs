//! Country names, nationality adjectives and ISO 3166-1 alpha-2 codes, for resolving the country text that lists
//! and queries use. A lookup table only; must not parse list files or score anything.

use std::collections::HashMap;
use std::sync::OnceLock;

/// ISO 3166-1: `alpha-2|name|other names...` (names from the ISO 3166-1 register).
const ISO_3166: &str = "\
AW|Aruba
AF|Afghanistan|Islamic Republic of Afghanistan
AO|Angola|Republic of Angola
AI|Anguilla
AX|Åland Islands
AL|Albania|Republic of Albania
AD|Andorra|Principality of Andorra
AE|United Arab Emirates
AR|Argentina|Argentine Republic
AM|Armenia|Republic of Armenia
AS|American Samoa
AQ|Antarctica
TF|French Southern Territories
AG|Antigua and Barbuda
AU|Australia
AT|Austria|Republic of Austria
AZ|Azerbaijan|Republic of Azerbaijan
BI|Burundi|Republic of Burundi
BE|Belgium|Kingdom of Belgium
BJ|Benin|Republic of Benin
BQ|Bonaire, Sint Eustatius and Saba
BF|Burkina Faso
BD|Bangladesh|People's Republic of Bangladesh
BG|Bulgaria|Republic of Bulgaria
BH|Bahrain|Kingdom of Bahrain
BS|Bahamas|Commonwealth of the Bahamas
BA|Bosnia and Herzegovina|Republic of Bosnia and Herzegovina
BL|Saint Barthélemy
BY|Belarus|Republic of Belarus
BZ|Belize
BM|Bermuda
BO|Bolivia, Plurinational State of|Bolivia|Plurinational State of Bolivia
BR|Brazil|Federative Republic of Brazil
BB|Barbados
BN|Brunei Darussalam
BT|Bhutan|Kingdom of Bhutan
BV|Bouvet Island
BW|Botswana|Republic of Botswana
CF|Central African Republic
CA|Canada
CC|Cocos (Keeling) Islands
CH|Switzerland|Swiss Confederation
CL|Chile|Republic of Chile
CN|China|People's Republic of China
CI|Côte d'Ivoire|Republic of Côte d'Ivoire
CM|Cameroon|Republic of Cameroon
CD|Congo, The Democratic Republic of the
CG|Congo|Republic of the Congo
CK|Cook Islands
CO|Colombia|Republic of Colombia
KM|Comoros|Union of the Comoros
CV|Cabo Verde|Republic of Cabo Verde
CR|Costa Rica|Republic of Costa Rica
CU|Cuba|Republic of Cuba
CW|Curaçao
CX|Christmas Island
KY|Cayman Islands
CY|Cyprus|Republic of Cyprus
CZ|Czechia|Czech Republic
DE|Germany|Federal Republic of Germany
DJ|Djibouti|Republic of Djibouti
DM|Dominica|Commonwealth of Dominica
DK|Denmark|Kingdom of Denmark
DO|Dominican Republic
DZ|Algeria|People's Democratic Republic of Algeria
EC|Ecuador|Republic of Ecuador
EG|Egypt|Arab Republic of Egypt
ER|Eritrea|the State of Eritrea
EH|Western Sahara
ES|Spain|Kingdom of Spain
EE|Estonia|Republic of Estonia
ET|Ethiopia|Federal Democratic Republic of Ethiopia
FI|Finland|Republic of Finland
FJ|Fiji|Republic of Fiji
FK|Falkland Islands (Malvinas)
FR|France|French Republic
FO|Faroe Islands
FM|Micronesia, Federated States of|Federated States of Micronesia
GA|Gabon|Gabonese Republic
GB|United Kingdom|United Kingdom of Great Britain and Northern Ireland
GE|Georgia
GG|Guernsey
GH|Ghana|Republic of Ghana
GI|Gibraltar
GN|Guinea|Republic of Guinea
GP|Guadeloupe
GM|Gambia|Republic of the Gambia
GW|Guinea-Bissau|Republic of Guinea-Bissau
GQ|Equatorial Guinea|Republic of Equatorial Guinea
GR|Greece|Hellenic Republic
GD|Grenada
GL|Greenland
GT|Guatemala|Republic of Guatemala
GF|French Guiana
GU|Guam
GY|Guyana|Republic of Guyana
HK|Hong Kong|Hong Kong Special Administrative Region of China
HM|Heard Island and McDonald Islands
HN|Honduras|Republic of Honduras
HR|Croatia|Republic of Croatia
HT|Haiti|Republic of Haiti
HU|Hungary
ID|Indonesia|Republic of Indonesia
IM|Isle of Man
IN|India|Republic of India
IO|British Indian Ocean Territory
IE|Ireland
IR|Iran, Islamic Republic of|Iran|Islamic Republic of Iran
IQ|Iraq|Republic of Iraq
IS|Iceland|Republic of Iceland
IL|Israel|State of Israel
IT|Italy|Italian Republic
JM|Jamaica
JE|Jersey
JO|Jordan|Hashemite Kingdom of Jordan
JP|Japan
KZ|Kazakhstan|Republic of Kazakhstan
KE|Kenya|Republic of Kenya
KG|Kyrgyzstan|Kyrgyz Republic
KH|Cambodia|Kingdom of Cambodia
KI|Kiribati|Republic of Kiribati
KN|Saint Kitts and Nevis
KR|Korea, Republic of|South Korea
KW|Kuwait|State of Kuwait
LA|Lao People's Democratic Republic|Laos
LB|Lebanon|Lebanese Republic
LR|Liberia|Republic of Liberia
LY|Libya
LC|Saint Lucia
LI|Liechtenstein|Principality of Liechtenstein
LK|Sri Lanka|Democratic Socialist Republic of Sri Lanka
LS|Lesotho|Kingdom of Lesotho
LT|Lithuania|Republic of Lithuania
LU|Luxembourg|Grand Duchy of Luxembourg
LV|Latvia|Republic of Latvia
MO|Macao|Macao Special Administrative Region of China
MF|Saint Martin (French part)
MA|Morocco|Kingdom of Morocco
MC|Monaco|Principality of Monaco
MD|Moldova, Republic of|Moldova|Republic of Moldova
MG|Madagascar|Republic of Madagascar
MV|Maldives|Republic of Maldives
MX|Mexico|United Mexican States
MH|Marshall Islands|Republic of the Marshall Islands
MK|North Macedonia|Republic of North Macedonia
ML|Mali|Republic of Mali
MT|Malta|Republic of Malta
MM|Myanmar|Republic of Myanmar
ME|Montenegro
MN|Mongolia
MP|Northern Mariana Islands|Commonwealth of the Northern Mariana Islands
MZ|Mozambique|Republic of Mozambique
MR|Mauritania|Islamic Republic of Mauritania
MS|Montserrat
MQ|Martinique
MU|Mauritius|Republic of Mauritius
MW|Malawi|Republic of Malawi
MY|Malaysia
YT|Mayotte
NA|Namibia|Republic of Namibia
NC|New Caledonia
NE|Niger|Republic of the Niger
NF|Norfolk Island
NG|Nigeria|Federal Republic of Nigeria
NI|Nicaragua|Republic of Nicaragua
NU|Niue
NL|Netherlands|Kingdom of the Netherlands
NO|Norway|Kingdom of Norway
NP|Nepal|Federal Democratic Republic of Nepal
NR|Nauru|Republic of Nauru
NZ|New Zealand
OM|Oman|Sultanate of Oman
PK|Pakistan|Islamic Republic of Pakistan
PA|Panama|Republic of Panama
PN|Pitcairn
PE|Peru|Republic of Peru
PH|Philippines|Republic of the Philippines
PW|Palau|Republic of Palau
PG|Papua New Guinea|Independent State of Papua New Guinea
PL|Poland|Republic of Poland
PR|Puerto Rico
KP|Korea, Democratic People's Republic of|North Korea|Democratic People's Republic of Korea
PT|Portugal|Portuguese Republic
PY|Paraguay|Republic of Paraguay
PS|Palestine, State of|the State of Palestine
PF|French Polynesia
QA|Qatar|State of Qatar
RE|Réunion
RO|Romania
RU|Russian Federation
RW|Rwanda|Rwandese Republic
SA|Saudi Arabia|Kingdom of Saudi Arabia
SD|Sudan|Republic of the Sudan
SN|Senegal|Republic of Senegal
SG|Singapore|Republic of Singapore
GS|South Georgia and the South Sandwich Islands
SH|Saint Helena, Ascension and Tristan da Cunha
SJ|Svalbard and Jan Mayen
SB|Solomon Islands
SL|Sierra Leone|Republic of Sierra Leone
SV|El Salvador|Republic of El Salvador
SM|San Marino|Republic of San Marino
SO|Somalia|Federal Republic of Somalia
PM|Saint Pierre and Miquelon
RS|Serbia|Republic of Serbia
SS|South Sudan|Republic of South Sudan
ST|Sao Tome and Principe|Democratic Republic of Sao Tome and Principe
SR|Suriname|Republic of Suriname
SK|Slovakia|Slovak Republic
SI|Slovenia|Republic of Slovenia
SE|Sweden|Kingdom of Sweden
SZ|Eswatini|Kingdom of Eswatini
SX|Sint Maarten (Dutch part)
SC|Seychelles|Republic of Seychelles
SY|Syrian Arab Republic|Syria
TC|Turks and Caicos Islands
TD|Chad|Republic of Chad
TG|Togo|Togolese Republic
TH|Thailand|Kingdom of Thailand
TJ|Tajikistan|Republic of Tajikistan
TK|Tokelau
TM|Turkmenistan
TL|Timor-Leste|Democratic Republic of Timor-Leste
TO|Tonga|Kingdom of Tonga
TT|Trinidad and Tobago|Republic of Trinidad and Tobago
TN|Tunisia|Republic of Tunisia
TR|Türkiye|Republic of Türkiye
TV|Tuvalu
TW|Taiwan, Province of China|Taiwan
TZ|Tanzania, United Republic of|Tanzania|United Republic of Tanzania
UG|Uganda|Republic of Uganda
UA|Ukraine
UM|United States Minor Outlying Islands
UY|Uruguay|Eastern Republic of Uruguay
US|United States|United States of America
UZ|Uzbekistan|Republic of Uzbekistan
VA|Holy See (Vatican City State)
VC|Saint Vincent and the Grenadines
VE|Venezuela, Bolivarian Republic of|Venezuela|Bolivarian Republic of Venezuela
VG|Virgin Islands, British|British Virgin Islands
VI|Virgin Islands, U.S.|Virgin Islands of the United States
VN|Viet Nam|Vietnam|Socialist Republic of Viet Nam
VU|Vanuatu|Republic of Vanuatu
WF|Wallis and Futuna
WS|Samoa|Independent State of Samoa
YE|Yemen|Republic of Yemen
ZA|South Africa|Republic of South Africa
ZM|Zambia|Republic of Zambia
ZW|Zimbabwe|Republic of Zimbabwe";

/// Spellings the lists and people use that the register does not: short forms, former names, nationality
/// adjectives, regions listed as places.
const ALIASES: &str = "\
BS|Bahamas, The
MM|Burma
CD|Congo, Democratic Republic of the|DR Congo|DRC|Congo-Kinshasa
CG|Congo, Republic of the|Congo-Brazzaville
CI|Cote d Ivoire|Ivory Coast
KP|North Korea|Korea, North|DPRK|Democratic People's Republic of Korea|North Korean
KR|South Korea|Korea, South|Republic of Korea|South Korean
XK|Kosovo
MK|Macedonia|Macedonia, The Former Yugoslav Republic of|North Macedonia
IM|Man, Isle of
RU|Russia|Russian Federation|Russian
TR|Turkey|Turkiye|Turkish
GM|The Gambia|Gambia
PS|Palestine|Palestinian|West Bank|Gaza|Region: Gaza|State of Palestine
UA|Region: Crimea|Crimea|Ukrainian
GB|United Kingdom|UK|Great Britain|Britain|British|England|Scotland|Wales|Northern Ireland
US|United States|USA|United States of America|American
IR|Iran|Iranian|Iran (Islamic Republic of)
SY|Syria|Syrian|Syrian Arab Republic
VE|Venezuela|Venezuelan|Venezuela (Bolivarian Republic of)
BO|Bolivia|Bolivia (Plurinational State of)
TZ|Tanzania|United Republic of Tanzania
MD|Moldova|Republic of Moldova
LA|Laos|Lao People's Democratic Republic
VN|Vietnam|Viet Nam|Vietnamese
TW|Taiwan|Taiwan, Province of China
IQ|Iraqi
AF|Afghan
PK|Pakistani
CN|Chinese|People's Republic of China
LB|Lebanese
SA|Saudi|Saudi Arabian
YE|Yemeni
EG|Egyptian
LY|Libyan|Libyan Arab Jamahiriya
SD|Sudanese
SO|Somali
CO|Colombian
MX|Mexican
CU|Cuban
BY|Belarusian|Belarus
DE|German
FR|French
IT|Italian
ES|Spanish
IN|Indian
ID|Indonesian
PH|Filipino
NG|Nigerian
KE|Kenyan
AE|Emirati|UAE
JO|Jordanian
KW|Kuwaiti
QA|Qatari
BH|Bahraini
TN|Tunisian
DZ|Algerian
MA|Moroccan
ML|Malian
SS|South Sudanese
CF|Central African Republic
BA|Bosnian|Bosnia and Herzegovina
RS|Serbian
HR|Croatian
GE|Georgian
AM|Armenian
AZ|Azerbaijani
KZ|Kazakh|Kazakhstani
UZ|Uzbek
KG|Kyrgyz
TJ|Tajik
TM|Turkmen
NI|Nicaraguan
PA|Panamanian
BR|Brazilian
AR|Argentine|Argentinian
NL|Dutch
BE|Belgian
CH|Swiss
AT|Austrian
SE|Swedish
NO|Norwegian
DK|Danish
FI|Finnish
PL|Polish
CZ|Czech|Czechia
SK|Slovak
HU|Hungarian
RO|Romanian
BG|Bulgarian
GR|Greek
CY|Cypriot
IL|Israeli
JP|Japanese
MY|Malaysian
SG|Singaporean
TH|Thai
KH|Cambodian
LK|Sri Lankan
BD|Bangladeshi
NP|Nepali
ET|Ethiopian
ER|Eritrean
UG|Ugandan
RW|Rwandan
ZW|Zimbabwean
ZA|South African
CA|Canadian
AU|Australian
NZ|New Zealander";

fn key(name: &str) -> String {
    let ascii = any_ascii::any_ascii(name).to_ascii_lowercase();
    let mut words: Vec<&str> = ascii
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && !matches!(*w, "the" | "of" | "and" | "region"))
        .collect();
    words.sort_unstable();
    words.join(" ")
}

fn table() -> &'static HashMap<String, &'static str> {
    static TABLE: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = HashMap::new();
        for line in ISO_3166.lines().chain(ALIASES.lines()) {
            let mut parts = line.split('|');
            let Some(code) = parts.next() else { continue };
            m.insert(code.to_ascii_lowercase(), code);
            for name in parts {
                m.insert(key(name), code);
            }
        }
        m
    })
}

/// Every spelling `country_code` resolves, as written in the tables (codes, names, adjectives).
pub fn spellings() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = ISO_3166.lines().chain(ALIASES.lines()).flat_map(|l| l.split('|')).collect();
    out.retain(|s| !s.trim().is_empty() && country_code(s).is_some());
    out.sort_unstable();
    out.dedup();
    out
}

/// Resolve a country name, nationality adjective or alpha-2 code to its ISO 3166-1 alpha-2 code.
pub fn country_code(text: &str) -> Option<&'static str> {
    let t = text.trim().trim_end_matches('.');
    let t = t.strip_prefix("possibly ").unwrap_or(t);
    if t.is_empty() {
        return None;
    }
    table().get(&key(t)).copied()
}

#[cfg(test)]
mod tests {
    use super::country_code;

    #[test]
    fn resolves_list_spellings() {
        assert_eq!(country_code("Russia"), Some("RU"));
        assert_eq!(country_code("Russian Federation"), Some("RU"));
        assert_eq!(country_code("Korea, North"), Some("KP"));
        assert_eq!(country_code("Iran (Islamic Republic of)"), Some("IR"));
        assert_eq!(country_code("Congo, Democratic Republic of the"), Some("CD"));
        assert_eq!(country_code("Democratic Republic of the Congo"), Some("CD"));
        assert_eq!(country_code("Congo, Republic of the"), Some("CG"));
        assert_eq!(country_code("Bahamas, The"), Some("BS"));
        assert_eq!(country_code("de"), Some("DE"));
        assert_eq!(country_code("IRAQ"), Some("IQ"));
        assert_eq!(country_code("Atlantis"), None);
    }
}
