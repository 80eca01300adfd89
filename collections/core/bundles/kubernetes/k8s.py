"""Kubernetes checks through kubectl (any kubectl from 1.20 on). The task is chosen by SITREP_TASK:

  pods            CrashLoopBackOff / image pull / config errors, Pending too long, OOMKilled, with last log lines
  workloads       deployments with unavailable replicas or a stuck rollout; statefulsets and daemonsets not ready
  warning-events  Warning events in the last EVENT_WINDOW_MIN minutes, grouped by object and reason
  pvcs            PVCs Pending or Lost, and volumes nearly full (kubelet /stats/summary through the API proxy)
  nodes           NotReady, Memory/Disk/PID pressure, NetworkUnavailable, cordoned
  certificates    kubernetes.io/tls secrets whose certificate expires soon (openssl reads tls.crt)
  pod-logs        (diagnostic) the last lines of POD's containers, current and previous

Issues are grouped by workload (deployment, statefulset, ...) rather than pod, so that titles stay
stable while pods are replaced. kubectl reads KUBECONFIG (a secret given as a file).
"""
import base64
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

RESULTS = os.environ["SITREP_RESULTS"]
NOW = dt.datetime.now(dt.timezone.utc)


def emit(obj):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(obj) + "\n")


def issue(severity, title, expected, actual, details, next_steps, reproduce_hint="", last_event_at=None, data=None):
    """`last_event_at` (a Kubernetes timestamp) marks an issue raised from events (kills, Warning
    events): it stays open while they are recent (the check's quiet period), not the whole window.
    `data` names the workload (namespace, kind, name) for the remediations."""
    obj = {"type": "issue", "severity": severity, "title": title, "expected": expected, "actual": actual,
           "details": details[:6000], "next_steps": next_steps, "reproduce_hint": reproduce_hint}
    t = ts(last_event_at)
    if t:
        obj["last_event_at"] = t.isoformat().replace("+00:00", "Z")
    if data:
        obj["data"] = data
    emit(obj)


def env(name, default=""):
    return os.environ.get(name) or default


def num(name, default):
    try:
        return float(env(name, str(default)))
    except ValueError:
        sys.exit(f"{name} must be a number, got {os.environ.get(name)!r}")


def kubectl_base():
    base = [env("KUBECTL", "kubectl"), f"--request-timeout={env('REQUEST_TIMEOUT', '20s')}"]
    if env("KUBE_CONTEXT"):
        base.append(f"--context={env('KUBE_CONTEXT')}")
    return base


def kubectl(*args, check=True, timeout=60):
    cmd = kubectl_base() + list(args)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, errors="replace")
    except FileNotFoundError:
        sys.exit(f"{cmd[0]} not found (install kubernetes-client / kubectl, or set KUBECTL)")
    except subprocess.TimeoutExpired:
        if check:
            sys.exit(f"kubectl {' '.join(args)} timed out after {timeout}s")
        return None
    if p.returncode != 0:
        if check:
            sys.exit(f"kubectl {' '.join(args)} failed: {p.stderr.strip()[:1000]}")
        return None
    return p.stdout


def get(resource, *extra):
    ns = env("NAMESPACE")
    scope = ["-n", ns] if ns else ["--all-namespaces"]
    out = kubectl("get", resource, *scope, *extra, "-o", "json")
    return json.loads(out).get("items", [])


def ts(s):
    if not s:
        return None
    return dt.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)


def age(s):
    t = ts(s)
    return (NOW - t).total_seconds() if t else None


def human_age(seconds):
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= n:
            return f"{seconds // n}{unit}"
    return f"{seconds}s"


POD_HASH = re.compile(r"^(?P<base>.+)-[a-z0-9]{5,10}-[a-z0-9]{5}$")


