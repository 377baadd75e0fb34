#!/usr/bin/env bash
# The real test stack for canal-es, on loopback:
#   MariaDB (private instance, binlog ROW) -> Canal server (embedded, Java) ; a search node (embedded, Java):
#   OpenSearch 2.19 (default), OpenSearch 3.x, Elasticsearch 7.17 or Elasticsearch 8.x (STACK_SEARCH)
#   with STACK_HA=1 also: ZooKeeper (ZooKeeperServerMain from the zookeeper jar Canal depends on) and a
#   Canal cluster of two more servers (canal-ha1, canal-ha2) serving destination `ha` from the same
#   one runs it, the other is a standby that takes over when the first goes.
#   with STACK_MQ=kafka also: a single-node Kafka 4.1 broker (KRaft: broker and controller in one JVM)
#   with one topic of KAFKA_PARTITIONS partitions (created before Canal starts), and the Canal server
#   serves a second destination (`kafka`, its own binlog dump as replica 1004) to that topic through
#   Canal's MQ mode: protobuf records (canal.mq.flatMessage=false), canal.mq.partitionHash by primary key
#   (.*\\..*:$pk$), canal.mq.partitionsNum=KAFKA_PARTITIONS. The TCP destination stays as it is, so the
#   rest of the suite runs on a Kafka stack too. See docs/kafka.md.
#
# Usage: scripts/stack.sh up|down|env|status|stop SERVICE|start SERVICE
#   up      start the stack (idempotent: when it is already up, just print its env)
#   down    stop everything this state dir started, remove its data (logs are kept)
#   env     print the env of the running stack (exit 1 when it is not up)
#   status  say on stderr whether the stack is up (exit 0 up, 1 not)
#   stop SERVICE   stop one service of the stack (SIGTERM, SIGKILL after 40 s), keep its data
#   start SERVICE  start it again on the same port with the same data, wait until it is ready;
#                  prints nothing on stdout (a no-op when it runs already)
#     SERVICE: canal | search, with STACK_HA=1: canal-ha1 | canal-ha2 | zk, with STACK_MQ=kafka: kafka
#   While a service is stopped, `env` and `status` say the stack is not up, and `up` would rebuild
#   the whole stack: `start` it again (or `down`) first.
#
# Canal keeps its client cursors in <state dir>/canal-meta/<destination>/meta.dat (flushed every
# second and at shutdown) and restarts the binlog dump from them, so a stop/start of canal neither
# re-streams from the beginning nor skips what was written while it was down.
#
# `up` and `env` print exactly these KEY=VALUE lines on stdout (everything else goes to stderr):
#   MYSQL_HOST MYSQL_PORT MYSQL_USER MYSQL_PASSWORD MYSQL_SOCKET
#   CANAL_HOST CANAL_PORT CANAL_DESTINATION CANAL_USER CANAL_PASSWORD ES_URL
#   STACK_DIR (so that `stack.sh stop|start` run from that environment act on this stack)
# and, only with STACK_HA=1:
#   ZK_ADDRESS CANAL_HA_ADDRESSES (host:port of canal-ha1,canal-ha2) CANAL_HA_DESTINATION
# and, only with STACK_MQ=kafka:
#   KAFKA_BROKERS (host:port) KAFKA_TOPIC KAFKA_PARTITIONS
# so callers do:  eval "$(scripts/stack.sh up)"   or   set -a; . <(scripts/stack.sh up); set +a
#
# Environment:
#   STACK_DIR        state dir (default <repo>/.stack): logs, pids, data, env
#   STACK_SEARCH     opensearch (default, OpenSearch 2.19) | os3 (OpenSearch 3.x, needs a JDK >= 21)
#                    | es7 (Elasticsearch 7.17) | es8 (Elasticsearch 8.x; Maven Central has only its server
#                    and transport-netty4 module: see tests/stack/es8/pom.xml and docs/operations.md)
#   STACK_JAVA21_HOME  JDK >= 21 for the os3 node and its build (default: JAVA_HOME when it is >= 21,
#                    else the newest JDK >= 21 under /usr/lib/jvm)
#   STACK_CANAL_AUTH 1 (default): Canal requires user canal / password canal; 0: Canal accepts anyone
#   STACK_TIMEOUT    seconds to wait for each component to become ready (default 180)
#   STACK_HA         0 (default) | 1: also ZooKeeper and the two-server Canal cluster (see above)
#   STACK_MQ         unset/none (default) | kafka: also Kafka and Canal's Kafka mode (see above)
#   STACK_CANAL_MQ_PROPS  with STACK_MQ=kafka: extra Canal MQ / producer properties, KEY=VALUE,... (read
#                    whenever Canal starts, also by `start canal`), e.g. kafka.delivery.timeout.ms=5000
#   STACK_MVN        maven command (default mvn); JAVA_HOME is honoured for java
set -euo pipefail

