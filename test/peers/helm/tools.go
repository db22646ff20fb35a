//go:build tools

// Package helm pins the helm CLI (helm.sh/helm/v3) that the chart tests render charts/dns-eds with.
// Nothing here is compiled into anything; scripts/prereqs/helm.mjs runs
// `go build helm.sh/helm/v3/cmd/helm` in this module, so go.mod and go.sum are the pin.
package helm

import _ "helm.sh/helm/v3/cmd/helm"