def workload_of(pod):
    """(kind, name) of the pod's top-level controller, from ownerReferences and labels."""
    md = pod.get("metadata", {})
    owners = [o for o in md.get("ownerReferences") or [] if o.get("controller")] or md.get("ownerReferences") or []
    if not owners:
        return "pod", md.get("name")
    o = owners[0]
    if o.get("kind") == "ReplicaSet":
        h = (md.get("labels") or {}).get("pod-template-hash")
        if h and o["name"].endswith("-" + h):
            return "deployment", o["name"][: -len(h) - 1]
        return "replicaset", o["name"]
    if o.get("kind") == "Job":
        m = re.match(r"^(.+)-\d{8,}$", o["name"])  # CronJob jobs are NAME-<scheduled minute>
        return ("cronjob", m.group(1)) if m else ("job", o["name"])
    return o.get("kind", "pod").lower(), o.get("name")


def tail_logs(ns, pod, container, previous, lines):
    args = ["logs", "-n", ns, pod, "-c", container, f"--tail={lines}"]
    if previous:
        args.append("--previous")
    out = kubectl(*args, check=False, timeout=30)
    return (out or "").rstrip()[-4000:]


# --- pods ----------------------------------------------------------------------------------
WAITING_BAD = {
    "CrashLoopBackOff": (2, "are in CrashLoopBackOff"),
    "ImagePullBackOff": (2, "cannot pull their image"),
    "ErrImagePull": (2, "cannot pull their image"),
    "InvalidImageName": (2, "cannot pull their image"),
    "CreateContainerConfigError": (2, "cannot start: container config error"),
    "CreateContainerError": (2, "cannot start: container config error"),
    "RunContainerError": (2, "cannot start: container config error"),
}


