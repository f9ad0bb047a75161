{{/*
The chart name, truncated to the 63 characters a label value allows.
*/}}
{{- define "scalepilot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects.
*/}}
{{- define "scalepilot.fullname" -}}
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

{{- define "scalepilot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "scalepilot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scalepilot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "scalepilot.labels" -}}
helm.sh/chart: {{ include "scalepilot.chart" . }}
{{ include "scalepilot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: scalepilot
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "scalepilot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "scalepilot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "scalepilot.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "scalepilot.policiesConfigMap" -}}
{{- default (printf "%s-policies" (include "scalepilot.fullname" .)) .Values.existingPoliciesConfigMap }}
{{- end }}

{{/*
The API calls the controller makes on the workloads it scales: the whole list.
Used by the ClusterRole and by each per-namespace Role, and checked verb for verb
by scripts/chart-check.sh: change both together.
*/}}
{{- define "scalepilot.workloadRules" -}}
{{- range .Values.rbac.scaleTargets }}
# Targets: read and annotate the object, read and write its /scale.
- apiGroups: [{{ .apiGroup | quote }}]
  resources: [{{ range $i, $r := .resources }}{{ if $i }}, {{ end }}{{ $r | quote }}{{ end }}]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: [{{ .apiGroup | quote }}]
  resources: [{{ range $i, $r := .resources }}{{ if $i }}, {{ end }}{{ printf "%s/scale" $r | quote }}{{ end }}]
  verbs: ["get", "patch", "update"]
{{- end }}
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# It refuses to scale a target that an HPA also manages (and shadows it).
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch"]
# Events through kube's Recorder (events.k8s.io/v1; a repeat patches its series).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
# Resource and ContainerResource metrics (cpu, memory) from metrics-server.
- apiGroups: ["metrics.k8s.io"]
  resources: ["pods"]
  verbs: ["get", "list"]
{{- end }}
