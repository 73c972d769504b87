#!/usr/bin/env bash
# Run Apache Kafka in KRaft mode (combined broker+controller nodes) on 127.0.0.1,
# straight from Maven Central's jars and the machine's Java 17. No Docker.
#
#   deploy/kafka/kafka.sh fetch              download the jars into the cache (once)
#   deploy/kafka/kafka.sh up     [--cluster] [--secure] start (formats storage on first
#                                    start), wait until ready; prints the bootstrap servers
#   deploy/kafka/kafka.sh down   [--cluster] stop (SIGTERM, then SIGKILL after 30 s)
#   deploy/kafka/kafka.sh status [--cluster] one line per node
#   deploy/kafka/kafka.sh kill N [--cluster] SIGKILL node N (for failure tests)
#   deploy/kafka/kafka.sh start N [--cluster] start node N again
#
# Single mode: one node, broker on port 9092.
# Cluster mode: three nodes, replication factor 3, min.insync.replicas=2,
#               brokers on 19092, 19192, 19292 (so it can run beside single mode).
# --secure:     each node also listens as a managed Kafka does, with a certificate
#               that a local CA made with the JDK's keytool signed:
#                 SASL_SSL on its broker port + 2 (9094; 19094, 19194, 19294): TLS,
#                   and SASL with SCRAM-SHA-512 or PLAIN;
#                 SSL on its broker port + 3 (9095; 19095, ...): TLS that requires a
#                   client certificate signed by the CA (mutual TLS).
#               Made once, under $KAFKA_DATA_DIR/tls:
#                 ca.pem          the CA certificate clients trust
#                 sasl-password   the password of the user "countersign"
#                 client.pem, client-key.pem   a client certificate and its key
#               `up --secure` prints the SASL_SSL bootstrap servers on a second line
#               and the mutual-TLS ones on a third; a node started again (start N)
#               keeps its listeners. Plaintext stays on the broker port for the
#               brokers and the local tools.
#
# Environment (all optional):
#   KAFKA_DATA_DIR   where data, logs and pid files go (git-ignored .data/ by default)
#   KAFKA_PORT       first broker port (node N listens on KAFKA_PORT + 100*(N-1),
#                    its controller on that port + 1)
#   KAFKA_HEAP       JVM heap per node (1g single, 512m per cluster node)
#   COUNTERSIGN_CACHE  jar cache outside the repository (~/.cache/countersign)
#   PYTHON           interpreter with confluent-kafka, used for the readiness check
#   KAFKA_SASL_USERNAME  the SASL user --secure makes (countersign)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
cache="${COUNTERSIGN_CACHE:-$HOME/.cache/countersign}"
libs="$cache/kafka-$kafka_version/libs"
python="${PYTHON:-$repo/.venv/bin/python}"

log() { printf 'kafka: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command="${1:-}"; shift || true
node_arg=""
mode="single"
secure=""
for arg in "$@"; do
  case "$arg" in
    --cluster) mode="cluster" ;;
    --secure) secure=1 ;;
    [0-9]*) node_arg="$arg" ;;
    *) die "unknown argument '$arg' (see the header of $0)" ;;
  esac
done

if [[ "$mode" == cluster ]]; then
  nodes=3; default_port=19092; default_heap=512m; default_dir="$repo/.data/kafka-cluster"
else
  nodes=1; default_port=9092; default_heap=1g; default_dir="$repo/.data/kafka"
fi
base_port="${KAFKA_PORT:-$default_port}"
heap="${KAFKA_HEAP:-$default_heap}"
data_dir="${KAFKA_DATA_DIR:-$default_dir}"

