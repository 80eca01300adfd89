# shellcheck shell=bash
# Start/stop functions for every sandbox component. Each start_* is a no-op
# when the component already runs; each stop_* is a no-op when it does not.

SPOOL="$SANDBOX_DIR/volumes/spool"      # small size-limited filesystem (tmpfs)
SPOOL_SIZE_MB="${SANDBOX_SPOOL_SIZE_MB:-32}"
SHOP_CONF="$SANDBOX_DIR/shopfront/shopfront.conf"
BATCH_CONF="$SANDBOX_DIR/shopfront/batch.conf"
NGINX_DIR="$SANDBOX_DIR/nginx"
SHOPFRONT_BIN="$SANDBOX_DIR/bin/shopfront"

pg_sock_dir() { echo "$SANDBOX_DIR/pg/sock-$1"; }           # primary|replica
pg_data_dir() { echo "$SANDBOX_DIR/pg/$1"; }
pg_port()     { if [[ $1 == primary ]]; then echo "$PORT_PG_PRIMARY"; else echo "$PORT_PG_REPLICA"; fi; }

as_user() { local u="$1"; shift; setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups "$@"; }

# psql as the postgres OS user over the (trusted, 0700) unix socket.
pg_admin_sql() { # primary|replica SQL [dbname]
  as_user "$USER_PG" "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$(pg_sock_dir "$1")" -p "$(pg_port "$1")" \
    -U postgres -d "${3:-postgres}" -c "$2"
}

pg_running() { # primary|replica
  local pid; pid="$(pidfile_pid "postgresql-$1")"
  pid_alive "$pid" && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$(pg_port "$1")" -t 2
}

pg_start() { # primary|replica
  local which="$1" data; data="$(pg_data_dir "$1")"
  if service_running "postgresql-$which"; then return 0; fi
  # a stale postmaster.pid from a killed server is handled by postgres itself
  start_svc "postgresql-$which" "$USER_PG" "$data" "$PG_BIN/postgres" -D "$data"
  wait_until 60 "PostgreSQL $which to accept connections" \
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$(pg_port "$which")" -t 1 \
    || { tail -20 "$LOGS/postgresql-$which.log" >&2; return 1; }
}

pg_stop() { # primary|replica: `sv down`, with SIGINT for a fast shutdown (pg_ctl stop -m fast)
  svc_down "postgresql-$1" 20 INT
}

pg_common_conf() { # primary|replica
  cat <<CONF
# --- sitrep sandbox ---
listen_addresses = '127.0.0.1'
port = $(pg_port "$1")
unix_socket_directories = '$(pg_sock_dir "$1")'
max_connections = 30
superuser_reserved_connections = 3
shared_buffers = 32MB
password_encryption = scram-sha-256
wal_level = replica
max_wal_senders = 5
wal_keep_size = 256MB
hot_standby = on
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d app=%a '
log_lock_waits = on
deadlock_timeout = 1s
log_min_duration_statement = 2000
log_connections = off
log_timezone = 'UTC'
timezone = 'UTC'
CONF
}

pg_init_primary() {
  local data; data="$(pg_data_dir primary)"
  [[ -f "$data/PG_VERSION" ]] && return 0
  log "initialising PostgreSQL primary in $data"
  install -d -o "$USER_PG" -g "$(id -g "$USER_PG")" -m 700 "$data" "$(pg_sock_dir primary)"
  local pwfile="$SANDBOX_DIR/pg/.pw"
  install -o "$USER_PG" -m 600 /dev/null "$pwfile"; secret pg-admin-password > "$pwfile"
  as_user "$USER_PG" "$PG_BIN/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$LOGS/initdb.log" 2>&1 \
    || { rm -f "$pwfile"; cat "$LOGS/initdb.log" >&2; die "initdb failed"; }
  rm -f "$pwfile"
  pg_common_conf primary >> "$data/postgresql.conf"
  cat > "$data/pg_hba.conf" <<HBA
# sitrep sandbox: the unix socket (dir mode 0700, postgres only) is trusted;
# every TCP connection needs a password.
local   all          all                        trust
host    replication  replicator  127.0.0.1/32   scram-sha-256
host    all          all         127.0.0.1/32   scram-sha-256
HBA
  chown "$USER_PG" "$data/pg_hba.conf"
  pg_start primary
  local app_pw repl_pw
  app_pw="$(secret pg-app-password)"; repl_pw="$(secret pg-replication-password)"
  pg_admin_sql primary "CREATE ROLE shop_app LOGIN PASSWORD '$app_pw'; CREATE ROLE replicator LOGIN REPLICATION PASSWORD '$repl_pw';"
  pg_admin_sql primary "CREATE DATABASE shop OWNER shop_app;"
  as_user "$USER_PG" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(pg_sock_dir primary)" -p "$PORT_PG_PRIMARY" \
    -U shop_app -d shop -f "$SANDBOX_SRC/lib/schema.sql" >/dev/null
}