def task_pods():
    pending_min = num("PENDING_MIN_AGE_S", 300)
    oom_window = num("OOM_WINDOW_MIN", 60) * 60
    log_lines = int(num("LOG_LINES", 20))
    pods = get("pods")
    groups = defaultdict(list)  # (problem, ns, kind, name) -> [(pod, container, detail)]
    oom_last = {}  # (ns, kind, name) -> latest finishedAt of an OOM kill
    for p in pods:
        md, st, spec = p["metadata"], p.get("status", {}), p.get("spec", {})
        ns, name = md.get("namespace", ""), md["name"]
        wk, wn = workload_of(p)
        if st.get("phase") in ("Succeeded",):
            continue
        if st.get("phase") == "Pending" and not any(cs.get("state", {}).get("waiting", {}).get("reason") in WAITING_BAD
                                                    for cs in st.get("containerStatuses") or []):
            a = age(md.get("creationTimestamp"))
            if a is not None and a >= pending_min:
                cond = next((c for c in st.get("conditions") or [] if c.get("type") == "PodScheduled" and c.get("status") == "False"), None)
                why = f"{cond.get('reason')}: {cond.get('message')}" if cond else "scheduled, waiting for containers (image pull, volumes, init containers)"
                groups[("Pending", ns, wk, wn)].append((name, "", f"pending for {human_age(a)}; {why}"))
            continue
        for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
            c = cs["name"]
            waiting = cs.get("state", {}).get("waiting") or {}
            last = (cs.get("lastState") or {}).get("terminated") or {}
            cur_term = cs.get("state", {}).get("terminated") or {}
            reason = waiting.get("reason")
            if reason in WAITING_BAD:
                prob = "CrashLoopBackOff" if reason == "CrashLoopBackOff" else WAITING_BAD[reason][1]
                det = f"{reason}, {cs.get('restartCount', 0)} restarts"
                if last:
                    det += f"; last exit {last.get('exitCode')} ({last.get('reason')}) at {last.get('finishedAt')}"
                if waiting.get("message"):
                    det += f"; {waiting['message'][:300]}"
                groups[(prob, ns, wk, wn)].append((name, c, det))
            for term in (last, cur_term):
                if term.get("reason") == "OOMKilled":
                    a = age(term.get("finishedAt"))
                    if a is None or a <= oom_window:
                        limit = next((x.get("resources", {}).get("limits", {}).get("memory") for x in spec.get("containers", []) if x["name"] == c), None)
                        groups[("OOMKilled", ns, wk, wn)].append(
                            (name, c, f"OOMKilled {human_age(a)} ago (exit {term.get('exitCode')}), memory limit {limit or 'none'}, {cs.get('restartCount', 0)} restarts"))
                        fin = term.get("finishedAt") or ""
                        oom_last[(ns, wk, wn)] = max(oom_last.get((ns, wk, wn), ""), fin)
                        break

    titles = {
        "CrashLoopBackOff": ("are in CrashLoopBackOff", 2,
                             "The container exits right after it starts and Kubernetes backs off restarting it. The previous container's last log lines (below) usually say why: a missing dependency, bad config, a failed migration.",
                             "Read the log lines below; check what changed (kubectl rollout history {kind}/{name} -n {ns}); fix the config/dependency or roll back with kubectl rollout undo {kind}/{name} -n {ns}; describe the pod for events."),
        "Pending": ("are stuck Pending", 2,
                    "The scheduler cannot place the pods (insufficient CPU/memory, taints, affinity, unbound PVCs) or they wait for volumes or images.",
                    "Read the scheduler message; free or add capacity (core/kubernetes/nodes), fix the PVC (core/kubernetes/pvcs), or lower the requests of {kind}/{name}."),
        "OOMKilled": ("were OOMKilled", 2,
                      "A container exceeded its memory limit and the kernel killed it (exit 137); it restarts, losing in-flight work.",
                      "Compare the container's memory use with its limit (kubectl top pod -n {ns}); raise the limit of {kind}/{name} or find the leak (the log lines before the kill show what it was doing)."),
    }
    n_issues = 0
    for (prob, ns, wk, wn), members in sorted(groups.items()):
        suffix, sev, what, steps = titles.get(prob, (prob, 2, "The containers cannot start.", "Describe the pod (kubectl describe pod -n {ns} POD) and fix the image name, pull secret, or the missing ConfigMap/Secret it references."))
        logs = []
        if prob in ("CrashLoopBackOff", "OOMKilled"):
            for pod_name, c, _ in members[:2]:
                prev = tail_logs(ns, pod_name, c, True, log_lines)
                if prev:
                    logs.append(f"--- last {log_lines} lines of {pod_name}/{c} (previous container) ---\n{prev}")
        pods_txt = "\n".join(f"{pn}{'/' + c if c else ''}: {d}" for pn, c, d in members[:20])
        issue(sev, f"Pods of {wk} {ns}/{wn} {suffix}",
              "pods running and ready",
              f"{len(members)} pods/containers: " + "; ".join(d for _, _, d in members[:3]),
              f"{what}\n\n{pods_txt}" + ("\n\n" + "\n\n".join(logs) if logs else ""),
              steps.format(kind=wk, name=wn, ns=ns),
              f"kubectl get pods -n {ns} | grep {wn}; kubectl describe pod -n {ns} {members[0][0]}",
              oom_last.get((ns, wk, wn)) if prob == "OOMKilled" else None,
              data=dict({"problem": prob, "namespace": ns, "kind": wk, "workload": wn, "pods": [m[0] for m in members[:20]]},
                        **({"deployment": wn} if wk == "deployment" else {})))
        n_issues += 1
    emit({"type": "metric", "name": "k8s_problem_pod_groups", "value": n_issues})
    emit({"type": "insight", "text": f"{len(pods)} pods checked; problems: " + (", ".join(f"{wk} {ns}/{wn}: {prob}" for (prob, ns, wk, wn) in sorted(groups)) or "none"),
          "data": {"pods": len(pods), "problems": [dict(problem=p, namespace=n, kind=k, name=w) for (p, n, k, w) in sorted(groups)]}})


