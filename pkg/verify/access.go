package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/dynamic"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// remoteAccess reads every remote secret a cluster holds and uses its kubeconfig, as istiod
// would, to list what istiod needs in the peer. Pairs are checked in parallel.
func remoteAccess(ctx context.Context, env *Env) []Finding {
	return forEach(ctx, env, env.Derived.RemoteSecrets, func(ctx context.Context, rs federation.RemoteSecret) []Finding {
		return []Finding{remoteSecretWorks(ctx, env, rs)}
	})
}

// remoteSecretWorks checks one remote secret, as istiod would use it.
func remoteSecretWorks(ctx context.Context, env *Env, rs federation.RemoteSecret) Finding {
	subject := fmt.Sprintf("%s → %s", rs.Holder, rs.Target)
	sec, skip, fail := readRemoteSecret(ctx, env, rs)
	switch {
	case skip != "":
		return Finding{Subject: subject, Status: Skipped, Message: skip}
	case fail != nil:
		fail.Subject = subject
		return *fail
	}
	if sec.GetLabels()[federation.LabelMultiCluster] != "true" {
		return Finding{Subject: subject, Status: Fail, Message: "the secret lacks the label " + multiClusterSecret + ": istiod ignores it",
			Hint: "kubectl asmfed apply sets it"}
	}
	data, _, _ := unstructuredBytes(sec.Object, rs.DataKey)
	if data == nil {
		return Finding{Subject: subject, Status: Fail, Message: fmt.Sprintf("the secret has no key %q: istiod names the peer by the key", rs.DataKey)}
	}
	peer, err := remoteRESTConfig(data)
	if err != nil {
		hint := "kubectl asmfed apply rewrites the remote secret with a service-account token and the peer's CA; find out who wrote this one"
		if refused := (*refusedKubeconfig)(nil); !errors.As(err, &refused) {
			hint = "kubectl asmfed apply rewrites the remote secret"
		}
		return Finding{Subject: subject, Status: Fail, Message: err.Error(), Hint: hint}
	}
	if err := canRead(ctx, peer); err != nil {
		return Finding{Subject: subject, Status: Fail, Message: fmt.Sprintf("reading %s at %s: %v", rs.Target, peer.Host, err),
			Hint: "check that the server is reachable from the holder's pods (master authorized networks, global access) and that the token is valid (apply --rotate-remote-secrets issues new ones)"}
	}
	f := Finding{Subject: subject, Status: OK, Message: fmt.Sprintf("%s lists services, endpoint slices and the mesh ConfigMaps of %s at %s", rs.Holder, rs.Target, peer.Host)}
	issued, ok := tokenIssued(ctx, env, rs)
	if !ok {
		return f
	}
	age := time.Since(issued)
	f.Message += fmt.Sprintf("; its token was issued %s ago (%s)", duration.HumanDuration(age), issued.UTC().Format(time.DateOnly))
	if env.MaxTokenAge > 0 && age > env.MaxTokenAge {
		f.Status = Warn
		f.Message += fmt.Sprintf(", more than --max-token-age %s", env.MaxTokenAge)
		f.Hint = "the token never expires: kubectl asmfed apply --rotate-remote-secrets issues new tokens to every reader and rewrites the remote secrets, and the old tokens stop working"
	}
	return f
}

// tokenIssued is when the reader token of a remote secret was issued: the creation of its token
// Secret in the target, read with the target's own credentials; false when it cannot be read (the
// target cannot be reached, or the remote secret carries a token the tool did not issue).
func tokenIssued(ctx context.Context, env *Env, rs federation.RemoteSecret) (time.Time, bool) {
	cfg, ok := env.Clusters[rs.Target]
	if !ok {
		return time.Time{}, false
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return time.Time{}, false
	}
	sec, err := dyn.Resource(secretsGVR).Namespace(federation.IstioNamespace).Get(ctx, federation.ReaderTokenSecret(rs.Holder), metav1.GetOptions{})
	if err != nil || sec.GetCreationTimestamp().Time.IsZero() {
		return time.Time{}, false
	}
	return sec.GetCreationTimestamp().Time, true
}