pg_init_replica() {
  local data; data="$(pg_data_dir replica)"
  [[ -f "$data/PG_VERSION" ]] && return 0
  log "creating the streaming replica in $data (pg_basebackup)"
  install -d -o "$USER_PG" -g "$(id -g "$USER_PG")" -m 700 "$(pg_sock_dir replica)"
  rm -rf "$data"
  PGPASSWORD="$(secret pg-replication-password)" as_user "$USER_PG" "$PG_BIN/pg_basebackup" \
    -h 127.0.0.1 -p "$PORT_PG_PRIMARY" -U replicator -D "$data" -X stream -c fast -w >"$LOGS/basebackup.log" 2>&1 \
    || { cat "$LOGS/basebackup.log" >&2; rm -rf "$data"; die "pg_basebackup failed"; }
  pg_common_conf replica >> "$data/postgresql.conf"
  cat >> "$data/postgresql.conf" <<CONF
primary_conninfo = 'host=127.0.0.1 port=$PORT_PG_PRIMARY user=replicator password=$(secret pg-replication-password) application_name=pg-replica'
CONF
  as_user "$USER_PG" touch "$data/standby.signal"
  chmod 700 "$data"
}

# ---------------------------------------------------------------- redis
redis_conf() {
  install -d -o "$USER_REDIS" -m 750 "$SANDBOX_DIR/redis"
  cat > "$SANDBOX_DIR/redis/redis.conf" <<CONF
# sitrep sandbox redis
bind 127.0.0.1
port $PORT_REDIS
protected-mode yes
daemonize no
supervised no
dir $SANDBOX_DIR/redis
logfile ""
save ""
appendonly no
maxmemory 64mb
maxmemory-policy allkeys-lru
databases 4
CONF
  chown "$USER_REDIS" "$SANDBOX_DIR/redis/redis.conf"
}
redis_start() {
  service_running redis && return 0
  start_svc redis "$USER_REDIS" "$SANDBOX_DIR/redis" /usr/bin/redis-server "$SANDBOX_DIR/redis/redis.conf"
  wait_until 30 "Redis to answer PING" redis_ping || { tail -20 "$LOGS/redis.log" >&2; return 1; }
}
redis_ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$PORT_REDIS" ping 2>/dev/null)" == PONG ]]; }
redis_stop() { svc_down redis 10; }

# ---------------------------------------------------------------- shopfront & batch
conf_set() { # file key value: set (or add) `key = value`
  local f="$1" k="$2" v="$3"
  if grep -qE "^[[:space:]]*$k[[:space:]]*=" "$f"; then
    sed -i -E "s|^[[:space:]]*$k[[:space:]]*=.*|$k = $v|" "$f"
  else
    printf '%s = %s\n' "$k" "$v" >> "$f"
  fi
}

shop_dsn() { echo "postgres://shop_app:$(secret pg-app-password)@127.0.0.1:$PORT_PG_PRIMARY/${1:-shop}"; }

shopfront_conf() {
  install -d -o "$USER_SHOP" -m 750 "$SANDBOX_DIR/shopfront"
  if [[ ! -f "$SHOP_CONF" ]]; then
    cat > "$SHOP_CONF" <<CONF
# shopfront configuration (sitrep sandbox). Faults edit this file.
listen = 127.0.0.1:$PORT_SHOPFRONT
database_url = $(shop_dsn shop)
db_pool_size = 5
db_lock_timeout_ms = 2000
db_statement_timeout_ms = 5000
redis_addr = 127.0.0.1:$PORT_REDIS
redis_timeout_ms = 3000
redis_latency_ms = 0
log_file = $SANDBOX_DIR/shopfront/shopfront.log
receipts_dir = $SPOOL/receipts
CONF
  fi
  if [[ ! -f "$BATCH_CONF" ]]; then
    cat > "$BATCH_CONF" <<CONF
# batch worker configuration (sitrep sandbox). Faults edit this file.
database_url = $(shop_dsn shop)
interval_ms = 2000
leak_connections = false
leak_interval_ms = 300
receipts_dir = $SPOOL/receipts
receipts_retention_s = 60
log_file = $SANDBOX_DIR/shopfront/batch.log
CONF
  fi
  chown "$USER_SHOP" "$SHOP_CONF" "$BATCH_CONF"; chmod 600 "$SHOP_CONF" "$BATCH_CONF"
  install -d -o "$USER_SHOP" -m 750 "$SPOOL/receipts"
}

