# shellcheck shell=bash
# Built-in faults. Each NAME has:
#   FAULT_DESC[NAME]     what is done, and the symptom a user would see
#   fault_inject_NAME    (function names use _ for -)
#   fault_revert_NAME
# Faults are meant to be injected one at a time; each revert undoes exactly
# what its inject did and is safe to run when the fault is not active.

declare -A FAULT_DESC=(
  [pg-connection-exhaustion]="batch is redeployed with a bug: every 0.3 s it opens a connection for a report snapshot and leaves it idle in transaction. | Symptom: PostgreSQL max_connections (30) is reached; checkout fails with 'remaining connection slots are reserved' / 'too many clients'; pg_stat_activity shows many 'idle in transaction' sessions with application_name=batch."
  [pg-lock-contention]="an 'inventory-sync' job opens a transaction, locks every products row (SELECT ... FOR UPDATE) and sits in it for 10 minutes. | Symptom: checkout hangs ~2 s then fails with 'canceling statement due to lock timeout'; sessions wait on a Lock in pg_stat_activity."
  [pg-replica-lag]="WAL replay is paused on the replica (pg_wal_replay_pause()). | Symptom: reads from the replica return stale data; replay lag grows by one second per second."
  [pg-down]="the PostgreSQL primary is stopped (sv down, a fast shutdown). | Symptom: checkout and catalog fail with 'connection refused'; shopfront /health is 503; batch logs errors."
  [redis-maxmemory]="Redis maxmemory is set to 8 MiB with maxmemory-policy noeviction, a bulk import fills it, and maxmemory is then lowered just below the used memory. | Symptom: every Redis write fails with 'OOM command not allowed when used memory > maxmemory'; checkout returns 503."
  [redis-down]="the Redis server is stopped (sv down). | Symptom: checkout returns 503 'redis connection error: Connection refused'; catalog still works (falls back to PostgreSQL) but slower."
  [nginx-bad-upstream]="nginx's upstream is changed to 127.0.0.1:28001 (nothing listens there) and nginx is reloaded. | Symptom: every request through nginx returns 502 Bad Gateway; shopfront itself is healthy on :28000; nginx error.log shows 'connect() failed (111: Connection refused) while connecting to upstream'."
  [shopfront-crashloop]="shopfront's config gets redis_timeout_ms = 3s (a unit where an integer is expected); shopfront exits at start and its supervisor restarts it with backoff. | Symptom: nginx returns 502; shopfront's log says 'invalid configuration, exiting'; the supervisor log shows repeated restarts."
  [shopfront-slow-dependency]="shopfront is restarted with 1500 ms of latency injected into each of its Redis calls. | Symptom: checkout takes ~3 s and catalog ~1.5 s; p95 latency alert; nothing fails outright."
  [disk-full]="an export file fills the 32 MiB spool filesystem that holds shopfront's receipts ($SANDBOX_DIR/volumes/spool). | Symptom: checkout fails with 500 'cannot write receipt ...: No space left on device (os error 28)'; df shows the spool 100% used."
  [cert-expiring]="the HTTPS listener's certificate is replaced by one that expires in two days, and nginx is reloaded. | Symptom: HTTPS still works but the certificate's notAfter is two days away; certificate-expiry alert."
  [cpu-hog]="a runaway 'report-render' process spins one busy loop per CPU (at nice 19) for up to 10 minutes. | Symptom: host CPU near 100%; everything is a little slower; top shows report-render."
  [exporter-down]="the Redis exporter (:29121) is stopped (sv down), so one scrape target disappears. | Symptom: Prometheus target redis is down; Redis metrics go stale; Redis itself is fine."
  [config-typo]="shopfront's database_url is changed to the database 'shpo' (a typo) and shopfront is restarted. | Symptom: shopfront starts but /health is 503 and checkout/catalog fail with 'database \"shpo\" does not exist'."
)
BUILTIN_FAULTS=(pg-connection-exhaustion pg-lock-contention pg-replica-lag pg-down redis-maxmemory redis-down
  nginx-bad-upstream shopfront-crashloop shopfront-slow-dependency disk-full cert-expiring cpu-hog exporter-down config-typo)

rcli() { redis-cli -h 127.0.0.1 -p "$PORT_REDIS" "$@"; }

fault_inject_pg_connection_exhaustion() {
  conf_set "$BATCH_CONF" leak_connections true
  supervised_restart batch
}
fault_revert_pg_connection_exhaustion() {
  conf_set "$BATCH_CONF" leak_connections false
  supervised_restart batch
  wait_until 30 "batch's leaked connections to close" bash -c \
    "[[ \$(PGPASSWORD='$(secret pg-admin-password)' '$PG_BIN/psql' -X -At -h 127.0.0.1 -p $PORT_PG_PRIMARY -U postgres -d postgres \
       -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name='batch' AND state='idle in transaction'\") == 0 ]]" || true
}

