package gcpfake

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// Kinds of backend work an operation waits for.
const (
	workProvision = "provision"
	workRelease   = "release"
)

// backendWork is what an operation asks of the ClusterBackend. It is data,
// like the rest of a pendingOp, so that work cut short by a restart resumes
// when the simulator starts again on the same state.
type backendWork struct {
	Kind     string `json:"kind"`
	Project  string `json:"project"`
	Location string `json:"location"`
	Cluster  string `json:"cluster"`
	// Done is set once the work has reported back; the operation may then
	// complete.
	Done bool `json:"done,omitempty"`
}

func (w *backendWork) key() string { return clusterKey(w.Project, w.Location, w.Cluster) }

// provisioning is a control plane being started for a cluster: cancel stops
// it, done closes once Provision has returned and its outcome is recorded.
type provisioning struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startBackendWork runs p's backend work in the background, on the server's
// context rather than the request's: once a create or delete is accepted it
// runs to completion whatever its caller does, as on GKE. Caller holds the
// lock.
func (s *Server) startBackendWork(p *pendingOp) {
	w := p.Backend
	if w == nil || w.Done {
		return
	}
	if s.opts.backend == nil {
		// State written by a simulator that had a backend, loaded by one
		// without: there is nothing to start or release.
		w.Done = true
		return
	}
	switch w.Kind {
	case workProvision:
		ctx, cancel := context.WithCancel(s.bg)
		pr := &provisioning{cancel: cancel, done: make(chan struct{})}
		s.provisioning[w.key()] = pr
		cluster := &containerpb.Cluster{Name: w.Cluster, Location: w.Location}
		if c, ok := p.Puts[w.key()].(*containerpb.Cluster); ok {
			cluster = proto.Clone(c).(*containerpb.Cluster)
		}
		s.work.Add(1)
		go func() {
			defer s.work.Done()
			defer close(pr.done)
			defer cancel()
			s.provision(ctx, p, pr, cluster)
		}()
	case workRelease:
		pr := s.provisioning[w.key()]
		s.work.Add(1)
		go func() {
			defer s.work.Done()
			s.release(p, pr)
		}()
	default:
		w.Done = true
	}
}

// provision starts the control plane and records the outcome on the
// operation: the endpoint and CA in the cluster it will store, or a failure
// that leaves the cluster in ERROR.
func (s *Server) provision(ctx context.Context, p *pendingOp, pr *provisioning, cluster *containerpb.Cluster) {
	w := p.Backend
	endpoint, caPEM, err := s.opts.backend.Provision(ctx, w.Project, cluster)
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.provisioning[w.key()] == pr {
		delete(s.provisioning, w.key())
	}
	if !slices.Contains(s.st.pending, p) {
		// The cluster was deleted meanwhile; its delete releases the backend
		// once this returns.
		return
	}
	if err != nil && s.bg.Err() != nil {
		// The simulator is stopping: the operation stays in flight and
		// provisioning starts over when it is started again on this state.
		return
	}
	key := w.key()
	if err != nil {
		msg := fmt.Sprintf("Cluster %q could not start its control plane: %v.", w.Cluster, strings.TrimSuffix(err.Error(), "."))
		p.Fail = gkeErr(codes.Internal, "%s", msg)
		if c, ok := p.FailPuts[key].(*containerpb.Cluster); ok {
			c.StatusMessage = msg
			c.Conditions = append(c.Conditions, &containerpb.StatusCondition{Message: msg, CanonicalCode: code.Code_INTERNAL})
			s.finishCluster(c)
		}
		// A failure ends the operation when it happens.
		if now := s.st.now(); p.DoneAt.After(now) {
			p.DoneAt = now
		}
	} else if c, ok := p.Puts[key].(*containerpb.Cluster); ok {
		setBackendEndpoint(c, endpoint, caPEM)
		s.finishCluster(c)
	}
	s.st.workDone(p)
}

// release waits for any provisioning of the cluster to stop, then releases
// its control plane, so a delete in any state leaves nothing running.
func (s *Server) release(p *pendingOp, pr *provisioning) {
	w := p.Backend
	if pr != nil {
		pr.cancel()
		<-pr.done
	}
	s.opts.backend.Release(w.Project, w.Location, w.Cluster)
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.workDone(p)
}

// workDone lets p complete: now if its time has come, else at its deadline.
// Caller holds the lock.
func (s *store) workDone(p *pendingOp) {
	p.Backend.Done = true
	if now := s.now(); p.DoneAt.Before(now) {
		// The work outlasted the modelled duration: the operation ends when
		// the work does.
		p.DoneAt = now
	}
	sort.SliceStable(s.pending, func(i, j int) bool { return s.pending[i].DoneAt.Before(s.pending[j].DoneAt) })
	s.dirty = true
	s.settle()
	if s.dir != "" {
		// No request follows to persist it: save now, so a sandbox killed
		// later does not start this control plane again on restart.
		s.saveErr = s.save()
		s.dirty = false
	}
}

// resumeBackendWork restarts the work of operations loaded from the state
// file. Caller holds the lock.
func (s *Server) resumeBackendWork() {
	for _, p := range s.st.pending {
		if p.Backend != nil && p.Backend.Kind == workProvision {
			s.startBackendWork(p)
		}
	}
	for _, p := range s.st.pending {
		if p.Backend != nil && p.Backend.Kind != workProvision {
			s.startBackendWork(p)
		}
	}
	s.st.settle()
}

// setBackendEndpoint points a cluster at the local API server that stands
// in for its control plane. GKE returns addresses without a scheme, and the
// private endpoint is the same server (peers reach it from "pods" on the
// same machine).
func setBackendEndpoint(c *containerpb.Cluster, endpoint string, caPEM []byte) {
	hostport := strings.TrimPrefix(endpoint, "https://")
	c.Endpoint = hostport
	if c.PrivateClusterConfig != nil {
		c.PrivateClusterConfig.PrivateEndpoint = hostport
	}
	if c.MasterAuth == nil {
		c.MasterAuth = &containerpb.MasterAuth{}
	}
	c.MasterAuth.ClusterCaCertificate = base64.StdEncoding.EncodeToString(caPEM)
}
