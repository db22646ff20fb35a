// k8s-strict-decode reads the multi-document YAML that `helm template` prints on stdin and decodes each
// object strictly into its real API type (k8s.io/api, and prometheus-operator's ServiceMonitor): a field
// the type does not have, a duplicate field or a value of the wrong type is an error, as is a kind this
// program does not know. It prints one line per object ("Kind/name") and exits 0, or names every
// problem on stderr and exits 1. Usage: helm template ... | k8s-strict-decode
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// newObject returns an empty object of the Go type registered for apiVersion/kind.
func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, true
	case "v1/Service":
		return &corev1.Service{}, true
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1/Secret":
		return &corev1.Secret{}, true
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}, true
	}
	return nil, false
}

// splitDocuments splits YAML on "---" lines.
func splitDocuments(in []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(in))
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "---") {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
			cur.Reset()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	return append(docs, cur.Bytes())
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read stdin:", err)
		os.Exit(1)
	}
	problems := 0
	objects := 0
	for i, doc := range splitDocuments(in) {
		var head unstructured.Unstructured
		if err := yaml.Unmarshal(doc, &head.Object); err != nil {
			fmt.Fprintf(os.Stderr, "document %d: not YAML: %v\n", i, err)
			problems++
			continue
		}
		if len(head.Object) == 0 {
			continue // an empty document (comments only)
		}
		where := fmt.Sprintf("document %d (%s %s/%s)", i, head.GetAPIVersion(), head.GetKind(), head.GetName())
		obj, ok := newObject(head.GetAPIVersion(), head.GetKind())
		if !ok {
			fmt.Fprintf(os.Stderr, "%s: no API type known for this apiVersion and kind\n", where)
			problems++
			continue
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", where, err)
			problems++
			continue
		}
		if head.GetName() == "" {
			fmt.Fprintf(os.Stderr, "%s: metadata.name is empty\n", where)
			problems++
			continue
		}
		objects++
		fmt.Printf("%s/%s\n", head.GetKind(), head.GetName())
	}
	if objects == 0 && problems == 0 {
		fmt.Fprintln(os.Stderr, "no object on stdin")
		os.Exit(1)
	}
	if problems > 0 {
		os.Exit(1)
	}
}
