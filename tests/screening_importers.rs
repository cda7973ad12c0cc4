//! Watchlist importers against the real published files in ../shared/testdata (OFAC SDN, UN) and the
//! format-faithful fixtures in fixtures/screening (EU, UK, OpenSanctions).

use idv::screening::import::{eu, ofac, opensanctions, uk, un};
use idv::screening::{EntityType, Import, Index, NameKind, Query, WatchlistEntry, DEFAULT_THRESHOLD};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::Instant;

const SDN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/sanctions/watchman/test/testdata");
const SDN_SAMPLE_DIR: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/sanctions/watchman/internal/ofactest/testdata");
const UN_XML: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/sanctions/watchman/test/testdata/UN_consolidated.xml");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/screening");

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

fn find<'a>(imp: &'a Import, id: &str) -> &'a WatchlistEntry {
    imp.entries.iter().find(|e| e.entry_id == id).unwrap_or_else(|| panic!("entry {id} missing"))
}

fn names(e: &WatchlistEntry) -> Vec<&str> {
    e.names.iter().map(|n| n.name.as_str()).collect()
}

fn open(path: &str) -> BufReader<File> {
    BufReader::new(ok(File::open(path)))
}

#[test]
fn ofac_sdn_full_snapshot() {
    let t = Instant::now();
    let imp = ok(ofac::import_dir(Path::new(SDN_DIR)));
    let took = t.elapsed();
    println!("SDN: {} entries in {took:?}, digest {}", imp.entries.len(), imp.version.content_digest);
    // The testdata README and sanctions_expectations.json say 7,377; the snapshot itself has 7,379 rows in
    // sdn.csv, every one with a distinct numeric ent_num and 12 fields. Assert what the file holds.
    assert_eq!(imp.entries.len(), 7_379);
    assert_eq!(imp.version.entry_count, 7_379);
    let count = |t| imp.entries.iter().filter(|e| e.entity_type == t).count();
    assert_eq!(count(EntityType::Person), 3_845);
    assert_eq!(count(EntityType::Vessel), 323);
    assert_eq!(count(EntityType::Aircraft), 217);
    assert_eq!(count(EntityType::Organization), 2_994);

    // Aliases from alt.csv are attached: 9,682 rows (aka 9,335, fka 331, nka 16).
    let aliases: usize = imp.entries.iter().map(|e| e.names.len() - 1).sum();
    assert!(aliases > 9_500, "aliases attached: {aliases}");
    let bnc = find(&imp, "306");
    assert_eq!(bnc.primary_name(), "BANCO NACIONAL DE CUBA");
    assert!(names(bnc).contains(&"NATIONAL BANK OF CUBA"));
    assert_eq!(bnc.programs, ["CUBA"]);

    // Dates of birth, nationality and documents come out of the remarks.
    let dobs = imp.entries.iter().filter(|e| !e.dates_of_birth.is_empty()).count();
    println!("SDN: {dobs} entries with a date of birth");
    assert!(dobs > 3_300, "entries with a parsed DOB: {dobs}");
    let l = find(&imp, "13086");
    assert_eq!(l.primary_name(), "LEONTYEV, Vladislav Vladimirovich");
    assert_eq!(l.entity_type, EntityType::Person);
    assert_eq!(l.dates_of_birth.iter().map(|d| d.to_string()).collect::<Vec<_>>(), ["1971-07-05"]);
    assert!(l.countries.contains(&"RU".to_string()) && l.countries.contains(&"AE".to_string()), "{:?}", l.countries);
    assert!(names(l).contains(&"LEONTJEVAS, Vladislavas"));
    assert_eq!(l.names.len(), 7);
    assert!(l
        .identifiers
        .iter()
        .any(|i| i.kind == "Passport" && i.value == "515731854" && i.country.as_deref() == Some("Russia")));
    assert_eq!(l.programs, ["TCO"]);
    let m = find(&imp, "26235");
    assert_eq!(m.dates_of_birth[0].to_string(), "1975-06-14");
    assert!(m.identifiers.iter().any(|i| i.kind == "National ID No." && i.value == "781005202108"));

    let hermann = find(&imp, "4234");
    assert_eq!(hermann.entity_type, EntityType::Vessel);
    assert_eq!(hermann.countries, ["CU"], "flag state");
    assert!(hermann.identifiers.iter().any(|i| i.kind == "Call Sign" && i.value == "CL2685"));
    let plane = find(&imp, "15431");
    assert_eq!(plane.entity_type, EntityType::Aircraft);
    assert!(plane.identifiers.iter().any(|i| i.value == "1023409321"));

    // Import speed: well under a second in release (the debug build is slower; allow it).
    let budget = if cfg!(debug_assertions) { 10.0 } else { 1.0 };
    assert!(took.as_secs_f64() < budget, "SDN import took {took:?}");
}