# All progress goes to stderr; the env lines go to fd 3 (the original stdout).
exec 3>&1 1>&2

# Callers often have the stack's own env exported (MYSQL_HOST...): the MariaDB clients would then
# prefer TCP to that host over the socket given on their command line.
unset MYSQL_HOST MYSQL_TCP_PORT MYSQL_UNIX_PORT MYSQL_PWD

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

case "$SEARCH" in opensearch|os3|es7|es8) ;; *) echo "stack: STACK_SEARCH must be opensearch, os3, es7 or es8, not '$SEARCH'"; exit 2 ;; esac
case "$CANAL_AUTH" in 1|true|on|yes) CANAL_AUTH=1 ;; 0|false|off|no) CANAL_AUTH=0 ;; *) echo "stack: STACK_CANAL_AUTH must be 1 or 0"; exit 2 ;; esac
HA=${STACK_HA:-0}
case "$HA" in 1|true|on|yes) HA=1 ;; 0|false|off|no|"") HA=0 ;; *) echo "stack: STACK_HA must be 1 or 0"; exit 2 ;; esac
MQ=${STACK_MQ:-none}
case "$MQ" in kafka) ;; none|"") MQ=none ;; *) echo "stack: STACK_MQ must be kafka or unset, not '$MQ'"; exit 2 ;; esac

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
CANAL_META="$D/canal-meta"   # file meta manager of the standalone Canal server
# the Canal cluster (STACK_HA=1)
CANAL_HA_DESTINATION=ha
CANAL_HA1_SLAVE_ID=1002
CANAL_HA2_SLAVE_ID=1003
# Kafka mode (STACK_MQ=kafka)
KAFKA_TOPIC=canal-es
KAFKA_PARTITIONS=6
CANAL_MQ_DESTINATION=kafka
CANAL_MQ_SLAVE_ID=1004
CANAL_MQ_PARTITION_HASH='.*\..*:$pk$'   # canal.mq.partitionHash: every table, hashed by its primary key
# what the running stack was started with (recorded by `up`) decides what belongs to it
if [[ -f "$D/stack.ha" ]]; then RUNNING_HA=$(cat "$D/stack.ha"); else RUNNING_HA=$HA; fi
if [[ -f "$D/stack.mq" ]]; then RUNNING_MQ=$(cat "$D/stack.mq"); else RUNNING_MQ=$MQ; fi
if [[ "$RUNNING_HA" == 1 ]]; then SERVICES=(canal canal-ha1 canal-ha2 zk search mysql); else SERVICES=(canal search mysql); fi
if [[ "$RUNNING_MQ" == kafka ]]; then SERVICES+=(kafka); fi
ALL_SERVICES=(canal canal-ha1 canal-ha2 zk search kafka mysql)

java_major() { # java_major JAVA_HOME: the feature version of that JDK (from its release file), or 0
  local v
  v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null | head -n 1)
  [[ "$v" =~ ^[0-9]+$ && -x "$1/bin/java" ]] && echo "$v" || echo 0
}

