// Package k8s holds no code: it is the home of the tests that render and
// validate Proxide's Kubernetes deployment files (the plain sidecar
// manifests, the Helm chart and the Istio / Envoy Gateway examples).
//
// It is a separate module (github.com/proxide/proxide/k8s) so that helm's
// and k8s.io's packages, needed only by these tests, never enter the
// sidecar's own module.
package k8s