spool_mount() {
  install -d -m 755 "$SPOOL"
  if ! mountpoint -q "$SPOOL"; then
    mount -t tmpfs -o "size=${SPOOL_SIZE_MB}m,mode=755,nosuid,nodev" sitrep-sandbox-spool "$SPOOL" \
      || die "cannot mount a ${SPOOL_SIZE_MB} MiB tmpfs on $SPOOL (the disk-full fault needs a small filesystem; run as root with CAP_SYS_ADMIN)"
  fi
  install -d -o "$USER_SHOP" -m 750 "$SPOOL/receipts"
}
spool_umount() { mountpoint -q "$SPOOL" 2>/dev/null && umount -l "$SPOOL" 2>/dev/null || true; }

supervised_start() { # name (shopfront|batch) conf subcommand
  local name="$1" conf="$2" sub="$3"
  service_running "$name-supervisor" && return 0
  rm -f "$RUN/$name.child.pid"
  ( cd "$SANDBOX_DIR/shopfront"
    close_inherited_fds
    exec setsid "$SANDBOX_SRC/lib/supervise" "$name" "$USER_SHOP" "$RUN/$name.child.pid" \
      "$SANDBOX_DIR/node-exporter/textfile" -- "$SHOPFRONT_BIN" "$sub" --config "$conf" \
      >>"$LOGS/$name-supervisor.log" 2>&1 </dev/null ) &
  echo $! > "$RUN/$name-supervisor.pid"
}
# Ask the supervisor to restart the child now (after a config change).
supervised_restart() { # name
  local sp; sp="$(pidfile_pid "$1-supervisor")"
  pid_alive "$sp" && kill -USR1 "$sp" 2>/dev/null || true
}
supervised_stop() { stop_pidfile "$1-supervisor" 15; rm -f "$RUN/$1.child.pid"; }

