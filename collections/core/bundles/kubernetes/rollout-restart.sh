#!/usr/bin/env bash
# Remediation: kubectl rollout restart deployment/DEPLOYMENT in NAMESPACE (pods are replaced
# gradually by the deployment's rolling-update strategy), then report the rollout's state.
set -euo pipefail
K="${KUBECTL:-kubectl}"; NS="${NAMESPACE:-}"; D="${DEPLOYMENT:-}"
[[ -n "$NS" && -n "$D" ]] || { echo "NAMESPACE and DEPLOYMENT are required" >&2; exit 2; }
[[ "$NS$D" =~ ^[a-z0-9.-]+$ ]] || { echo "NAMESPACE and DEPLOYMENT must be Kubernetes names" >&2; exit 2; }
args=("--request-timeout=${REQUEST_TIMEOUT:-20s}"); [[ -n "${KUBE_CONTEXT:-}" ]] && args+=("--context=${KUBE_CONTEXT}")
command -v "$K" >/dev/null || { echo "kubectl not found (set KUBECTL)" >&2; exit 1; }

before="$(timeout 60 "$K" "${args[@]}" get deployment "$D" -n "$NS" -o jsonpath='{.spec.replicas} {.status.availableReplicas} {.metadata.annotations.deployment\.kubernetes\.io/revision}')" \
  || { echo "cannot read deployment ${NS}/${D}" >&2; exit 1; }
read -r replicas avail rev <<<"$before"
out="$(timeout 60 "$K" "${args[@]}" rollout restart "deployment/${D}" -n "$NS" 2>&1)" || { echo "rollout restart failed: ${out}" >&2; exit 1; }
# Poll (rather than watch) until the new pods are all updated and available, bounded by ROLLOUT_WAIT_S.
wait_s="${ROLLOUT_WAIT_S:-60}"; [[ "$wait_s" =~ ^[0-9]+$ ]] || wait_s=60
status="not observed"
for ((i = 0; i <= wait_s; i += 3)); do
  s="$(timeout 30 "$K" "${args[@]}" get deployment "$D" -n "$NS" -o jsonpath='{.spec.replicas} {.status.updatedReplicas} {.status.availableReplicas} {.status.unavailableReplicas}' 2>/dev/null || true)"
  read -r want upd av un <<<"$s"
  status="${upd:-0}/${want:-?} updated, ${av:-0} available, ${un:-0} unavailable"
  [[ -n "$want" && "${upd:-0}" == "$want" && "${av:-0}" == "$want" && -z "${un:-}" ]] && { status="complete: ${status}"; break; }
  (( i + 3 <= wait_s )) && sleep 3
done
sitrep emit report "$(printf '%s\nBefore: %s replicas, %s available, revision %s.\nRollout after up to %ss: %s\nRoll back with: kubectl rollout undo deployment/%s -n %s' \
  "$out" "${replicas:-?}" "${avail:-0}" "${rev:-?}" "${ROLLOUT_WAIT_S:-60}" "$status" "$D" "$NS")"
sitrep emit insight "deployment ${NS}/${D} restarted (was revision ${rev:-?})" --data "{\"namespace\":\"${NS}\",\"deployment\":\"${D}\",\"previous_revision\":\"${rev:-}\"}"
