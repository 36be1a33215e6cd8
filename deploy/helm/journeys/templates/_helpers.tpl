{{/* Names and labels shared by every object of the release. */}}
{{- define "journeys.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "journeys.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "journeys.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "journeys.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The container's plain settings, as items of its env list. */}}
{{- define "journeys.env" -}}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- if .Values.scenariosConfigMap }}
- name: JOURNEYS_SCENARIOS_DIR
  value: /config/scenarios
{{- end }}
{{- end -}}

{{/* Every key of the named Secret becomes a setting: the secrets stay out of the chart. */}}
{{- define "journeys.envFrom" -}}
envFrom:
  - secretRef:
      name: {{ required "existingSecret: the name of the Secret with JOURNEYS_DATABASE_URL" .Values.existingSecret }}
{{- end -}}

{{- define "journeys.scenarioVolume" -}}
{{- if .Values.scenariosConfigMap }}
volumes:
  - name: scenarios
    configMap:
      name: {{ .Values.scenariosConfigMap }}
{{- end }}
{{- end -}}

{{- define "journeys.scenarioMount" -}}
{{- if .Values.scenariosConfigMap }}
volumeMounts:
  - name: scenarios
    mountPath: /config/scenarios
    readOnly: true
{{- end }}
{{- end -}}
