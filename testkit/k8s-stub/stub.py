#!/usr/bin/env python3
"""A Kubernetes API server STUB for tests (python3 stdlib only).

It is not Kubernetes: it replays recorded, real-shaped API objects from fixture files so that
kubectl (Debian's kubernetes-client 1.20 and newer clients) and kube-rs can run `get -o json`,
`get events`, `logs`, `get --raw .../proxy/stats/summary`, `rollout restart` and `scale` against it.

    stub.py [--port 0] [--fixtures DIR] [--kubeconfig PATH] [--generate N] [--request-log FILE]

It prints `listening on http://127.0.0.1:PORT` (and flushes) once it accepts connections.
--kubeconfig writes a kubeconfig (cluster "stub", context "stub") pointing at it.

Fixtures (see README.md): one Kubernetes *List* response per resource (`pods.json` is a PodList
spanning every namespace), `cluster.json` with the time they were recorded at (every RFC 3339
timestamp is shifted by now - recordedAt at start-up, so ages stay as recorded), `logs/NS/POD/
CONTAINER[.previous].log`, and `stats/NODE.json` (kubelet /stats/summary). A TLS secret whose
`data.tls.crt` is "@generate-cert:DAYS:CN" gets a real self-signed certificate made with openssl
at start-up that expires DAYS days from now.
"""
import argparse
import base64
import copy
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (group, version, plural) -> (kind, namespaced, short names)
RESOURCES = {
    ("", "v1", "namespaces"): ("Namespace", False, ["ns"]),
    ("", "v1", "nodes"): ("Node", False, ["no"]),
    ("", "v1", "pods"): ("Pod", True, ["po"]),
    ("", "v1", "services"): ("Service", True, ["svc"]),
    ("", "v1", "events"): ("Event", True, ["ev"]),
    ("", "v1", "persistentvolumeclaims"): ("PersistentVolumeClaim", True, ["pvc"]),
    ("", "v1", "persistentvolumes"): ("PersistentVolume", False, ["pv"]),
    ("", "v1", "configmaps"): ("ConfigMap", True, ["cm"]),
    ("", "v1", "secrets"): ("Secret", True, []),
    ("apps", "v1", "deployments"): ("Deployment", True, ["deploy"]),
    ("apps", "v1", "replicasets"): ("ReplicaSet", True, ["rs"]),
    ("apps", "v1", "statefulsets"): ("StatefulSet", True, ["sts"]),
    ("apps", "v1", "daemonsets"): ("DaemonSet", True, ["ds"]),
    ("networking.k8s.io", "v1", "ingresses"): ("Ingress", True, ["ing"]),
}
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def now_utc():
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def shift_times(obj, delta):
    """Shift every RFC 3339 timestamp in obj by delta (recorded ages stay the same)."""
    if isinstance(obj, dict):
        return {k: shift_times(v, delta) for k, v in obj.items()}
    if isinstance(obj, list):
        return [shift_times(v, delta) for v in obj]
    if isinstance(obj, str) and TS.match(obj):
        t = dt.datetime.strptime(obj[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
        return rfc3339(t + delta)
    return obj


def make_cert(days, cn):
    """A real self-signed certificate (PEM) expiring `days` from now, made with openssl."""
    with tempfile.TemporaryDirectory() as d:
        cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/k.pem",
               "-out", f"{d}/c.pem", "-days", str(days), "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        return open(f"{d}/c.pem", "rb").read(), open(f"{d}/k.pem", "rb").read()


class Store:
    def __init__(self, fixtures, generate=0):
        self.lock = threading.Lock()
        self.fixtures = fixtures
        meta = json.load(open(os.path.join(fixtures, "cluster.json")))
        recorded = dt.datetime.strptime(meta["recordedAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        self.delta = now_utc() - recorded
        self.version = meta.get("version", {})
        self.objects = {}  # key -> list of items
        self.rv = 1000
        for key, (kind, _, _) in RESOURCES.items():
            path = os.path.join(fixtures, f"{key[2]}.json")
            items = []
            if os.path.exists(path):
                items = shift_times(json.load(open(path)), self.delta).get("items", [])
            for it in items:
                it.setdefault("apiVersion", f"{key[0]}/{key[1]}" if key[0] else key[1])
                it.setdefault("kind", kind)
            self.objects[key] = items
        for s in self.objects[("", "v1", "secrets")]:
            crt = s.get("data", {}).get("tls.crt", "")
            if crt.startswith("@generate-cert:"):
                _, days, cn = crt.split(":", 2)
                c, k = make_cert(int(days), cn)
                s["data"]["tls.crt"] = base64.b64encode(c).decode()
                s["data"]["tls.key"] = base64.b64encode(k).decode()
        if generate:
            self.generate(generate)

    def generate(self, n):
        """Add about n generated objects (namespaces of deployments, replicasets, pods, services)."""
        t = rfc3339(now_utc() - dt.timedelta(days=3))
        per_ns, made, i = 50, 0, 0
        while made < n:
            ns = f"gen-{i // per_ns:03d}"
            if i % per_ns == 0:
                self.objects[("", "v1", "namespaces")].append({
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": ns, "uid": f"gen-ns-{i}", "creationTimestamp": t, "labels": {"kubernetes.io/metadata.name": ns}},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
                made += 1
            app, h = f"app-{i:05d}", f"{(i * 2654435761) % 16**9:09x}"[:9]
            labels = {"app.kubernetes.io/name": app}
            meta = lambda name, extra=None: {"name": name, "namespace": ns, "uid": f"gen-{name}", "creationTimestamp": t,
                                             "resourceVersion": "1", "labels": dict(labels, **(extra or {}))}
            self.objects[("apps", "v1", "deployments")].append({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": dict(meta(app), generation=1),
                "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": f"registry.example.com/{app}:1.0"}]}}},
                "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1}})
            self.objects[("apps", "v1", "replicasets")].append({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": dict(meta(f"{app}-{h}", {"pod-template-hash": h}), ownerReferences=[{"apiVersion": "apps/v1", "kind": "Deployment", "name": app, "uid": f"gen-{app}", "controller": True}]),
                "spec": {"replicas": 1, "selector": {"matchLabels": dict(labels, **{"pod-template-hash": h})}},
                "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}})
            self.objects[("", "v1", "pods")].append({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": dict(meta(f"{app}-{h}-{i % 100000:05d}", {"pod-template-hash": h}), ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{app}-{h}", "uid": f"gen-{app}-{h}", "controller": True}]),
                "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": f"registry.example.com/{app}:1.0"}]},
                "status": {"phase": "Running", "startTime": t, "conditions": [{"type": "Ready", "status": "True"}],
                           "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "started": True, "image": f"registry.example.com/{app}:1.0", "state": {"running": {"startedAt": t}}}]}})
            self.objects[("", "v1", "services")].append({
                "apiVersion": "v1", "kind": "Service", "metadata": meta(app),
                "spec": {"type": "ClusterIP", "selector": labels, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
            made += 4
            i += 1

    def next_rv(self):
        self.rv += 1
        return str(self.rv)


def parse_selector(sel):
    """Equality-based selectors: a=b, a==b, a!=b, and bare keys (exists)."""
    out = []
    for part in filter(None, (p.strip() for p in (sel or "").split(","))):
        if "!=" in part:
            k, v = part.split("!=", 1); out.append((k.strip(), "!=", v.strip()))
        elif "=" in part:
            k, v = part.replace("==", "=").split("=", 1); out.append((k.strip(), "=", v.strip()))
        else:
            out.append((part, "exists", None))
    return out


def field(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def matches(obj, labels, fields):
    lab = obj.get("metadata", {}).get("labels") or {}
    for k, op, v in labels:
        if op == "exists" and k not in lab: return False
        if op == "=" and lab.get(k) != v: return False
        if op == "!=" and lab.get(k) == v: return False
    for k, op, v in fields:
        got = field(obj, k)
        got = "" if got is None else str(got)
        if op == "=" and got != v: return False
        if op == "!=" and got == v: return False
    return True


def merge(dst, patch):
    """JSON merge patch (RFC 7386); good enough for strategic-merge patches of maps and scalars."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(dst, dict):
        dst = {}
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            dst.pop(k, None)
        else:
            dst[k] = merge(dst.get(k), v)
    return dst


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store = None
    request_log = None

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def send_json(self, code, obj, ctype="application/json"):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_text(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def status(self, code, reason, message, details=None):
        self.send_json(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": message, "reason": reason, "details": details or {}, "code": code})

    def record(self, body=None):
        if self.request_log:
            with open(self.request_log, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path, "body": body}) + "\n")

    # --- discovery ---------------------------------------------------------------------------
    def discovery(self, path):
        if path == "/version":
            v = {"major": "1", "minor": "29", "gitVersion": "v1.29.4", "gitCommit": "stub", "gitTreeState": "clean",
                 "buildDate": "2024-04-16T00:00:00Z", "goVersion": "go1.21.9", "compiler": "gc", "platform": "linux/amd64"}
            v.update(self.store.version)
            return v
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}
        if path == "/apis":
            groups = sorted({g for (g, _, _) in RESOURCES if g})
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}} for g in groups]}
        m = re.fullmatch(r"/api/v1|/apis/([^/]+)/(v1)", path)
        if m:
            group = m.group(1) or ""
            res = []
            for (g, v, plural), (kind, namespaced, short) in RESOURCES.items():
                if g != group:
                    continue
                r = {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": VERBS}
                if short:
                    r["shortNames"] = short
                res.append(r)
                if plural == "pods":
                    res.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
                if plural == "deployments":
                    res.append({"name": "deployments/scale", "singularName": "", "namespaced": True, "group": "autoscaling",
                                "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
                if plural == "nodes":
                    res.append({"name": "nodes/proxy", "singularName": "", "namespaced": False, "kind": "NodeProxyOptions", "verbs": ["get"]})
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/v1" if group else "v1", "resources": res}
        return None

    # --- routing -----------------------------------------------------------------------------
    def route(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        path = u.path.rstrip("/") or "/"
        m = re.fullmatch(r"/(?:api/(?P<cv>v1)|apis/(?P<g>[^/]+)/(?P<gv>v1))"
                         r"(?:/namespaces/(?P<ns>[^/]+)(?=/))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>.+))?", path)
        if not m:
            return path, q, None
        key = (m.group("g") or "", m.group("cv") or m.group("gv"), m.group("plural"))
        # /api/v1/namespaces/NAME is a get of a namespace, not a namespaced path
        if key == ("", "v1", "namespaces") and m.group("ns") is None and m.group("name") is None:
            pass
        return path, q, (key, m.group("ns"), m.group("name"), m.group("sub"))

    def find(self, key, ns, name):
        for it in self.store.objects.get(key, []):
            md = it.get("metadata", {})
            if md.get("name") == name and (ns is None or md.get("namespace") == ns):
                return it
        return None

    def do_GET(self):
        self.record()
        path, q, r = self.route()
        d = self.discovery(path)
        if d is not None:
            return self.send_json(200, d)
        if path in ("/healthz", "/readyz", "/livez"):
            return self.send_text(200, "ok")
        if r is None:
            return self.status(404, "NotFound", f"the server could not find the requested resource ({path})")
        key, ns, name, sub = r
        if key not in RESOURCES:
            return self.status(404, "NotFound", f"the server could not find the requested resource ({path})")
        kind, namespaced, _ = RESOURCES[key]
        if key == ("", "v1", "namespaces") and name and sub:
            # /api/v1/namespaces/NS/<plural>... without the lookahead above (e.g. no trailing part)
            return self.status(404, "NotFound", f"the server could not find the requested resource ({path})")
        with self.store.lock:
            if name is None:
                return self.list(key, kind, ns, q)
            obj = self.find(key, ns if namespaced else None, name)
            if obj is None:
                return self.status(404, "NotFound", f'{key[2]}{"." + key[0] if key[0] else ""} "{name}" not found',
                                   {"name": name, "kind": key[2]})
            if sub is None:
                return self.send_json(200, obj)
            if key[2] == "pods" and sub == "log":
                return self.logs(obj, q)
            if key[2] == "deployments" and sub == "scale":
                return self.send_json(200, self.scale_of(obj))
            if key[2] == "nodes" and sub == "proxy/stats/summary":
                p = os.path.join(self.store.fixtures, "stats", f"{name}.json")
                if not os.path.exists(p):
                    return self.status(503, "ServiceUnavailable", f"no stats for node {name}")
                return self.send_json(200, shift_times(json.load(open(p)), self.store.delta))
        return self.status(404, "NotFound", f"the server could not find the requested resource ({path})")

    def list(self, key, kind, ns, q):
        labels, fields = parse_selector(q.get("labelSelector")), parse_selector(q.get("fieldSelector"))
        items = [it for it in self.store.objects[key]
                 if (ns is None or it.get("metadata", {}).get("namespace") == ns) and matches(it, labels, fields)]
        meta = {"resourceVersion": str(self.store.rv)}
        limit = int(q.get("limit") or 0)
        start = int(q.get("continue") or 0)
        if limit:
            page = items[start:start + limit]
            if start + limit < len(items):
                meta["continue"] = str(start + limit)
                meta["remainingItemCount"] = len(items) - start - limit
            items = page
        api = f"{key[0]}/{key[1]}" if key[0] else key[1]
        self.send_json(200, {"kind": f"{kind}List", "apiVersion": api, "metadata": meta, "items": items})

    def logs(self, pod, q):
        containers = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
        c = q.get("container") or (containers[0] if len(containers) == 1 else None)
        if c is None:
            return self.status(400, "BadRequest", f"a container name must be specified for pod {pod['metadata']['name']}, choose one of: {containers}")
        prev = q.get("previous") in ("true", "1")
        md = pod["metadata"]
        p = os.path.join(self.store.fixtures, "logs", md["namespace"], md["name"], f"{c}{'.previous' if prev else ''}.log")
        if not os.path.exists(p):
            if prev:
                return self.status(400, "BadRequest", f'previous terminated container "{c}" in pod "{md["name"]}" not found')
            return self.send_text(200, "")
        lines = open(p, errors="replace").read().splitlines(keepends=True)
        if q.get("tailLines"):
            lines = lines[-int(q["tailLines"]):] if int(q["tailLines"]) > 0 else []
        self.send_text(200, "".join(lines))

    @staticmethod
    def scale_of(dep):
        md = dep["metadata"]
        sel = ",".join(f"{k}={v}" for k, v in dep["spec"].get("selector", {}).get("matchLabels", {}).items())
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": md["name"], "namespace": md["namespace"], "uid": md.get("uid"),
                             "resourceVersion": md.get("resourceVersion", "1"), "creationTimestamp": md.get("creationTimestamp")},
                "spec": {"replicas": dep["spec"].get("replicas", 1)},
                "status": {"replicas": dep.get("status", {}).get("replicas", 0), "selector": sel}}

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def write(self):
        body = self.read_body()
        self.record(body)
        if body is None:
            return self.status(400, "BadRequest", "request body is not JSON")
        path, q, r = self.route()
        if r is None or r[0] not in RESOURCES or r[2] is None:
            return self.status(405, "MethodNotAllowed", f"{self.command} is not supported by the stub on {path}")
        key, ns, name, sub = r
        with self.store.lock:
            obj = self.find(key, ns if RESOURCES[key][1] else None, name)
            if obj is None:
                return self.status(404, "NotFound", f'{key[2]} "{name}" not found', {"name": name, "kind": key[2]})
            if sub == "scale" and key[2] == "deployments":
                replicas = (body.get("spec") or {}).get("replicas")
                if replicas is None:
                    return self.status(422, "Invalid", "spec.replicas is required")
                obj["spec"]["replicas"] = int(replicas)
                self.touch(obj)
                return self.send_json(200, self.scale_of(obj))
            if sub is not None:
                return self.status(405, "MethodNotAllowed", f"subresource {sub} is not supported by the stub")
            if self.command == "PUT":
                body.setdefault("metadata", {}).update({k: obj["metadata"][k] for k in ("uid", "creationTimestamp") if k in obj["metadata"]})
                obj.clear(); obj.update(body)
            elif isinstance(body, dict):
                merged = merge(copy.deepcopy(obj), body)
                obj.clear(); obj.update(merged)
            self.touch(obj)
            return self.send_json(200, obj)

    def touch(self, obj):
        md = obj.setdefault("metadata", {})
        md["resourceVersion"] = self.store.next_rv()
        if "generation" in md:
            md["generation"] = int(md["generation"]) + 1

    do_PATCH = write
    do_PUT = write

    def do_POST(self):
        self.record(self.read_body())
        self.status(405, "MethodNotAllowed", "create is not supported by the stub")

    def do_DELETE(self):
        self.record()
        self.status(405, "MethodNotAllowed", "delete is not supported by the stub")


def write_kubeconfig(path, url):
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "stub", "preferences": {},
           "clusters": [{"name": "stub", "cluster": {"server": url}}],
           "users": [{"name": "stub", "user": {"token": "stub-token"}}],
           "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub"}}]}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg, f, indent=2)  # JSON is YAML
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--fixtures", default=os.path.join(here, "fixtures"))
    ap.add_argument("--kubeconfig", help="write a kubeconfig for this server to PATH")
    ap.add_argument("--generate", type=int, default=0, metavar="N", help="add about N generated objects")
    ap.add_argument("--request-log", help="append every request (method, path, body of writes) as JSON lines")
    a = ap.parse_args()
    Handler.store = Store(a.fixtures, a.generate)
    Handler.request_log = a.request_log
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    if a.kubeconfig:
        write_kubeconfig(a.kubeconfig, url)
    print(f"listening on {url}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