# --- workloads -----------------------------------------------------------------------------
def task_workloads():
    out = []
    for d in get("deployments"):
        md, spec, st = d["metadata"], d.get("spec", {}), d.get("status", {})
        ns, name = md.get("namespace"), md["name"]
        want = spec.get("replicas", 1)
        avail = st.get("availableReplicas", 0)
        unavail = st.get("unavailableReplicas", max(0, want - avail))
        prog = next((c for c in st.get("conditions") or [] if c.get("type") == "Progressing"), {})
        stuck = prog.get("reason") == "ProgressDeadlineExceeded"
        out.append(f"deployment {ns}/{name}: {avail}/{want} available" + (" (rollout stuck)" if stuck else ""))
        if want > 0 and (unavail > 0 or avail < want or stuck):
            sev = 1 if avail == 0 else 2
            issue(sev, f"Deployment {ns}/{name} has unavailable replicas",
                  f"{want} of {want} replicas available",
                  f"{avail} of {want} available, {unavail} unavailable" + (f"; rollout stuck: {prog.get('message')}" if stuck else ""),
                  ("No replica is available: the service behind it is down. " if avail == 0 else "The deployment runs with reduced capacity. ")
                  + "Conditions: " + "; ".join(f"{c.get('type')}={c.get('status')} ({c.get('reason')}: {c.get('message')})" for c in st.get("conditions") or []),
                  f"See why its pods are not ready (core/kubernetes/pods, core/kubernetes/warning-events); if a new version broke it, kubectl rollout undo deployment/{name} -n {ns}; if pods are Pending, add capacity.",
                  f"kubectl rollout status deployment/{name} -n {ns}; kubectl get pods -n {ns} -l <selector>",
                  data={"namespace": ns, "kind": "deployment", "workload": name, "deployment": name, "replicas": want, "available": avail})
    for s in get("statefulsets"):
        md, spec, st = s["metadata"], s.get("spec", {}), s.get("status", {})
        ns, name, want, ready = md.get("namespace"), md["name"], spec.get("replicas", 1), st.get("readyReplicas", 0)
        out.append(f"statefulset {ns}/{name}: {ready}/{want} ready")
        if want > 0 and ready < want:
            issue(1 if ready == 0 else 2, f"StatefulSet {ns}/{name} has unready replicas", f"{want} ready", f"{ready} of {want} ready",
                  "StatefulSet pods start in order; one stuck pod (often a PVC or a failed init) blocks the rest.",
                  f"Check the lowest-numbered unready pod of {name} (core/kubernetes/pods) and its PVC (core/kubernetes/pvcs).",
                  f"kubectl get pods -n {ns} -l <selector>; kubectl describe statefulset {name} -n {ns}")
    for s in get("daemonsets"):
        md, st = s["metadata"], s.get("status", {})
        ns, name = md.get("namespace"), md["name"]
        want, avail = st.get("desiredNumberScheduled", 0), st.get("numberAvailable", 0)
        unavail = st.get("numberUnavailable", max(0, want - avail))
        out.append(f"daemonset {ns}/{name}: {avail}/{want} available")
        if want > 0 and unavail > 0:
            issue(2 if avail == 0 else 3, f"DaemonSet {ns}/{name} is unavailable on some nodes", f"{want} available",
                  f"{avail} of {want} available, {unavail} unavailable",
                  "Some nodes run no working copy of this per-node agent (networking, logging, monitoring).",
                  f"Find the failing pods of {name} (core/kubernetes/pods) and the nodes they are on (core/kubernetes/nodes).",
                  f"kubectl get pods -n {ns} -o wide | grep {name}")
    emit({"type": "report", "text": "\n".join(out[:500])})


# --- events --------------------------------------------------------------------------------
MAJOR_REASONS = {"FailedMount", "FailedAttachVolume", "Evicted", "OOMKilling", "SystemOOM", "NodeNotReady", "FailedCreate",
                 "ProvisioningFailed", "NetworkNotReady", "FailedKillPod", "EvictionThresholdMet", "FreeDiskSpaceFailed",
                 "ImageGCFailed", "FailedCreatePodSandBox", "FailedScheduling"}


