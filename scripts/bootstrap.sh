#!/usr/bin/env bash
# Installs every system package canal-es needs to build, test and run its
# demo stack (Debian packages via apt-get). Idempotent; silent when all are
# already installed.
#   STACK_MQ=kafka  also the tools of the Kafka test stack (kcat, to read the topic back)
set -euo pipefail

PACKAGES=(
  # build
  gcc make cmake pkg-config
  protobuf-c-compiler libprotobuf-c-dev
  libcurl4-openssl-dev libyajl-dev libinih-dev libssl-dev libzookeeper-mt-dev zlib1g-dev libmicrohttpd-dev
  libmariadb-dev
  # the Kafka source (issue 15): librdkafka 2.0.2 on Debian 12
  librdkafka-dev
  # tests
  libcmocka-dev python3 curl ca-certificates procps
  # TLS/credential tests: an HTTPS reverse proxy and a throwaway CA
  nginx openssl
  # fuzzing (libFuzzer ships with clang's runtime)
  clang libclang-rt-14-dev
  # the local stack: MariaDB, Java launchers for Canal and the search node
  mariadb-server mariadb-client openjdk-17-jdk-headless maven
)
# the Kafka test stack (scripts/stack.sh with STACK_MQ=kafka): its tests read the topic with kcat
if [ "${STACK_MQ:-}" = kafka ]; then
  PACKAGES+=(kcat)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# STACK_SEARCH=os3 (OpenSearch 3) needs a JDK >= 21: the one under /usr/lib/jvm when there is one (these
# machines carry a Temurin 25 there), else Debian's openjdk-21/-25 where the release has it (Debian 12 has not)
have_jdk21() {
  local d v
  for d in ${STACK_JAVA21_HOME:-} ${JAVA_HOME:-} /usr/lib/jvm/*/; do
    d=${d%/}
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$d/release" 2>/dev/null | head -n 1)
    [[ "$v" =~ ^[0-9]+$ ]] && (( v >= 21 )) && [[ -x "$d/bin/java" ]] && return 0
  done
  return 1
}
need_jdk21=0
if [[ " ${STACK_SEARCH:-} ${TEST_NODES:-} " == *" os3 "* ]] && ! have_jdk21; then need_jdk21=1; fi

[ ${#missing[@]} -eq 0 ] && [ "$need_jdk21" -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "bootstrap: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Do not let package scripts start a system-wide MariaDB: the stack runs its own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq >&2
if [ "$need_jdk21" -eq 1 ]; then
  for p in openjdk-25-jdk-headless openjdk-21-jdk-headless; do
    if apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then missing+=("$p"); need_jdk21=0; break; fi
  done
  if [ "$need_jdk21" -eq 1 ]; then
    echo "bootstrap: no JDK >= 21 in /usr/lib/jvm and none in this release's packages: STACK_SEARCH=os3 cannot run here (set STACK_JAVA21_HOME to one)" >&2
  fi
fi
[ ${#missing[@]} -eq 0 ] && exit 0
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
