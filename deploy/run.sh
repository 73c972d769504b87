#!/usr/bin/env bash
# `make run`: Kafka, topics, the seed petition, the worker (the Faust pipeline), the
# serve process (ClickHouse sink + dashboard + JSON API), the intake (sign form + HTTP
# intake) and a demo feed. Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
port="${COUNTERSIGN_API_PORT:-6066}"
worker_port="${COUNTERSIGN_WORKER_PORT:-6067}"
intake_port="${COUNTERSIGN_INTAKE_PORT:-8080}"
rate="${DEMO_RATE:-20}"
mkdir -p .data
pids=()
kafka_started=0

cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $kafka_started == 1 ]]; then deploy/kafka/kafka.sh down; fi
  echo "stopped."
}
trap cleanup INT TERM EXIT

if ! deploy/kafka/kafka.sh status | grep -q running; then kafka_started=1; fi
PYTHON="$bin/python" deploy/kafka/kafka.sh up >/dev/null
"$bin/countersign" topics create >/dev/null
"$bin/countersign" petitions add --file deploy/petitions/syria-icc.json

# wait_for NAME PID URL LOG: until URL answers, or say why NAME exited.
wait_for() {
  until curl -fs "$3" >/dev/null 2>&1; do
    kill -0 "$2" 2>/dev/null || { echo "the $1 exited:"; tail -20 "$4"; exit 1; }
    sleep 0.5
  done
}

started=$SECONDS
"$bin/countersign" worker --loglevel info >.data/worker.log 2>&1 &
pids+=($!)
"$bin/countersign" serve >.data/serve.log 2>&1 &
pids+=($!)
echo "worker and API starting (logs: .data/worker.log, .data/serve.log)…"
wait_for worker "${pids[0]}" "http://127.0.0.1:$worker_port/healthz" .data/worker.log
wait_for "API process" "${pids[1]}" "http://127.0.0.1:$port/healthz" .data/serve.log
"$bin/countersign" intake >.data/intake.log 2>&1 &
pids+=($!)
wait_for intake "${pids[2]}" "http://127.0.0.1:$intake_port/healthz" .data/intake.log
"$bin/countersign" simulate --count 0 --rate "$rate" >.data/simulate.log 2>&1 &
pids+=($!)
echo
echo "  Dashboard:  http://127.0.0.1:$port/?petition=syria-icc   (ready after $((SECONDS - started)) s)"
echo "  Sign form:  http://127.0.0.1:$intake_port/petitions/syria-icc/sign   (log: .data/intake.log)"
echo "  API:        http://127.0.0.1:$port/api/petitions/syria-icc/counts"
echo "  Demo feed:  $rate signatures/s (log: .data/simulate.log).  Ctrl-C stops everything."
echo
wait -n "${pids[@]}"
