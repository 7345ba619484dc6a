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
// certificate is verified against the root of its istio-ca-secret.
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

// webhookClient trusts istiod's own root, which istiod writes to its istio-ca-secret.
func (i *Istiod) webhookClient(ctx context.Context) (*http.Client, error) {
	s, err := i.Cluster.Client().CoreV1().Secrets(Namespace).Get(ctx, caSecret, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read istiod's root: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.Data["ca-cert.pem"]) {
		return nil, fmt.Errorf("%s/%s holds no ca-cert.pem", Namespace, caSecret)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "istiod." + Namespace + ".svc", MinVersion: tls.VersionTLS12},
	}}, nil
}
