package istiodtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// caSecret is where istiod, as its own CA, keeps the root it signs its serving certificate with.
const caSecret = "istio-ca-secret"

// Verdict is istiod's answer to an object sent to its validation webhook.
type Verdict struct {
	Allowed bool
	// Message is why it was refused.
	Message  string
	Warnings []string
}

// Validate sends obj to istiod's validation webhook (/validate on HTTPSAddr) as the API server
// would on its creation, and returns istiod's verdict: the checks of Istio's own validation
// (what `kubectl apply` of the object would meet in a cluster with the webhook). istiod's serving
// certificate is verified against the root istiod publishes (see webhookClient).
func (i *Istiod) Validate(ctx context.Context, obj *unstructured.Unstructured) (Verdict, error) {
	raw, err := json.Marshal(obj.Object)
	if err != nil {
		return Verdict{}, err
	}
	gvk := obj.GroupVersionKind()
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID(fmt.Sprintf("asmfed-%d", time.Now().UnixNano())),
			Kind:      metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
			Name:      obj.GetName(),
			Namespace: obj.GetNamespace(),
			Operation: admissionv1.Create,
			Object:    runtime.RawExtension{Raw: raw},
		},
	}
	body, err := json.Marshal(review)
	if err != nil {
		return Verdict{}, err
	}
	client, err := i.webhookClient(ctx)
	if err != nil {
		return Verdict{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+i.HTTPSAddr+"/validate", bytes.NewReader(body))
	if err != nil {
		return Verdict{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return Verdict{}, fmt.Errorf("POST /validate: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return Verdict{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Verdict{}, fmt.Errorf("POST /validate: %s: %s", resp.Status, out)
	}
	var answer admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &answer); err != nil || answer.Response == nil {
		return Verdict{}, fmt.Errorf("POST /validate: not an admission review: %v: %s", err, out)
	}
	v := Verdict{Allowed: answer.Response.Allowed, Warnings: answer.Response.Warnings}
	if answer.Response.Result != nil {
		v.Message = answer.Response.Result.Message
	}
	return v, nil
}

// webhookClient trusts the root istiod signs with: the one it publishes in istio-system
// (istio-ca-root-cert, whatever its CA: the plug-in intermediate's root or its own), or, before it
// has published it, the self-signed root of its istio-ca-secret.
func (i *Istiod) webhookClient(ctx context.Context) (*http.Client, error) {
	var rootPEM []byte
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		if cm, err := i.Cluster.Client().CoreV1().ConfigMaps(Namespace).Get(ctx, "istio-ca-root-cert", metav1.GetOptions{}); err == nil {
			rootPEM = []byte(cm.Data["root-cert.pem"])
			return true, nil
		}
		if s, err := i.Cluster.Client().CoreV1().Secrets(Namespace).Get(ctx, caSecret, metav1.GetOptions{}); err == nil {
			rootPEM = s.Data["ca-cert.pem"]
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read istiod's root: neither %s/istio-ca-root-cert nor %s/%s appeared: %w", Namespace, Namespace, caSecret, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		return nil, fmt.Errorf("istiod's root in %s is not PEM", Namespace)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "istiod." + Namespace + ".svc", MinVersion: tls.VersionTLS12},
	}}, nil
}
