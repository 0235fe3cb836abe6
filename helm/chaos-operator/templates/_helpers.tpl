{{/* Names, labels and the image reference shared by every template. */}}

{{- define "chaos-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's object name prefix; at most 52 characters so derived names stay within 63. */}}
{{- define "chaos-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "chaos-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chaos-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "chaos-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "chaos-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chaos-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* metadata.annotations from commonAnnotations plus the given extra map (may be empty). */}}
{{- define "chaos-operator.annotations" -}}
{{- $all := merge (dict) (.extra | default (dict)) (.root.Values.commonAnnotations | default (dict)) -}}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "chaos-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "chaos-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The one image reference the Deployment runs; OPERATOR_IMAGE and the schedule Jobs use the same. */}}
{{- define "chaos-operator.image" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- if .Values.image.digest -}}
{{- $ref = printf "%s@%s" $ref .Values.image.digest -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* The operator's arguments after `run`. */}}
{{- define "chaos-operator.args" -}}
- run
- --operator-namespace=$(POD_NAMESPACE)
{{- range .Values.watchNamespaces }}
- --namespace={{ . }}
{{- end }}
{{- range .Values.allowedNamespaces }}
- --allow-namespace={{ . }}
{{- end }}
{{- range .Values.protectedNamespaces }}
- --protect-namespace={{ . }}
{{- end }}
{{- if .Values.requireNamespaceOptIn }}
- --require-opt-in
{{- end }}
{{- range .Values.prometheus.allowedUrls }}
- {{ printf "--allow-prometheus-url=%s" . | quote }}
{{- end }}
- --max-running-experiments={{ .Values.limits.maxRunningExperiments }}
- --max-helpers-per-node={{ .Values.limits.maxHelpersPerNode }}
{{- if not .Values.faults.podKill.enabled }}
- --disable-fault=PodKill
{{- end }}
- {{ if .Values.leaderElection.enabled }}--leader-election{{ else }}--no-leader-election{{ end }}
- --metrics-port={{ .Values.metrics.port }}
- --log-level={{ .Values.logLevel }}
- --log-format={{ .Values.logFormat }}
- --load-runner={{ .Values.load.runner }}
{{- if eq .Values.load.runner "workers" }}
- --load-token-key-file=/etc/chaos-operator/load-token/key
{{- end }}
{{- end -}}
