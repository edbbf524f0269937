#!/usr/bin/env bash
# Make sure RabbitMQ (127.0.0.1:5672, guest/guest) and Redis (127.0.0.1:6379) answer: the Celery
# deployment test uses them as broker and result backend. Starts them when installed but
# stopped; installs Debian's packages (without recommends) when missing.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done; return 1; }

if ! port_open 5672; then
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    echo "ensure_brokers: installing rabbitmq-server from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null
  fi
  echo "ensure_brokers: starting RabbitMQ"
  (service rabbitmq-server start || rabbitmq-server -detached) >/dev/null 2>&1 || true
  wait_port 5672 || { echo "RabbitMQ is not answering on 127.0.0.1:5672" >&2; exit 1; }
fi
if ! port_open 6379; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "ensure_brokers: installing redis-server from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  fi
  echo "ensure_brokers: starting Redis"
  redis-server --bind 127.0.0.1 --port 6379 --save '' --daemonize yes >/dev/null
  wait_port 6379 || { echo "Redis is not answering on 127.0.0.1:6379" >&2; exit 1; }
fi
