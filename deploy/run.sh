#!/usr/bin/env bash
# `make run`: Kafka, topics, the seed petition, the worker (the Faust pipeline), the
# serve process (ClickHouse sink + dashboard + JSON API), the intake (sign form + HTTP
# intake), Mailpit with the mailer (confirmation mails) and a demo feed whose signers
# follow 80 % of their links. Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
port="${COUNTERSIGN_API_PORT:-6066}"
worker_port="${COUNTERSIGN_WORKER_PORT:-6067}"
intake_port="${COUNTERSIGN_INTAKE_PORT:-8080}"
rate="${DEMO_RATE:-20}"
mail_ui="${MAILPIT_UI:-127.0.0.1:8025}"
mail_smtp="${MAILPIT_SMTP:-127.0.0.1:1025}"
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
# Mailpit keeps the last 5,000 mails (the demo's signers delete theirs once read).
.cache/bin/mailpit --smtp "$mail_smtp" --listen "$mail_ui" --database .data/mailpit.db \
  --max 5000 --disable-version-check --quiet >.data/mailpit.log 2>&1 &
pids+=($!)
"$bin/countersign" worker --loglevel info >.data/worker.log 2>&1 &
pids+=($!)
"$bin/countersign" serve >.data/serve.log 2>&1 &
pids+=($!)
echo "worker and API starting (logs: .data/worker.log, .data/serve.log)…"
wait_for Mailpit "${pids[0]}" "http://$mail_ui/api/v1/messages?limit=1" .data/mailpit.log
wait_for worker "${pids[1]}" "http://127.0.0.1:$worker_port/healthz" .data/worker.log
wait_for "API process" "${pids[2]}" "http://127.0.0.1:$port/healthz" .data/serve.log
# The demo's signers follow their links through loopback, each saying its own network
# (X-Forwarded-For), which the intake believes of 127.0.0.1 only: it limits how many
# links one client may follow (COUNTERSIGN_INTAKE_CONFIRM_RATE_LIMITS).
COUNTERSIGN_INTAKE_TRUSTED_PROXIES="${COUNTERSIGN_INTAKE_TRUSTED_PROXIES:-127.0.0.1}" \
  "$bin/countersign" intake >.data/intake.log 2>&1 &
pids+=($!)
wait_for intake "${pids[3]}" "http://127.0.0.1:$intake_port/healthz" .data/intake.log
COUNTERSIGN_SMTP_URL="smtp://$mail_smtp" "$bin/countersign" mailer >.data/mailer.log 2>&1 &
pids+=($!)
"$bin/countersign" simulate --count 0 --rate "$rate" --follow-links 0.8 \
  --mailpit-api "http://$mail_ui" >.data/simulate.log 2>&1 &
pids+=($!)
echo
echo "  Dashboard:  http://127.0.0.1:$port/?petition=syria-icc   (ready after $((SECONDS - started)) s)"
echo "  Sign form:  http://127.0.0.1:$intake_port/petitions/syria-icc/sign   (log: .data/intake.log)"
echo "  API:        http://127.0.0.1:$port/api/petitions/syria-icc/counts"
echo "  Mail:       http://$mail_ui/   (Mailpit: your confirmation mail lands here; log: .data/mailer.log)"
echo "  Demo feed:  $rate signatures/s, 80 % of its signers confirm (log: .data/simulate.log)."
echo "  Ctrl-C stops everything."
echo
wait -n "${pids[@]}"
