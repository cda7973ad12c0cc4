//! What the benchmark binaries share: starting and stopping a real `idv serve` on a free port, creating
//! its API keys with the CLI, and waiting for it to be healthy. Must not measure anything itself.

use actix_web::http::StatusCode;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `idv keys create` and returns the `vk_sandbox_...` secret it prints.
pub fn create_api_key(server_bin: &Path, data_dir: &Path, environment: &str) -> Result<String, String> {
    let output = Command::new(server_bin)
        .arg("keys")
        .arg("create")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--environment", environment, "--label", "bench"])
        .env("IDV_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", server_bin.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "`keys create` exited with {}; stdout: {}; stderr: {}",
            output.status,
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    extract_secret(&stdout, environment).ok_or_else(|| {
        format!("no token starting with vk_{environment}_ in the output of `keys create`: {}", stdout.trim())
    })
}

/// The first whitespace-separated token starting with `vk_sandbox_`, stripped of trailing punctuation
/// (quotes, commas) in case the CLI prints it inside JSON or a sentence.
pub fn extract_secret(stdout: &str, environment: &str) -> Option<String> {
    let prefix = format!("vk_{environment}_");
    let is_secret_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let from_token = stdout
        .split_whitespace()
        .find(|t| t.starts_with(&prefix))
        .map(|t| t.trim_end_matches(|c: char| !is_secret_char(c)).to_string());
    // Fallback: the prefix anywhere (e.g. `"secret":"vk_sandbox_..."`).
    let secret = from_token.or_else(|| {
        let start = stdout.find(&prefix)?;
        Some(stdout[start..].chars().take_while(|c| is_secret_char(*c)).collect())
    })?;
    (secret.len() > prefix.len()).then_some(secret)
}

pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(port)
}

/// The child `idv serve`; stopped (and reaped) on `stop()` or drop, whichever comes first.
pub struct ServerGuard {
    child: Option<Child>,
}

impl ServerGuard {
    pub fn start(server_bin: &Path, data_dir: &Path, port: u16) -> std::io::Result<Self> {
        let child = Command::new(server_bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .args(["--rate-limit-rpm", "100000000"])
            .env("IDV_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        Ok(ServerGuard { child: Some(child) })
    }

    /// The server's process id (for reading its memory from /proc).
    // Only idv-import-bench reads it; every bench compiles this file.
    #[allow(dead_code)]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `Some(status)` when the server has already exited.
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown status ({e})")),
        }
    }

    /// Asks the server to shut down gracefully (SIGTERM), waits up to 10 s, then kills it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        #[cfg(unix)]
        {
            let asked = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if asked {
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    match child.try_wait() {
                        Ok(Some(_)) => return,
                        Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                        Err(_) => break,
                    }
                }
                eprintln!("idv-bench: server did not exit within 10 s of SIGTERM; killing it");
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `/healthz` every 100 ms for up to 30 s.
pub async fn wait_healthy(server: &mut ServerGuard, base: &str) -> Result<(), String> {
    let client = awc::Client::builder().timeout(Duration::from_secs(2)).finish();
    let url = format!("{base}/healthz");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.exited() {
            return Err(format!("the server exited before becoming healthy ({status})"));
        }
        let last = match client.get(url.as_str()).send().await {
            Ok(resp) if resp.status() == StatusCode::OK => return Ok(()),
            Ok(resp) => format!("HTTP {}", resp.status()),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(format!("the server did not become healthy at {url} within 30 s (last: {last})"));
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}
