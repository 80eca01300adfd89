//! nginx's configuration tracking, rollback, served certificates and renewal against a
//! throwaway nginx (in front of a small upstream, with a TLS listener) on free ports.

use crate::collection::{
    Guard, Sitrep, TermGuard, free_port, have, issue_with, issues, port_open, pretty, severity, sh,
    skip, wait_for,
};
use serde_json::Value;
use std::process::{Command as Proc, Stdio};

fn exit_code(v: &Value) -> Option<i64> {
    v["run"]["exit_code"].as_i64()
}

fn report(v: &Value) -> String {
    v["run"]["report"].as_str().unwrap_or_default().to_string()
}

// ---------------------------------------------------------------------------------------------
// nginx (a throwaway instance in front of a small upstream, with a TLS listener)

struct Edge {
    _nginx: TermGuard,
    _upstream: Guard,
    dir: tempfile::TempDir,
    port: u16,
    tls: u16,
    up: u16,
}

impl Edge {
    fn start(cert_days: u32) -> Option<Edge> {
        if !have("nginx") || !have("openssl") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let _ = Proc::new("chmod").arg("755").arg(dir.path()).status();
        let d = dir.path().display().to_string();
        let (port, tls, up) = (free_port(), free_port(), free_port());
        let upstream = Guard(
            Proc::new("python3")
                .arg("-c")
                .arg(format!("import http.server\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.send_header('Content-Length','3'); self.end_headers(); self.wfile.write(b'ok\\n')\n    def log_message(self,*a): pass\nhttp.server.HTTPServer(('127.0.0.1',{up}),H).serve_forever()\n"))
                .spawn()
                .unwrap(),
        );
        new_cert(&d, cert_days);
        std::fs::write(
            format!("{d}/upstream.conf"),
            format!("upstream app {{ server 127.0.0.1:{up}; }}\n"),
        )
        .unwrap();
        std::fs::write(
            format!("{d}/nginx.conf"),
            format!(
                "daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log warn;\n\
events {{ worker_connections 64; }}\n\
http {{\n\
  access_log {d}/access.log;\n\
  client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n\
  include {d}/upstream.conf;\n\
  server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://app; proxy_connect_timeout 1s; }} }}\n\
  server {{ listen 127.0.0.1:{tls} ssl; server_name localhost; ssl_certificate {d}/c.pem; ssl_certificate_key {d}/k.pem;\n\
    location / {{ return 200 \"tls\\n\"; }} }}\n\
}}\n"
            ),
        )
        .unwrap();
        let nginx = TermGuard(
            Proc::new("nginx")
                .args([
                    "-c",
                    &format!("{d}/nginx.conf"),
                    "-p",
                    &d,
                    "-e",
                    &format!("{d}/error.log"),
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for(10, "nginx and its upstream", || {
            port_open(port) && port_open(tls) && port_open(up)
        });
        Some(Edge {
            _nginx: nginx,
            _upstream: upstream,
            dir,
            port,
            tls,
            up,
        })
    }
    fn d(&self) -> String {
        self.dir.path().display().to_string()
    }
    fn sets(&self) -> Vec<(&'static str, String)> {
        let d = self.d();
        vec![
            ("NGINX_CONF", format!("{d}/nginx.conf")),
            ("ACCESS_LOG", format!("{d}/access.log")),
            ("ERROR_LOG", format!("{d}/error.log")),
            ("LOG_WINDOW_MIN", "0.5".into()),
        ]
    }
    fn get(&self) -> String {
        String::from_utf8_lossy(
            &sh(&format!(
                "curl -s -o /dev/null -w '%{{http_code}}' -m 5 http://127.0.0.1:{}/",
                self.port
            ))
            .stdout,
        )
        .to_string()
    }
    fn reload(&self) {
        assert!(
            sh(&format!("nginx -c {}/nginx.conf -s reload", self.d()))
                .status
                .success()
        );
    }
}

fn new_cert(d: &str, days: u32) {
    assert!(sh(&format!(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout {d}/k.pem -out {d}/c.pem -days {days} -subj /CN=localhost 2>/dev/null"
    ))
    .status
    .success());
}

fn run_on(
    sitrep: &Sitrep,
    task: &str,
    sets: &[(&'static str, String)],
    extra: &[(&str, &str)],
) -> Value {
    let mut all: Vec<(&str, &str)> = sets.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    sitrep.run(task, "edge", &all, &[])
}

/// config-watch snapshots the configuration while it passes nginx -t and serves; a reload onto
/// a wrong upstream is named (file, old and new line) as major while requests fail;
/// rollback-config restores the snapshot, tests and reloads it, and the issue resolves. A
/// configuration that fails nginx -t is rolled back the same way.
#[test]
fn nginx_config_change_is_named_and_rolled_back_to_the_known_good_version() {
    let Some(edge) = Edge::start(365) else {
        return skip("nginx or openssl missing");
    };
    let sitrep = Sitrep::new();
    let sets = edge.sets();
    for _ in 0..3 {
        assert_eq!(edge.get(), "200");
    }
    let v = run_on(&sitrep, "nginx/config-watch", &sets, &[]);
    assert!(
        report(&v).contains("snapshotted as known-good"),
        "{}",
        pretty(&v)
    );
    let upstream_conf = format!("{}/upstream.conf", edge.d());
    let dead = free_port();
    std::fs::write(
        &upstream_conf,
        format!("upstream app {{ server 127.0.0.1:{dead}; }}\n"),
    )
    .unwrap();
    edge.reload();
    wait_for(10, "nginx to answer 502", || edge.get() == "502");
    for _ in 0..4 {
        edge.get();
    }
    let v = run_on(&sitrep, "nginx/config-watch", &sets, &[]);
    let i = issue_with(&v, &["nginx configuration of edge changed"]);
    assert_eq!(severity(&i), 2, "{}", pretty(&i));
    assert_eq!(i["data"]["file"], upstream_conf.as_str());
    assert!(
        i["data"]["new"]
            .as_str()
            .unwrap()
            .contains(&dead.to_string()),
        "{}",
        pretty(&i)
    );
    assert!(
        i["data"]["old"]
            .as_str()
            .unwrap()
            .contains(&edge.up.to_string()),
        "{}",
        pretty(&i)
    );

    let v = run_on(&sitrep, "nginx/rollback-config", &sets, &[]);
    assert!(report(&v).contains("Reloaded nginx"), "{}", pretty(&v));
    wait_for(10, "nginx to answer 200 again", || edge.get() == "200");
    let v = run_on(&sitrep, "nginx/config-watch", &sets, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    assert!(
        !v["resolved"].as_array().unwrap().is_empty(),
        "{}",
        pretty(&v)
    );
    let v = run_on(&sitrep, "nginx/rollback-config", &sets, &[]);
    assert!(report(&v).contains("already matches"), "{}", pretty(&v));

    // a configuration that does not even pass nginx -t
    std::fs::write(&upstream_conf, "upstream app { server ; }\n").unwrap();
    let v = run_on(&sitrep, "nginx/config-watch", &sets, &[]);
    let i = issue_with(&v, &["nginx configuration of edge changed"]);
    assert_eq!(i["data"]["config_test"], "failed", "{}", pretty(&i));
    run_on(&sitrep, "nginx/rollback-config", &sets, &[]);
    assert!(
        std::fs::read_to_string(&upstream_conf)
            .unwrap()
            .contains(&edge.up.to_string())
    );
    assert!(issues(&run_on(&sitrep, "nginx/config-watch", &sets, &[])).is_empty());
}

/// certificates names a served certificate that expires soon (file, notAfter); renew-certificate
/// fails when the renewal tool is missing or renewed nothing, and with a command that issues a
/// new certificate it reloads nginx, which then serves it.
#[test]
fn nginx_expiring_certificate_is_named_and_renewed() {
    let Some(edge) = Edge::start(5) else {
        return skip("nginx or openssl missing");
    };
    let d = edge.d();
    let cert = format!("{d}/c.pem");
    let sitrep = Sitrep::new();
    let sets = edge.sets();
    let v = run_on(&sitrep, "nginx/certificates", &sets, &[]);
    let i = issue_with(&v, &[&cert, "expires soon"]);
    assert_eq!(severity(&i), 2, "{}", pretty(&i));
    assert_eq!(i["data"]["certificate"], cert.as_str());
    let days = i["data"]["days_left"].as_f64().unwrap();
    assert!((4.0..=5.0).contains(&days), "{}", pretty(&i));

    let failed = |extra: &[(&str, &str)]| {
        let mut all: Vec<(&str, &str)> = sets.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(extra);
        let v = sitrep.try_run("nginx/renew-certificate", "edge", &all, &[]);
        assert_eq!(exit_code(&v), Some(1), "{}", pretty(&v));
    };
    failed(&[("RENEW_COMMAND", "no-such-renewer renew")]);
    failed(&[("RENEW_COMMAND", "true"), ("CERT_FILE", &cert)]);
    let renew = format!(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout {d}/k.pem -out {d}/c.pem -days 90 -subj /CN=localhost 2>/dev/null"
    );
    let v = run_on(
        &sitrep,
        "nginx/renew-certificate",
        &sets,
        &[("RENEW_COMMAND", &renew), ("CERT_FILE", &cert)],
    );
    assert!(report(&v).contains("reloaded nginx"), "{}", pretty(&v));
    let served_days = || {
        let end = String::from_utf8_lossy(&sh(&format!(
            "echo | openssl s_client -connect 127.0.0.1:{} 2>/dev/null | openssl x509 -noout -enddate | cut -d= -f2",
            edge.tls
        )).stdout)
        .trim()
        .to_string();
        let secs: i64 = String::from_utf8_lossy(&sh(&format!("date -d '{end}' +%s")).stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        (secs
            - String::from_utf8_lossy(&sh("date +%s").stdout)
                .trim()
                .parse::<i64>()
                .unwrap())
            / 86400
    };
    wait_for(10, "nginx to serve the renewed certificate", || {
        served_days() >= 80
    });
    assert!(issues(&run_on(&sitrep, "nginx/certificates", &sets, &[])).is_empty());
}
