//! moto (PyPI `moto[server]`, installed by `scripts/test`) on a loopback port it binds itself, for the
//! tests of the AWS adapters through the real SDK clients. The tests never skip: without moto
//! they fail and say how to get it.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server, stopped when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto (`MOTO_SERVER`, or the repository's `.venv-tools`) and waits for it.
pub fn moto() -> Moto {
    let bin = std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-tools/bin/moto_server")
        });
    assert!(
        bin.exists(),
        "moto_server not found at {}: run scripts/test (it installs moto) or set MOTO_SERVER",
        bin.display()
    );
    // Port 0: moto binds a free port itself and says which ("Running on http://…"), so no
    // other process can take it between a choice and the bind.
    let mut child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("moto_server starts");
    let stderr = child.stderr.take().expect("moto's stderr");
    let (found, endpoint) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        // Read to the end, so moto never blocks on a full pipe.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let address = line.split("Running on ").nth(1).map(str::trim);
            if let (Some(address), Some(tx)) = (address, found.as_ref()) {
                let _ = tx.send(address.to_owned());
                found = None;
            }
        }
    });
    let endpoint = endpoint
        .recv_timeout(Duration::from_secs(60))
        .expect("moto says where it listens within 60 s");
    let moto = Moto { child, endpoint };
    let address = moto.endpoint.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(address.as_str()).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    moto
}