def task_events():
    window = num("EVENT_WINDOW_MIN", 30) * 60
    max_issues = int(num("MAX_EVENT_ISSUES", 20))
    groups = defaultdict(lambda: {"count": 0, "last": "", "msg": "", "objects": set()})
    for e in get("events", "--field-selector", "type=Warning"):
        if e.get("type") != "Warning":
            continue
        last = e.get("lastTimestamp") or e.get("eventTime") or (e.get("series") or {}).get("lastObservedTime") or e.get("metadata", {}).get("creationTimestamp")
        a = age(last)
        if a is None or a > window:
            continue
        io = e.get("involvedObject", {})
        kind, name = io.get("kind", "?"), io.get("name", "?")
        ns = io.get("namespace") or ("" if kind in ("Node", "PersistentVolume", "Namespace", "StorageClass") else e["metadata"].get("namespace", ""))
        label_kind, label_name = kind, name
        if kind == "Pod":
            m = POD_HASH.match(name)
            if m:
                label_kind, label_name = "workload", m.group("base")
            elif re.match(r"^.+-\d+$", name):
                label_kind, label_name = "workload", name.rsplit("-", 1)[0]
        g = groups[(e.get("reason", "?"), ns, label_kind, label_name)]
        g["count"] += e.get("count") or (e.get("series") or {}).get("count") or 1
        if last >= g["last"]:
            g["last"], g["msg"] = last, e.get("message", "")
        g["objects"].add(f"{kind} {name}")
    ranked = sorted(groups.items(), key=lambda kv: (kv[0][0] not in MAJOR_REASONS, -kv[1]["count"]))
    for (reason, ns, kind, name), g in ranked[:max_issues]:
        where = f"{ns}/{name}" if ns else name
        issue(2 if reason in MAJOR_REASONS else 3,
              f"Warning events {reason} for {kind} {where}",
              f"no Warning events in the last {num('EVENT_WINDOW_MIN', 30):g} minutes",
              f"{g['count']} events, the last {human_age(age(g['last']))} ago: {g['msg'][:300]}",
              "Objects: " + ", ".join(sorted(g["objects"])[:20]) + f"\nLast message: {g['msg'][:1500]}",
              {"FailedScheduling": "Free or add capacity, or relax the pod's requests/affinity/tolerations (core/kubernetes/nodes).",
               "BackOff": "A container keeps crashing: read its previous logs (core/kubernetes/pods, core/kubernetes/pod-logs).",
               "Unhealthy": "A probe fails: check the endpoint the probe calls and its dependencies; make probe timeouts realistic.",
               "ProvisioningFailed": "The PVC cannot get a volume: check its StorageClass exists and the provisioner works (core/kubernetes/pvcs).",
               "FailedMount": "A volume cannot be mounted: check the PVC is bound, the node can attach it, and referenced Secrets/ConfigMaps exist.",
               }.get(reason, f"Read the event message and describe the object: kubectl describe {kind.lower() if kind != 'workload' else 'pod'} -n {ns} {name}."),
              f"kubectl get events -n {ns} --field-selector type=Warning,reason={reason}",
              g["last"])
    total = sum(g["count"] for g in groups.values())
    emit({"type": "metric", "name": "k8s_warning_events", "value": total})
    emit({"type": "insight", "text": f"{total} Warning events in {len(groups)} groups in the last {num('EVENT_WINDOW_MIN', 30):g} min: "
          + ", ".join(f"{r} {k} {n}" for (r, ns, k, n), _ in ranked[:10])})


# --- PVCs ----------------------------------------------------------------------------------
def parse_qty(q):
    m = re.match(r"^([0-9.]+)([KMGTPE]i?)?$", q or "")
    if not m:
        return None
    mult = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}.get(m.group(2) or "", 1)
    return float(m.group(1)) * mult


