#!/bin/sh
# Print a PrometheusRule (Prometheus Operator) holding numalens' recording
# and alerting rules, from deploy/prometheus/*.yml, so that there is one
# source of truth for the rules:
#   deploy/kubernetes/prometheusrule.sh [NAMESPACE] [LABEL=VALUE] | kubectl apply -f -
# kube-prometheus-stack selects rules by its Helm release label, e.g.
#   deploy/kubernetes/prometheusrule.sh numalens release=kube-prometheus-stack
set -eu
dir=$(dirname "$0")/../prometheus
ns=${1:-numalens}
label=${2:-}
cat <<HEAD
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: numalens
  namespace: $ns
  labels:
    app.kubernetes.io/name: numalens
HEAD
if [ -n "$label" ]; then
	printf '    %s: "%s"\n' "${label%%=*}" "${label#*=}"
fi
echo "spec:"
echo "  groups:"
for f in "$dir/numalens.rules.yml" "$dir/numalens.alerts.yml"; do
	# the group list after the top-level `groups:` key, indented under spec
	sed -n '/^groups:/,$p' "$f" | sed '1d; s/^\(.\)/  \1/'
done