shopfront_health() { curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$PORT_SHOPFRONT/health"; }

loadgen_start() {
  service_running loadgen && return 0
  start_bg loadgen "$USER_SHOP" "$SANDBOX_DIR/shopfront" "$SHOPFRONT_BIN" loadgen \
    --target "http://127.0.0.1:$PORT_NGINX_HTTP" --interval-ms 500
}

# ---------------------------------------------------------------- nginx
nginx_cert() { # days
  local days="${1:-365}" d="$NGINX_DIR/certs"
  install -d -o "$USER_NGINX" -m 750 "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
    -subj "/O=sitrep sandbox/CN=shop.sandbox.localhost" \
    -addext "subjectAltName=DNS:localhost,DNS:shop.sandbox.localhost,IP:127.0.0.1" \
    -keyout "$d/shop.key.new" -out "$d/shop.crt.new" >/dev/null 2>&1 || die "openssl failed to make a certificate"
  mv -f "$d/shop.key.new" "$d/shop.key"; mv -f "$d/shop.crt.new" "$d/shop.crt"
  chown "$USER_NGINX" "$d/shop.key" "$d/shop.crt"; chmod 600 "$d/shop.key"
}

nginx_upstream_conf() { # port
  printf 'upstream shopfront {\n    server 127.0.0.1:%s max_fails=0;\n    keepalive 8;\n}\n' "$1" > "$NGINX_DIR/upstream.conf"
  chown "$USER_NGINX" "$NGINX_DIR/upstream.conf"
}

nginx_conf() {
  install -d -o "$USER_NGINX" -m 755 "$NGINX_DIR" "$NGINX_DIR/logs" "$NGINX_DIR/tmp"
  [[ -f "$NGINX_DIR/certs/shop.crt" ]] || nginx_cert 365
  [[ -f "$NGINX_DIR/upstream.conf" ]] || nginx_upstream_conf "$PORT_SHOPFRONT"
  local proxy="proxy_pass http://shopfront; proxy_http_version 1.1; proxy_set_header Connection \"\";
            proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_connect_timeout 2s; proxy_read_timeout 15s;"
  cat > "$NGINX_DIR/nginx.conf" <<CONF
# sitrep sandbox nginx (runs as $USER_NGINX; never binds beyond 127.0.0.1)
daemon off;
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/logs/error.log warn;
working_directory $NGINX_DIR;
events { worker_connections 512; }
http {
    log_format sandbox '\$remote_addr [\$time_iso8601] "\$request" \$status \$body_bytes_sent '
                       'rt=\$request_time upstream=\$upstream_addr us=\$upstream_status urt=\$upstream_response_time';
    access_log $NGINX_DIR/logs/access.log sandbox;
    client_body_temp_path $NGINX_DIR/tmp/body;
    proxy_temp_path $NGINX_DIR/tmp/proxy;
    fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
    uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
    scgi_temp_path $NGINX_DIR/tmp/scgi;
    include $NGINX_DIR/upstream.conf;
    server {
        listen 127.0.0.1:$PORT_NGINX_HTTP;
        server_name shop.sandbox.localhost localhost;
        location = /nginx_status { stub_status; access_log off; allow 127.0.0.1; deny all; }
        location / { $proxy }
    }
    server {
        listen 127.0.0.1:$PORT_NGINX_HTTPS ssl;
        server_name shop.sandbox.localhost localhost;
        ssl_certificate $NGINX_DIR/certs/shop.crt;
        ssl_certificate_key $NGINX_DIR/certs/shop.key;
        location / { $proxy }
    }
}
CONF
}
nginx_cmd() { as_user "$USER_NGINX" /usr/sbin/nginx -p "$NGINX_DIR/" -e "$NGINX_DIR/logs/error.log" -c "$NGINX_DIR/nginx.conf" "$@"; }
nginx_start() {
  service_running nginx && return 0
  nginx_cmd -t -q 2>"$LOGS/nginx-configtest.log" || { cat "$LOGS/nginx-configtest.log" >&2; die "nginx config test failed"; }
  start_bg nginx "$USER_NGINX" "$NGINX_DIR" /usr/sbin/nginx -p "$NGINX_DIR/" -e "$NGINX_DIR/logs/error.log" -c "$NGINX_DIR/nginx.conf"
  wait_until 20 "nginx to listen" curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$PORT_NGINX_HTTP/nginx_status" \
    || { tail -20 "$NGINX_DIR/logs/error.log" >&2; return 1; }
}
nginx_reload() { local p; p="$(pidfile_pid nginx)"; pid_alive "$p" && kill -HUP "$p"; sleep 1; }
nginx_stop() { stop_pidfile nginx 10; }

# ---------------------------------------------------------------- exporters, prometheus, alertmanager
exporters_conf() {
  install -d -o "$USER_PROM" -m 755 "$SANDBOX_DIR/exporters" "$SANDBOX_DIR/node-exporter" "$SANDBOX_DIR/node-exporter/textfile"
  cp "$SANDBOX_SRC/config/postgres-exporter-queries.yaml" "$SANDBOX_DIR/exporters/postgres-queries.yaml"
  cp "$SANDBOX_SRC/config/blackbox.yml" "$SANDBOX_DIR/exporters/blackbox.yml"
  chown "$USER_PROM" "$SANDBOX_DIR/exporters/"*
}

exporter_start() { # name
  local name="$1" ex="$SANDBOX_DIR/exporters"
  service_running "$name" && return 0
  case "$name" in
    node-exporter)
      start_svc node-exporter "$USER_PROM" "$SANDBOX_DIR/node-exporter" /usr/bin/prometheus-node-exporter \
        --web.listen-address="127.0.0.1:$PORT_NODE_EXPORTER" \
        --collector.textfile.directory="$SANDBOX_DIR/node-exporter/textfile" ;;
    postgres-exporter|postgres-exporter-replica)
      local pw pgport=$PORT_PG_PRIMARY lport=$PORT_PG_EXPORTER
      pw="$(secret pg-admin-password)"
      if [[ $name == postgres-exporter-replica ]]; then pgport=$PORT_PG_REPLICA lport=$PORT_PG_REPLICA_EXPORTER; fi
      # the DSN (with its password) goes through the environment, not argv
      DATA_SOURCE_NAME="postgresql://postgres:$pw@127.0.0.1:$pgport/postgres?sslmode=disable" \
      start_svc "$name" "$USER_PROM" "$ex" /usr/bin/prometheus-postgres-exporter \
        --web.listen-address="127.0.0.1:$lport" --extend.query-path="$ex/postgres-queries.yaml" ;;
    redis-exporter)
      start_svc redis-exporter "$USER_PROM" "$ex" /usr/bin/prometheus-redis-exporter \
        -redis.addr="redis://127.0.0.1:$PORT_REDIS" -web.listen-address="127.0.0.1:$PORT_REDIS_EXPORTER" ;;
    nginx-exporter)
      start_svc nginx-exporter "$USER_PROM" "$ex" /usr/bin/prometheus-nginx-exporter \
        -nginx.scrape-uri="http://127.0.0.1:$PORT_NGINX_HTTP/nginx_status" -nginx.retries=10 \
        -web.listen-address="127.0.0.1:$PORT_NGINX_EXPORTER" ;;
    blackbox-exporter)
      start_svc blackbox-exporter "$USER_PROM" "$ex" /usr/bin/prometheus-blackbox-exporter \
        --config.file="$ex/blackbox.yml" --web.listen-address="127.0.0.1:$PORT_BLACKBOX" ;;
    *) die "unknown exporter $name" ;;
  esac
  local port
  case "$name" in
    node-exporter) port=$PORT_NODE_EXPORTER ;; postgres-exporter) port=$PORT_PG_EXPORTER ;;
    postgres-exporter-replica) port=$PORT_PG_REPLICA_EXPORTER ;;
    redis-exporter) port=$PORT_REDIS_EXPORTER ;; nginx-exporter) port=$PORT_NGINX_EXPORTER ;;
    blackbox-exporter) port=$PORT_BLACKBOX ;;
  esac
  wait_until 30 "$name to serve /metrics" curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$port/metrics" \
    || { tail -20 "$LOGS/$name.log" >&2; return 1; }
}
exporter_stop() { svc_down "$1" 10; }
EXPORTERS=(node-exporter postgres-exporter postgres-exporter-replica redis-exporter nginx-exporter blackbox-exporter)