def task_pvcs():
    pending_min = num("PVC_PENDING_MIN_AGE_S", 120)
    warn, crit = num("PVC_WARN_PCT", 85), num("PVC_CRIT_PCT", 95)
    pvcs = get("pvc")
    for p in pvcs:
        md, st, spec = p["metadata"], p.get("status", {}), p.get("spec", {})
        ns, name, phase = md.get("namespace"), md["name"], st.get("phase")
        a = age(md.get("creationTimestamp"))
        if phase == "Pending" and (a or 0) >= pending_min:
            evs = kubectl("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}", "-o", "json", check=False) or '{"items": []}'
            msgs = [f"{e.get('reason')}: {e.get('message')}" for e in json.loads(evs).get("items", []) if e.get("type") == "Warning"]
            issue(2, f"PVC {ns}/{name} is stuck Pending", "Bound",
                  f"Pending for {human_age(a)}; storage class {spec.get('storageClassName') or '(default)'}, {spec.get('resources', {}).get('requests', {}).get('storage')} requested",
                  "Pods using this claim cannot start. Events: " + ("; ".join(msgs[-3:]) or "none (WaitForFirstConsumer classes bind only when a pod is scheduled)"),
                  "Check the StorageClass exists (kubectl get storageclass) and its provisioner runs; for a static PV check its size, access modes and selector match the claim.",
                  f"kubectl describe pvc -n {ns} {name}")
        elif phase == "Lost":
            issue(1, f"PVC {ns}/{name} has lost its volume", "Bound", "Lost",
                  f"The PersistentVolume {spec.get('volumeName')} behind the claim is gone; pods using it fail.",
                  "Find out what deleted the PV; restore it from backup or recreate the claim.", f"kubectl describe pvc -n {ns} {name}")
    # usage from each node's kubelet summary
    nodes = [n["metadata"]["name"] for n in json.loads(kubectl("get", "nodes", "-o", "json")).get("items", [])]
    rows, unreadable = [], []
    wanted_ns = env("NAMESPACE")
    for node in nodes[:200]:
        raw = kubectl("get", "--raw", f"/api/v1/nodes/{node}/proxy/stats/summary", check=False, timeout=30)
        if raw is None:
            unreadable.append(node)
            continue
        for pod in json.loads(raw).get("pods", []):
            for v in pod.get("volume") or []:
                ref = v.get("pvcRef")
                if not ref or not v.get("capacityBytes") or (wanted_ns and ref.get("namespace") != wanted_ns):
                    continue
                pct = 100.0 * v.get("usedBytes", 0) / v["capacityBytes"]
                ipct = 100.0 * v.get("inodesUsed", 0) / v["inodes"] if v.get("inodes") else 0.0
                rows.append((ref["namespace"], ref["name"], pct, ipct, v, pod["podRef"]["name"], node))
    seen = set()
    for ns, name, pct, ipct, v, podname, node in sorted(rows, key=lambda r: -r[2]):
        if (ns, name) in seen:
            continue
        seen.add((ns, name))
        emit({"type": "metric", "name": "k8s_pvc_used_pct", "value": round(pct, 1), "labels": {"namespace": ns, "pvc": name}})
        worst = max(pct, ipct)
        if worst >= warn:
            what = "space" if pct >= ipct else "inodes"
            issue(2 if worst >= crit else 3, f"PVC {ns}/{name} is nearly full",
                  f"below {warn:g}% used",
                  f"{pct:.1f}% of space used ({v.get('usedBytes', 0) / 2**30:.1f} of {v['capacityBytes'] / 2**30:.1f} GiB), {ipct:.1f}% of inodes",
                  f"Mounted by pod {podname} on node {node}; {what} runs out first. When full, the application's writes fail.",
                  f"Expand the claim if its StorageClass allows it (kubectl patch pvc {name} -n {ns} -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"<bigger>\"}}}}}}}}'), or clean up data in the application (old WAL, logs, temp files).",
                  f"kubectl get --raw /api/v1/nodes/{node}/proxy/stats/summary | jq '.pods[].volume[]? | select(.pvcRef.name==\"{name}\")'")
    emit({"type": "insight", "text": f"{len(pvcs)} PVCs, {sum(1 for p in pvcs if p.get('status', {}).get('phase') == 'Pending')} pending; usage read from {len(nodes) - len(unreadable)} of {len(nodes)} nodes"
          + (f" (unreadable: {', '.join(unreadable[:5])})" if unreadable else "")})


