#!/usr/bin/env bash
# Health: inode usage of every real filesystem (df -Pi). One issue per mount point.
set -euo pipefail

WARN="${INODE_WARN_PCT:-85}"; CRIT="${INODE_CRIT_PCT:-95}"; FULL="${INODE_FULL_PCT:-99}"
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

if ! listing="$(timeout 20 df -PT -i 2>/dev/null | tail -n +2)"; then
  [[ -n "$listing" ]] || { echo "df -i failed or timed out" >&2; exit 1; }
fi

checked=0; worst=0; report=()
while read -r fs type inodes iused ifree pct mount; do
  [[ -z "${mount:-}" ]] && continue
  [[ ",${EXCLUDE}," == *",${type},"* || "$type" == fuse.* ]] && continue
  under_excluded "$mount" && continue
  if [[ -n "$MOUNTS" ]]; then
    [[ " ${MOUNTS//,/ } " == *" ${mount} "* ]] || continue
  fi
  # filesystems without a fixed inode table (btrfs, xfs with dynamic inodes shown as 0) report 0 or '-'
  [[ "$inodes" =~ ^[0-9]+$ ]] && (( inodes > 0 )) || continue
  p=$(( (iused * 100 + inodes - 1) / inodes ))
  checked=$((checked + 1)); (( p > worst )) && worst=$p
  (( ${#report[@]} < 60 )) && report+=("$(printf '%-30s %-8s %4s%% of inodes used  %s free of %s' "$mount" "$type" "$p" "$ifree" "$inodes")")
  sitrep emit metric inode_used_pct "$p" --label "mount=${mount}"
  sev=0
  if (( p >= FULL )); then sev=1; elif (( p >= CRIT )); then sev=2; elif (( p >= WARN )); then sev=3; fi
  if (( sev > 0 )); then
    sitrep emit issue --severity "$sev" \
      --title "Filesystem ${mount} on ${host} is running out of inodes" \
      --expected "below ${WARN}% of inodes used" \
      --actual "${p}% of inodes used (${iused} of ${inodes}, ${ifree} free; ${fs}, ${type})" \
      --details "When inodes run out, creating any file fails with 'No space left on device' even though df -h shows free space." \
      --next-steps "Find directories with many small files: for d in ${mount%/}/*; do echo \"\$(find \"\$d\" -xdev 2>/dev/null | wc -l) \$d\"; done | sort -n | tail (usual suspects: session files, mail queues, cache and tmp directories); delete them or move them to a filesystem with more inodes." \
      --reproduce-hint "df -i ${mount}" \
      --data "{\"mount\":\"${mount//[\"\\]/}\",\"inodes_used_pct\":${p},\"inodes_free\":${ifree}}"
  fi
done <<<"$listing"

if (( checked == 0 )); then
  echo "no filesystem with an inode table matched (DISK_MOUNTS='${MOUNTS}')" >&2
  exit 1
fi
printf '%s\n' "Filesystems on ${host} (inode usage):" "${report[@]}" | sitrep emit report -
sitrep emit insight "${host}: ${checked} filesystems checked, most inodes used ${worst}%" --data "{\"checked\":${checked},\"worst_pct\":${worst}}"
