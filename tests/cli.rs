//! The `idv` binary as a user runs it: first start prints keys once and creates a 0600 key file, logs
//! carry no PII, keys can be created/listed/revoked, and backup, replay --check and verify-log work on
//! the data a live server wrote, and a kill (SIGKILL) in the middle of a load loses no acknowledged write.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_idv");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn idv(data: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).arg("--data-dir").arg(data).env("IDV_LOG", "warn").output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

struct Server {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// What the server printed up to and including its start banner's `data folder:` line.
    banner: std::cell::RefCell<Vec<String>>,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &std::path::Path) -> Server {
    serve_with(data, &[])
}

/// `serve` with more environment variables (settings) for the server.
fn serve_with(data: &std::path::Path, settings: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .env("IDV_LOG", "info")
        .envs(settings.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // The port opens before the banner (and the first start's keys) is printed: wait for it, so a
            // loaded machine does not race the test.
            let mut banner = Vec::new();
            while let Ok(line) = rx.recv_timeout(Duration::from_secs(20).saturating_sub(started.elapsed())) {
                let done = line.contains("data folder:");
                banner.push(line);
                if done {
                    break;
                }
            }
            return Server { child, lines: rx, banner: std::cell::RefCell::new(banner), base };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start");
}

/// Everything printed since the last drain: the banner, then what comes until 200 ms pass quietly.
fn drain(server: &Server) -> String {
    let (mut lines, started) = (server.banner.take(), Instant::now());
    while let Ok(line) = server.lines.recv_timeout(Duration::from_millis(200)) {
        lines.push(line);
        if started.elapsed() > Duration::from_secs(10) {
            break;
        }
    }
    lines.join("\n")
}

/// `idv verify-log` and `idv replay --check` pass on the data folder.
fn assert_log_and_views_whole(data: &std::path::Path) {
    let (ok, text) = idv(data, &["verify-log"]);
    assert!(ok, "{text}");
    let (ok, text) = idv(data, &["replay", "--check"]);
    assert!(ok, "{text}");
}

fn request(base: &str, method: &str, path: &str, key: &str, body: &str) -> (u16, String) {
    actix_web::rt::System::new().block_on(async {
        let client = awc::Client::default();
        let req = client
            .request(awc::http::Method::from_bytes(method.as_bytes()).unwrap(), format!("{base}{path}"))
            .insert_header(("X-API-Key", key))
            .insert_header(("Content-Type", "application/json"));
        let mut res = req.send_body(body.to_string()).await.unwrap();
        let bytes = res.body().await.unwrap();
        (res.status().as_u16(), String::from_utf8_lossy(&bytes).to_string())
    })
}

#[test]
fn first_start_keys_cli_backup_replay_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let server = serve(&data);
    let out = drain(&server);
    let keys: Vec<String> = out
        .split_whitespace()
        .filter(|w| w.starts_with("vk_sandbox_") || w.starts_with("vk_live_"))
        .map(str::to_string)
        .collect();
    assert_eq!(keys.len(), 2, "one sandbox and one live key printed: {out}");
    assert!(out.contains(&server.base), "base URL printed: {out}");
    assert!(out.contains("idv keys create"), "how to make more keys: {out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("master.key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let sandbox = keys.iter().find(|k| k.starts_with("vk_sandbox_")).unwrap();
    let (status, body) = request(
        &server.base,
        "POST",
        "/api/v1/identities",
        sandbox,
        r#"{"external_ref":"cli-1","first_name":"Bartholomew","last_name":"Wrigglesworth","email":"barty@example.net"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let logs = drain(&server);
    assert!(logs.contains("request"), "request log lines are written: {logs}");
    assert!(!logs.contains('\u{1b}'), "logs written to a pipe carry no terminal colour codes: {logs}");
    for pii in ["Bartholomew", "Wrigglesworth", "barty@example.net", sandbox.as_str()] {
        assert!(!logs.contains(pii), "logs contain {pii}: {logs}");
    }

    let backup = dir.path().join("backup.db");
    let (ok, text) = idv(&data, &["backup", backup.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(backup.exists());

    drop(server);
    let server = serve(&data);
    let out = drain(&server);
    assert!(!out.contains("vk_sandbox_"), "keys are printed only on the first start: {out}");
    drop(server);

    let (ok, text) = idv(&data, &["keys", "create", "--environment", "live", "--label", "ops"]);
    assert!(ok, "{text}");
    let new_key = text.split_whitespace().find(|w| w.starts_with("vk_live_")).unwrap().to_string();
    let (ok, list) = idv(&data, &["keys", "list"]);
    assert!(ok && list.contains("ops") && !list.contains(&new_key), "{list}");
    let key_id = text.split(['(', ')']).nth(1).unwrap().to_string();
    let (ok, text) = idv(&data, &["keys", "revoke", &key_id]);
    assert!(ok, "{text}");

    // A VerifyHQ client: its own key prefix, listed with the others, calling the /v1 API.
    let (ok, text) = idv(&data, &["keys", "create", "--verifyhq", "--environment", "live", "--label", "vhq-ops"]);
    assert!(ok, "{text}");
    let vhq_key = text.split_whitespace().find(|w| w.starts_with("vhq_live_")).expect("a vhq_live_ key").to_string();
    let (ok, list) = idv(&data, &["keys", "list"]);
    assert!(ok && list.contains("vhq-ops") && list.contains("verifyhq") && !list.contains(&vhq_key), "{list}");

    let server = serve(&data);
    let (status, body) = request(&server.base, "GET", "/api/v1/identities", &new_key, "");
    assert_eq!(status, 401, "a revoked key is refused: {body}");
    let (status, body) = request(&server.base, "GET", "/v1/verifications/identity/user/u1", &vhq_key, "");
    assert_eq!(status, 200, "the VerifyHQ client calls /v1: {body}");
    drop(server);

    let (ok, text) = idv(&data, &["replay", "--check"]);
    assert!(ok, "{text}");
    let (ok, text) = idv(&data, &["verify-log"]);
    assert!(ok, "{text}");
    let (ok, text) = idv(&data, &["replay"]);
    assert!(ok, "{text}");
    let (ok, text) = idv(&data, &["replay", "--check"]);
    assert!(ok, "{text}");
}

#[test]
fn a_wrong_master_key_is_refused_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(&data);
    let (_, body) = {
        let out = drain(&server);
        let key = out.split_whitespace().find(|w| w.starts_with("vk_sandbox_")).unwrap().to_string();
        request(&server.base, "POST", "/api/v1/identities", &key, r#"{"external_ref":"x","first_name":"A"}"#)
    };
    assert!(body.contains("idn_"), "{body}");
    drop(server);
    let out = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&data)
        .env("IDV_MASTER_KEY", "11".repeat(32))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("master key does not match"));
}

#[test]
fn the_cli_can_write_while_the_server_runs_and_the_chain_stays_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(&data);
    let out = drain(&server);
    let key = out.split_whitespace().find(|w| w.starts_with("vk_sandbox_")).unwrap().to_string();
    for i in 0..3 {
        let (ok, text) = idv(&data, &["keys", "create", "--label", &format!("concurrent-{i}")]);
        assert!(ok, "{text}");
        let (status, body) =
            request(&server.base, "POST", "/api/v1/identities", &key, &format!(r#"{{"external_ref":"c-{i}"}}"#));
        assert_eq!(status, 201, "the server keeps writing after the CLI appended: {body}");
    }
    drop(server);
    assert_log_and_views_whole(&data);
}

#[cfg(unix)]
#[test]
fn the_database_its_wal_and_shm_the_backup_and_the_key_file_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let files = ["idv.db", "idv.db-wal", "idv.db-shm", "master.key"];

    let server = serve(&data);
    let out = drain(&server);
    let sandbox = out.split_whitespace().find(|w| w.starts_with("vk_sandbox_")).unwrap().to_string();
    let (status, body) = request(
        &server.base,
        "POST",
        "/api/v1/identities",
        &sandbox,
        r#"{"external_ref":"modes-1","first_name":"Ada"}"#,
    );
    assert_eq!(status, 201, "{body}");
    for f in files {
        assert_eq!(mode(&data.join(f)), 0o600, "{f} while serving");
    }

    let backup = dir.path().join("backup.db");
    let (ok, text) = idv(&data, &["backup", backup.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert_eq!(mode(&backup), 0o600, "the backup");
    // A backup over an existing, looser file is tightened too.
    std::fs::set_permissions(&backup, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, text) = idv(&data, &["backup", backup.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert_eq!(mode(&backup), 0o600, "the backup, written again");
    drop(server);

    // Files left world-readable by an older version are tightened on the next start.
    for f in ["idv.db", "idv.db-wal", "idv.db-shm"] {
        let p = data.join(f);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let server = serve(&data);
    let (status, body) = request(
        &server.base,
        "POST",
        "/api/v1/identities",
        &sandbox,
        r#"{"external_ref":"modes-2","first_name":"Bo"}"#,
    );
    assert_eq!(status, 201, "{body}");
    for f in files {
        assert_eq!(mode(&data.join(f)), 0o600, "{f} after a restart");
    }
    drop(server);
}

#[test]
fn every_acknowledged_creation_survives_a_kill_in_the_middle_of_a_load() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Every acknowledged creation is read back after the kill: more requests than the default allows a key.
    let unlimited = [("IDV_RATE_LIMIT_RPM", "100000000")];
    let mut server = serve_with(&data, &unlimited);
    let out = drain(&server);
    let key = out.split_whitespace().find(|w| w.starts_with("vk_sandbox_")).unwrap().to_string();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    for round in 0..2 {
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..6)
            .map(|client| {
                let (base, key, stop, acknowledged) =
                    (server.base.clone(), key.clone(), stop.clone(), acknowledged.clone());
                std::thread::spawn(move || {
                    for n in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let reference = format!("kill-{round}-{client}-{n}");
                        let body = format!(
                            r#"{{"external_ref":"{reference}","first_name":"Ada","email":"ada{n}@example.net"}}"#
                        );
                        let Ok((status, _)) =
                            std::panic::catch_unwind(|| request(&base, "POST", "/api/v1/identities", &key, &body))
                        else {
                            continue; // the server was killed mid-request
                        };
                        if status == 201 {
                            acknowledged.lock().unwrap().push(reference);
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        // SIGKILL while the clients are writing: no shutdown, no checkpoint.
        drop(server);
        stop.store(true, Ordering::SeqCst);
        for client in clients {
            client.join().unwrap();
        }
        server = serve_with(&data, &unlimited);
        drain(&server);
        let acknowledged = acknowledged.lock().unwrap().clone();
        assert!(acknowledged.len() > 20, "round {round}: too few creations to tell ({})", acknowledged.len());
        for reference in &acknowledged {
            let (status, body) = request(&server.base, "GET", &format!("/api/v1/identities/{reference}"), &key, "");
            assert_eq!(status, 200, "round {round}: acknowledged {reference} was lost: {body}");
        }
    }
    drop(server);
    assert_log_and_views_whole(&data);
}
