#!/usr/bin/env bash
# Health: block usage of every real filesystem (df -P). One issue per mount point.
set -euo pipefail

WARN="${DISK_WARN_PCT:-85}"; CRIT="${DISK_CRIT_PCT:-95}"; FULL="${DISK_FULL_PCT:-99}"
EXCLUDE="${DISK_EXCLUDE_FSTYPES-devtmpfs,squashfs,iso9660,proc,sysfs,cgroup,cgroup2,nsfs,autofs,ramfs,efivarfs,tracefs,debugfs}"
EXCLUDE_MOUNTS="${DISK_EXCLUDE_MOUNTS-/run,/dev,/sys,/proc,/snap}"
# under_excluded MOUNT: true when MOUNT is one of EXCLUDE_MOUNTS or below one
under_excluded() {
  local m
  for m in ${EXCLUDE_MOUNTS//,/ }; do
    [[ "$1" == "$m" || "$1" == "$m"/* ]] && return 0
  done
  return 1
}
MOUNTS="${DISK_MOUNTS:-}"
for v in "$WARN" "$CRIT" "$FULL"; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "thresholds must be whole percents, got '$v'" >&2; exit 2; }
done
host="$(hostname 2>/dev/null || echo host)"

# df -PT: Filesystem Type 1024-blocks Used Available Capacity Mounted-on (mount may contain spaces)
if ! listing="$(timeout 20 df -PT -k 2>/dev/null | tail -n +2)"; then
  # df exits 1 when one mount is unreadable but still prints the rest
  [[ -n "$listing" ]] || { echo "df failed or timed out" >&2; exit 1; }
fi

checked=0; worst=0; report=()
while read -r fs type size used avail pct mount; do
  [[ -z "${mount:-}" ]] && continue
  [[ ",${EXCLUDE}," == *",${type},"* || "$type" == fuse.* ]] && continue
  under_excluded "$mount" && continue
  if [[ -n "$MOUNTS" ]]; then
    [[ " ${MOUNTS//,/ } " == *" ${mount} "* ]] || continue
  fi
  [[ "$size" =~ ^[0-9]+$ ]] && (( size > 0 )) || continue
  # used / (used + available): what df's Capacity shows, reserved blocks excluded
  p=$(( (used * 100 + used + avail - 1) / (used + avail > 0 ? used + avail : 1) ))
  checked=$((checked + 1)); (( p > worst )) && worst=$p
  (( ${#report[@]} < 60 )) && report+=("$(printf '%-30s %-8s %4s%% used  %s free of %s' "$mount" "$type" "$p" "$(numfmt --to=iec --from-unit=1024 "$avail")" "$(numfmt --to=iec --from-unit=1024 "$size")")")
  sitrep emit metric disk_used_pct "$p" --label "mount=${mount}"
  sev=0
  if (( p >= FULL )); then sev=1; elif (( p >= CRIT )); then sev=2; elif (( p >= WARN )); then sev=3; fi
  if (( sev > 0 )); then
    # the largest files name what to remove (bounded walk); the data fills clean-up-large-files
    data="$(python3 "${SITREP_BUNDLE_DIR}/diskfiles.py" "$mount" "$((used * 1024))" "used_pct=${p}" \
      "avail_bytes=$((avail * 1024))" "size_bytes=$((size * 1024))" "device=${fs}" "fstype=${type}" </dev/null 2>/dev/null)" \
      || data="{\"mount\":\"${mount//\"/}\",\"path\":\"${mount//\"/}\",\"used_pct\":${p}}"
    largest="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("summary", "unknown"))' "$data" </dev/null 2>/dev/null || echo unknown)"
    sitrep emit issue --severity "$sev" \
      --title "Filesystem ${mount} on ${host} is nearly full" \
      --expected "below ${WARN}% used" \
      --actual "${p}% used, $(numfmt --to=iec --from-unit=1024 "$avail") free of $(numfmt --to=iec --from-unit=1024 "$size") (${fs}, ${type})" \
      --details "Writes fail with ENOSPC once it is full: databases stop, logs are lost, services crash. Largest files: ${largest}." \
      --next-steps "Run core/linux-host/disk-hogs --set DISK_MOUNTS=${mount} to find the largest directories and deleted-but-open files; rotate or remove old logs (journalctl --vacuum-size), old releases, core dumps and caches; grow the volume if the data is legitimate; remove a runaway file with core/linux-host/clean-up-large-files (CLEAN_PATH, FILES; DRY_RUN=true first)." \
      --reproduce-hint "df -h ${mount}" \
      --data "$data"
  fi
done <<<"$listing"

if (( checked == 0 )); then
  echo "no filesystem matched (DISK_MOUNTS='${MOUNTS}', excluded types '${EXCLUDE}')" >&2
  exit 1
fi
printf '%s\n' "Filesystems on ${host} (block usage):" "${report[@]}" | sitrep emit report -
sitrep emit insight "${host}: ${checked} filesystems checked, fullest at ${worst}%" --data "{\"checked\":${checked},\"worst_pct\":${worst}}"