broker_port() { echo $((base_port + 100 * ($1 - 1))); }
controller_port() { echo $(($(broker_port "$1") + 1)); }
secure_port() { echo $(($(broker_port "$1") + 2)); }
mtls_port() { echo $(($(broker_port "$1") + 3)); }
tls_dir="$data_dir/tls"
sasl_user="${KAFKA_SASL_USERNAME:-countersign}"
is_secure() { [[ -f "$tls_dir/sasl-password" ]]; }
node_dir() { echo "$data_dir/node-$1"; }
pid_of() { cat "$(node_dir "$1")/kafka.pid" 2>/dev/null || true; }
alive() { local pid; pid="$(pid_of "$1")"; [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }
bootstrap() {
  local out="" i
  for ((i = 1; i <= nodes; i++)); do out+="${out:+,}127.0.0.1:$(broker_port "$i")"; done
  echo "$out"
}
secure_bootstrap() {
  local out="" i
  for ((i = 1; i <= nodes; i++)); do out+="${out:+,}127.0.0.1:$(secure_port "$i")"; done
  echo "$out"
}
mtls_bootstrap() {
  local out="" i
  for ((i = 1; i <= nodes; i++)); do out+="${out:+,}127.0.0.1:$(mtls_port "$i")"; done
  echo "$out"
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

fetch() {
  if [[ -f "$libs/kafka_2.13-$kafka_version.jar" ]]; then return 0; fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka's jars"
  log "fetching Apache Kafka $kafka_version from Maven Central into $libs"
  mkdir -p "$libs.partial"
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs.partial" >&2 \
    || die "Maven could not fetch the Kafka jars (see the output above)"
  rm -rf "$libs" && mv "$libs.partial" "$libs"
}

java_bin() {
  local java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
  command -v "$java" >/dev/null || die "Java 17 or newer is needed (set JAVA_HOME or put java on PATH)"
  local major
  major="$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = \([0-9]*\).*/\1/p')"
  (( major >= 17 )) || die "Kafka $kafka_version needs Java 17 or newer; found $major"
  echo "$java"
}

random_hex() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

make_tls() {
  # A local CA; a broker certificate it signs for 127.0.0.1 and localhost (every node
  # shares it: they all listen on loopback), and a client certificate for mutual TLS.
  # Clients trust ca.pem. Made again whole when an older run made no client certificate.
  [[ -f "$tls_dir/client-key.pem" ]] && return 0
  local java keytool pw
  java="$(java_bin)"; keytool="$(dirname "$java")/keytool"
  [[ -x "$keytool" ]] || keytool="$(command -v keytool)" || die "keytool (from the JDK) is needed for --secure"
  rm -rf "$tls_dir.partial" && mkdir -p "$tls_dir.partial" && chmod 700 "$tls_dir.partial"
  pw="$(random_hex)"
  (
    cd "$tls_dir.partial"
    printf '%s' "$pw" >store-password
    kt=("$keytool" -storetype PKCS12 -storepass "$pw")
    "${kt[@]}" -genkeypair -alias ca -keyalg RSA -keysize 2048 -validity 3650 \
      -dname "CN=Countersign local CA" -ext bc:c -keystore ca.p12
    "${kt[@]}" -exportcert -rfc -alias ca -keystore ca.p12 -file ca.pem
    "${kt[@]}" -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 3650 \
      -dname "CN=localhost" -keystore broker.p12
    "${kt[@]}" -certreq -alias broker -keystore broker.p12 -file broker.csr
    "${kt[@]}" -gencert -alias ca -keystore ca.p12 -infile broker.csr -outfile broker.pem -rfc \
      -validity 3650 -ext SAN=ip:127.0.0.1,dns:localhost -ext eku=serverAuth
    "${kt[@]}" -importcert -noprompt -alias ca -file ca.pem -keystore broker.p12
    "${kt[@]}" -importcert -noprompt -alias broker -file broker.pem -keystore broker.p12
    # What the mutual-TLS listener trusts: certificates this CA signed.
    "${kt[@]}" -importcert -noprompt -alias ca -file ca.pem -keystore truststore.p12
    "${kt[@]}" -genkeypair -alias client -keyalg RSA -keysize 2048 -validity 3650 \
      -dname "CN=countersign" -keystore client.p12
    "${kt[@]}" -certreq -alias client -keystore client.p12 -file client.csr
    "${kt[@]}" -gencert -alias ca -keystore ca.p12 -infile client.csr -outfile client.pem -rfc \
      -validity 3650 -ext eku=clientAuth
    # keytool exports no private key: PEM (what librdkafka and Python's ssl read) from
    # the PKCS#12 store, with the cryptography package the clients already need.
    "$python" - "$pw" <<'PY'
import sys
from pathlib import Path
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
key, _, _ = pkcs12.load_key_and_certificates(Path("client.p12").read_bytes(), sys.argv[1].encode())
pem = key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
Path("client-key.pem").write_bytes(pem)
PY
    chmod 600 client-key.pem
    random_hex >sasl-password
  ) >"$data_dir/keytool.log" 2>&1 || die "keytool failed: $(cat "$data_dir/keytool.log")"
  rm -rf "$tls_dir" && mv "$tls_dir.partial" "$tls_dir"
  log "made a local CA and a broker certificate in $tls_dir (clients trust ca.pem)"
}

add_sasl_user() {
  # SCRAM credentials live in the cluster's metadata: (re)set them over plaintext.
  local java
  java="$(java_bin)"
  "$java" -cp "$libs/*" -Dlog4j2.configurationFile="$here/log4j2.xml" -Dkafka.logs.dir="$data_dir" kafka.admin.ConfigCommand \
    --bootstrap-server "$(bootstrap)" --alter --entity-type users --entity-name "$sasl_user" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$(cat "$tls_dir/sasl-password")]" \
    >"$data_dir/scram.log" 2>&1 || die "could not add the SCRAM user $sasl_user: $(cat "$data_dir/scram.log")"
  log "SASL_SSL on $(secure_bootstrap): user $sasl_user, password in $tls_dir/sasl-password"
}

secure_config() {
  # The SASL_SSL and mutual-TLS listeners' part of server.properties.
  local pw
  pw="$(cat "$tls_dir/store-password")"
  cat <<EOF
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
ssl.truststore.type=PKCS12
ssl.truststore.location=$tls_dir/truststore.p12
ssl.truststore.password=$pw
listener.name.ssl.ssl.client.auth=required
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls_dir/broker.p12
ssl.keystore.password=$pw
ssl.key.password=$pw
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user="$(cat "$tls_dir/sasl-password")";
EOF
}

write_config() {
  local n=$1 dir voters="" i rf=$((nodes < 3 ? nodes : 3)) isr=$((nodes < 3 ? 1 : 2)) secure_listener=""
  dir="$(node_dir "$n")"
  if is_secure; then
    secure_listener=",SASL_SSL://127.0.0.1:$(secure_port "$n"),SSL://127.0.0.1:$(mtls_port "$n")"
  fi
  for ((i = 1; i <= nodes; i++)); do voters+="${voters:+,}$i@127.0.0.1:$(controller_port "$i")"; done
  cat >"$dir/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh; edit the script, not this file.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")$secure_listener
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n")$secure_listener
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
log.dirs=$dir/data
# Topics are created on purpose (countersign topics create, Faust's own topics).
auto.create.topics.enable=false
num.partitions=6
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=12
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
# Tests and demos start consumers in quick succession: do not wait 3 s to rebalance.
group.initial.rebalance.delay.ms=0
# signatures.submitted must take oversized events so that the validate agent can reject them.
message.max.bytes=2097152
EOF
  if is_secure; then secure_config >>"$dir/server.properties"; fi
}

