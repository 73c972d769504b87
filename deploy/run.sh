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
names=()
logs=()
kafka_started=0

# port_taken PORT WHAT SETTING: say who holds PORT (when `ss` can tell) and stop,
# before anything starts: a process that cannot bind dies quietly in its log.
port_taken() {
  if "$bin/python" -c "import socket, sys; socket.create_server(('127.0.0.1', int(sys.argv[1]))).close()" "$1" 2>/dev/null; then
    return 0
  fi
  holder=$(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -1 || true)
  echo "make run: port $1 ($2) is already in use${holder:+ by $holder}." >&2
  echo "  Stop that process, or choose another port with $3=<port>." >&2
  exit 1
}
port_taken "$port" "the API and dashboard" COUNTERSIGN_API_PORT
port_taken "$worker_port" "the worker's health and metrics" COUNTERSIGN_WORKER_PORT
port_taken "$intake_port" "the intake and sign form" COUNTERSIGN_INTAKE_PORT
port_taken "${mail_ui##*:}" "Mailpit's web UI" MAILPIT_UI
port_taken "${mail_smtp##*:}" "Mailpit's SMTP" MAILPIT_SMTP

cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $kafka_started == 1 ]]; then deploy/kafka/kafka.sh down; fi
  echo "stopped."
}
# Ctrl-C is the way to stop: everything stops, and the script ends there, quietly,
# not in the report below of processes that stopped by themselves (a TERM, too, but
# with the status of one).
trap 'cleanup; exit 0' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# start NAME LOG COMMAND...: run COMMAND in the background, logging to LOG.
start() {
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  pids+=($!)
  names+=("$name")
  logs+=("$log")
}

# The demo keeps the petitions' public logs (docs/transparency.md) with the public
# development keys: the thank-you page hands out receipts, /receipt checks them.
export COUNTERSIGN_TRANSPARENCY_LOG="${COUNTERSIGN_TRANSPARENCY_LOG:-true}"

if ! deploy/kafka/kafka.sh status | grep -q running; then kafka_started=1; fi
PYTHON="$bin/python" deploy/kafka/kafka.sh up >/dev/null
"$bin/countersign" topics create >/dev/null
"$bin/countersign" petitions add --file deploy/petitions/syria-icc.json

# tell_why LOG: the first error LOG holds (a crash's cause can sit above many lines of
# shutdown), then its last lines.
tell_why() {
  grep -m1 -E '\[(ERROR|CRITICAL)\]| (ERROR|CRITICAL) ' "$1" | sed 's/^/  first error: /' >&2 || true
  echo "  the last lines of $1:" >&2
  tail -20 "$1" | sed 's/^/  | /' >&2 || true
}

# wait_for NAME PID URL LOG: until URL answers, or say why NAME exited.
wait_for() {
  until curl -fs "$3" >/dev/null 2>&1; do
    kill -0 "$2" 2>/dev/null || { echo "make run: the $1 exited before it answered." >&2; tell_why "$4"; exit 1; }
    sleep 0.5
  done
}

# A new local cluster (its data directory deleted, the rest kept) leaves the worker's tables
# and ClickHouse's rows of the old one: the worker would refuse them
# (streams/worker/main.py, check_state_cluster). Moved aside, and said.
marker=.data/faust/kafka-cluster-id
cluster_id="${KAFKA_DATA_DIR:-.data/kafka}/cluster.id"
if [[ -f $marker && -f $cluster_id && "$(cat "$marker")" != "$(cat "$cluster_id")" ]]; then
  stale=".data/stale-$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$stale"
  for kept in .data/faust .data/clickhouse; do [[ -e $kept ]] && mv "$kept" "$stale/"; done
  echo "make run: ${cluster_id%/cluster.id} holds a new Kafka cluster; the state of the old one (.data/faust, .data/clickhouse) is moved to $stale/"
fi

started=$SECONDS
# Mailpit keeps the last 5,000 mails (the demo's signers delete theirs once read).
start Mailpit .data/mailpit.log .cache/bin/mailpit --smtp "$mail_smtp" --listen "$mail_ui" \
  --database .data/mailpit.db --max 5000 --disable-version-check --quiet
start worker .data/worker.log "$bin/countersign" worker --loglevel info
start "API process" .data/serve.log "$bin/countersign" serve
echo "worker and API starting (logs: .data/worker.log, .data/serve.log)…"
wait_for Mailpit "${pids[0]}" "http://$mail_ui/api/v1/messages?limit=1" .data/mailpit.log
wait_for worker "${pids[1]}" "http://127.0.0.1:$worker_port/healthz" .data/worker.log
wait_for "API process" "${pids[2]}" "http://127.0.0.1:$port/healthz" .data/serve.log
# The demo's signers follow their links through loopback, each saying its own network
# (X-Forwarded-For), which the intake believes of 127.0.0.1 only: it limits how many
# links one client may follow (COUNTERSIGN_INTAKE_CONFIRM_RATE_LIMITS).
start intake .data/intake.log env \
  COUNTERSIGN_INTAKE_TRUSTED_PROXIES="${COUNTERSIGN_INTAKE_TRUSTED_PROXIES:-127.0.0.1}" \
  "$bin/countersign" intake
wait_for intake "${pids[3]}" "http://127.0.0.1:$intake_port/healthz" .data/intake.log
start mailer .data/mailer.log env COUNTERSIGN_SMTP_URL="smtp://$mail_smtp" \
  "$bin/countersign" mailer
start "demo feed" .data/simulate.log "$bin/countersign" simulate --count 0 --rate "$rate" \
  --follow-links 0.8 --mailpit-api "http://$mail_ui"
echo
echo "  Dashboard:  http://127.0.0.1:$port/?petition=syria-icc   (ready after $((SECONDS - started)) s)"
echo "  Sign form:  http://127.0.0.1:$intake_port/petitions/syria-icc/sign   (log: .data/intake.log)"
echo "  API:        http://127.0.0.1:$port/api/petitions/syria-icc/counts"
echo "  Mail:       http://$mail_ui/   (Mailpit: your confirmation mail lands here; log: .data/mailer.log)"
if [[ $COUNTERSIGN_TRANSPARENCY_LOG == true ]]; then
  echo "  Receipts:   http://127.0.0.1:$port/receipt   (the thank-you page links there; audit: countersign audit-log syria-icc)"
fi
echo "  Demo feed:  $rate signatures/s, 80 % of its signers confirm (log: .data/simulate.log)."
echo "  Ctrl-C stops everything."
echo
status=0
wait -n "${pids[@]}" || status=$?
# Name what stopped, and why, here rather than only in its log.
for i in "${!pids[@]}"; do
  if ! kill -0 "${pids[$i]}" 2>/dev/null; then
    echo "make run: the ${names[$i]} stopped (exit status $status)." >&2
    tell_why "${logs[$i]}"
  fi
done
exit 1
