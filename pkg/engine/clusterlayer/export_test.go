package clusterlayer

import (
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/pkg/engine/lock"
)

// LeaseStoreIn is LeaseStore with the Lease in namespace, so that tests on shared clusters leave
// istio-system alone.
func LeaseStoreIn(cfg *rest.Config, namespace, cluster, fed string) (lock.Store, error) {
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &leaseLock{client: client, namespace: namespace, cluster: cluster, fed: fed}, nil
}
