//! Kubernetes through kube-rs: namespaces, nodes, workloads, pods, services, ingresses, PVCs
//! and configmap names, with edges from owner references, service selectors, ingress
//! backends, pod volumes and scheduling. Lists are paged (`limit` + `continue`) and each page
//! is folded into small summaries at once, so memory follows the map, not the API's JSON.

use crate::config::KubernetesSource;
use crate::{DiscoveryError, Indexer};
use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, Node, PersistentVolumeClaim, Pod, PodSpec, Service,
};
use k8s_openapi::api::networking::v1::{Ingress, IngressSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use sitrep_core::map::{Edge, EdgeKind, Inventory, Resource, STATUS};
use std::collections::{BTreeMap, HashMap};

pub struct KubernetesIndexer {
    pub config: KubernetesSource,
}

#[async_trait]
impl Indexer for KubernetesIndexer {
    fn source(&self) -> String {
        format!(
            "kubernetes:{}",
            self.config.context.as_deref().unwrap_or("current")
        )
    }

    async fn index(&self) -> Result<Inventory, DiscoveryError> {
        let (client, context, kubeconfig) = connect(&self.config).await?;
        let err = |e: kube::Error| DiscoveryError::Kubernetes {
            context: context.clone(),
            message: format!("{e} (check the kubeconfig, the context and RBAC list rights)"),
        };
        let mut b = Builder::new(&self.config, &context, kubeconfig.as_deref(), self.source());
        let page = self.config.page_size.max(1);

        each(&Api::<Namespace>::all(client.clone()), page, |o| {
            b.namespace(o)
        })
        .await
        .map_err(err)?;
        each(&Api::<Node>::all(client.clone()), page, |o| b.node(o))
            .await
            .map_err(err)?;
        each(&Api::<Deployment>::all(client.clone()), page, |o| {
            let ready = o
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            let want = o.spec.replicas.unwrap_or(1);
            b.object("Deployment", &o.metadata, |r| {
                r.properties.insert("replicas".into(), want.into());
                r.properties
                    .insert(STATUS.into(), serde_json::json!({"ready_replicas": ready}));
            });
        })
        .await
        .map_err(err)?;
        each(&Api::<StatefulSet>::all(client.clone()), page, |o| {
            b.object("StatefulSet", &o.metadata, |_| {});
        })
        .await
        .map_err(err)?;
        each(&Api::<DaemonSet>::all(client.clone()), page, |o| {
            b.object("DaemonSet", &o.metadata, |_| {});
        })
        .await
        .map_err(err)?;
        each(&Api::<ReplicaSet>::all(client.clone()), page, |o| {
            let replicas = o.spec.replicas.unwrap_or(0);
            b.object("ReplicaSet", &o.metadata, |r| {
                r.properties.insert("replicas".into(), replicas.into());
            });
        })
        .await
        .map_err(err)?;
        each(&Api::<Pod>::all(client.clone()), page, |o| b.pod(o))
            .await
            .map_err(err)?;
        each(&Api::<Service>::all(client.clone()), page, |o| b.service(o))
            .await
            .map_err(err)?;
        each(&Api::<Ingress>::all(client.clone()), page, |o| b.ingress(o))
            .await
            .map_err(err)?;
        each(
            &Api::<PersistentVolumeClaim>::all(client.clone()),
            page,
            |o| {
                b.object("PersistentVolumeClaim", &o.metadata, |_| {});
            },
        )
        .await
        .map_err(err)?;
        // Names only: a configmap's data can be large and is none of discovery's business.
        let cms = Api::<ConfigMap>::all(client.clone());
        let mut token: Option<String> = None;
        loop {
            let mut lp = ListParams::default().limit(page);
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let list = cms.list_metadata(&lp).await.map_err(err)?;
            for m in list.items {
                b.object("ConfigMap", &m.metadata, |_| {});
            }
            match list.metadata.continue_ {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        Ok(b.finish())
    }
}

async fn connect(
    cfg: &KubernetesSource,
) -> Result<(kube::Client, String, Option<String>), DiscoveryError> {
    let label = cfg.context.clone().unwrap_or_else(|| "current".into());
    let err = |message: String| DiscoveryError::Kubernetes {
        context: label.clone(),
        message,
    };
    let path = cfg
        .kubeconfig
        .clone()
        .or_else(|| std::env::var("KUBECONFIG").ok().filter(|s| !s.is_empty()));
    let kc = match &path {
        Some(p) => {
            Kubeconfig::read_from(p).map_err(|e| err(format!("cannot read kubeconfig {p}: {e}")))?
        }
        None => Kubeconfig::read().map_err(|e| {
            err(format!(
                "no kubeconfig (set discovery.kubernetes[].kubeconfig or KUBECONFIG): {e}"
            ))
        })?,
    };
    let context = cfg
        .context
        .clone()
        .or_else(|| kc.current_context.clone())
        .ok_or_else(|| err("the kubeconfig has no current context; set `context`".into()))?;
    let opts = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| err(format!("context {context}: {e}")))?;
    let client = kube::Client::try_from(config).map_err(|e| err(e.to_string()))?;
    Ok((client, context, path))
}

/// Lists every object of a kind, page by page, handing each to `f`.
async fn each<K>(api: &Api<K>, page: u32, mut f: impl FnMut(K)) -> Result<(), kube::Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(page);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let list = api.list(&lp).await?;
        for o in list.items {
            f(o);
        }
        match list.metadata.continue_ {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(()),
        }
    }
}

