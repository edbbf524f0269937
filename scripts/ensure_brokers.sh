#!/usr/bin/env bash
# Make sure RabbitMQ (127.0.0.1:5672, guest/guest) and Redis (127.0.0.1:6379) answer: the Celery
# deployment test uses them as broker and result backend. Starts them when installed but
# stopped; installs Debian's packages (without recommends) when missing.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ensure NAME PORT PACKAGE BINARY START-COMMAND...
ensure() {
  local name=$1 port=$2 package=$3 binary=$4
  shift 4
  port_open "$port" && return 0
  if ! command -v "$binary" >/dev/null 2>&1; then
    echo "ensure_brokers: installing $package from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null
  fi
  echo "ensure_brokers: starting $name"
  "$@" >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do port_open "$port" && return 0; sleep 1; done
  echo "$name is not answering on 127.0.0.1:$port" >&2
  exit 1
}

ensure RabbitMQ 5672 rabbitmq-server rabbitmq-server \
  sh -c 'service rabbitmq-server start || rabbitmq-server -detached'
ensure Redis 6379 redis-server redis-server \
  redis-server --bind 127.0.0.1 --port 6379 --save '' --daemonize yes