# --- nodes ---------------------------------------------------------------------------------
def task_nodes():
    nodes = json.loads(kubectl("get", "nodes", "-o", "json")).get("items", [])
    summary = []
    for n in nodes:
        name = n["metadata"]["name"]
        conds = {c["type"]: c for c in n.get("status", {}).get("conditions") or []}
        ready = conds.get("Ready", {})
        flags = []
        if ready.get("status") != "True":
            flags.append("NotReady")
            issue(1, f"Node {name} is NotReady", "Ready=True",
                  f"Ready={ready.get('status', 'Unknown')} since {ready.get('lastTransitionTime')} ({ready.get('reason')}: {ready.get('message')})",
                  "Its pods are evicted after the toleration timeout (5 min by default) and nothing new is scheduled there.",
                  f"Check the node's kubelet and container runtime (journalctl -u kubelet), its network, disk and memory; drain and replace it if it does not recover (kubectl drain {name} --ignore-daemonsets).",
                  f"kubectl describe node {name}")
        for ctype, label in (("MemoryPressure", "memory"), ("DiskPressure", "disk"), ("PIDPressure", "PID"), ("NetworkUnavailable", "network")):
            c = conds.get(ctype)
            if c and c.get("status") == "True":
                flags.append(ctype)
                issue(2, f"Node {name} has {ctype}", f"{ctype}=False",
                      f"{ctype}=True since {c.get('lastTransitionTime')} ({c.get('reason')}: {c.get('message')})",
                      f"The kubelet is under {label} pressure: it evicts pods and the node is tainted so nothing new lands on it.",
                      {"MemoryPressure": "Find the pods using the most memory on the node (kubectl top pod -A --sort-by=memory | grep the node's pods); set memory limits; add nodes.",
                       "DiskPressure": "Free disk on the node: unused images (crictl rmi --prune), container logs, emptyDir volumes; grow the disk.",
                       "PIDPressure": "Find the pod forking too many processes; set pod PID limits.",
                       "NetworkUnavailable": "Check the CNI plugin's pod on that node and its routes."}[ctype],
                      f"kubectl describe node {name}")
        if n.get("spec", {}).get("unschedulable"):
            flags.append("cordoned")
            issue(4, f"Node {name} is cordoned", "schedulable", "spec.unschedulable=true",
                  "No new pods are scheduled on it; fine during maintenance, a capacity loss if forgotten.",
                  f"If maintenance is over: kubectl uncordon {name}.", f"kubectl get node {name}")
        summary.append(f"{name}: {'Ready' if ready.get('status') == 'True' else 'NotReady'}{' ' + ','.join(flags) if flags else ''}")
    emit({"type": "insight", "text": f"{len(nodes)} nodes: " + "; ".join(summary[:50])})


# --- certificates ----------------------------------------------------------------------------
def cert_info(pem):
    p = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-subject", "-issuer"], input=pem,
                       capture_output=True, timeout=20)
    if p.returncode != 0:
        return None
    info = dict(l.split("=", 1) for l in p.stdout.decode(errors="replace").splitlines() if "=" in l)
    end = dt.datetime.strptime(info["notAfter"].replace("  ", " "), "%b %d %H:%M:%S %Y %Z").replace(tzinfo=dt.timezone.utc)
    return end, info.get("subject", "").strip(), info.get("issuer", "").strip()


