{{/*
Names. fullname is the release-scoped base name of every object.
*/}}
{{- define "proxide.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "proxide.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name suffixed with a component, kept within 63 characters. */}}
{{- define "proxide.component" -}}
{{- printf "%s-%s" (include "proxide.fullname" .root | trunc (int (sub 62 (len .name))) | trimSuffix "-") .name }}
{{- end }}

{{- define "proxide.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: proxide
{{- end }}

{{/* Selector labels of one component: proxide, envoy or redis. */}}
{{- define "proxide.selectorLabels" -}}
app.kubernetes.io/name: {{ include "proxide.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "proxide.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "proxide.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "proxide.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* In-cluster DNS names. */}}
{{- define "proxide.grpcHeadless" -}}
{{- printf "%s.%s.svc.cluster.local" (include "proxide.component" (dict "root" . "name" "grpc")) .Release.Namespace }}
{{- end }}

{{/* The name Envoy expects in Proxide's server certificate. */}}
{{- define "proxide.mtlsServerName" -}}
{{- .Values.mtls.serverName | default (include "proxide.grpcHeadless" .) }}
{{- end }}

{{- define "proxide.redisHost" -}}
{{- printf "%s.%s.svc.cluster.local" (include "proxide.component" (dict "root" . "name" "redis")) .Release.Namespace }}
{{- end }}

{{/*
Checks that cannot be expressed in values.schema.json; each fails the render
with a message naming the value.
*/}}
{{- define "proxide.validate" -}}
{{- $mode := .Values.redis.mode }}
{{- if and (eq $mode "memory") (or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled) }}
{{- fail "redis.mode=memory keeps budgets inside one Pod: use replicaCount=1 without autoscaling, or redis.mode=bundled|external" }}
{{- end }}
{{- if eq $mode "external" }}
{{- if and (not .Values.redis.external.url) (not .Values.redis.external.existingSecret) }}
{{- fail "redis.mode=external needs redis.external.url or redis.external.existingSecret" }}
{{- end }}
{{- if and .Values.redis.external.url .Values.redis.external.existingSecret }}
{{- fail "set redis.external.url or redis.external.existingSecret, not both" }}
{{- end }}
{{- if contains "@" .Values.redis.external.url }}
{{- fail "redis.external.url must not carry credentials: put the whole URL in a Secret and set redis.external.existingSecret" }}
{{- end }}
{{- end }}
{{- if and .Values.keys (not .Values.upstream.existingSecret) (not .Values.config.existingSecret) }}
{{- fail "keys are set: the OpenAI key must come from a Secret, set upstream.existingSecret (kubectl create secret generic proxide-openai --from-literal=api-key=sk-...)" }}
{{- end }}
{{- if .Values.mtls.enabled }}
{{- if not .Values.mtls.existingSecret }}
{{- fail "mtls.enabled needs mtls.existingSecret: a Secret with Proxide's tls.crt, tls.key and the client CA ca.crt (cert-manager Certificate)" }}
{{- end }}
{{- if and .Values.envoy.enabled (not .Values.mtls.envoyClientSecret) }}
{{- fail "mtls.enabled with envoy.enabled needs mtls.envoyClientSecret: a Secret with the Envoy client certificate tls.crt, tls.key and Proxide's CA ca.crt" }}
{{- end }}
{{- if eq .Values.probes.readiness "grpc" }}
{{- fail "probes.readiness=grpc cannot be used with mtls.enabled: kubelet's gRPC probe has no client certificate; use readyz" }}
{{- end }}
{{- end }}
{{- if .Values.envoy.enabled }}
{{- if le (int .Values.envoy.terminationGracePeriodSeconds) (int .Values.envoy.drainTimeSeconds) }}
{{- fail "envoy.terminationGracePeriodSeconds must exceed envoy.drainTimeSeconds, or Kubernetes kills Envoy before its streams drain" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Redis URL handed to Proxide as PROXIDE_STORE_REDIS_URL, as env entries. */}}
{{- define "proxide.redisEnv" -}}
{{- if eq .Values.redis.mode "bundled" }}
{{- if .Values.redis.bundled.auth.existingSecret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.bundled.auth.existingSecret }}
      key: {{ .Values.redis.bundled.auth.secretKey }}
# Kubernetes expands $(REDIS_PASSWORD): the password never appears in the manifest.
- name: PROXIDE_STORE_REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:6379/0" (include "proxide.redisHost" .) | quote }}
{{- else }}
- name: PROXIDE_STORE_REDIS_URL
  value: {{ printf "redis://%s:6379/0" (include "proxide.redisHost" .) | quote }}
{{- end }}
{{- else if eq .Values.redis.mode "external" }}
{{- if .Values.redis.external.existingSecret }}
- name: PROXIDE_STORE_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.external.existingSecret }}
      key: {{ .Values.redis.external.secretKey }}
{{- else }}
- name: PROXIDE_STORE_REDIS_URL
  value: {{ .Values.redis.external.url | quote }}
{{- end }}
{{- end }}
{{- end }}
