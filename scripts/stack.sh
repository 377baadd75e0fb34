#!/usr/bin/env bash
# The real test stack for canal-es, on loopback:
#   MariaDB (private instance, binlog ROW) -> Canal server (embedded, Java) ; OpenSearch 2.19 or Elasticsearch 7.17 (embedded, Java)
#
# Usage: scripts/stack.sh up|down|env|status
#   up      start the stack (idempotent: when it is already up, just print its env)
#   down    stop everything this state dir started, remove its data (logs are kept)
#   env     print the env of the running stack (exit 1 when it is not up)
#   status  say on stderr whether the stack is up (exit 0 up, 1 not)
#
# `up` and `env` print exactly these KEY=VALUE lines on stdout (everything else goes to stderr):
#   MYSQL_HOST MYSQL_PORT MYSQL_USER MYSQL_PASSWORD MYSQL_SOCKET
#   CANAL_HOST CANAL_PORT CANAL_DESTINATION CANAL_USER CANAL_PASSWORD ES_URL
# so callers do:  eval "$(scripts/stack.sh up)"   or   set -a; . <(scripts/stack.sh up); set +a
#
# Environment:
#   STACK_DIR        state dir (default <repo>/.stack): logs, pids, data, env
#   STACK_SEARCH     opensearch (default) | es7
#   STACK_CANAL_AUTH 1 (default): Canal requires user canal / password canal; 0: Canal accepts anyone
#   STACK_TIMEOUT    seconds to wait for each component to become ready (default 180)
#   STACK_MVN        maven command (default mvn); JAVA_HOME is honoured for java
set -euo pipefail

# All progress goes to stderr; the env lines go to fd 3 (the original stdout).
exec 3>&1 1>&2

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_SRC="$REPO/tests/stack"
D=${STACK_DIR:-$REPO/.stack}
mkdir -p "$D"
D=$(cd "$D" && pwd)
SEARCH=${STACK_SEARCH:-opensearch}
CANAL_AUTH=${STACK_CANAL_AUTH:-1}
TIMEOUT=${STACK_TIMEOUT:-180}
MVN=${STACK_MVN:-mvn}
if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA=java; fi

case "$SEARCH" in opensearch|es7) ;; *) echo "stack: STACK_SEARCH must be opensearch or es7, not '$SEARCH'"; exit 2 ;; esac
case "$CANAL_AUTH" in 1|true|on|yes) CANAL_AUTH=1 ;; 0|false|off|no) CANAL_AUTH=0 ;; *) echo "stack: STACK_CANAL_AUTH must be 1 or 0"; exit 2 ;; esac