fault_inject_pg_lock_contention() {
  service_running fault-pg-lock-contention && return 0
  local script="$SANDBOX_DIR/faults/inventory-sync.sql"
  cat > "$script" <<'SQL'
BEGIN;
SELECT id FROM products ORDER BY id FOR UPDATE;
SELECT pg_sleep(600);
COMMIT;
SQL
  chmod 644 "$script"
  PGPASSWORD="$(secret pg-app-password)" PGAPPNAME=inventory-sync \
    start_bg fault-pg-lock-contention "$USER_SHOP" "$SANDBOX_DIR/faults" \
    "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PORT_PG_PRIMARY" -U shop_app -d shop -f "$script"
}
fault_revert_pg_lock_contention() {
  stop_pidfile fault-pg-lock-contention 5
  pg_admin_sql primary "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'inventory-sync'" >/dev/null || true
}

fault_inject_pg_replica_lag() { pg_admin_sql replica "SELECT pg_wal_replay_pause()" >/dev/null; }
fault_revert_pg_replica_lag() { pg_admin_sql replica "SELECT pg_wal_replay_resume()" >/dev/null; }

fault_inject_pg_down() { pg_stop primary; }
fault_revert_pg_down() { pg_start primary; }

fault_inject_redis_maxmemory() {
  rcli config set maxmemory-policy noeviction >/dev/null
  rcli config set maxmemory 8mb >/dev/null
  # a "bulk import" into db 3 until Redis refuses writes
  local payload; payload="$(head -c 2048 /dev/zero | tr '\0' x)"
  local i
  for i in $(seq 1 20); do
    /usr/bin/python3 - "$payload" "$i" <<'PY' | rcli -n 3 --pipe >/dev/null 2>&1 || true
import sys
p, batch = sys.argv[1], int(sys.argv[2])
out = sys.stdout
for n in range(500):
    k = f"import:{batch}:{n}"
    out.write(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n${len(p)}\r\n{p}\r\n")
PY
    if rcli set sandbox:probe 1 2>&1 | grep -q OOM; then break; fi
  done
  # Memory hovers around the limit by a few KiB (client buffers); the import
  # job's "fix" of lowering maxmemory leaves Redis firmly over it.
  local used; used="$(rcli info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}')"
  rcli config set maxmemory $(( used - 524288 )) >/dev/null
}
fault_revert_redis_maxmemory() {
  rcli -n 3 flushdb >/dev/null
  rcli config set maxmemory 64mb >/dev/null
  rcli config set maxmemory-policy allkeys-lru >/dev/null
}

fault_inject_redis_down() { redis_stop; }
fault_revert_redis_down() { redis_start; }

fault_inject_nginx_bad_upstream() { nginx_upstream_conf 28001; nginx_reload; }
fault_revert_nginx_bad_upstream() { nginx_upstream_conf "$PORT_SHOPFRONT"; nginx_reload; }

fault_inject_shopfront_crashloop() { conf_set "$SHOP_CONF" redis_timeout_ms 3s; supervised_restart shopfront; }
fault_revert_shopfront_crashloop() { conf_set "$SHOP_CONF" redis_timeout_ms 3000; supervised_restart shopfront; }

fault_inject_shopfront_slow_dependency() { conf_set "$SHOP_CONF" redis_latency_ms 1500; supervised_restart shopfront; }
fault_revert_shopfront_slow_dependency() { conf_set "$SHOP_CONF" redis_latency_ms 0; supervised_restart shopfront; }

fault_inject_disk_full() {
  mountpoint -q "$SPOOL" || die "$SPOOL is not mounted"
  # the file is written by the shop's user, as a runaway export job would
  as_user "$USER_SHOP" bash -c "dd if=/dev/zero of='$SPOOL/receipts/export-backlog.dat' bs=1M status=none 2>/dev/null; exit 0"
}
fault_revert_disk_full() { rm -f "$SPOOL/receipts/export-backlog.dat"; }

fault_inject_cert_expiring() { nginx_cert 2; nginx_reload; }
fault_revert_cert_expiring() { nginx_cert 365; nginx_reload; }

fault_inject_cpu_hog() {
  service_running fault-cpu-hog && return 0
  local script="$SANDBOX_DIR/faults/report-render"
  cat > "$script" <<'SH'
#!/usr/bin/env bash
# runaway "report renderer": one busy loop per CPU, for at most 10 minutes
pids=()
for _ in $(seq 1 "$(nproc)"); do timeout 600 bash -c 'while :; do :; done' & pids+=($!); done
trap 'kill "${pids[@]}" 2>/dev/null; exit 0' TERM INT
wait
SH
  chmod 755 "$script"
  start_bg fault-cpu-hog "$USER_SHOP" "$SANDBOX_DIR/faults" nice -n 19 "$script"
}
fault_revert_cpu_hog() { stop_pidfile fault-cpu-hog 5; }

fault_inject_exporter_down() { exporter_stop redis-exporter; }
fault_revert_exporter_down() { exporter_start redis-exporter; }

fault_inject_config_typo() { conf_set "$SHOP_CONF" database_url "$(shop_dsn shpo)"; supervised_restart shopfront; }
fault_revert_config_typo() { conf_set "$SHOP_CONF" database_url "$(shop_dsn shop)"; supervised_restart shopfront; }
