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
[ ${#missing[@]} -eq 0 ] && exit 0

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
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