start_node() {
  local n=$1 dir java
  dir="$(node_dir "$n")"
  if alive "$n"; then log "node $n already running (pid $(pid_of "$n"))"; return 0; fi
  if port_busy "$(broker_port "$n")"; then
    die "port $(broker_port "$n") is taken by a process this script did not start"
  fi
  java="$(java_bin)"
  mkdir -p "$dir/data" "$dir/logs"
  write_config "$n"
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    [[ -f "$data_dir/cluster.id" ]] || \
      "$java" -cp "$libs/*" kafka.tools.StorageTool random-uuid >"$data_dir/cluster.id"
    "$java" -cp "$libs/*" -Dlog4j2.configurationFile="$here/log4j2.xml" -Dkafka.logs.dir="$dir/logs" \
      kafka.tools.StorageTool format -t "$(cat "$data_dir/cluster.id")" -c "$dir/server.properties" \
      >"$dir/logs/format.log" 2>&1 || die "formatting node $n failed: $(cat "$dir/logs/format.log")"
  fi
  nohup "$java" -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/log4j2.xml" -Dkafka.logs.dir="$dir/logs" \
    -cp "$libs/*" kafka.Kafka "$dir/server.properties" \
    >"$dir/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/kafka.pid"
  log "node $n starting (pid $!, broker 127.0.0.1:$(broker_port "$n"), logs $dir/logs)"
}

wait_ready() {
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90})) want=${1:-$nodes}
  while ((SECONDS < deadline)); do
    for ((i = 1; i <= nodes; i++)); do
      [[ -z "$(pid_of "$i")" ]] || alive "$i" || [[ "$want" -lt "$nodes" ]] || \
        die "node $i exited during start-up; last lines of its log:
$(tail -n 20 "$(node_dir "$i")/logs/server.log" 2>/dev/null)"
    done
    if [[ -x "$python" ]] && "$python" - "$(bootstrap)" "$want" <<'EOF' 2>/dev/null
import sys
from confluent_kafka.admin import AdminClient
metadata = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(timeout=2)
sys.exit(0 if len(metadata.brokers) >= int(sys.argv[2]) else 1)
EOF
    then log "ready: $(bootstrap) answers metadata requests"; return 0; fi
    if [[ ! -x "$python" ]] && grep -q "Kafka Server started" "$(node_dir 1)/logs/server.log" 2>/dev/null; then
      log "ready (log says started; no Python at $python for a metadata check)"; return 0
    fi
    sleep 0.5
  done
  die "not ready after ${KAFKA_START_TIMEOUT:-90} s; see $(node_dir 1)/logs/server.log"
}

stop_node() {
  local n=$1 sig=${2:-TERM} pid
  pid="$(pid_of "$n")"
  if ! alive "$n"; then rm -f "$(node_dir "$n")/kafka.pid"; return 0; fi
  kill -"$sig" "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "node $n did not stop in 30 s; SIGKILL"; kill -KILL "$pid"; fi
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$(node_dir "$n")/kafka.pid"
  log "node $n stopped ($sig)"
}

case "$command" in
  fetch) fetch ;;
  up)
    fetch
    mkdir -p "$data_dir"
    if ! alive 1 && port_busy "$(broker_port 1)"; then
      # Another checkout's broker (or one started by hand) already serves this port.
      wait_ready && { log "reusing the broker that already answers there"; echo "$(bootstrap)"; exit 0; }
    fi
    if [[ -n "$secure" ]]; then
      make_tls
      if alive 1 && ! grep -q '^listeners=.*,SSL://' "$(node_dir 1)/server.properties"; then
        die "the running broker has no SASL_SSL and SSL listeners: stop it (down), then up --secure"
      fi
    fi
    for ((n = 1; n <= nodes; n++)); do start_node "$n"; done
    wait_ready
    if is_secure; then add_sasl_user; fi
    echo "$(bootstrap)"
    if is_secure; then echo "$(secure_bootstrap)"; echo "$(mtls_bootstrap)"; fi
    ;;
  down)
    # All at once: stopped one by one, the last nodes of a cluster that lost one wait
    # out the 30 s for a controller quorum that is gone.
    for ((n = 1; n <= nodes; n++)); do stop_node "$n" & done
    wait
    ;;
  status)
    for ((n = 1; n <= nodes; n++)); do
      if alive "$n"; then state="running (pid $(pid_of "$n"))"; else state="stopped"; fi
      printf 'node %d  127.0.0.1:%d  %s\n' "$n" "$(broker_port "$n")" "$state"
    done
    ;;
  kill) [[ -n "$node_arg" ]] || die "which node? e.g. kill 2"; stop_node "$node_arg" KILL ;;
  start) [[ -n "$node_arg" ]] || die "which node? e.g. start 2"; start_node "$node_arg" ;;
  *) sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; [[ -z "$command" ]] || exit 2 ;;
esac
