{{/* Names, labels and the rendered sidecar config. */}}

{{- define "tas.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tas.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tas.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tas.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tas.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tas.labels" -}}
helm.sh/chart: {{ include "tas.chart" . }}
{{ include "tas.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: talos-alert-sidecar
{{- end -}}

{{- define "tas.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tas.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tas.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "tas.rulesConfigMapName" -}}
{{- printf "%s-rules" (include "tas.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Paths inside the container. */}}
{{- define "tas.configDir" -}}/etc/talos-alert-sidecar{{- end -}}
{{- define "tas.rulesDir" -}}/etc/talos-alert-sidecar/rules{{- end -}}
{{- define "tas.adminDir" -}}/etc/talos-alert-sidecar/admin{{- end -}}
{{- define "tas.dataDir" -}}/var/lib/talos-alert-sidecar{{- end -}}

{{/* The chart renders rules into its own ConfigMap only when there is something to put in it. */}}
{{- define "tas.chartRules" -}}
{{- $files := dict -}}
{{- if and .Values.rules.defaultRules (not .Values.rules.existingConfigMap) -}}
{{- $_ := set $files "talos-kernel.yaml" (.Files.Get "rules/talos-kernel.yaml") -}}
{{- end -}}
{{- range $name, $content := .Values.rules.files -}}
{{- $_ := set $files $name $content -}}
{{- end -}}
{{- toJson $files -}}
{{- end -}}

{{/*
Recursive merge of list(dst, src) into dst where src wins, including false and
empty values (sprig's merge/mergeOverwrite treat those as absent).
*/}}
{{- define "tas.deepSet" -}}
{{- $dst := index . 0 -}}
{{- range $k, $v := index . 1 -}}
{{- $cur := get $dst $k -}}
{{- if and (kindIs "map" $v) (kindIs "map" $cur) -}}
{{- include "tas.deepSet" (list $cur $v) -}}
{{- else -}}
{{- $_ := set $dst $k $v -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Node mode on the host network (the ingest port is the node's own). */}}
{{- define "tas.hostNetwork" -}}
{{- if and (eq .Values.mode "node") .Values.node.hostNetwork -}}true{{- end -}}
{{- end -}}

{{/* The workload kind of the mode (cluster: a StatefulSet, pods <fullname>-0, -1, …). */}}
{{- define "tas.workloadKind" -}}
{{- if eq .Values.mode "cluster" -}}StatefulSet{{- else -}}DaemonSet{{- end -}}
{{- end -}}

{{/*
Secret-backed credentials of the two HTTP clients, as a JSON list of
{volume, secret, dir, items: [{key, path}], sink, kind}. One list feeds the config
(file paths), the volumes and the mounts, so they cannot disagree.
*/}}
{{- define "tas.clientSecrets" -}}
{{- $out := list -}}
{{- range $sink := list "alertmanager" "loki" -}}
{{- $v := index $.Values $sink -}}
{{- $base := printf "%s/secrets" (include "tas.configDir" $) -}}
{{- with $v.basicAuth.existingSecret -}}
{{- if not $v.basicAuth.username -}}{{- fail (printf "%s.basicAuth.username is required with %s.basicAuth.existingSecret" $sink $sink) -}}{{- end -}}
{{- $out = append $out (dict "sink" $sink "kind" "basic-auth" "volume" (printf "%s-basic-auth" $sink) "secret" . "dir" (printf "%s/%s-basic-auth" $base $sink) "items" (list (dict "key" $v.basicAuth.passwordKey "path" "password"))) -}}
{{- end -}}
{{- with $v.bearerToken.existingSecret -}}
{{- if $v.basicAuth.existingSecret -}}{{- fail (printf "%s: set basicAuth or bearerToken, not both" $sink) -}}{{- end -}}
{{- $out = append $out (dict "sink" $sink "kind" "bearer-token" "volume" (printf "%s-bearer-token" $sink) "secret" . "dir" (printf "%s/%s-bearer-token" $base $sink) "items" (list (dict "key" $v.bearerToken.key "path" "token"))) -}}
{{- end -}}
{{- with $v.tls.existingSecret -}}
{{- if ne (empty $v.tls.certKey) (empty $v.tls.keyKey) -}}{{- fail (printf "%s.tls: certKey and keyKey go together" $sink) -}}{{- end -}}
{{- $items := list -}}
{{- with $v.tls.caKey -}}{{- $items = append $items (dict "key" . "path" "ca.crt") -}}{{- end -}}
{{- with $v.tls.certKey -}}{{- $items = append $items (dict "key" . "path" "tls.crt") -}}{{- end -}}
{{- with $v.tls.keyKey -}}{{- $items = append $items (dict "key" . "path" "tls.key") -}}{{- end -}}
{{- if not $items -}}{{- fail (printf "%s.tls.existingSecret needs caKey, or certKey and keyKey" $sink) -}}{{- end -}}
{{- $out = append $out (dict "sink" $sink "kind" "tls" "volume" (printf "%s-tls" $sink) "secret" . "dir" (printf "%s/%s-tls" $base $sink) "items" $items) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* The config keys of one client (alertmanager or loki): auth and TLS files from the mounted Secrets. */}}
{{- define "tas.clientConfig" -}}
{{- $sink := index . 1 -}}
{{- $v := index (index . 0).Values $sink -}}
{{- $cfg := dict -}}
{{- $tls := dict -}}
{{- if $v.tls.insecureSkipVerify -}}{{- $_ := set $tls "insecure_skip_verify" true -}}{{- end -}}
{{- range (include "tas.clientSecrets" (index . 0) | fromJsonArray) -}}
{{- if eq .sink $sink -}}
{{- if eq .kind "basic-auth" -}}
{{- $_ := set $cfg "basic_auth" (dict "username" $v.basicAuth.username "password_file" (printf "%s/password" .dir)) -}}
{{- else if eq .kind "bearer-token" -}}
{{- $_ := set $cfg "bearer_token_file" (printf "%s/token" .dir) -}}
{{- else -}}
{{- $dir := .dir -}}
{{- range .items -}}
{{- $_ := set $tls (get (dict "ca.crt" "ca_file" "tls.crt" "cert_file" "tls.key" "key_file") .path) (printf "%s/%s" $dir .path) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $tls -}}{{- $_ := set $cfg "tls" $tls -}}{{- end -}}
{{- toJson $cfg -}}
{{- end -}}

{{/* Alert labels: the user's, plus the node name in node mode (pods never share a fingerprint). */}}
{{- define "tas.externalLabels" -}}
{{- $labels := deepCopy .Values.rules.externalLabels -}}
{{- if eq .Values.mode "node" -}}
{{- with .Values.node.alertLabel -}}
{{- $_ := set $labels . "${NODE_NAME}" -}}
{{- end -}}
{{- else -}}
{{- range $k, $val := $labels -}}
{{- if contains "${" (toString $val) -}}
{{- fail (printf "rules.externalLabels.%s: in cluster mode both replicas must send identical labels (Alertmanager deduplicates them); no ${VAR} expansion" $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $labels -}}
{{- end -}}

{{- define "tas.ingestBind" -}}
{{- if .Values.ingest.bindAddress -}}{{- .Values.ingest.bindAddress -}}
{{- else if include "tas.hostNetwork" . -}}127.0.0.1
{{- else -}}{{- .Values.bindAddress -}}
{{- end -}}
{{- end -}}

{{- define "tas.listenAddr" -}}
{{- $h := index . 0 -}}
{{- if contains ":" $h -}}{{- printf "[%s]:%d" $h (int (index . 1)) -}}{{- else -}}{{- printf "%s:%d" $h (int (index . 1)) -}}{{- end -}}
{{- end -}}

{{/*
config.yaml for the sidecar, keys as in src/config/schema.ts (docs/configuration.md).
*/}}
{{- define "tas.config" -}}
{{- $v := .Values -}}
{{- $loki := dict "url" $v.loki.url "tenant" $v.loki.tenant -}}
{{- $_ := mergeOverwrite $loki (include "tas.clientConfig" (list . "loki") | fromJson) -}}
{{- if $v.loki.spool.enabled -}}
{{- $_ := set $loki "spool_dir" (printf "%s/spool" (include "tas.dataDir" .)) -}}
{{- $_ := set $loki "spool_max_size" $v.loki.spool.maxSize -}}
{{- end -}}
{{- $am := dict "urls" $v.alertmanager.urls "tenant" $v.alertmanager.tenant -}}
{{- $_ := mergeOverwrite $am (include "tas.clientConfig" (list . "alertmanager") | fromJson) -}}
{{- $http := dict "listen" (include "tas.listenAddr" (list $v.bindAddress $v.http.port)) -}}
{{- if $v.http.admin.enabled -}}
{{- $_ := set $http "admin" (dict "enabled" true "token_file" (printf "%s/%s" (include "tas.adminDir" .) $v.http.admin.secretKey)) -}}
{{- end -}}
{{- $talos := dict "job" $v.talos.job "static_labels" $v.talos.staticLabels "host_names" $v.talos.hostNames -}}
{{- with $v.talos.hostField -}}{{- $_ := set $talos "host_field" . -}}{{- end -}}
{{- $cfg := dict
  "ingest" (dict
    "listen" (include "tas.listenAddr" (list (include "tas.ingestBind" .) $v.ingest.port))
    "tcp" $v.ingest.tcp
    "udp" $v.ingest.udp
    "allow_cidrs" $v.ingest.allowCidrs)
  "talos" $talos
  "http" $http
  "rules" (dict
    "paths" (list (include "tas.rulesDir" .))
    "watch" $v.rules.watch
    "external_url" $v.rules.externalUrl
    "external_labels" (include "tas.externalLabels" . | fromJson))
  "alertmanager" $am
  "loki" $loki
  "log" (dict "level" $v.log.level "format" $v.log.format)
-}}
{{- if $v.state.enabled -}}
{{- $_ := set $cfg "state" (dict "file" (printf "%s/state.json" (include "tas.dataDir" .)) "interval" $v.state.interval) -}}
{{- end -}}
{{- include "tas.deepSet" (list $cfg (deepCopy $v.config)) -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* A byte size in the sidecar's syntax ("768MiB", "1.5GiB", "1024") → bytes, for PromQL thresholds. */}}
{{- define "tas.bytes" -}}
{{- $s := toString . | trim -}}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $s -}}
{{- $unit := regexReplaceAll "^[0-9]+(\\.[0-9]+)?\\s*" $s "" | lower -}}
{{- $mult := get (dict "" 1 "b" 1 "kb" 1000 "mb" 1000000 "gb" 1000000000 "kib" 1024 "mib" 1048576 "gib" 1073741824) $unit -}}
{{- if or (not $num) (kindIs "string" $mult) -}}{{- fail (printf "not a byte size: %q" $s) -}}{{- end -}}
{{- printf "%.0f" (mulf (float64 $num) $mult) -}}
{{- end -}}
