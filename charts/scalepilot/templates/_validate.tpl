{{/*
Checks across values that the JSON schema cannot express with a clear message.
*/}}
{{- define "scalepilot.validate" -}}
{{- $k := .Values.kafka }}
{{- $sec := $k.security }}
{{- if and (eq .Values.sharding.mode "partitions") (not $k.brokers) }}
{{- fail "sharding.mode partitions needs kafka.brokers: the consumer group assigns the shards" }}
{{- end }}
{{- if and .Values.existingPoliciesConfigMap .Values.policies }}
{{- fail "set either policies or existingPoliciesConfigMap, not both" }}
{{- end }}
{{- if $sec.sasl.mechanism }}
{{- if not (has $sec.protocol (list "SASL_PLAINTEXT" "SASL_SSL")) }}
{{- fail (printf "kafka.security.sasl.mechanism %s needs kafka.security.protocol SASL_SSL (or SASL_PLAINTEXT), not %q" $sec.sasl.mechanism $sec.protocol) }}
{{- end }}
{{- if ne $sec.sasl.mechanism "OAUTHBEARER" }}
{{- if not $sec.sasl.username }}
{{- fail (printf "kafka.security.sasl.username is required with mechanism %s" $sec.sasl.mechanism) }}
{{- end }}
{{- if not $sec.sasl.passwordSecret.name }}
{{- fail (printf "kafka.security.sasl.passwordSecret.name is required with mechanism %s (the Secret holding the password)" $sec.sasl.mechanism) }}
{{- end }}
{{- end }}
{{- else if has $sec.protocol (list "SASL_PLAINTEXT" "SASL_SSL") }}
{{- fail (printf "kafka.security.protocol %s needs kafka.security.sasl.mechanism" $sec.protocol) }}
{{- end }}
{{- if and $sec.tls.caSecret.name (not (has $sec.protocol (list "SSL" "SASL_SSL"))) }}
{{- fail "kafka.security.tls.caSecret is set but kafka.security.protocol is neither SSL nor SASL_SSL" }}
{{- end }}
{{- range $name, $_ := $k.properties }}
{{- if has $name (list "bootstrap.servers" "group.id" "security.protocol" "sasl.mechanism" "sasl.mechanisms" "sasl.username" "sasl.password" "ssl.ca.location") }}
{{- fail (printf "kafka.properties.%s: set it with kafka.brokers, kafka.group or kafka.security instead" $name) }}
{{- end }}
{{- end }}
{{- end }}