def task_certificates():
    warn, crit = num("CERT_WARN_DAYS", 14), num("CERT_CRIT_DAYS", 7)
    secrets = get("secrets", "--field-selector", "type=kubernetes.io/tls")
    lines = []
    for s in secrets:
        if s.get("type") != "kubernetes.io/tls":
            continue
        md = s["metadata"]
        ns, name = md.get("namespace"), md["name"]
        raw = (s.get("data") or {}).get("tls.crt")
        if not raw:
            continue
        info = cert_info(base64.b64decode(raw))
        if info is None:
            issue(2, f"TLS secret {ns}/{name} holds an unreadable certificate", "a PEM certificate in tls.crt", "openssl cannot parse tls.crt",
                  "Whatever serves this secret (an Ingress) falls back to a default certificate or fails.",
                  f"Re-issue the certificate (cert-manager: kubectl delete secret {name} -n {ns} to trigger re-issue).")
            continue
        end, subject, issuer = info
        days = (end - NOW).total_seconds() / 86400
        lines.append(f"{ns}/{name}: {subject}, expires {end:%Y-%m-%d} ({days:.1f} days)")
        emit({"type": "metric", "name": "k8s_tls_cert_days_left", "value": round(days, 1), "labels": {"namespace": ns, "secret": name}})
        managed = "cert-manager.io/certificate-name" in (md.get("annotations") or {})
        steps = (f"cert-manager should have renewed it: check the Certificate {ns}/{md['annotations']['cert-manager.io/certificate-name']} (kubectl describe certificate -n {ns}), its CertificateRequest/Order and the issuer's challenges."
                 if managed else f"Renew the certificate and update the secret (kubectl create secret tls {name} -n {ns} --cert=... --key=... --dry-run=client -o yaml | kubectl apply -f -).")
        if days < 0:
            issue(1, f"TLS certificate in secret {ns}/{name} has expired", f"valid for at least {warn:g} days",
                  f"expired on {end:%Y-%m-%d %H:%M} UTC", f"Subject {subject}; issuer {issuer}. Clients reject the connection.", steps,
                  f"kubectl get secret {name} -n {ns} -o jsonpath='{{.data.tls\\.crt}}' | base64 -d | openssl x509 -noout -enddate")
        elif days < warn:
            issue(2 if days < crit else 3, f"TLS certificate in secret {ns}/{name} expires soon", f"valid for at least {warn:g} days",
                  f"expires on {end:%Y-%m-%d %H:%M} UTC ({days:.1f} days left)", f"Subject {subject}; issuer {issuer}.", steps,
                  f"kubectl get secret {name} -n {ns} -o jsonpath='{{.data.tls\\.crt}}' | base64 -d | openssl x509 -noout -enddate")
    emit({"type": "report", "text": "\n".join([f"{len(lines)} TLS secrets:"] + lines[:500])})


# --- pod-logs (diagnostic) -----------------------------------------------------------------
def task_pod_logs():
    pod, ns = env("POD"), env("NAMESPACE")
    if not pod or not ns:
        sys.exit("POD and NAMESPACE are required")
    lines = int(num("LOG_LINES", 20))
    p = json.loads(kubectl("get", "pod", "-n", ns, pod, "-o", "json"))
    out = []
    for cs in (p.get("status", {}).get("initContainerStatuses") or []) + (p.get("status", {}).get("containerStatuses") or []):
        c = cs["name"]
        if cs.get("restartCount", 0) > 0 or (cs.get("lastState") or {}).get("terminated"):
            out.append(f"=== {c} previous container (last {lines} lines) ===\n{tail_logs(ns, pod, c, True, lines) or '(none)'}")
        out.append(f"=== {c} current container, {cs.get('restartCount', 0)} restarts (last {lines} lines) ===\n{tail_logs(ns, pod, c, False, lines) or '(none)'}")
    emit({"type": "report", "text": "\n\n".join(out)[:60000]})


TASKS = {"pods": task_pods, "workloads": task_workloads, "warning-events": task_events, "pvcs": task_pvcs,
         "nodes": task_nodes, "certificates": task_certificates, "pod-logs": task_pod_logs}

if __name__ == "__main__":
    t = env("SITREP_TASK").rsplit("/", 1)[-1]  # "core/kubernetes/pods" or "pods"
    if t not in TASKS:
        sys.exit(f"unknown task {t!r} (expected one of {', '.join(TASKS)})")
    TASKS[t]()