/// Folds objects into resources and edges.
pub struct Builder<'a> {
    cfg: &'a KubernetesSource,
    context: String,
    kubeconfig: Option<String>,
    source: String,
    inv: Inventory,
    /// namespace → (pod key, labels): the selector index for services.
    pods: HashMap<String, Vec<(String, BTreeMap<String, String>)>>,
    /// namespace → [(service key, selector)], resolved in `finish`.
    services: Vec<(String, String, BTreeMap<String, String>)>,
}

impl<'a> Builder<'a> {
    pub fn new(
        cfg: &'a KubernetesSource,
        context: &str,
        kubeconfig: Option<&str>,
        source: String,
    ) -> Self {
        Builder {
            cfg,
            context: context.to_string(),
            kubeconfig: kubeconfig.map(str::to_string),
            source,
            inv: Inventory::default(),
            pods: HashMap::new(),
            services: vec![],
        }
    }

    fn key(&self, kind: &str, ns: Option<&str>, name: &str) -> String {
        match ns {
            Some(ns) => format!("k8s:{}/{}/{ns}/{name}", self.context, kind.to_lowercase()),
            None => format!("k8s:{}/{}/{name}", self.context, kind.to_lowercase()),
        }
    }

    fn namespace_included(&self, ns: &str) -> bool {
        (self.cfg.namespaces.is_empty() || self.cfg.namespaces.iter().any(|n| n == ns))
            && !self.cfg.exclude_namespaces.iter().any(|n| n == ns)
    }

