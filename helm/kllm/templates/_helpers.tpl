{{/* Shared names and labels. Object names are capped at 63 characters. */}}

{{- define "kllm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kllm.fullname" -}}
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

{{- define "kllm.operator.fullname" -}}
{{- printf "%s-operator" (include "kllm.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kllm.agent.fullname" -}}
{{- printf "%s-agent" (include "kllm.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kllm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "kllm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kllm
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels: stable across upgrades, so never the version. */}}
{{- define "kllm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kllm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kllm.operator.selectorLabels" -}}
{{ include "kllm.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "kllm.agent.selectorLabels" -}}
{{ include "kllm.selectorLabels" . }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "kllm.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (include "kllm.operator.fullname" .) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kllm.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create -}}
{{- default (include "kllm.agent.fullname" .) .Values.agent.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.agent.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* image REGISTRY/REPOSITORY:TAG; call with (list $ .Values.operator.image). */}}
{{- define "kllm.image" -}}
{{- $root := index . 0 -}}
{{- $img := index . 1 -}}
{{- $tag := default (default $root.Chart.AppVersion $root.Values.image.tag) $img.tag -}}
{{- if $root.Values.image.registry -}}
{{- printf "%s/%s:%s" $root.Values.image.registry $img.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" $img.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "kllm.apiKeySecretName" -}}
{{- default (printf "%s-api-key" (include "kllm.fullname" .)) .Values.apiKey.existingSecret -}}
{{- end -}}

{{/* policy/v1 PodDisruptionBudget exists from Kubernetes 1.21; 1.20 has v1beta1. */}}
{{- define "kllm.pdb.apiVersion" -}}
{{- if semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end -}}
{{- end -}}

{{/* Bytes of a quantity "N", "NKi", "NMi", "NGi" or "NTi" (values.schema.json allows these). */}}
{{- define "kllm.quantityBytes" -}}
{{- $q := toString . -}}
{{- if hasSuffix "Ti" $q -}}{{ mul (trimSuffix "Ti" $q | int64) 1099511627776 }}
{{- else if hasSuffix "Gi" $q -}}{{ mul (trimSuffix "Gi" $q | int64) 1073741824 }}
{{- else if hasSuffix "Mi" $q -}}{{ mul (trimSuffix "Mi" $q | int64) 1048576 }}
{{- else if hasSuffix "Ki" $q -}}{{ mul (trimSuffix "Ki" $q | int64) 1024 }}
{{- else -}}{{ $q | int64 }}
{{- end -}}
{{- end -}}