# Alertmanager sends every alert to a sitrep serving on PORT_SITREP (sandbox/test-delivery
# starts one), with the bearer token in alertmanager/sitrep-token (read at each send).
alert_webhook_url() { echo "${SITREP_ALERT_WEBHOOK_URL:-http://127.0.0.1:$PORT_SITREP/api/v1/hooks/alertmanager}"; }

prometheus_conf() {
  local d="$SANDBOX_DIR/prometheus"
  install -d -o "$USER_PROM" -m 755 "$d" "$d/data"
  sed -e "s|@DIR@|$SANDBOX_DIR|g" "$SANDBOX_SRC/config/prometheus.yml" > "$d/prometheus.yml"
  cp "$SANDBOX_SRC/config/alert-rules.yml" "$d/alert-rules.yml"
  chown "$USER_PROM" "$d"/*.yml
  local a="$SANDBOX_DIR/alertmanager"
  install -d -o "$USER_PROM" -m 755 "$a" "$a/data"
  sed -e "s|@WEBHOOK_URL@|$(alert_webhook_url)|g" -e "s|@TOKEN_FILE@|$a/sitrep-token|g" \
    "$SANDBOX_SRC/config/alertmanager.yml" > "$a/alertmanager.yml"
  [[ -f "$a/sitrep-token" ]] || echo none > "$a/sitrep-token"
  chown "$USER_PROM" "$a/alertmanager.yml" "$a/sitrep-token"
  chmod 600 "$a/sitrep-token"
  # sitrep's own /metrics: a target only while a sitrep under test serves (file_sd, empty
  # otherwise, so no down target fires TargetDown).
  [[ -f "$d/sitrep-targets.json" ]] || echo '[]' > "$d/sitrep-targets.json"
  chown "$USER_PROM" "$d/sitrep-targets.json"
}
prometheus_start() {
  service_running prometheus && return 0
  local d="$SANDBOX_DIR/prometheus"
  /usr/bin/promtool check config "$d/prometheus.yml" >"$LOGS/promtool.log" 2>&1 || { cat "$LOGS/promtool.log" >&2; die "prometheus config invalid"; }
  start_bg prometheus "$USER_PROM" "$d" /usr/bin/prometheus --config.file="$d/prometheus.yml" \
    --storage.tsdb.path="$d/data" --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$PORT_PROMETHEUS" \
    --web.enable-lifecycle
  wait_until 60 "Prometheus to be ready" curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$PORT_PROMETHEUS/-/ready" \
    || { tail -20 "$LOGS/prometheus.log" >&2; return 1; }
}
alertmanager_start() {
  service_running alertmanager && return 0
  local a="$SANDBOX_DIR/alertmanager"
  start_bg alertmanager "$USER_PROM" "$a" /usr/bin/prometheus-alertmanager --config.file="$a/alertmanager.yml" \
    --storage.path="$a/data" --web.listen-address="127.0.0.1:$PORT_ALERTMANAGER" --cluster.listen-address=
  wait_until 30 "Alertmanager to be ready" curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$PORT_ALERTMANAGER/-/ready" \
    || { tail -20 "$LOGS/alertmanager.log" >&2; return 1; }
}

watchdog_start() {
  service_running watchdog && return 0
  ( close_inherited_fds; exec setsid "$SANDBOX_SRC/lib/watchdog" "$SANDBOX_DIR" >>"$LOGS/watchdog.log" 2>&1 </dev/null ) &
  echo $! > "$RUN/watchdog.pid"
}
