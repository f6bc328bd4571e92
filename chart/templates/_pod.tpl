{{/* The pod template shared by the DaemonSet (node mode) and the StatefulSet (cluster mode). */}}
{{- define "tas.podTemplate" -}}
{{- $rulesCM := include "tas.chartRules" . | fromJson -}}
{{- $data := or .Values.loki.spool.enabled .Values.state.enabled -}}
{{- $hostPath := and $data (eq .Values.persistence.type "hostPath") -}}
{{- $pvc := and $data (eq .Values.persistence.type "pvc") -}}
{{- $hostNet := include "tas.hostNetwork" . -}}
{{- $hostPort := and (eq .Values.mode "node") (not .Values.node.hostNetwork) .Values.node.hostPort -}}
{{- $secrets := include "tas.clientSecrets" . | fromJsonArray -}}
metadata:
  labels:
    {{- include "tas.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Roll the pods when the config changes; rule changes reload in place (rules.watch).
    checksum/config: {{ include "tas.config" . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "tas.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  enableServiceLinks: false
  {{- if $hostNet }}
  # Talos sends to 127.0.0.1:<port> on its own node: no Service, no SNAT.
  hostNetwork: true
  # Still resolve cluster names (Alertmanager, Loki) from the host network.
  dnsPolicy: ClusterFirstWithHostNet
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- if and $hostPath .Values.persistence.hostPath.fixPermissions }}
  initContainers:
    # hostPath directories are created root-owned; hand this one to the sidecar's user.
    # Root for a moment, with CAP_CHOWN only (no DAC override, no other capability).
    - name: fix-permissions
      image: {{ include "tas.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command:
        - chown
        - "{{ int .Values.podSecurityContext.runAsUser }}:{{ int .Values.podSecurityContext.runAsGroup }}"
        - {{ include "tas.dataDir" . }}
      securityContext:
        runAsUser: 0
        runAsGroup: 0
        runAsNonRoot: false
        allowPrivilegeEscalation: false
        privileged: false
        readOnlyRootFilesystem: true
        capabilities:
          drop:
            - ALL
          add:
            - CHOWN
      resources:
        requests:
          cpu: 10m
          memory: 16Mi
        limits:
          memory: 32Mi
      volumeMounts:
        - name: data
          mountPath: {{ include "tas.dataDir" . }}
  {{- end }}
  containers:
    - name: sidecar
      image: {{ include "tas.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - run
        - --config
        - {{ include "tas.configDir" . }}/config.yaml
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        {{- if .Values.ingest.tcp }}
        - name: ingest-tcp
          containerPort: {{ .Values.ingest.port }}
          protocol: TCP
          {{- if $hostPort }}
          hostPort: {{ .Values.ingest.port }}
          {{- end }}
        {{- end }}
        {{- if .Values.ingest.udp }}
        - name: ingest-udp
          containerPort: {{ .Values.ingest.port }}
          protocol: UDP
          {{- if $hostPort }}
          hostPort: {{ .Values.ingest.port }}
          {{- end }}
        {{- end }}
        - name: http
          containerPort: {{ .Values.http.port }}
          protocol: TCP
      env:
        # The config file expands ${NODE_NAME} and ${POD_NAME} (node mode: the `node` alert label).
        - name: NODE_NAME
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.livenessProbe }}
      {{- if .enabled }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        initialDelaySeconds: {{ .initialDelaySeconds }}
        periodSeconds: {{ .periodSeconds }}
        timeoutSeconds: {{ .timeoutSeconds }}
        failureThreshold: {{ .failureThreshold }}
      {{- end }}
      {{- end }}
      {{- with .Values.readinessProbe }}
      {{- if .enabled }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        initialDelaySeconds: {{ .initialDelaySeconds }}
        periodSeconds: {{ .periodSeconds }}
        timeoutSeconds: {{ .timeoutSeconds }}
        failureThreshold: {{ .failureThreshold }}
      {{- end }}
      {{- end }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        # subPath: config changes roll the pods (checksum/config) rather than hot-swap.
        - name: config
          mountPath: {{ include "tas.configDir" . }}/config.yaml
          subPath: config.yaml
          readOnly: true
        # No subPath: the kubelet swaps ConfigMap updates in atomically and the sidecar reloads.
        - name: rules
          mountPath: {{ include "tas.rulesDir" . }}/{{ .Values.rules.tenant }}
          readOnly: true
        {{- if .Values.http.admin.enabled }}
        - name: admin-token
          mountPath: {{ include "tas.adminDir" . }}
          readOnly: true
        {{- end }}
        {{- range $secrets }}
        - name: {{ .volume }}
          mountPath: {{ .dir }}
          readOnly: true
        {{- end }}
        {{- if $data }}
        - name: data
          mountPath: {{ include "tas.dataDir" . }}
        {{- end }}
        - name: tmp
          mountPath: /tmp
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- with .Values.extraContainers }}
    {{- tpl (toYaml .) $ | nindent 4 }}
    {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "tas.fullname" . }}
    - name: rules
      {{- if and .Values.rules.existingConfigMap $rulesCM }}
      # The existing ConfigMap and the chart's extra rule files, side by side in one tenant directory.
      projected:
        sources:
          - configMap:
              name: {{ .Values.rules.existingConfigMap }}
          - configMap:
              name: {{ include "tas.rulesConfigMapName" . }}
      {{- else }}
      configMap:
        name: {{ .Values.rules.existingConfigMap | default (include "tas.rulesConfigMapName" .) }}
      {{- end }}
    {{- if .Values.http.admin.enabled }}
    - name: admin-token
      secret:
        secretName: {{ required "http.admin.existingSecret is required when http.admin.enabled is true" .Values.http.admin.existingSecret }}
        items:
          - key: {{ .Values.http.admin.secretKey }}
            path: {{ .Values.http.admin.secretKey }}
    {{- end }}
    {{- range $secrets }}
    - name: {{ .volume }}
      secret:
        secretName: {{ .secret }}
        items:
          {{- range .items }}
          - key: {{ .key }}
            path: {{ .path }}
          {{- end }}
    {{- end }}
    {{- if and $data (not $pvc) }}
    - name: data
      {{- if $hostPath }}
      hostPath:
        path: {{ .Values.persistence.hostPath.path }}
        type: DirectoryOrCreate
      {{- else }}
      emptyDir:
        {{- with .Values.persistence.emptyDir.sizeLimit }}
        sizeLimit: {{ . }}
        {{- end }}
      {{- end }}
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 16Mi
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $affinity := deepCopy .Values.affinity -}}
  {{- if eq .Values.mode "cluster" }}
  {{- $term := dict "labelSelector" (dict "matchLabels" (include "tas.selectorLabels" . | fromYaml)) "topologyKey" "kubernetes.io/hostname" -}}
  {{- $anti := default dict (get $affinity "podAntiAffinity") -}}
  {{- if eq .Values.cluster.antiAffinity "hard" }}
  {{- $_ := set $anti "requiredDuringSchedulingIgnoredDuringExecution" (append (default list (get $anti "requiredDuringSchedulingIgnoredDuringExecution")) $term) -}}
  {{- else }}
  {{- $_ := set $anti "preferredDuringSchedulingIgnoredDuringExecution" (append (default list (get $anti "preferredDuringSchedulingIgnoredDuringExecution")) (dict "weight" 100 "podAffinityTerm" $term)) -}}
  {{- end }}
  {{- $_ := set $affinity "podAntiAffinity" $anti -}}
  {{- end }}
  {{- with $affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* Checks shared by both workloads. */}}
{{- define "tas.validate" -}}
{{- $rulesCM := include "tas.chartRules" . | fromJson -}}
{{- if and (not .Values.rules.existingConfigMap) (not $rulesCM) -}}
{{- fail "rules: nothing to load; set rules.defaultRules, rules.files or rules.existingConfigMap" -}}
{{- end -}}
{{- if not (or .Values.ingest.tcp .Values.ingest.udp) -}}
{{- fail "ingest: at least one of ingest.tcp and ingest.udp must be true" -}}
{{- end -}}
{{- if and (eq .Values.mode "node") (eq .Values.persistence.type "pvc") -}}
{{- fail "persistence.type pvc is for cluster mode; node mode uses emptyDir or hostPath" -}}
{{- end -}}
{{- if and (eq .Values.mode "node") (not .Values.node.hostNetwork) (not .Values.node.hostPort) -}}
{{- fail "node mode needs node.hostNetwork or node.hostPort: Talos must reach the pod on its own node" -}}
{{- end -}}
{{- if eq .Values.mode "cluster" -}}
{{- if and (eq .Values.cluster.service.type "NodePort") (lt (len .Values.cluster.service.nodePorts) (int .Values.cluster.replicas)) -}}
{{- fail (printf "cluster.service.nodePorts needs one port per replica (%d)" (int .Values.cluster.replicas)) -}}
{{- end -}}
{{- if eq .Values.persistence.type "hostPath" -}}
{{- fail "persistence.type hostPath is for node mode; cluster mode uses emptyDir or pvc" -}}
{{- end -}}
{{- end -}}
{{- end -}}
