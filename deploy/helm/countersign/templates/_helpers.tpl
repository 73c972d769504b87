{{/* The release's name for every object: <release>-countersign, unless the release is named so. */}}
{{- define "countersign.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "countersign.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "worker"). */}}
{{- define "countersign.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "countersign.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "countersign.secretName" -}}
{{ .Values.secrets.existingSecret | default (printf "%s-secrets" (include "countersign.fullname" .)) }}
{{- end -}}

{{/*
The environment of every process: the ConfigMap, the secrets, and the ClickHouse DSN
with the password of the given user ("sink" or "api"); call with (dict "root" $ "user" "sink").
*/}}
{{- define "countersign.env" -}}
{{- $root := .root -}}
{{- $secret := include "countersign.secretName" $root -}}
envFrom:
  - configMapRef:
      name: {{ include "countersign.fullname" $root }}-config
env:
  {{- range $name, $key := dict "COUNTERSIGN_EMAIL_HASH_KEY" "email-hash-key" "COUNTERSIGN_SIGNING_KEY" "signing-key" "COUNTERSIGN_OPS_TOKEN" "ops-token" "COUNTERSIGN_MASTER_KEY" "master-key" "COUNTERSIGN_SMTP_URL" "smtp-url" }}
  - name: {{ $name }}
    valueFrom:
      secretKeyRef: {name: {{ $secret }}, key: {{ $key }}}
  {{- end }}
  {{- if .user }}
  - name: CLICKHOUSE_PASSWORD
    valueFrom:
      secretKeyRef: {name: {{ $secret }}, key: {{ printf "clickhouse-%s-password" .user }}}
  - name: COUNTERSIGN_CLICKHOUSE_DSN
    value: {{ include "countersign.clickhouseDsn" (dict "root" $root "user" .user) | quote }}
  {{- end }}
{{- end -}}

{{/* https://user:$(CLICKHOUSE_PASSWORD)@host:port: Kubernetes puts the password in (URL-safe passwords only). */}}
{{- define "countersign.clickhouseDsn" -}}
{{- $url := urlParse .root.Values.clickhouse.url -}}
{{- $user := ternary .root.Values.clickhouse.sinkUser .root.Values.clickhouse.apiUser (eq .user "sink") -}}
{{- printf "%s://%s:$(CLICKHOUSE_PASSWORD)@%s" $url.scheme $user $url.host -}}
{{- end -}}

{{/* The volumes every process mounts: the Kafka CA, the client certificate (mutual
TLS) and the SASL password. */}}
{{- define "countersign.kafkaVolumes" -}}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret }}
    items: [{key: {{ .Values.kafka.tls.caKey }}, path: ca.crt}]
{{- end }}
{{- if .Values.kafka.tls.clientSecret }}
- name: kafka-client
  secret:
    secretName: {{ .Values.kafka.tls.clientSecret }}
    items:
      - {key: {{ .Values.kafka.tls.clientCertKey }}, path: tls.crt}
      - {key: {{ .Values.kafka.tls.clientKeyKey }}, path: tls.key}
{{- end }}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}
- name: kafka-sasl
  secret:
    secretName: {{ .Values.kafka.sasl.existingSecret | default (include "countersign.secretName" .) }}
    items: [{key: {{ ternary .Values.kafka.sasl.existingSecretKey "kafka-sasl-password" (ne .Values.kafka.sasl.existingSecret "") }}, path: password}]
{{- end }}
{{- end -}}

{{- define "countersign.kafkaMounts" -}}
{{- if .Values.kafka.tls.caSecret }}
- {name: kafka-ca, mountPath: /etc/countersign/kafka-ca, readOnly: true}
{{- end }}
{{- if .Values.kafka.tls.clientSecret }}
- {name: kafka-client, mountPath: /etc/countersign/kafka-client, readOnly: true}
{{- end }}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}
- {name: kafka-sasl, mountPath: /etc/countersign/kafka-sasl, readOnly: true}
{{- end }}
{{- end -}}

{{/* A container's probes: ready on the given path (the worker's /readyz: its
partitions held and its tables restored, so a rolling update waits for it before it
stops the next worker; the others' /healthz). */}}
{{- define "countersign.probes" -}}
readinessProbe:
  httpGet: {path: {{ .path }}, port: http}
  periodSeconds: 10
  failureThreshold: 3
# Not /healthz, which answers 503 while Kafka or ClickHouse is away: a restart
# would not bring them back.
livenessProbe:
  tcpSocket: {port: http}
  initialDelaySeconds: 30
  periodSeconds: 20
  failureThreshold: 6
{{- end -}}

{{- define "countersign.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: [ALL]}
{{- end -}}

{{/*
A pod template of one process: call with (dict "root" $ "component" "intake"
"args" (list "intake") "port" 8080 "user" "" "resources" $.Values.intake.resources).
The worker's /data is a volume claim of its StatefulSet; the others get an emptyDir.
*/}}
{{- define "countersign.podTemplate" -}}
{{- $root := .root -}}
metadata:
  labels: {{- include "countersign.selector" (dict "root" $root "component" .component) | nindent 4 }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
spec:
  securityContext: {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: 60
  containers:
    - name: {{ .component }}
      image: {{ include "countersign.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: {{- toYaml .args | nindent 8 }}
      {{- include "countersign.env" (dict "root" $root "user" .user) | nindent 6 }}
      {{- if .port }}
      ports:
        - {name: http, containerPort: {{ .port }}}
      {{- include "countersign.probes" (dict "path" (ternary "/readyz" "/healthz" (eq .component "worker"))) | nindent 6 }}
      {{- end }}
      resources: {{- toYaml .resources | nindent 8 }}
      {{- include "countersign.containerSecurity" $root | nindent 6 }}
      volumeMounts:
        - {name: data, mountPath: /data}
        - {name: tmp, mountPath: /tmp}
        {{- include "countersign.kafkaMounts" $root | trim | nindent 8 }}
  volumes:
    {{- if ne .component "worker" }}
    - name: data
      emptyDir: {}
    {{- end }}
    - name: tmp
      emptyDir: {}
    {{- include "countersign.kafkaVolumes" $root | trim | nindent 4 }}
{{- end -}}
