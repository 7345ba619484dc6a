package clusterlayer

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// These table tests cover the pure helpers the diff and the apply wait rest on; they need no
// cluster.

func TestPrune(t *testing.T) {
	tests := []struct {
		name          string
		live, desired any
		want          any
	}{
		{name: "scalars are kept as live has them", live: "a", desired: "b", want: "a"},
		{name: "keys desired does not set are dropped",
			live:    map[string]any{"app": "x", "pod-template-hash": "123"},
			desired: map[string]any{"app": "y"},
			want:    map[string]any{"app": "x"}},
		{name: "keys live lacks stay missing, not nil",
			live: map[string]any{}, desired: map[string]any{"app": "y"}, want: map[string]any{}},
		{name: "nested maps are pruned to the desired shape",
			live:    map[string]any{"spec": map[string]any{"replicas": 2.0, "revisionHistoryLimit": 10.0}},
			desired: map[string]any{"spec": map[string]any{"replicas": 3.0}},
			want:    map[string]any{"spec": map[string]any{"replicas": 2.0}}},
		{name: "a list of the same length is pruned element by element",
			live:    []any{map[string]any{"name": "a", "protocol": "TCP"}, map[string]any{"name": "b", "protocol": "TCP"}},
			desired: []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}},
			want:    []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}},
		{name: "a list of another length is kept whole, so the difference shows",
			live:    []any{map[string]any{"name": "a", "protocol": "TCP"}},
			desired: []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}},
			want:    []any{map[string]any{"name": "a", "protocol": "TCP"}}},
		{name: "a live value of another type is kept whole",
			live: "not a map", desired: map[string]any{"a": "b"}, want: "not a map"},
		{name: "a live map where desired has a list is kept whole",
			live: map[string]any{"a": "b"}, desired: []any{"a"}, want: map[string]any{"a": "b"}},
		{name: "resources: equal quantities take the desired spelling",
			live: map[string]any{"resources": map[string]any{
				"requests": map[string]any{"memory": "2048Mi", "cpu": "2000m"},
				"limits":   map[string]any{"memory": "4Gi", "cpu": "3"},
			}},
			desired: map[string]any{"resources": map[string]any{
				"requests": map[string]any{"memory": "2Gi", "cpu": "2"},
				"limits":   map[string]any{"memory": "2Gi", "cpu": "3"},
			}},
			want: map[string]any{"resources": map[string]any{
				"requests": map[string]any{"memory": "2Gi", "cpu": "2"},
				"limits":   map[string]any{"memory": "4Gi", "cpu": "3"},
			}}},
		{name: "nil live stays nil", live: nil, desired: map[string]any{"a": "b"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, prune(tt.live, tt.desired)); diff != "" {
				t.Errorf("prune (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSameQuantities(t *testing.T) {
	tests := []struct {
		name          string
		live, desired any
		want          any
	}{
		{name: "memory in another unit", live: map[string]any{"memory": "2048Mi"}, desired: map[string]any{"memory": "2Gi"},
			want: map[string]any{"memory": "2Gi"}},
		{name: "millicores", live: map[string]any{"cpu": "500m"}, desired: map[string]any{"cpu": "0.5"},
			want: map[string]any{"cpu": "0.5"}},
		{name: "whole CPUs", live: map[string]any{"cpu": "2000m"}, desired: map[string]any{"cpu": "2"},
			want: map[string]any{"cpu": "2"}},
		{name: "different amounts keep the live spelling", live: map[string]any{"memory": "1Gi"}, desired: map[string]any{"memory": "2Gi"},
			want: map[string]any{"memory": "1Gi"}},
		{name: "decimal and binary units differ", live: map[string]any{"memory": "1G"}, desired: map[string]any{"memory": "1Gi"},
			want: map[string]any{"memory": "1G"}},
		{name: "a key desired lacks is kept", live: map[string]any{"memory": "1Gi", "ephemeral-storage": "1Gi"}, desired: map[string]any{"memory": "1024Mi"},
			want: map[string]any{"memory": "1024Mi", "ephemeral-storage": "1Gi"}},
		{name: "not a quantity is kept", live: map[string]any{"cpu": "lots"}, desired: map[string]any{"cpu": "lots"},
			want: map[string]any{"cpu": "lots"}},
		{name: "a number is not rewritten", live: map[string]any{"cpu": 2.0}, desired: map[string]any{"cpu": "2"},
			want: map[string]any{"cpu": 2.0}},
		{name: "live not a map", live: "2Gi", desired: map[string]any{"memory": "2Gi"}, want: "2Gi"},
		{name: "desired not a map", live: map[string]any{"memory": "2048Mi"}, desired: "2Gi", want: map[string]any{"memory": "2048Mi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, sameQuantities(tt.live, tt.desired)); diff != "" {
				t.Errorf("sameQuantities (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDropNulls(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want any
	}{
		{name: "scalar", in: "a", want: "a"},
		{name: "nil", in: nil, want: nil},
		{name: "top-level null", in: map[string]any{"a": nil, "b": "x"}, want: map[string]any{"b": "x"}},
		{name: "nested null", in: map[string]any{"metadata": map[string]any{"creationTimestamp": nil, "name": "istiod"}},
			want: map[string]any{"metadata": map[string]any{"name": "istiod"}}},
		{name: "nulls inside list elements", in: []any{map[string]any{"name": "a", "resources": nil}, "b"},
			want: []any{map[string]any{"name": "a"}, "b"}},
		{name: "a null list element is kept: removing it would shift the others",
			in: []any{"a", nil}, want: []any{"a", nil}},
		{name: "empty values are not nulls", in: map[string]any{"a": "", "b": map[string]any{}, "c": []any{}, "d": false},
			want: map[string]any{"a": "", "b": map[string]any{}, "c": []any{}, "d": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, dropNulls(tt.in)); diff != "" {
				t.Errorf("dropNulls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodsReason(t *testing.T) {
	pod := func(name string, mod func(*corev1.Pod)) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}
		mod(&p)
		return p
	}
	waiting := func(name, reason, message string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}}
	}
	tests := []struct {
		name string
		pods []corev1.Pod
		want string
	}{
		{name: "no pods", want: "no pod exists yet (the Deployment controller has not created one)"},
		{name: "pods with nothing to say", pods: []corev1.Pod{pod("a", func(*corev1.Pod) {}), pod("b", func(*corev1.Pod) {})},
			want: "2 pods, none ready yet"},
		{name: "unschedulable", pods: []corev1.Pod{pod("istiod-1", func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Message: "0/3 nodes are available: 3 Insufficient cpu."},
				{Type: corev1.PodReady, Status: corev1.ConditionFalse, Message: "ignored"},
			}
		})}, want: "pod istiod-1 is unschedulable: 0/3 nodes are available: 3 Insufficient cpu."},
		{name: "scheduled is not a reason", pods: []corev1.Pod{pod("istiod-1", func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
		})}, want: "1 pods, none ready yet"},
		{name: "image pull, with message", pods: []corev1.Pod{pod("istiod-1", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("discovery", "ImagePullBackOff", `Back-off pulling image "gcr.io/x/pilot:1"`)}
		})}, want: `pod istiod-1 container discovery: ImagePullBackOff: Back-off pulling image "gcr.io/x/pilot:1"`},
		{name: "crash loop with the last exit code", pods: []corev1.Pod{pod("istiod-1", func(p *corev1.Pod) {
			cs := waiting("discovery", "CrashLoopBackOff", "")
			cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 255}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
		})}, want: "pod istiod-1 container discovery: CrashLoopBackOff (last exit code 255)"},
		{name: "waiting without a reason says nothing", pods: []corev1.Pod{pod("istiod-1", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("discovery", "", "")}
		})}, want: "1 pods, none ready yet"},
		{name: "terminated", pods: []corev1.Pod{pod("istiod-1", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "discovery",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}}}}
		})}, want: "pod istiod-1 container discovery terminated: Error (exit code 1)"},
		{name: "running but not ready; a ready one says nothing", pods: []corev1.Pod{pod("istiod-1", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{
				{Name: "discovery", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
				{Name: "sidecar", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			}
		})}, want: "pod istiod-1 container discovery is running but not ready"},
		{name: "init containers first, then containers, then the next pod", pods: []corev1.Pod{
			pod("a", func(p *corev1.Pod) {
				p.Status.InitContainerStatuses = []corev1.ContainerStatus{waiting("init", "PodInitializing", "")}
				p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("main", "ContainerCreating", "")}
			}),
			pod("b", func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Message: "no nodes"}}
			}),
		}, want: "pod a container init: PodInitializing; pod a container main: ContainerCreating; pod b is unschedulable: no nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podsReason(tt.pods); got != tt.want {
				t.Errorf("podsReason:\n got  %s\n want %s", got, tt.want)
			}
		})
	}
}