find_jdk21() { # a JDK >= 21 (OpenSearch 3 needs it): STACK_JAVA21_HOME, JAVA_HOME, or the newest in /usr/lib/jvm
  local d best="" best_v=0 v
  if [[ -n "${STACK_JAVA21_HOME:-}" ]]; then
    (( $(java_major "$STACK_JAVA21_HOME") >= 21 )) && { echo "$STACK_JAVA21_HOME"; return 0; }
    return 1
  fi
  if [[ -n "${JAVA_HOME:-}" ]] && (( $(java_major "$JAVA_HOME") >= 21 )); then echo "$JAVA_HOME"; return 0; fi
  for d in /usr/lib/jvm/*/; do
    d=${d%/}
    [[ -L "$d" ]] && continue
    v=$(java_major "$d")
    if (( v >= 21 && v > best_v )); then best=$d; best_v=$v; fi
  done
  [[ -n "$best" ]] && echo "$best"
}

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

stop_all() { # the Canal servers and the search node first (together), then Kafka, ZooKeeper, MariaDB; remove data
  stop_group canal canal-ha1 canal-ha2 search
  stop_group kafka
  stop_group zk
  stop_group mysql
  local s
  for s in "${ALL_SERVICES[@]}"; do rm -f "$D/$s.pid"; done
  rm -rf "$D/mysql" "$D/search" "$D/env" "$D/tmp" "$D/ports" "$CANAL_META" "$D/zk" "$D/kafka" "$D/stack.ha" "$D/stack.mq"
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
  # `start SERVICE` keeps the previous run's log in NAME.prev.log (readiness checks read LOGFILE afresh)
  if [[ "${RESTARTING:-0}" == 1 && -s "$logf" ]]; then cat "$logf" >> "${logf%.log}.prev.log"; fi
  : > "$logf"
  # close fd 3 (the caller's stdout: "$(stack.sh up)" must not wait on it) and fd 9 (the lock)
  setsid "$@" >> "$logf" 2>&1 < /dev/null 3>&- 9>&- &
  local pid=$! i
  echo "$pid" > "$D/$name.pid"
  # until the child has exec'd, its command line is still ours (without the state dir): pid_of
  # would call it gone
  for (( i = 0; i < 50; i++ )); do
    pid_of "$name" >/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
}

# ---------------------------------------------------------------- ports

pick_ports() { # pick_ports N: print N distinct free loopback ports, below the ephemeral range
  local n=$1
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$n" <<'PY'
import random, socket, sys
want = int(sys.argv[1])
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
    if len(got) == want:
        break
print(" ".join(map(str, got)))
PY
  else
    local got=() p
    while (( ${#got[@]} < n )); do
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

build_one() { # build_one MODULE [JDK]: compile the launcher and write its classpath (skipped when up to date)
  local dir="$STACK_SRC/$1" stamp="$STACK_SRC/$1/target/.stack-built" jdk=${2:-${JAVA_HOME:-}}
  if [[ -f "$stamp" && -s "$dir/target/classpath.txt" ]] \
     && [[ "$(cat "$stamp")" == "$MVN${2:+ $2}" ]] \
     && [[ -z "$(find "$dir/pom.xml" "$dir/src" -newer "$stamp" -print -quit)" ]] \
     && classpath_ok "$dir/target/classpath.txt"; then
    return 0
  fi
  log "building the $1 launcher with Maven (first run downloads into ~/.m2)"
  mkdir -p "$dir/target"
  JAVA_HOME=$jdk $MVN -B -q -Dstyle.color=never -f "$dir/pom.xml" compile dependency:build-classpath \
      -Dmdep.outputFile="$dir/target/classpath.txt" >> "$D/build.log" 2>&1 || return 1
  printf '%s' "$MVN${2:+ $2}" > "$stamp"
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
  mariadb-install-db --no-defaults --user="$me" --datadir="$data" --tmpdir="$D/tmp" \
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
  local mq_args=()
  if [[ "$RUNNING_MQ" == kafka ]]; then
    mq_args=(--mq-destination="$CANAL_MQ_DESTINATION" --mq-slave-id="$CANAL_MQ_SLAVE_ID"
             --kafka-brokers="127.0.0.1:$(port_of kafka_port)" --mq-topic="$KAFKA_TOPIC"
             --mq-partitions="$KAFKA_PARTITIONS" --mq-partition-hash="$CANAL_MQ_PARTITION_HASH"
             --mq-prop="${STACK_CANAL_MQ_PROPS:-}")
    log "starting Canal on 127.0.0.1:$port (auth $auth), destination $CANAL_MQ_DESTINATION to Kafka topic $KAFKA_TOPIC"
  else
    log "starting Canal on 127.0.0.1:$port (auth $auth)"
  fi
  spawn canal "$D/canal.log" "$JAVA" -Xms256m -Xmx512m "${JVM_COMMON[@]}" \
      --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED \
      --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
      -Dcanal.stack.dir="$D" \
      -cp "$dir/target/classes:$(cat "$dir/target/classpath.txt")" canales.stack.CanalMain \
      --ip=127.0.0.1 --port="$port" \
      --mysql-host=127.0.0.1 --mysql-port="$mysql_port" \
      --mysql-user="$CANAL_USER" --mysql-password="$CANAL_PASSWORD" \
      --destinations="$CANAL_DESTINATION" --slave-id="$CANAL_SLAVE_ID" \
      --filter='.*\..*' --auth="$auth" --user="$CANAL_USER" --meta-dir="$CANAL_META" "${mq_args[@]}"
}

# ---------------------------------------------------------------- HA: ZooKeeper + Canal cluster

# ZooKeeperServerMain comes with the zookeeper jar already on the Canal launcher's classpath.
# Short ticks bound the session timeout (max 10 s): a killed Canal server's running node goes soon.
start_zk() {
  local port=$1 dir="$STACK_SRC/canal"
  mkdir -p "$D/zk/data"
  cat > "$D/zk/zoo.cfg" <<ZKCFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$D/zk/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
minSessionTimeout=1000
maxSessionTimeout=10000
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
ZKCFG
  log "starting ZooKeeper on 127.0.0.1:$port"
  spawn zk "$D/zk.log" "$JAVA" -Xms64m -Xmx128m "${JVM_COMMON[@]}" \
      -cp "$dir/target/classes:$(cat "$dir/target/classpath.txt")" \
      org.apache.zookeeper.server.ZooKeeperServerMain "$D/zk/zoo.cfg"
}

zk_ok() { # zk_ok PORT: the server answers "imok" to "ruok"
  python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"ruok")
data = b""
while True:
    chunk = s.recv(16)
    if not chunk:
        break
    data += chunk
sys.exit(0 if data.startswith(b"imok") else 1)
PY
}

wait_zk() {
  local port=$1 deadline=$(( $(now) + TIMEOUT ))
  until zk_ok "$port"; do
    pid_of zk >/dev/null || die "ZooKeeper exited during startup" "$D/zk.log"
    (( $(now) < deadline )) || die "ZooKeeper not ready after ${TIMEOUT}s" "$D/zk.log"
    sleep 0.2
  done
  log "ZooKeeper ready on 127.0.0.1:$port"
}

start_canal_ha() { # start_canal_ha NAME PORT SLAVE_ID MYSQL_PORT ZK_PORT
  local name=$1 port=$2 slave_id=$3 mysql_port=$4 zk_port=$5 dir="$STACK_SRC/canal" auth=false
  [[ "$CANAL_AUTH" == 1 ]] && auth=true
  log "starting $name on 127.0.0.1:$port (cluster via ZooKeeper 127.0.0.1:$zk_port, destination $CANAL_HA_DESTINATION)"
  spawn "$name" "$D/$name.log" "$JAVA" -Xms128m -Xmx384m "${JVM_COMMON[@]}" \
      --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED \
      --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
      -Dcanal.stack.dir="$D" \
      -cp "$dir/target/classes:$(cat "$dir/target/classpath.txt")" canales.stack.CanalMain \
      --ip=127.0.0.1 --port="$port" \
      --mysql-host=127.0.0.1 --mysql-port="$mysql_port" \
      --mysql-user="$CANAL_USER" --mysql-password="$CANAL_PASSWORD" \
      --destinations="$CANAL_HA_DESTINATION" --slave-id="$slave_id" \
      --filter='.*\..*' --auth="$auth" --user="$CANAL_USER" --zk="127.0.0.1:$zk_port"
}

# ready = port bound (the launcher starts its ZooKeeper monitor before it binds), and when the
# server says it runs the destination, MariaDB lists its slave id
wait_canal_ha() { # wait_canal_ha NAME SLAVE_ID
  local name=$1 slave_id=$2 deadline=$(( $(now) + TIMEOUT )) hosts role
  while :; do
    pid_of "$name" >/dev/null || die "$name exited during startup" "$D/$name.log"
    if grep -q '^canal-stack: listening on ' "$D/$name.log"; then
      role=$(grep -E '^canal-stack: (active|standby) for destination' "$D/$name.log" | tail -n 1 | awk '{print $2}' || true)
      if [[ "$role" != active ]]; then role=standby; break; fi
      hosts=$(mysql_q "SHOW SLAVE HOSTS" 2>/dev/null | awk -v id="$slave_id" '$1 == id' || true)
      [[ -n "$hosts" ]] && break
    fi
    (( $(now) < deadline )) || die "$name not ready after ${TIMEOUT}s" "$D/$name.log" "$D/zk.log"
    sleep 0.2
  done
  log "$name ready ($role for destination $CANAL_HA_DESTINATION)"
}

NO_JDK21="STACK_SEARCH=os3 needs a JDK >= 21 (OpenSearch 3): none in STACK_JAVA21_HOME, JAVA_HOME or /usr/lib/jvm (Debian 12 ships only openjdk-17; scripts/bootstrap.sh installs openjdk-21-jdk-headless where the release has it)"

search_jdk() { # the JDK of the search node: '' (the stack's java) or, for os3, one >= 21 (fails without)
  if [[ "$SEARCH" == os3 ]]; then find_jdk21; fi
}

# ---------------------------------------------------------------- Kafka (STACK_MQ=kafka)

# One JVM (tests/stack/kafka, canales.stack.KafkaMain): formats the log dir on first start (StorageTool
# with a random cluster id), runs kafka.Kafka, creates the topic with exactly KAFKA_PARTITIONS partitions
# and prints "kafka-stack: ready" once every partition has a leader.
start_kafka() { # start_kafka PORT CONTROLLER_PORT
  local port=$1 cport=$2 dir="$STACK_SRC/kafka"
  mkdir -p "$D/kafka/data"
  cat > "$D/kafka/server.properties" <<KCFG
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$D/kafka/data
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=-1
log.retention.bytes=-1
KCFG
  log "starting Kafka on 127.0.0.1:$port (controller $cport, topic $KAFKA_TOPIC with $KAFKA_PARTITIONS partitions)"
  spawn kafka "$D/kafka.log" "$JAVA" -Xms256m -Xmx512m "${JVM_COMMON[@]}" \
      -Dlog4j2.disable.jmx=true \
      -cp "$dir/target/classes:$(cat "$dir/target/classpath.txt")" canales.stack.KafkaMain \
      --config="$D/kafka/server.properties" --bootstrap="127.0.0.1:$port" \
      --topic="$KAFKA_TOPIC" --partitions="$KAFKA_PARTITIONS" --timeout="$TIMEOUT"
}

wait_kafka() {
  local port=$1 deadline=$(( $(now) + TIMEOUT ))
  until grep -q '^kafka-stack: ready ' "$D/kafka.log"; do
    pid_of kafka >/dev/null || die "Kafka exited during startup" "$D/kafka.log"
    (( $(now) < deadline )) || die "Kafka not ready after ${TIMEOUT}s" "$D/kafka.log"
    sleep 0.2
  done
  log "Kafka ready on 127.0.0.1:$port (topic $KAFKA_TOPIC, $KAFKA_PARTITIONS partitions)"
}

start_search() {
  local http=$1 transport=$2 dir="$STACK_SRC/$SEARCH" java=$JAVA jdk extra=()
  jdk=$(search_jdk) || die "$NO_JDK21"
  if [[ -n "$jdk" ]]; then
    java="$jdk/bin/java"
    extra=(--enable-native-access=ALL-UNNAMED)
  fi
  log "starting $SEARCH on 127.0.0.1:$http (transport $transport)${jdk:+ with $jdk}"
  mkdir -p "$D/search"
  spawn search "$D/search.log" "$java" -Xms512m -Xmx512m "${JVM_COMMON[@]}" "${extra[@]}" \
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

mysql_conn_id() { # the id of a new connection: every connection opened later has a larger one
  mysql_q "SELECT CONNECTION_ID()" 2>/dev/null || echo 0
}

# ready = port bound AND MariaDB lists the replica with our slave id AND a binlog dump for the canal
# user runs on a connection opened after $3 (a connection id taken before the start: neither a dump of
# another Canal server nor the stale one of a previous run of this server counts)
wait_canal() { # wait_canal PORT MIN_CONN_ID
  local port=$1 since=${2:-0} deadline=$(( $(now) + TIMEOUT )) hosts dumps want=1 mq_ok=1
  [[ "$RUNNING_MQ" == kafka ]] && want=2   # the Kafka destination runs a dump of its own
  while :; do
    pid_of canal >/dev/null || die "Canal exited during startup" "$D/canal.log"
    # the launcher prints this line once the (synchronous) bind succeeded; probing the port
    # instead would make Canal log a "Connection reset" ERROR
    if grep -q '^canal-stack: listening on ' "$D/canal.log"; then
      hosts=$(mysql_q "SHOW SLAVE HOSTS" 2>/dev/null | awk -v id="$CANAL_SLAVE_ID" '$1 == id' || true)
      dumps=$(mysql_q "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' AND USER = '$CANAL_USER' AND ID > $since" 2>/dev/null || echo 0)
      if [[ "$RUNNING_MQ" == kafka ]]; then
        # the MQ worker has subscribed, and MariaDB lists the Kafka destination's replica too
        mq_ok=0
        if grep -qF "the MQ producer: $CANAL_MQ_DESTINATION is running now" "$D/canal.log" \
           && mysql_q "SHOW SLAVE HOSTS" 2>/dev/null | awk -v id="$CANAL_MQ_SLAVE_ID" '$1 == id' | grep -q .; then
          mq_ok=1
        fi
      fi
      if [[ -n "$hosts" && "${dumps:-0}" -ge "$want" && "$mq_ok" == 1 ]]; then break; fi
    fi
    (( $(now) < deadline )) || die "Canal not ready after ${TIMEOUT}s (port or binlog dump missing)" "$D/canal.log" "$D/mysql.log"
    sleep 0.2
  done
  log "Canal ready on 127.0.0.1:$port (replica $CANAL_SLAVE_ID dumping the binlog)"
  if [[ "$RUNNING_MQ" == kafka ]]; then
    log "Canal destination $CANAL_MQ_DESTINATION sends to Kafka topic $KAFKA_TOPIC (replica $CANAL_MQ_SLAVE_ID)"
  fi
}

# ---------------------------------------------------------------- commands

print_env() { cat "$D/env" >&3; }

cmd_up() {
  local t0 ports mysql_port canal_port http_port transport_port zk_port ha1_port ha2_port kafka_port kafka_cport build_pid
  t0=$(now)
  if all_up; then
    local running_search running_auth
    running_search=$(cat "$D/search.flavor" 2>/dev/null || echo "?")
    running_auth=$(cat "$D/canal.auth" 2>/dev/null || echo "?")
    # a stack with the HA cluster also serves callers that do not ask for it
    # and so does a stack with Kafka
    if [[ "$running_search" != "$SEARCH" || "$running_auth" != "$CANAL_AUTH" || "$RUNNING_HA" < "$HA" \
          || ( "$MQ" == kafka && "$RUNNING_MQ" != kafka ) ]]; then
      die "stack in $D is already up with STACK_SEARCH=$running_search STACK_CANAL_AUTH=$running_auth STACK_HA=$RUNNING_HA STACK_MQ=$RUNNING_MQ; run 'scripts/stack.sh down' first"
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
  echo "$HA" > "$D/stack.ha"
  RUNNING_HA=$HA
  echo "$MQ" > "$D/stack.mq"
  RUNNING_MQ=$MQ
  command -v "$JAVA" >/dev/null 2>&1 || die "java not found (apt-get install -y openjdk-17-jdk-headless)"
  command -v mariadb-install-db >/dev/null 2>&1 || die "mariadb-install-db not found (apt-get install -y mariadb-server mariadb-client)"

  # build the launchers in the background while MariaDB initialises
  local search_jdk
  search_jdk=$(search_jdk) || die "$NO_JDK21"
  ( build_one "$SEARCH" "$search_jdk" && build_one canal && if [[ "$MQ" == kafka ]]; then build_one kafka; fi ) 3>&- &
  build_pid=$!

  read -r mysql_port canal_port http_port transport_port zk_port ha1_port ha2_port kafka_port kafka_cport < <(pick_ports 9)
  [[ -n "${kafka_cport:-}" ]] || die "could not find free ports"
  # `start SERVICE` reuses these
  printf 'mysql_port=%s\ncanal_port=%s\nhttp_port=%s\ntransport_port=%s\n' \
      "$mysql_port" "$canal_port" "$http_port" "$transport_port" > "$D/ports"
  if [[ "$HA" == 1 ]]; then
    printf 'zk_port=%s\ncanal-ha1_port=%s\ncanal-ha2_port=%s\n' "$zk_port" "$ha1_port" "$ha2_port" >> "$D/ports"
  fi
  if [[ "$MQ" == kafka ]]; then
    printf 'kafka_port=%s\nkafka_controller_port=%s\n' "$kafka_port" "$kafka_cport" >> "$D/ports"
  fi

  start_mysql "$mysql_port"

  if ! wait "$build_pid"; then
    die "Maven build of the launchers failed" "$D/build.log"
  fi

  if [[ "$MQ" == kafka ]]; then
    # 2 cores: one JVM after the other. Kafka first: the topic must exist before Canal sends to it.
    start_kafka "$kafka_port" "$kafka_cport"
    wait_kafka "$kafka_port"
    start_search "$http_port" "$transport_port"
    wait_search "http://127.0.0.1:$http_port"
  else
    start_search "$http_port" "$transport_port"
  fi
  local since
  since=$(mysql_conn_id)
  start_canal "$canal_port" "$mysql_port"
  if [[ "$HA" == 1 ]]; then start_zk "$zk_port"; fi
  wait_canal "$canal_port" "$since"
  if [[ "$HA" == 1 ]]; then
    wait_zk "$zk_port"
    # one after the other: canal-ha1 becomes the running server, canal-ha2 the standby
    start_canal_ha canal-ha1 "$ha1_port" "$CANAL_HA1_SLAVE_ID" "$mysql_port" "$zk_port"
    wait_canal_ha canal-ha1 "$CANAL_HA1_SLAVE_ID"
    start_canal_ha canal-ha2 "$ha2_port" "$CANAL_HA2_SLAVE_ID" "$mysql_port" "$zk_port"
    wait_canal_ha canal-ha2 "$CANAL_HA2_SLAVE_ID"
  fi
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
STACK_DIR=$D
EOF
  if [[ "$HA" == 1 ]]; then
    cat >> "$D/env.tmp" <<EOF
ZK_ADDRESS=127.0.0.1:$zk_port
CANAL_HA_ADDRESSES=127.0.0.1:$ha1_port,127.0.0.1:$ha2_port
CANAL_HA_DESTINATION=$CANAL_HA_DESTINATION
EOF
  fi
  if [[ "$MQ" == kafka ]]; then
    cat >> "$D/env.tmp" <<EOF
KAFKA_BROKERS=127.0.0.1:$kafka_port
KAFKA_TOPIC=$KAFKA_TOPIC
KAFKA_PARTITIONS=$KAFKA_PARTITIONS
EOF
  fi
  mv "$D/env.tmp" "$D/env"
  STARTING=0
  if [[ "$MQ" == kafka ]]; then
    log "up in $(( $(now) - t0 ))s (state dir $D, search $SEARCH, HA $HA, MQ kafka)"
  else
    log "up in $(( $(now) - t0 ))s (state dir $D, search $SEARCH, HA $HA)"
  fi
  print_env
}

cmd_down() {
  stop_all
  rm -f "$D/search.flavor" "$D/canal.auth" "$D/stack.ha" "$D/stack.mq"
  log "down ($D; logs kept)"
}

cmd_env() {
  all_up || { log "stack is not up (state dir $D): run scripts/stack.sh up"; exit 1; }
  print_env
}

cmd_status() {
  if all_up; then
    if [[ "$RUNNING_MQ" == kafka ]]; then
      log "up ($D, search $(cat "$D/search.flavor" 2>/dev/null), HA $RUNNING_HA, MQ kafka)"
    else
      log "up ($D, search $(cat "$D/search.flavor" 2>/dev/null), HA $RUNNING_HA)"
    fi
    return 0
  fi
  local s
  for s in "${SERVICES[@]}"; do
    if pid_of "$s" >/dev/null; then log "$s: running"; else log "$s: not running"; fi
  done
  return 1
}

port_of() { # port_of KEY: a port recorded by `up`
  local v
  v=$(sed -n "s/^$1=//p" "$D/ports" 2>/dev/null | head -n 1)
  [[ "$v" =~ ^[0-9]+$ ]] || die "no $1 recorded in $D/ports: is the stack up?"
  echo "$v"
}

cmd_stop() { # cmd_stop SERVICE: stop that one service, keep its data
  local svc=$1
  [[ -s "$D/env" ]] || die "stack is not up (state dir $D)"
  ha_service_ok "$svc"
  if ! pid_of "$svc" >/dev/null; then
    log "$svc is not running"
    return 0
  fi
  stop_group "$svc"
  rm -f "$D/$svc.pid"
  log "$svc stopped (data kept; 'scripts/stack.sh start $svc' starts it again)"
}

cmd_start() { # cmd_start SERVICE: start it again on the same ports, wait until ready
  local svc=$1 since
  [[ -s "$D/env" ]] || die "stack is not up (state dir $D): run scripts/stack.sh up"
  ha_service_ok "$svc"
  if pid_of "$svc" >/dev/null; then
    log "$svc is already running"
    return 0
  fi
  pid_of mysql >/dev/null || die "MariaDB is not running (state dir $D): run scripts/stack.sh down, then up"
  RESTARTING=1
  case "$svc" in
    canal)
      since=$(mysql_conn_id)
      start_canal "$(port_of canal_port)" "$(port_of mysql_port)"
      wait_canal "$(port_of canal_port)" "$since"
      ;;
    search)
      # the node this stack was started with, whatever STACK_SEARCH says now
      SEARCH=$(cat "$D/search.flavor" 2>/dev/null || echo "$SEARCH")
      start_search "$(port_of http_port)" "$(port_of transport_port)"
      wait_search "http://127.0.0.1:$(port_of http_port)"
      ;;
    zk)
      start_zk "$(port_of zk_port)"
      wait_zk "$(port_of zk_port)"
      ;;
    kafka)
      start_kafka "$(port_of kafka_port)" "$(port_of kafka_controller_port)"
      wait_kafka "$(port_of kafka_port)"
      ;;
    canal-ha1|canal-ha2)
      local id=$CANAL_HA1_SLAVE_ID
      [[ "$svc" == canal-ha2 ]] && id=$CANAL_HA2_SLAVE_ID
      start_canal_ha "$svc" "$(port_of "${svc}_port")" "$id" "$(port_of mysql_port)" "$(port_of zk_port)"
      wait_canal_ha "$svc" "$id"
      ;;
  esac
}

ha_service_ok() { # the HA services exist only in a stack started with STACK_HA=1
  case "$1" in
    canal-ha1|canal-ha2|zk) [[ "$RUNNING_HA" == 1 ]] || die "$1: the stack in $D runs without STACK_HA=1" ;;
    kafka) [[ "$RUNNING_MQ" == kafka ]] || die "kafka: the stack in $D runs without STACK_MQ=kafka" ;;
  esac
}

cmd=${1:-}
svc=${2:-}
usage="usage: scripts/stack.sh up|down|env|status|stop SERVICE|start SERVICE (SERVICE: canal|search|canal-ha1|canal-ha2|zk|kafka)"
case "$cmd" in
  up|down|env|status) ;;
  stop|start)
    case "$svc" in canal|search|canal-ha1|canal-ha2|zk|kafka) ;; *) echo "$usage"; exit 2 ;; esac
    ;;
  *) echo "$usage" ; exit 2 ;;
esac

# one stack command at a time per state dir
exec 9> "$D/.lock"
flock -w 600 9 || die "could not lock $D/.lock"

if [[ "$cmd" == stop || "$cmd" == start ]]; then "cmd_$cmd" "$svc"; else "cmd_$cmd"; fi
