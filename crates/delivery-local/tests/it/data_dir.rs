//! The data dir belongs to one server at a time: a second `serve` on it, `--fresh` or not, is
//! refused with a clear message and deletes nothing; the lock dies with its server, even by
//! `kill -9`.

use std::process::Command;

use crate::common::{BIN, Server};

fn stock(server: &Server) -> serde_json::Value {
    let token = server.customer();
    let r = server.call("GET", "/products/pizza-margherita", Some(&token), None, &[]);
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["stock"].clone()
}

#[test]
fn a_second_server_on_a_data_dir_in_use_is_refused_and_deletes_nothing() {
    let server = Server::start();
    let acme = server.company("acme");
    let patched = server.call(
        "PATCH",
        "/products/pizza-margherita",
        Some(&acme),
        Some(r#"{"stock": 7}"#),
        &[],
    );
    assert_eq!(patched.status, 200, "{}", patched.json);

    for extra in [&["--fresh"][..], &[]] {
        let second = Command::new(BIN)
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(server.dir.path())
            .args(extra)
            .output()
            .unwrap();
        assert!(!second.status.success(), "{extra:?}");
        let stderr = String::from_utf8_lossy(&second.stderr);
        assert!(
            stderr.contains("in use by another delivery-local"),
            "{stderr}"
        );
    }
    assert_eq!(stock(&server), 7, "the running server's data is intact");

    let dir = server.kill_9();
    let again = Server::start_in(dir, &[]);
    assert_eq!(stock(&again), 7, "a new server takes over the data dir");
}