    fn excluded(&self, m: &ObjectMeta) -> bool {
        let hit = |rules: &[String], map: Option<&BTreeMap<String, String>>| {
            rules.iter().any(|rule| {
                let (k, v) = match rule.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (rule.as_str(), None),
                };
                map.and_then(|m| m.get(k))
                    .is_some_and(|got| v.is_none_or(|v| v == got))
            })
        };
        hit(&self.cfg.exclude_labels, m.labels.as_ref())
            || hit(&self.cfg.exclude_annotations, m.annotations.as_ref())
            || m.namespace
                .as_deref()
                .is_some_and(|ns| !self.namespace_included(ns))
    }

    /// Adds an object; returns its key, or None when excluded.
    fn object(
        &mut self,
        kind: &str,
        m: &ObjectMeta,
        extra: impl FnOnce(&mut Resource),
    ) -> Option<String> {
        if self.excluded(m) {
            return None;
        }
        let name = m.name.clone().unwrap_or_default();
        let ns = m.namespace.as_deref();
        let key = self.key(kind, ns, &name);
        let display = match ns {
            Some(ns) => format!("{ns}/{name}"),
            None => name.clone(),
        };
        let mut r = Resource::new(&key, format!("k8s-{}", kind.to_lowercase()), display)
            .with_prop("object_name", name.clone())
            .with_prop("context", self.context.clone());
        if let Some(kc) = &self.kubeconfig {
            r.properties.insert("kubeconfig".into(), kc.clone().into());
        }
        if let Some(ns) = ns {
            r.properties.insert("namespace".into(), ns.into());
            let ns_key = self.key("Namespace", None, ns);
            self.inv
                .edges
                .push(Edge::new(&key, ns_key, EdgeKind::PartOf));
        }
        if let Some(l) = &m.labels {
            r.labels = l.clone();
        }
        for o in m.owner_references.iter().flatten() {
            let owner = self.key(&o.kind, ns, &o.name);
            self.inv.edges.push(Edge::new(owner, &key, EdgeKind::Owns));
        }
        extra(&mut r);
        r.sources.push(self.source.clone());
        self.inv.resources.push(r);
        Some(key)
    }

    pub fn namespace(&mut self, o: Namespace) {
        let name = o.metadata.name.clone().unwrap_or_default();
        if !self.namespace_included(&name) {
            return;
        }
        self.object("Namespace", &o.metadata, |r| {
            r.properties.insert("namespace".into(), name.clone().into());
        });
    }

    pub fn node(&mut self, o: Node) {
        let ready = o
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status == "True");
        self.object("Node", &o.metadata, |r| {
            if let Some(ready) = ready {
                r.properties
                    .insert(STATUS.into(), serde_json::json!({"ready": ready}));
            }
        });
    }

    pub fn pod(&mut self, o: Pod) {
        let phase = o
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let Some(key) = self.object("Pod", &o.metadata, |r| {
            r.properties
                .insert(STATUS.into(), serde_json::json!({"phase": phase}));
        }) else {
            return;
        };
        let ns = o.metadata.namespace.clone().unwrap_or_default();
        self.pods
            .entry(ns.clone())
            .or_default()
            .push((key.clone(), o.metadata.labels.clone().unwrap_or_default()));
        if let Some(spec) = &o.spec {
            self.pod_spec_edges(&key, &ns, spec);
        }
    }

    fn pod_spec_edges(&mut self, key: &str, ns: &str, spec: &PodSpec) {
        if let Some(node) = &spec.node_name {
            let n = self.key("Node", None, node);
            self.inv.edges.push(Edge::new(key, n, EdgeKind::RunsOn));
        }
        let mut deps = vec![];
        for v in spec.volumes.iter().flatten() {
            if let Some(c) = &v.persistent_volume_claim {
                deps.push(("PersistentVolumeClaim", c.claim_name.clone()));
            }
            if let Some(c) = &v.config_map {
                deps.push(("ConfigMap", c.name.clone()));
            }
        }
        for c in &spec.containers {
            for e in c.env_from.iter().flatten() {
                if let Some(r) = &e.config_map_ref {
                    deps.push(("ConfigMap", r.name.clone()));
                }
            }
            for e in c.env.iter().flatten() {
                if let Some(r) = e
                    .value_from
                    .as_ref()
                    .and_then(|v| v.config_map_key_ref.as_ref())
                {
                    deps.push(("ConfigMap", r.name.clone()));
                }
            }
        }
        for (kind, name) in deps {
            let to = self.key(kind, Some(ns), &name);
            self.inv.edges.push(Edge::new(key, to, EdgeKind::DependsOn));
        }
    }

    pub fn service(&mut self, o: Service) {
        let selector = o
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default();
        let ty = o
            .spec
            .as_ref()
            .and_then(|s| s.type_.clone())
            .unwrap_or_default();
        let ports: Vec<i32> = o
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .map(|p| p.iter().map(|p| p.port).collect())
            .unwrap_or_default();
        let Some(key) = self.object("Service", &o.metadata, |r| {
            r.properties.insert("type".into(), ty.into());
            r.properties.insert("ports".into(), ports.into());
        }) else {
            return;
        };
        if !selector.is_empty() {
            let ns = o.metadata.namespace.clone().unwrap_or_default();
            self.services.push((key, ns, selector));
        }
    }

    pub fn ingress(&mut self, o: Ingress) {
        let Some(key) = self.object("Ingress", &o.metadata, |r| {
            if let Some(spec) = &o.spec {
                ingress_routes(spec, r);
            }
        }) else {
            return;
        };
        let ns = o.metadata.namespace.clone().unwrap_or_default();
        let Some(spec) = &o.spec else { return };
        let mut backends: Vec<String> = vec![];
        if let Some(s) = spec
            .default_backend
            .as_ref()
            .and_then(|b| b.service.as_ref())
        {
            backends.push(s.name.clone());
        }
        for rule in spec.rules.iter().flatten() {
            for p in rule.http.iter().flat_map(|h| &h.paths) {
                if let Some(s) = &p.backend.service {
                    backends.push(s.name.clone());
                }
            }
        }
        backends.sort();
        backends.dedup();
        for b in backends {
            let to = self.key("Service", Some(&ns), &b);
            self.inv
                .edges
                .push(Edge::new(&key, to, EdgeKind::DependsOn));
        }
    }

    /// Resolves service selectors against the pods seen, then returns the inventory.
    pub fn finish(mut self) -> Inventory {
        for (svc, ns, selector) in std::mem::take(&mut self.services) {
            for (pod, labels) in self.pods.get(&ns).into_iter().flatten() {
                if selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                    self.inv
                        .edges
                        .push(Edge::new(&svc, pod, EdgeKind::DependsOn));
                }
            }
        }
        self.inv
    }
}

/// What an ingress routes, kept on its resource: `rules` (each `host` and its `http.paths`'
/// `path`, in the Kubernetes shape that RunWhen's templates read) and `tls_hosts`.
fn ingress_routes(spec: &IngressSpec, r: &mut Resource) {
    let rules: Vec<serde_json::Value> = spec
        .rules
        .iter()
        .flatten()
        .map(|rule| {
            let paths: Vec<serde_json::Value> = rule
                .http
                .iter()
                .flat_map(|h| &h.paths)
                .map(|p| serde_json::json!({"path": p.path}))
                .collect();
            serde_json::json!({"host": rule.host, "http": {"paths": paths}})
        })
        .collect();
    if !rules.is_empty() {
        r.properties.insert("rules".into(), rules.into());
    }
    let tls_hosts: Vec<serde_json::Value> = spec
        .tls
        .iter()
        .flatten()
        .flat_map(|t| t.hosts.iter().flatten())
        .map(|h| h.as_str().into())
        .collect();
    if !tls_hosts.is_empty() {
        r.properties.insert("tls_hosts".into(), tls_hosts.into());
    }
}
