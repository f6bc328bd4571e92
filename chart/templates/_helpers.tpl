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

{{/*
config.yaml for the sidecar, keys as in src/config/schema.ts (docs/configuration.md).
*/}}
{{- define "tas.config" -}}
{{- $v := .Values -}}
{{- $bind := $v.bindAddress -}}
{{- if contains ":" $bind -}}{{- $bind = printf "[%s]" $bind -}}{{- end -}}
{{- $loki := dict "url" $v.loki.url "tenant" $v.loki.tenant -}}
{{- if $v.loki.spool.enabled -}}
{{- $_ := set $loki "spool_dir" (printf "%s/spool" (include "tas.dataDir" .)) -}}
{{- $_ := set $loki "spool_max_size" $v.loki.spool.maxSize -}}
{{- end -}}
{{- $http := dict "listen" (printf "%s:%d" $bind (int $v.http.port)) -}}
{{- if $v.http.admin.enabled -}}
{{- $_ := set $http "admin" (dict "enabled" true "token_file" (printf "%s/%s" (include "tas.adminDir" .) $v.http.admin.secretKey)) -}}
{{- end -}}
{{- $cfg := dict
  "ingest" (dict
    "listen" (printf "%s:%d" $bind (int $v.ingest.port))
    "tcp" $v.ingest.tcp
    "udp" $v.ingest.udp
    "allow_cidrs" $v.ingest.allowCidrs)
  "talos" (dict
    "job" $v.talos.job
    "static_labels" $v.talos.staticLabels
    "host_names" $v.talos.hostNames)
  "http" $http
  "rules" (dict
    "paths" (list (include "tas.rulesDir" .))
    "watch" $v.rules.watch
    "external_url" $v.rules.externalUrl
    "external_labels" $v.rules.externalLabels)
  "alertmanager" (dict
    "urls" $v.alertmanager.urls
    "tenant" $v.alertmanager.tenant)
  "loki" $loki
  "log" (dict "level" $v.log.level "format" $v.log.format)
-}}
{{- if $v.state.enabled -}}
{{- $_ := set $cfg "state" (dict "file" (printf "%s/state.json" (include "tas.dataDir" .)) "interval" $v.state.interval) -}}
{{- end -}}
{{- include "tas.deepSet" (list $cfg (deepCopy $v.config)) -}}
{{- toYaml $cfg -}}
{{- end -}}