#[test]
fn ofac_sdn_sample_of_17() {
    let imp = ok(ofac::import_dir(Path::new(SDN_SAMPLE_DIR)));
    assert_eq!(imp.entries.len(), 17);
    let k = find(&imp, "48603");
    assert_eq!(k.primary_name(), "KHOROSHEV, Dmitry Yuryevich");
    assert_eq!(k.names.len(), 4);
    assert_eq!(k.dates_of_birth[0].to_string(), "1993-04-17");
    assert!(k.countries.contains(&"RU".to_string()));
    let ns = find(&imp, "47371");
    assert_eq!(ns.entity_type, EntityType::Vessel);
    let ids: Vec<(&str, &str)> = ns.identifiers.iter().map(|i| (i.kind.as_str(), i.value.as_str())).collect();
    assert!(ids.contains(&("IMO", "9339301")), "{ids:?}");
    assert!(ids.contains(&("MMSI", "636013272")), "{ids:?}");
    assert!(ns.countries.contains(&"GA".to_string()), "flag state: {:?}", ns.countries);
    let dialog = find(&imp, "50544");
    assert_eq!(dialog.entity_type, EntityType::Organization);
    assert!(dialog.identifiers.iter().any(|i| i.kind == "Tax ID No." && i.value == "9709063550"));
    assert!(names(dialog).contains(&"ANO DIALOG REGIONS"));
    assert_eq!(find(&imp, "20540").entity_type, EntityType::Aircraft);
}

#[test]
fn un_consolidated_list() {
    let t = Instant::now();
    let imp = ok(un::import(open(UN_XML)));
    println!("UN: {} entries in {:?}, published {:?}", imp.entries.len(), t.elapsed(), imp.version.published);
    let persons = imp.entries.iter().filter(|e| e.entity_type == EntityType::Person).count();
    let orgs = imp.entries.iter().filter(|e| e.entity_type == EntityType::Organization).count();
    assert_eq!((persons, orgs), (730, 273));
    assert_eq!(imp.skipped, 0);
    assert_eq!(imp.version.published.as_deref(), Some("2026-02-27T00:00:09.554Z"));

    // Birth and passport notes written into alias names are remarks, not names to match.
    let noted: Vec<&str> = imp
        .entries
        .iter()
        .flat_map(|e| e.names.iter().map(|n| n.name.as_str()))
        .filter(|n| n.to_ascii_lowercase().contains(" born "))
        .collect();
    assert!(noted.is_empty(), "names still carrying a birth note: {noted:?}");
    let khairkhwa = find(&imp, "TAi.093");
    assert!(khairkhwa.names.iter().any(|n| n.name == "Khirullah Said Wali Khairkhwa"), "{:?}", khairkhwa.names);
    assert!(khairkhwa.remarks.as_deref().is_some_and(|r| r.contains("born in Kandahar on 01 Jan.1967")));

    let adel = find(&imp, "QDi.001");
    assert_eq!(adel.primary_name(), "MOHAMMED SALAHALDIN ABD EL HALIM ZIDANE");
    for alias in ["Sayf-Al Adl", "Saif Al-'Adil", "Seif al Adel"] {
        assert!(names(adel).contains(&alias), "{alias} missing: {:?}", names(adel));
    }
    let dobs: Vec<String> = adel.dates_of_birth.iter().map(|d| d.to_string()).collect();
    assert_eq!(dobs, ["1963-04-11", "1960-04-11"]);

    let ri = find(&imp, "KPi.033");
    assert_eq!(ri.primary_name(), "RI WON HO");
    assert_eq!(ri.countries, ["KP"]);
    assert!(ri.identifiers.iter().any(|i| i.kind == "Passport" && i.value == "381310014"));

    let qaida = find(&imp, "QDe.004");
    assert_eq!(qaida.primary_name(), "AL-QAIDA");
    assert!(names(qaida).contains(&"Al Qaeda"));

    let with_dob = imp.entries.iter().filter(|e| !e.dates_of_birth.is_empty()).count();
    assert!(with_dob >= 670, "UN entries with a DOB: {with_dob}");
    let original_script =
        imp.entries.iter().flat_map(|e| &e.names).filter(|n| n.kind == NameKind::OriginalScript).count();
    assert!(original_script > 300, "original-script names: {original_script}");
}

