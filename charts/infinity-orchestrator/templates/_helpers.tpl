{{/* The release's full name, at most 63 characters. */}}
{{- define "infinity-orchestrator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "infinity-orchestrator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "infinity-orchestrator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "infinity-orchestrator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The name of a shard's Deployment and Service (`.Shard`, an entry of .Values.shards; empty: unsharded). */}}
{{- define "infinity-orchestrator.shardName" -}}
{{- include "infinity-orchestrator.fullname" . }}{{ with .Shard.name }}-{{ . }}{{ end }}
{{- end -}}

{{/* The pod labels of a shard's Deployment. The unsharded one keeps the release's selector; a shard's never
overlaps it, so that no Deployment or Service picks another shard's pods. */}}
{{- define "infinity-orchestrator.shardSelectorLabels" -}}
{{- if .Shard.name -}}
app.kubernetes.io/name: {{ .Chart.Name }}-shard
app.kubernetes.io/instance: {{ .Release.Name }}
orchestrator.infinityxone.io/shard: {{ .Shard.name }}
{{- else -}}
{{ include "infinity-orchestrator.selectorLabels" . }}
{{- end -}}
{{- end -}}

{{- define "infinity-orchestrator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "infinity-orchestrator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