# Unix socket paths must stay short (sun_path is 108 bytes): fall back to /tmp when the state dir is deep.
SOCK="$D/mysql.sock"
if (( ${#SOCK} > 100 )) || [[ "$SOCK" =~ [[:space:]] ]]; then
  SOCK="/tmp/canal-es-stack-$(printf '%s' "$D" | sha1sum | cut -c1-12).sock"
fi

MYSQL_USER=root
MYSQL_PASSWORD=root
CANAL_DESTINATION=example
CANAL_USER=canal
CANAL_PASSWORD=canal
CANAL_SLAVE_ID=1001          # MariaDB runs with server-id 1
SERVICES=(canal search mysql)

log() { printf 'stack: [%3ss] %s\n' "$SECONDS" "$*"; }

die() { # die MESSAGE [LOGFILE...]: show the log tails, stop what was started, fail
  local msg=$1; shift
  log "ERROR: $msg"
  local f
  for f in "$@"; do
    if [[ -f "$f" ]]; then
      printf -- '----- last lines of %s -----\n' "$f"
      tail -n 60 "$f" || true
      printf -- '----- end of %s -----\n' "$f"
    fi
  done
  if [[ "${STARTING:-0}" == 1 ]]; then
    log "stopping what was started (logs kept in $D)"
    stop_all || true
  fi
  exit 1
}

now() { date +%s; }

# ---------------------------------------------------------------- processes

pid_of() { # pid_of NAME: print the pid if that process is alive and is ours
  local f="$D/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # guard against a recycled pid: our processes carry the state dir on their command line
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$D" || return 1
  echo "$pid"
}

stop_all() { # Canal and the search node first (together), then MariaDB; remove data
  stop_group canal search
  stop_group mysql
  local s
  for s in "${SERVICES[@]}"; do rm -f "$D/$s.pid"; done
  rm -rf "$D/mysql" "$D/search" "$D/env" "$D/tmp"
  rm -f "$SOCK" "$D/mysql.sock"
}

stop_group() { # stop_group NAME...: SIGTERM them at once, wait (deadline), SIGKILL what is left
  local s pid deadline pids=() names=()
  for s in "$@"; do
    if pid=$(pid_of "$s"); then
      log "stopping $s (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$s")
    fi
  done
  deadline=$(( $(now) + 40 ))
  local i alive
  while :; do
    alive=0
    for i in "${!pids[@]}"; do if kill -0 "${pids[$i]}" 2>/dev/null; then alive=1; fi; done
    (( alive )) || break
    if (( $(now) >= deadline )); then
      for i in "${!pids[@]}"; do
        if kill -0 "${pids[$i]}" 2>/dev/null; then
          log "${names[$i]} did not exit in 40s: SIGKILL"
          kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
      done
      sleep 0.3
      break
    fi
    sleep 0.1
  done
}

all_up() {
  local s
  for s in "${SERVICES[@]}"; do pid_of "$s" >/dev/null || return 1; done
  [[ -s "$D/env" ]]
}

spawn() { # spawn NAME LOGFILE CMD...: start detached (own session), record the pid
  local name=$1 logf=$2; shift 2
  : > "$logf"
  # close fd 3 (the caller's stdout: "$(stack.sh up)" must not wait on it) and fd 9 (the lock)
  setsid "$@" >> "$logf" 2>&1 < /dev/null 3>&- 9>&- &
  echo $! > "$D/$name.pid"
}

# ---------------------------------------------------------------- ports

pick_ports() { # print 4 distinct free loopback ports, below the ephemeral range
  if command -v python3 >/dev/null 2>&1; then
    python3 - <<'PY'
import random, socket
got, held = [], []
for p in random.sample(range(20000, 32000), 400):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close()
        continue
    held.append(s)
    got.append(p)
    if len(got) == 4:
        break
print(" ".join(map(str, got)))
PY
  else
    local got=() p
    while (( ${#got[@]} < 4 )); do
      p=$(( 20000 + RANDOM % 12000 ))
      [[ " ${got[*]} " == *" $p "* ]] && continue
      if ! (exec 9<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then got+=("$p"); fi
    done
    echo "${got[*]}"
  fi
}

# ---------------------------------------------------------------- build

classpath_ok() { # every jar of the recorded classpath is still there (~/.m2 may have been cleaned)
  local jar
  local IFS=:
  for jar in $(cat "$1"); do [[ -f "$jar" ]] || return 1; done
}

build_one() { # build_one MODULE: compile the launcher and write its classpath (skipped when up to date)
  local dir="$STACK_SRC/$1" stamp="$STACK_SRC/$1/target/.stack-built"
  if [[ -f "$stamp" && -s "$dir/target/classpath.txt" ]] \
     && [[ "$(cat "$stamp")" == "$MVN" ]] \
     && [[ -z "$(find "$dir/pom.xml" "$dir/src" -newer "$stamp" -print -quit)" ]] \
     && classpath_ok "$dir/target/classpath.txt"; then
    return 0
  fi
  log "building the $1 launcher with Maven (first run downloads into ~/.m2)"
  mkdir -p "$dir/target"
  $MVN -B -q -Dstyle.color=never -f "$dir/pom.xml" compile dependency:build-classpath \
      -Dmdep.outputFile="$dir/target/classpath.txt" >> "$D/build.log" 2>&1 || return 1
  printf '%s' "$MVN" > "$stamp"
}

# ---------------------------------------------------------------- mariadb

MYSQL_CLI=(mariadb --no-defaults --protocol=socket -S "$SOCK" -uroot)

mysql_q() { MYSQL_PWD="$MYSQL_PASSWORD" "${MYSQL_CLI[@]}" -N -B -e "$1"; }

start_mysql() {
  local port=$1 data="$D/mysql/data" mysqld deadline me
  mysqld=$(command -v mariadbd || command -v mysqld || echo /usr/sbin/mariadbd)
  [[ -x "$mysqld" ]] || die "mariadbd not found (apt-get install -y mariadb-server mariadb-client)"
  me=$(id -un)
  rm -rf "$D/mysql"
  mkdir -p "$data" "$D/tmp"
  log "initialising MariaDB in $data"
  mariadb-install-db --no-defaults --user="$me" --datadir="$data" \
      --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
      > "$D/mysql-install.log" 2>&1 || die "mariadb-install-db failed" "$D/mysql-install.log"
  log "starting MariaDB on 127.0.0.1:$port"
  rm -f "$SOCK"
  spawn mysql "$D/mysql.log" "$mysqld" --no-defaults --user="$me" \
      --datadir="$data" --socket="$SOCK" --pid-file="$D/mysql/mariadbd.pid" --tmpdir="$D/tmp" \
      --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
      --server-id=1 --log-bin="$data/mysql-bin" --binlog-format=ROW --binlog-row-image=FULL \
      --binlog-annotate-row-events=OFF \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
      --log-error="$D/mysql.log"
  deadline=$(( $(now) + TIMEOUT ))
  until mariadb-admin --no-defaults -S "$SOCK" -uroot --connect-timeout=2 ping >/dev/null 2>&1; do
    pid_of mysql >/dev/null || die "MariaDB exited during startup" "$D/mysql.log"
    (( $(now) < deadline )) || die "MariaDB not ready after ${TIMEOUT}s" "$D/mysql.log"
    sleep 0.2
  done
  # root gets a password everywhere; anonymous accounts go (they would shadow 'canal'@'127.0.0.1')
  "${MYSQL_CLI[@]}" -N -B > "$D/mysql-setup.log" 2>&1 <<SQL || die "MariaDB user setup failed" "$D/mysql-setup.log"
DELETE FROM mysql.global_priv WHERE User = '';
FLUSH PRIVILEGES;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$MYSQL_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
ALTER USER IF EXISTS 'root'@'::1' IDENTIFIED BY '$MYSQL_PASSWORD';
CREATE USER IF NOT EXISTS '$CANAL_USER'@'127.0.0.1' IDENTIFIED BY '$CANAL_PASSWORD';
GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '$CANAL_USER'@'127.0.0.1';
ALTER USER 'root'@'localhost' IDENTIFIED BY '$MYSQL_PASSWORD';
SQL
  mysql_q "SELECT 1" > /dev/null 2>> "$D/mysql-setup.log" || die "cannot log in as root after setup" "$D/mysql-setup.log"
  log "MariaDB ready"
}

# ---------------------------------------------------------------- java services

JVM_COMMON=(-XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Dfile.encoding=UTF-8
            -Djava.io.tmpdir="$D/tmp")

start_canal() {
  local port=$1 mysql_port=$2 dir="$STACK_SRC/canal" auth=false
  [[ "$CANAL_AUTH" == 1 ]] && auth=true
  log "starting Canal on 127.0.0.1:$port (auth $auth)"
  spawn canal "$D/canal.log" "$JAVA" -Xms256m -Xmx512m "${JVM_COMMON[@]}" \
      --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED \
      --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
      -Dcanal.stack.dir="$D" \
      -cp "$dir/target/classes:$(cat "$dir/target/classpath.txt")" canales.stack.CanalMain \
      --ip=127.0.0.1 --port="$port" \
      --mysql-host=127.0.0.1 --mysql-port="$mysql_port" \
      --mysql-user="$CANAL_USER" --mysql-password="$CANAL_PASSWORD" \
      --destinations="$CANAL_DESTINATION" --slave-id="$CANAL_SLAVE_ID" \
      --filter='.*\..*' --auth="$auth" --user="$CANAL_USER"
}

start_search() {
  local http=$1 transport=$2 dir="$STACK_SRC/$SEARCH"
  log "starting $SEARCH on 127.0.0.1:$http (transport $transport)"
  mkdir -p "$D/search"
  spawn search "$D/search.log" "$JAVA" -Xms512m -Xmx512m "${JVM_COMMON[@]}" \
      -Dlog4j2.disable.jmx=true -Dlog4j.shutdownHookEnabled=false \
      -Dio.netty.allocator.numDirectArenas=0 \
      -cp "$dir/target/classes:$(cat "$dir/target/classpath.txt")" canales.stack.SearchMain \
      --home="$D/search" --http-port="$http" --transport-port="$transport"
}

http_ok() { # http_ok URL: 2xx?
  if command -v curl >/dev/null 2>&1; then
    curl -sf -o /dev/null --max-time 5 "$1"
  else
    python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$1" >/dev/null 2>&1
  fi
}

wait_search() {
  local url=$1 deadline=$(( $(now) + TIMEOUT ))
  until http_ok "$url/_cluster/health?wait_for_status=yellow&timeout=1s"; do
    pid_of search >/dev/null || die "$SEARCH exited during startup" "$D/search.log"
    (( $(now) < deadline )) || die "$SEARCH not ready after ${TIMEOUT}s" "$D/search.log"
    sleep 0.3
  done
  log "$SEARCH ready at $url"
}

wait_canal() { # ready = port accepts AND MariaDB lists the replica with our slave id and a binlog dump runs
  local port=$1 deadline=$(( $(now) + TIMEOUT )) hosts dumps
  while :; do
    pid_of canal >/dev/null || die "Canal exited during startup" "$D/canal.log"
    # the launcher prints this line once the (synchronous) bind succeeded; probing the port
    # instead would make Canal log a "Connection reset" ERROR
    if grep -q '^canal-stack: listening on ' "$D/canal.log"; then
      hosts=$(mysql_q "SHOW SLAVE HOSTS" 2>/dev/null | awk -v id="$CANAL_SLAVE_ID" '$1 == id' || true)
      dumps=$(mysql_q "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' AND USER = '$CANAL_USER'" 2>/dev/null || echo 0)
      if [[ -n "$hosts" && "${dumps:-0}" -ge 1 ]]; then break; fi
    fi
    (( $(now) < deadline )) || die "Canal not ready after ${TIMEOUT}s (port or binlog dump missing)" "$D/canal.log" "$D/mysql.log"
    sleep 0.2
  done
  log "Canal ready on 127.0.0.1:$port (replica $CANAL_SLAVE_ID dumping the binlog)"
}

# ---------------------------------------------------------------- commands

print_env() { cat "$D/env" >&3; }

cmd_up() {
  local t0 ports mysql_port canal_port http_port transport_port build_pid
  t0=$(now)
  if all_up; then
    local running_search running_auth
    running_search=$(cat "$D/search.flavor" 2>/dev/null || echo "?")
    running_auth=$(cat "$D/canal.auth" 2>/dev/null || echo "?")
    if [[ "$running_search" != "$SEARCH" || "$running_auth" != "$CANAL_AUTH" ]]; then
      die "stack in $D is already up with STACK_SEARCH=$running_search STACK_CANAL_AUTH=$running_auth; run 'scripts/stack.sh down' first"
    fi
    log "already up ($D)"
    print_env
    return 0
  fi
  # a half-dead stack: clean it away first
  stop_all
  STARTING=1
  mkdir -p "$D/tmp"
  : > "$D/build.log"
  echo "$SEARCH" > "$D/search.flavor"
  echo "$CANAL_AUTH" > "$D/canal.auth"
  command -v "$JAVA" >/dev/null 2>&1 || die "java not found (apt-get install -y openjdk-17-jdk-headless)"
  command -v mariadb-install-db >/dev/null 2>&1 || die "mariadb-install-db not found (apt-get install -y mariadb-server mariadb-client)"

  # build the launchers in the background while MariaDB initialises
  ( build_one "$SEARCH" && build_one canal ) 3>&- &
  build_pid=$!

  read -r mysql_port canal_port http_port transport_port < <(pick_ports)
  [[ -n "${transport_port:-}" ]] || die "could not find free ports"

  start_mysql "$mysql_port"

  if ! wait "$build_pid"; then
    die "Maven build of the launchers failed" "$D/build.log"
  fi

  start_search "$http_port" "$transport_port"
  start_canal "$canal_port" "$mysql_port"
  wait_canal "$canal_port"
  wait_search "http://127.0.0.1:$http_port"

  cat > "$D/env.tmp" <<EOF
MYSQL_HOST=127.0.0.1
MYSQL_PORT=$mysql_port
MYSQL_USER=$MYSQL_USER
MYSQL_PASSWORD=$MYSQL_PASSWORD
MYSQL_SOCKET=$SOCK
CANAL_HOST=127.0.0.1
CANAL_PORT=$canal_port
CANAL_DESTINATION=$CANAL_DESTINATION
CANAL_USER=$CANAL_USER
CANAL_PASSWORD=$CANAL_PASSWORD
ES_URL=http://127.0.0.1:$http_port
EOF
  mv "$D/env.tmp" "$D/env"
  STARTING=0
  log "up in $(( $(now) - t0 ))s (state dir $D, search $SEARCH)"
  print_env
}

cmd_down() {
  stop_all
  rm -f "$D/search.flavor" "$D/canal.auth"
  log "down ($D; logs kept)"
}

cmd_env() {
  all_up || { log "stack is not up (state dir $D): run scripts/stack.sh up"; exit 1; }
  print_env
}

cmd_status() {
  if all_up; then log "up ($D, search $(cat "$D/search.flavor" 2>/dev/null))"; return 0; fi
  local s
  for s in "${SERVICES[@]}"; do
    if pid_of "$s" >/dev/null; then log "$s: running"; else log "$s: not running"; fi
  done
  return 1
}

cmd=${1:-}
case "$cmd" in
  up|down|env|status) ;;
  *) echo "usage: scripts/stack.sh up|down|env|status" ; exit 2 ;;
esac

# one stack command at a time per state dir
exec 9> "$D/.lock"
flock -w 600 9 || die "could not lock $D/.lock"

"cmd_$cmd"
