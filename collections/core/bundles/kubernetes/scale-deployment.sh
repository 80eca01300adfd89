#!/usr/bin/env bash
# Remediation: kubectl scale deployment/DEPLOYMENT --replicas=REPLICAS in NAMESPACE; the report
# records the previous replica count for the rollback.
set -euo pipefail
K="${KUBECTL:-kubectl}"; NS="${NAMESPACE:-}"; D="${DEPLOYMENT:-}"; N="${REPLICAS:-}"
[[ -n "$NS" && -n "$D" ]] || { echo "NAMESPACE and DEPLOYMENT are required" >&2; exit 2; }
[[ "$NS$D" =~ ^[a-z0-9.-]+$ ]] || { echo "NAMESPACE and DEPLOYMENT must be Kubernetes names" >&2; exit 2; }
[[ "$N" =~ ^[0-9]+$ ]] || { echo "REPLICAS must be a whole number, got '${N}'" >&2; exit 2; }
(( N <= ${MAX_REPLICAS:-100} )) || { echo "REPLICAS ${N} is above MAX_REPLICAS (${MAX_REPLICAS:-100})" >&2; exit 2; }
args=("--request-timeout=${REQUEST_TIMEOUT:-20s}"); [[ -n "${KUBE_CONTEXT:-}" ]] && args+=("--context=${KUBE_CONTEXT}")
command -v "$K" >/dev/null || { echo "kubectl not found (set KUBECTL)" >&2; exit 1; }

prev="$(timeout 60 "$K" "${args[@]}" get deployment "$D" -n "$NS" -o jsonpath='{.spec.replicas}')" \
  || { echo "cannot read deployment ${NS}/${D}" >&2; exit 1; }
if [[ "$prev" == "$N" ]]; then
  sitrep emit report "deployment ${NS}/${D} already has ${N} replicas; nothing changed."
  exit 0
fi
# --current-replicas guards against a concurrent change between our read and the scale
out="$(timeout 60 "$K" "${args[@]}" scale "deployment/${D}" -n "$NS" --current-replicas="$prev" --replicas="$N" 2>&1)" \
  || { echo "scale failed: ${out}" >&2; exit 1; }
now="$(timeout 60 "$K" "${args[@]}" get deployment "$D" -n "$NS" -o jsonpath='{.spec.replicas}')"
sitrep emit report "$(printf '%s\nScaled deployment %s/%s from %s to %s replicas (spec now %s).\nRoll back with: kubectl scale deployment/%s -n %s --replicas=%s' "$out" "$NS" "$D" "$prev" "$N" "$now" "$D" "$NS" "$prev")"
sitrep emit insight "deployment ${NS}/${D} scaled ${prev} -> ${N}" --data "{\"namespace\":\"${NS}\",\"deployment\":\"${D}\",\"previous_replicas\":${prev},\"replicas\":${N}}"
(( N == 0 )) && sitrep emit report "Warning: scaled to zero - the deployment serves nothing until scaled up again."
exit 0