#[test]
fn sdn_and_un_screen_together() {
    let mut entries = ok(ofac::import_dir(Path::new(SDN_DIR))).entries;
    entries.extend(ok(un::import(open(UN_XML))).entries);
    let idx = Index::build(entries);
    let q = Query {
        name: "Vladislav Leontiev".into(),
        entity_type: Some(EntityType::Person),
        date_of_birth: Some("1971-07-05".into()),
        ..Query::default()
    };
    let hits = idx.screen(&q, DEFAULT_THRESHOLD, 5);
    assert_eq!(hits.first().map(|h| h.entry_id.as_str()), Some("13086"), "{hits:#?}");
    println!("{}", hits[0].explanation);
    let q = Query { name: "Seif al-Adel".into(), entity_type: Some(EntityType::Person), ..Query::default() };
    let hits = idx.screen(&q, DEFAULT_THRESHOLD, 5);
    assert!(hits.iter().any(|h| h.entry_id == "QDi.001"), "{hits:#?}");
    // Entity types are respected: the vessel HERMANN is not a person.
    let q = Query { name: "Hermann".into(), entity_type: Some(EntityType::Person), ..Query::default() };
    assert!(idx.screen(&q, DEFAULT_THRESHOLD, 5).iter().all(|h| h.entity_type == EntityType::Person));
    let q = Query { name: "Hermann".into(), entity_type: Some(EntityType::Vessel), ..Query::default() };
    assert_eq!(idx.screen(&q, DEFAULT_THRESHOLD, 5).first().map(|h| h.entry_id.as_str()), Some("4234"));
    // An identifier finds its entry whatever the name.
    let q = Query { name: "Someone Else".into(), identifiers: vec!["717637093".into()], ..Query::default() };
    assert!(idx.screen(&q, DEFAULT_THRESHOLD, 5).iter().any(|h| h.entry_id == "26235"));
}

fn check_eu(imp: &Import) {
    assert_eq!(imp.entries.len(), 4);
    let saddam = find(imp, "EU.27.28");
    assert_eq!(saddam.entity_type, EntityType::Person);
    assert_eq!(saddam.primary_name(), "Saddam Hussein Al-Tikriti");
    assert_eq!(names(saddam), ["Saddam Hussein Al-Tikriti", "Abu Ali", "Abou Ali"]);
    assert_eq!(saddam.dates_of_birth[0].to_string(), "1937-04-28");
    assert_eq!(saddam.countries, ["IQ"]);
    assert_eq!(saddam.programs, ["IRQ"]);
    let bank = find(imp, "EU.3927.78");
    assert_eq!(bank.entity_type, EntityType::Organization);
    assert_eq!(bank.countries, ["SY"]);
    let aziz = find(imp, "EU.77.33");
    assert_eq!(aziz.dates_of_birth[0].to_string(), "circa 1936");
    assert_eq!(aziz.identifiers[0].value, "34409/129");
    assert_eq!(aziz.identifiers[0].country.as_deref(), Some("IQ"));
    let luka = find(imp, "EU.4065.86");
    assert!(names(luka).contains(&"Александр Григорьевич Лукашенко"));
    assert_eq!(luka.countries, ["BY"]);
}

#[test]
fn eu_csv_and_xml() {
    let csv = ok(eu::import_csv(open(&format!("{FIXTURES}/eu_fsf_sample.csv"))));
    check_eu(&csv);
    assert_eq!(csv.version.published.as_deref(), Some("28/02/2026"));
    let xml = ok(eu::import_xml(open(&format!("{FIXTURES}/eu_fsf_sample.xml"))));
    check_eu(&xml);
    assert_eq!(find(&xml, "EU.27.28").names[2].kind, NameKind::Weak, "strong=\"false\" is a weak alias");
    assert_eq!(xml.version.published.as_deref(), Some("2026-02-28T09:00:00.000+01:00"));
    // Cross-script: the Latin query finds the entry through its Cyrillic alias too.
    let idx = Index::build(xml.entries);
    let q = Query {
        name: "Лукашенко Александр".into(), entity_type: Some(EntityType::Person), ..Query::default()
    };
    assert_eq!(idx.screen(&q, DEFAULT_THRESHOLD, 3).first().map(|h| h.entry_id.as_str()), Some("EU.4065.86"));
}

