//! Starting `delivery-local serve` for a test and calling it over HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_delivery-local");
pub const ORIGIN: &str = "http://localhost:5173";

pub struct Server {
    pub child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Server::start_in(tempfile::tempdir().unwrap(), &[])
    }

    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(dir.path())
            .args(extra)
            .env("RUST_LOG", "warn")
            .env("CORS_ALLOWED_ORIGINS", ORIGIN)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("delivery-local starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("delivery-local listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the banner names the URL");
        Server { child, base, dir }
    }

    /// Stops the server with SIGKILL and returns its data dir.
    pub fn kill_9(mut self) -> tempfile::TempDir {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn token_args(&self, args: &[&str]) -> String {
        let out = Command::new(BIN)
            .arg("token")
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub fn customer(&self) -> String {
        self.token_args(&[
            "--sub",
            "alice",
            "--scope",
            "products:read orders:write orders:read",
        ])
    }

    pub fn company(&self, company: &str) -> String {
        self.token_args(&[
            "--sub",
            &format!("{company}-admin"),
            "--scope",
            "products:read products:write",
            "--company",
            company,
        ])
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("origin"))
        {
            req = req.header("origin", ORIGIN);
        }
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut response = agent
            .run(req.body(body.unwrap_or("").to_owned()).unwrap())
            .expect("a response");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            json,
        }
    }
}

impl Server {
    /// A local-only endpoint's JSON (`/_local/...`), which must answer 200.
    pub fn local(&self, path: &str) -> Value {
        let reply = self.call("GET", path, None, None, &[]);
        assert_eq!(reply.status, 200, "{path}: {}", reply.json);
        reply.json
    }

    /// Waits (up to three minutes) until both queues hold nothing, visible or in flight,
    /// twice in a row: then no delivery is pending, and no SMS or order write can still come.
    pub fn drained(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        let mut quiet = 0;
        while quiet < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the queues never drained"
            );
            let stats = self.local("/_local/stats");
            let busy: u64 = ["orders_queue", "notifications_queue"]
                .iter()
                .map(|q| {
                    stats[q]["visible"].as_u64().unwrap() + stats[q]["in_flight"].as_u64().unwrap()
                })
                .sum();
            quiet = if busy == 0 { quiet + 1 } else { 0 };
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Server {
    /// Every DynamoDB call the functions made on this server is one their roles in
    /// `terraform/modules/delivery/main.tf` grant, as IAM checks them (a transaction item by
    /// item): the embedded store answers any call, where AWS answers `AccessDeniedException`.
    /// Returns the grants the calls needed, function by function.
    pub fn assert_calls_granted(&self) -> BTreeMap<String, BTreeSet<(String, String)>> {
        let terraform = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../terraform");
        let roles = wiring_check::dynamodb_grants(&terraform).unwrap();
        let needed: BTreeMap<String, BTreeSet<(String, String)>> =
            serde_json::from_value(self.local("/_local/calls")).unwrap();
        let mut ungranted = Vec::new();
        let mut calls = BTreeMap::new();
        for (function, grants) in needed {
            for (action, table) in grants {
                // The local tables are the Terraform tables' keys, prefixed.
                let table = table.strip_prefix("delivery-").unwrap_or(&table).to_owned();
                let grant = (action, table);
                if !roles.get(&function).is_some_and(|r| r.contains(&grant)) {
                    ungranted.push(format!("{function}: {} on {}", grant.0, grant.1));
                }
                calls
                    .entry(function.clone())
                    .or_insert_with(BTreeSet::new)
                    .insert(grant);
            }
        }
        assert!(
            ungranted.is_empty(),
            "calls no role grants (terraform/modules/delivery/main.tf): {ungranted:#?}"
        );
        calls
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn fields(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["field"].as_str().map(str::to_owned))
            .collect()
    }
}
