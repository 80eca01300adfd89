//! Prometheus: its scrape targets (with job, instance and health), its alert rules, the
//! Alertmanagers it sends to, and what its blackbox probes point at.

use crate::{DiscoveryError, Indexer, endpoint_key, split_url};
use async_trait::async_trait;
use serde::Deserialize;
use sitrep_core::map::{Edge, EdgeKind, Inventory, Resource, STATUS};
use std::collections::BTreeMap;
use std::time::Duration;

pub const SOURCE: &str = "prometheus";

pub struct PrometheusIndexer {
    pub url: String,
    pub client: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Targets {
    #[serde(default)]
    pub active_targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub scrape_url: String,
    #[serde(default)]
    pub health: String,
}

#[derive(Debug, Deserialize)]
pub struct Rules {
    #[serde(default)]
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
pub struct RuleGroup {
    #[serde(default)]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
pub struct Rule {
    pub name: String,
    #[serde(default, rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub state: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alertmanagers {
    #[serde(default)]
    pub active_alertmanagers: Vec<AmUrl>,
}

#[derive(Debug, Deserialize)]
pub struct AmUrl {
    pub url: String,
}

impl PrometheusIndexer {
    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, DiscoveryError> {
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let err = |message: String| DiscoveryError::Http {
            url: url.clone(),
            message,
        };
        let resp = self
            .client
            .get(&url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| err(format!("{e} (is Prometheus running there?)")))?;
        if !resp.status().is_success() {
            return Err(err(format!("HTTP {}", resp.status())));
        }
        let env: Envelope<T> = resp
            .json()
            .await
            .map_err(|e| err(format!("unexpected response: {e}")))?;
        Ok(env.data)
    }
}

#[async_trait]
impl Indexer for PrometheusIndexer {
    fn source(&self) -> String {
        SOURCE.into()
    }
    async fn index(&self) -> Result<Inventory, DiscoveryError> {
        let targets: Targets = self.get("/api/v1/targets?state=active").await?;
        let rules: Rules = self.get("/api/v1/rules?type=alert").await?;
        // Older servers lack the endpoint; the map is still useful without it.
        let ams: Alertmanagers = self
            .get("/api/v1/alertmanagers")
            .await
            .unwrap_or(Alertmanagers {
                active_alertmanagers: vec![],
            });
        build(&self.url, &targets, &rules, &ams).ok_or_else(|| DiscoveryError::Http {
            url: self.url.clone(),
            message: "not a URL with a host".into(),
        })
    }
}

/// `a%3A%2F%2Fb` → `a://b`.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .map(percent_decode)
}

pub fn build(
    url: &str,
    targets: &Targets,
    rules: &Rules,
    ams: &Alertmanagers,
) -> Option<Inventory> {
    let (scheme, host, port, _) = split_url(url)?;
    let port = port.unwrap_or(if scheme == "https" { 443 } else { 80 });
    let prom_key = endpoint_key(&host, port);
    let mut inv = Inventory::default();
    let alerting: Vec<&Rule> = rules
        .groups
        .iter()
        .flat_map(|g| &g.rules)
        .filter(|r| r.ty == "alerting")
        .collect();
    let mut prom = Resource::new(&prom_key, "prometheus", format!("prometheus-{port}"))
        .with_prop("url", url.trim_end_matches('/').to_string())
        .with_prop("host", host.clone())
        .with_prop("port", port)
        .with_prop(
            "alert_rules",
            alerting.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
        )
        .with_prop(
            STATUS,
            serde_json::json!({"firing": alerting
                .iter()
                .filter(|r| r.state == "firing")
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()}),
        );
    prom.sources.push(SOURCE.into());
    inv.resources.push(prom);

    // One resource per address: an exporter scraped by several jobs (blackbox's own metrics
    // and its probes) is named after the job that scrapes its /metrics, then the first job.
    let mut by_key: BTreeMap<String, Vec<&Target>> = BTreeMap::new();
    for t in &targets.active_targets {
        let Some((_, th, tp, _)) = split_url(&t.scrape_url) else {
            continue;
        };
        by_key
            .entry(endpoint_key(&th, tp.unwrap_or(80)))
            .or_default()
            .push(t);
    }
    for (key, mut ts) in by_key {
        let job = |t: &Target| t.labels.get("job").cloned().unwrap_or_default();
        let path = |t: &Target| split_url(&t.scrape_url).map(|u| u.3).unwrap_or_default();
        ts.sort_by_key(|t| (!path(t).starts_with("/metrics"), job(t)));
        let t = ts[0];
        let Some((_, th, tp, _)) = split_url(&t.scrape_url) else {
            continue;
        };
        let tp = tp.unwrap_or(80);
        let instance = t.labels.get("instance").cloned().unwrap_or_default();
        let mut r = Resource::new(&key, "scrape-target", format!("{}-{tp}", job(t)))
            .with_prop("job", job(t))
            .with_prop("instance", instance)
            .with_prop("host", crate::connect_host(&th))
            .with_prop("port", tp)
            .with_prop(STATUS, serde_json::json!({"health": t.health}))
            .with_prop("scrape_url", t.scrape_url.clone())
            .with_prop(
                "prometheus_labels",
                serde_json::to_value(&t.labels).unwrap_or_default(),
            );
        if key != prom_key {
            inv.edges
                .push(Edge::new(&prom_key, &key, EdgeKind::Monitors));
        }
        for t in &ts {
            let job = job(t);
            let name = format!("{job}-{tp}");
            if name != r.name && !r.aliases.contains(&name) {
                r.aliases.push(name);
            }
            if !job.is_empty() {
                let jkey = format!("prom-job:{prom_key}:{job}");
                let mut j = Resource::new(&jkey, "prometheus-job", format!("job-{job}"))
                    .with_prop("job", job);
                j.sources.push(SOURCE.into());
                inv.resources.push(j);
                inv.edges.push(Edge::new(&key, &jkey, EdgeKind::PartOf));
            }
            // A blackbox probe: the probed URL is an endpoint in its own right.
            if let Some(probed) = query_param(&t.scrape_url, "target") {
                if let Some((ps, ph, pp, _)) = split_url(&probed) {
                    let pp = pp.unwrap_or(if ps == "https" { 443 } else { 80 });
                    let ekey = format!("url:{probed}");
                    let mut e = Resource::new(&ekey, "http-endpoint", probed.clone())
                        .with_prop("url", probed.clone())
                        .with_prop("host", ph.clone())
                        .with_prop("port", pp);
                    e.sources.push(SOURCE.into());
                    inv.resources.push(e);
                    inv.edges.push(Edge::new(&key, &ekey, EdgeKind::Monitors));
                    inv.edges
                        .push(Edge::new(&ekey, endpoint_key(&ph, pp), EdgeKind::DependsOn));
                }
            }
        }
        r.sources.push(SOURCE.into());
        inv.resources.push(r);
    }
    for am in &ams.active_alertmanagers {
        if let Some((_, h, p, _)) = split_url(&am.url) {
            let p = p.unwrap_or(80);
            let key = endpoint_key(&h, p);
            let mut r = Resource::new(&key, "alertmanager", format!("alertmanager-{p}"))
                .with_prop("host", h)
                .with_prop("port", p);
            r.sources.push(SOURCE.into());
            inv.resources.push(r);
            inv.edges
                .push(Edge::new(&prom_key, &key, EdgeKind::DependsOn));
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_rules_and_probes() {
        // Shapes of Prometheus 2.x /api/v1/targets, /rules and /alertmanagers responses.
        let targets: Envelope<Targets> = serde_json::from_str(r#"{"status":"success","data":{"activeTargets":[
            {"labels":{"instance":"127.0.0.1:29187","job":"postgres","resource":"pg-primary"},"scrapePool":"postgres","scrapeUrl":"http://127.0.0.1:29187/metrics","lastError":"","health":"up"},
            {"labels":{"instance":"http://127.0.0.1:28080/health","job":"blackbox-http"},"scrapeUrl":"http://127.0.0.1:29115/probe?module=http_2xx&target=http%3A%2F%2F127.0.0.1%3A28080%2Fhealth","health":"up"},
            {"labels":{"instance":"127.0.0.1:29115","job":"blackbox"},"scrapeUrl":"http://127.0.0.1:29115/metrics","health":"down"},
            {"labels":{"instance":"127.0.0.1:29090","job":"prometheus"},"scrapeUrl":"http://127.0.0.1:29090/metrics","health":"up"}
        ],"droppedTargets":[]}}"#).unwrap();
        let rules: Envelope<Rules> = serde_json::from_str(r#"{"status":"success","data":{"groups":[{"name":"g","file":"f","rules":[
            {"state":"firing","name":"TargetDown","query":"up == 0","type":"alerting","health":"ok"},
            {"state":"inactive","name":"HighLatency","type":"alerting"},
            {"name":"job:rate","type":"recording"}]}]}}"#).unwrap();
        let ams: Envelope<Alertmanagers> = serde_json::from_str(r#"{"status":"success","data":{"activeAlertmanagers":[{"url":"http://127.0.0.1:29093/api/v2/alerts"}],"droppedAlertmanagers":[]}}"#).unwrap();
        let inv = build(
            "http://127.0.0.1:29090",
            &targets.data,
            &rules.data,
            &ams.data,
        )
        .unwrap();
        let prom = inv
            .resources
            .iter()
            .find(|r| r.kind == "prometheus")
            .unwrap();
        assert_eq!(
            prom.properties["alert_rules"],
            serde_json::json!(["TargetDown", "HighLatency"])
        );
        assert_eq!(
            prom.properties["status"]["firing"],
            serde_json::json!(["TargetDown"])
        );
        let has = |from: &str, to: &str, k: EdgeKind| {
            inv.edges
                .iter()
                .any(|e| e.from == from && e.to == to && e.kind == k)
        };
        assert!(has(
            "tcp:localhost:29090",
            "tcp:localhost:29187",
            EdgeKind::Monitors
        ));
        assert!(has(
            "tcp:localhost:29090",
            "tcp:localhost:29093",
            EdgeKind::DependsOn
        ));
        assert!(has(
            "tcp:localhost:29115",
            "url:http://127.0.0.1:28080/health",
            EdgeKind::Monitors
        ));
        assert!(has(
            "tcp:localhost:29187",
            "prom-job:tcp:localhost:29090:postgres",
            EdgeKind::PartOf
        ));
        assert!(has(
            "url:http://127.0.0.1:28080/health",
            "tcp:localhost:28080",
            EdgeKind::DependsOn
        ));
        // One resource per address, named after the job scraping its /metrics whatever order
        // the API lists them in; the probe job's name is an alias.
        let bb: Vec<&Resource> = inv
            .resources
            .iter()
            .filter(|r| r.key == "tcp:localhost:29115")
            .collect();
        assert_eq!(bb.len(), 1);
        assert_eq!(bb[0].name, "blackbox-29115");
        assert_eq!(bb[0].aliases, vec!["blackbox-http-29115"]);
        assert_eq!(bb[0].properties["status"]["health"], "down");
        assert_eq!(
            (bb[0].prop_str("host"), bb[0].properties["port"].as_u64()),
            (Some("127.0.0.1"), Some(29115))
        );
        let pg = inv
            .resources
            .iter()
            .find(|r| r.key == "tcp:localhost:29187")
            .unwrap();
        assert_eq!(pg.properties["status"]["health"], "up");
        assert!(
            pg.labels.is_empty(),
            "target labels are properties, not lookup labels"
        );
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(s in "\\PC{0,40}") {
            let _ = percent_decode(&s);
            let _ = query_param(&s, "target");
        }
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("http%3A%2F%2Fa%3A1%2Fb"), "http://a:1/b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
