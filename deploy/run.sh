#!/usr/bin/env bash
# `make run`: Kafka, topics, the seed petition, the worker (pipeline + ClickHouse sink +
# dashboard), the intake (sign form + HTTP API) and a demo feed. Ctrl-C stops everything
# this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
port="${COUNTERSIGN_WORKER_PORT:-6066}"
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

started=$SECONDS
"$bin/countersign" worker --loglevel info >.data/worker.log 2>&1 &
pids+=($!)
echo "worker starting (log: .data/worker.log)…"
until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
  kill -0 "${pids[0]}" 2>/dev/null || { echo "the worker exited:"; tail -20 .data/worker.log; exit 1; }
  sleep 1
done
"$bin/countersign" intake >.data/intake.log 2>&1 &
pids+=($!)
until curl -fs "http://127.0.0.1:$intake_port/healthz" >/dev/null 2>&1; do
  kill -0 "${pids[1]}" 2>/dev/null || { echo "the intake exited:"; tail -20 .data/intake.log; exit 1; }
  sleep 0.5
done
"$bin/countersign" simulate --count 0 --rate "$rate" >.data/simulate.log 2>&1 &
pids+=($!)
echo
echo "  Dashboard:  http://127.0.0.1:$port/?petition=syria-icc   (ready after $((SECONDS - started)) s)"
echo "  Sign form:  http://127.0.0.1:$intake_port/petitions/syria-icc/sign   (log: .data/intake.log)"
echo "  API:        http://127.0.0.1:$port/api/petitions/syria-icc/counts"
echo "  Demo feed:  $rate signatures/s (log: .data/simulate.log).  Ctrl-C stops everything."
echo
wait "${pids[0]}"
