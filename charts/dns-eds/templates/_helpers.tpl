{{- define "dns-eds.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dns-eds.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dns-eds.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dns-eds.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dns-eds.labels" -}}
{{ include "dns-eds.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "dns-eds.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dns-eds.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The dns-eds config file: the user's `config` with the keys the chart owns set from the values. Paths to
Secret files are relative to the config's folder (/etc/dns-eds/config), where dns-eds resolves them.
*/}}
{{- define "dns-eds.config" -}}
{{- $cfg := deepCopy (default dict .Values.config) -}}
{{- $xds := deepCopy (default dict (get $cfg "xds")) -}}
{{- $_ := set $xds "listen" (printf "0.0.0.0:%v" .Values.xds.port) -}}
{{- if .Values.xdsTls.secretName -}}
{{- $tls := dict "certFile" "../xds-tls/tls.crt" "keyFile" "../xds-tls/tls.key" -}}
{{- if .Values.xdsTls.requireClientCert -}}{{- $_ := set $tls "caFile" "../xds-tls/ca.crt" -}}{{- end -}}
{{- $_ := set $xds "tls" $tls -}}
{{- end -}}
{{- $_ := set $cfg "xds" $xds -}}
{{- /* The pod's probes and the in-cluster scrape reach the admin port on the pod IP, which dns-eds only
allows when told so: the Service stays ClusterIP (values.yaml, admin). */ -}}
{{- $_ := set $cfg "admin" (dict "listen" (printf "0.0.0.0:%v" .Values.admin.port) "allowUnauthenticated" true) -}}
{{- $_ := set $cfg "shutdown" (dict "drainDelayMs" (int .Values.drain.delayMs) "drainWindowMs" (int .Values.drain.windowMs) "graceMs" (int .Values.drain.graceMs)) -}}
{{- $cache := deepCopy (default dict (get $cfg "cache")) -}}
{{- if .Values.etcd.endpoints -}}
{{- $etcd := dict "endpoints" .Values.etcd.endpoints "prefix" .Values.etcd.prefix -}}
{{- if .Values.etcd.tls.secretName -}}
{{- $etls := dict "caFile" "../etcd-tls/ca.crt" -}}
{{- if .Values.etcd.tls.clientCert -}}
{{- $_ := set $etls "certFile" "../etcd-tls/tls.crt" -}}
{{- $_ := set $etls "keyFile" "../etcd-tls/tls.key" -}}
{{- end -}}
{{- $_ := set $etcd "tls" $etls -}}
{{- end -}}
{{- if .Values.etcd.auth.secretName -}}
{{- $_ := set $etcd "auth" (dict "username" (required "etcd.auth.username is required with etcd.auth.secretName" .Values.etcd.auth.username) "passwordFile" (printf "../etcd-auth/%s" .Values.etcd.auth.passwordKey)) -}}
{{- end -}}
{{- $_ := set $cache "etcd" $etcd -}}
{{- end -}}
{{- if $cache -}}{{- $_ := set $cfg "cache" $cache -}}{{- end -}}
{{- if not (hasKey $cfg "clusters") -}}{{- fail "config.clusters is required (write clusters: [] to serve none)" -}}{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{- define "dns-eds.terminationGracePeriodSeconds" -}}
{{- $ms := add (int .Values.drain.delayMs) (int .Values.drain.windowMs) (int .Values.drain.graceMs) -}}
{{- add (div (add $ms 999) 1000) (int .Values.terminationMarginSeconds) -}}
{{- end -}}
