package clusterlayer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/lock"
)

// The cluster side's lock is a coordination.k8s.io/v1 Lease written with its resourceVersion as
// precondition: against a real API server, one of two writers wins, the other is refused naming
// the holder, an expired Lease is taken over, a Lease held by something else is respected, and
// release deletes it.
func TestLeaseLock(t *testing.T) {
	c := clusters.Get(t, 1)[0]
	ctx := context.Background()
	ns := "lock-test"
	if _, err := c.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	store := func(fed string) lock.Store {
		s, err := clusterlayer.LeaseStoreIn(c.RESTConfig(), ns, c.Name, fed)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	opts := func(user string) lock.Options {
		return lock.Options{Federation: "f1", Operation: "apply", Holder: lock.Holder{User: user, Host: "h", PID: 7}, TTL: time.Minute, Poll: 10 * time.Millisecond}
	}

	a, err := lock.Acquire(ctx, opts("alice"), store("f1"))
	if err != nil {
		t.Fatal(err)
	}
	lease, err := c.Client().CoordinationV1().Leases(ns).Get(ctx, clusterlayer.LeasePrefix+"f1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h == nil || !strings.HasPrefix(*h, "alice on h (pid 7) [") || *lease.Spec.LeaseDurationSeconds != 60 ||
		lease.Labels["asmfed.io/federation"] != "f1" {
		t.Errorf("Lease as other tools see it: %+v %v", lease.Spec, lease.Labels)
	}

	_, err = lock.Acquire(ctx, opts("bob"), store("f1"))
	var held *lock.HeldError
	if !errors.As(err, &held) || !strings.Contains(err.Error(), "locked by the apply of alice on h (pid 7)") ||
		!strings.Contains(err.Error(), "held in Lease lock-test/asmfed-lock-f1 of cluster "+c.Name) {
		t.Fatalf("second writer: %v", err)
	}
	// Another federation's lock is another Lease.
	other, err := lock.Acquire(ctx, opts("carol"), store("f2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// A write with a stale resourceVersion is a conflict, not an overwrite.
	s := store("f1")
	_, version, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lost := a.Renew(ctx); lost != nil {
		t.Fatal(lost)
	}
	if err := s.Write(ctx, &lock.Record{ID: "x"}, version); !errors.Is(err, lock.ErrConflict) {
		t.Fatalf("stale write: %v", err)
	}

	// Past its TTL, alice's lock is taken over without force.
	late := opts("bob")
	late.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	b, err := lock.Acquire(ctx, late, store("f1"))
	if err != nil {
		t.Fatalf("takeover of an expired Lease: %v", err)
	}
	if lost := a.Renew(ctx); lost == nil || lost.By == nil || lost.By.Holder.User != "bob" {
		t.Errorf("alice after the takeover: %v", lost)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client().CoordinationV1().Leases(ns).Get(ctx, clusterlayer.LeasePrefix+"f1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Lease after release: %v", err)
	}

	// A Lease held by something else, without the tool's record, is respected while it is live.
	foreign := "controller-1"
	now := metav1.NewMicroTime(time.Now())
	secs := int32(60)
	lease.ObjectMeta = metav1.ObjectMeta{Name: clusterlayer.LeasePrefix + "f3", Namespace: ns}
	lease.Spec.HolderIdentity, lease.Spec.RenewTime, lease.Spec.AcquireTime, lease.Spec.LeaseDurationSeconds = &foreign, &now, &now, &secs
	if _, err := c.Client().CoordinationV1().Leases(ns).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Acquire(ctx, opts("dave"), store("f3")); !errors.As(err, &held) || held.Record.Holder.User != foreign {
		t.Errorf("foreign Lease: %v", err)
	}
}