#[test]
fn uk_consolidated_csv() {
    let imp = ok(uk::import(open(&format!("{FIXTURES}/uk_conlist_sample.csv"))));
    assert_eq!(imp.entries.len(), 5);
    assert_eq!(imp.version.published.as_deref(), Some("28/02/2026"));
    let saddam = find(&imp, "7575");
    assert_eq!(saddam.primary_name(), "Saddam HUSSEIN AL-TIKRITI");
    assert_eq!(saddam.names[1].kind, NameKind::Weak);
    assert_eq!(saddam.dates_of_birth[0].to_string(), "1937-04-28");
    assert_eq!(saddam.countries, ["IQ"]);
    let luka = find(&imp, "13897");
    assert_eq!(luka.primary_name(), "Alexander Grigoryevich LUKASHENKO");
    assert!(names(luka).contains(&"Аляксандр Рыгоравіч Лукашэнка"));
    assert!(names(luka).contains(&"Aliaksandr Ryhoravich LUKASHENKA"));
    assert!(luka.identifiers.iter().any(|i| i.kind == "Passport" && i.value == "SP0003942"));
    let oleg = find(&imp, "14200");
    assert_eq!(oleg.dates_of_birth[0].to_string(), "1965");
    assert_eq!(oleg.countries, ["RU", "UA"]);
    assert_eq!(oleg.identifiers.len(), 2);
    assert_eq!(find(&imp, "12470").entity_type, EntityType::Organization);
    assert_eq!(names(find(&imp, "12470")), ["CENTRAL BANK OF SYRIA", "BANQUE CENTRALE DE SYRIE"]);
    assert_eq!(find(&imp, "16400").entity_type, EntityType::Vessel);
}

#[test]
fn opensanctions_ftm_json_lines() {
    let imp = ok(opensanctions::import(open(&format!("{FIXTURES}/opensanctions_sample.ftm.jsonl"))));
    assert_eq!(imp.entries.len(), 4);
    assert_eq!(imp.skipped, 2, "Sanction and Address entities are skipped");
    let putin = find(&imp, "Q7747");
    assert_eq!(putin.entity_type, EntityType::Person);
    assert_eq!(putin.primary_name(), "Vladimir Putin");
    assert!(names(putin).contains(&"Владимир Владимирович Путин"));
    assert_eq!(putin.dates_of_birth[0].to_string(), "1952-10-07");
    assert_eq!(putin.countries, ["RU"]);
    let gazprom = find(&imp, "NK-gazprom");
    assert_eq!(gazprom.entity_type, EntityType::Organization);
    assert!(gazprom.names.iter().any(|n| n.name == "GP" && n.kind == NameKind::Weak));
    assert!(gazprom.identifiers.iter().any(|i| i.kind == "INN" && i.value == "7736050003"));
    assert_eq!(find(&imp, "NK-nsleader").entity_type, EntityType::Vessel);
    assert_eq!(find(&imp, "NK-airplane").entity_type, EntityType::Aircraft);
}

#[test]
fn malformed_inputs_are_typed_errors_not_panics() {
    let cases: Vec<(&str, Result<Import, idv::screening::ImportError>)> = vec![
        ("sdn short row", ofac::import(&mut "1,\"A\"\n".as_bytes(), None, None, None)),
        ("un truncated", un::import("<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL>".as_bytes())),
        ("eu xml garbage", eu::import_xml("<export><sanctionEntity logicalId=\"1\"></export>".as_bytes())),
        ("eu csv no id", eu::import_csv("a;b\n1;2\n".as_bytes())),
        ("uk no header", uk::import("Last Updated,01/01/2026\n".as_bytes())),
        ("ftm bad json", opensanctions::import("{\"id\":1\n".as_bytes())),
        ("ftm no schema", opensanctions::import("{\"id\":\"x\"}\n".as_bytes())),
    ];
    for (what, r) in cases {
        match r {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => println!("{what}: {e}"),
        }
    }
    // Odd bytes are not errors: invalid UTF-8 in an SDN name is read as Windows-1252.
    let mut latin1: Vec<u8> = b"1,\"M".to_vec();
    latin1.push(0xdc);
    latin1.extend_from_slice(b"LLER, Hans\",\"individual\",\"X\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\n");
    let imp = ok(ofac::import(&mut latin1.as_slice(), None, None, None));
    assert_eq!(imp.entries[0].primary_name(), "MÜLLER, Hans");
}