// readRemoteSecret reads a remote secret from its holder. It returns why the check is skipped
// (the holder cannot be reached) or the failure (the secret cannot be read) instead.
func readRemoteSecret(ctx context.Context, env *Env, rs federation.RemoteSecret) (*unstructured.Unstructured, string, *Finding) {
	cfg, ok := env.Clusters[rs.Holder]
	if !ok {
		return nil, rs.Holder + " cannot be reached", nil
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, "", &Finding{Status: Fail, Message: err.Error()}
	}
	sec, err := dyn.Resource(secretsGVR).Namespace(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
	if err != nil {
		return nil, "", &Finding{Status: Fail, Message: fmt.Sprintf("secret %s/%s: %v", rs.Namespace, rs.Name, err), Hint: "kubectl asmfed apply creates it"}
	}
	return sec, "", nil
}

// multiClusterConnected reads asm-options in every cluster: a managed control plane sends a
// cluster's endpoints to the other clusters, and theirs to it, only where multicluster_mode is
// connected. Clusters are read in parallel.
func multiClusterConnected(ctx context.Context, env *Env) []Finding {
	key, connected := federation.MultiClusterModeKey, federation.MultiClusterConnected
	patch := fmt.Sprintf(`kubectl patch configmap/%s -n %s --type merge -p '{"data":{"%s":"%s"}}'`, federation.ASMOptionsName, federation.IstioNamespace, key, connected)
	return forEach(ctx, env, env.Federation.Spec.Clusters, func(ctx context.Context, c v1alpha1.Cluster) []Finding {
		cfg, ok := env.Clusters[c.Name]
		if !ok {
			return []Finding{{Subject: c.Name, Status: Skipped, Message: c.Name + " cannot be reached"}}
		}
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return []Finding{{Subject: c.Name, Status: Fail, Message: err.Error()}}
		}
		cut := fmt.Sprintf("the managed control plane sends none of %s's endpoints to the other clusters, and none of theirs to it", c.Name)
		cm, err := dyn.Resource(configMapsGVR).Namespace(federation.IstioNamespace).Get(ctx, federation.ASMOptionsName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return []Finding{{Subject: c.Name, Status: Fail, Message: fmt.Sprintf("%s/%s does not exist: %s", federation.IstioNamespace, federation.ASMOptionsName, cut),
				Hint: fmt.Sprintf("kubectl asmfed apply creates it; by hand: kubectl create configmap %s -n %s --from-literal=%s=%s", federation.ASMOptionsName, federation.IstioNamespace, key, connected)}}
		case err != nil:
			return []Finding{{Subject: c.Name, Status: Fail, Message: fmt.Sprintf("configmap %s/%s: %v", federation.IstioNamespace, federation.ASMOptionsName, err)}}
		}
		mode, found, _ := unstructured.NestedString(cm.Object, "data", key)
		switch {
		case !found:
			return []Finding{{Subject: c.Name, Status: Fail, Message: fmt.Sprintf("%s has no %s: %s", federation.ASMOptionsName, key, cut),
				Hint: "kubectl asmfed apply sets it; by hand: " + patch}}
		case mode != connected:
			return []Finding{{Subject: c.Name, Status: Fail, Message: fmt.Sprintf("%s sets %s to %q, not %q: %s", federation.ASMOptionsName, key, mode, connected, cut),
				Hint: "kubectl asmfed apply sets it back; find out who changed it; by hand: " + patch}}
		}
		return []Finding{{Subject: c.Name, Status: OK, Message: fmt.Sprintf("%s sets %s: %s: the managed control plane discovers %s's endpoints and sends it the other clusters'", federation.ASMOptionsName, key, connected, c.Name)}}
	})
}
