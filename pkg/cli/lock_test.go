package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/testutil"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/lock"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

type running struct {
	stderr *testutil.SyncBuffer
	done   chan result
}

// start runs the command tree in the background against the sandbox.
func start(sb *sandboxEnv, args ...string) *running {
	r := &running{stderr: &testutil.SyncBuffer{}, done: make(chan result, 1)}
	go func() {
		var out bytes.Buffer
		streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: r.stderr}
		root := newRootCommand(streams, func(k string) string { return sb.env[k] })
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		code := ExitCode(r.stderr, err)
		r.done <- result{stdout: out.String(), stderr: r.stderr.String(), code: code}
	}()
	return r
}

// waitFor waits until every command says it waits for the lock.
func waitFor(t *testing.T, rs ...*running) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for _, r := range rs {
		for !strings.Contains(r.stderr.String(), "Waiting up to") {
			select {
			case res := <-r.done:
				t.Fatalf("a command ended before it waited for the lock: code %d\n%s", res.code, res.stderr)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no wait for the lock after 3m:\n%s", r.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func finish(t *testing.T, r *running) result {
	t.Helper()
	select {
	case res := <-r.done:
		return res
	case <-time.After(5 * time.Minute):
		t.Fatalf("the command did not finish within 5m:\n%s", r.stderr.String())
		return result{}
	}
}

// race holds the federation's lock while two applies plan and start waiting for it, then lets them
// go: exactly one applies, the other finds the live state moved under it and refuses without
// changing anything.
func race(t *testing.T, sb *sandboxEnv, store lock.Store, argsA, argsB []string) (winner, loser int, results [2]result) {
	t.Helper()
	ctx := context.Background()
	held, err := lock.Acquire(ctx, lock.Options{Federation: "asm-sample", Operation: "test", Holder: lock.Holder{User: "test-holder", Host: "here"}}, store)
	if err != nil {
		t.Fatal(err)
	}
	a, b := start(sb, argsA...), start(sb, argsB...)
	waitFor(t, a, b)
	for _, r := range []*running{a, b} {
		if s := r.stderr.String(); !strings.Contains(s, "held by the test of test-holder on here") || !strings.Contains(s, "metadata item asmfed-lock-asm-sample of project asm-multicluster-demo") {
			t.Errorf("the wait does not name the holder and where:\n%s", s)
		}
	}
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	results = [2]result{finish(t, a), finish(t, b)}
	switch {
	case results[0].code == exitOK && results[1].code == exitFailure:
		winner, loser = 0, 1
	case results[1].code == exitOK && results[0].code == exitFailure:
		winner, loser = 1, 0
	default:
		t.Fatalf("want one apply to succeed and one to refuse, got codes %d and %d\nA:\n%s\nB:\n%s", results[0].code, results[1].code, results[0].stderr, results[1].stderr)
	}
	if s := results[loser].stderr; !strings.Contains(s, "the live state changed after the plan was made (another apply or destroy ran meanwhile): nothing was changed; plan and apply again") {
		t.Errorf("the refusal does not say why:\n%s", s)
	}
	if s := results[loser].stderr; strings.Contains(s, " done, ") {
		t.Errorf("the refused apply changed something:\n%s", s)
	}
	return winner, loser, results
}

// deletions are the addresses a plan of file would delete: what the inventories list beyond it.
func deletions(t *testing.T, sb *sandboxEnv, file string) map[plan.Address]bool {
	t.Helper()
	r := runAgainst(t, sb, "plan", "-f", file, "-o", "json")
	var p plan.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, r.stderr)
	}
	out := map[plan.Address]bool{}
	for _, c := range p.Changes {
		if c.Action == plan.Delete {
			out[c.Address] = true
		}
	}
	return out
}

// Invariant 7: two applies of one federation, of the same file and of two versions of it, in
// parallel against the simulator and real API servers: one waits, the other refuses a plan the
// first made stale, and every object created is in the inventory afterwards.
func TestConcurrentApplies(t *testing.T) {
	sb := startSandbox(t)
	dir := t.TempDir()
	caInit(t, dir)
	data, err := os.ReadFile(twoCluster)
	if err != nil {
		t.Fatal(err)
	}
	withNamespace := func(name string) string {
		const anchor = "  namespaces:\n    - name: sample\n"
		if !strings.Contains(string(data), anchor) {
			t.Fatal("the sample changed: no namespaces list to extend")
		}
		file := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(file, []byte(strings.Replace(string(data), anchor, anchor+"    - name: "+name+"\n", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		return file
	}
	v1 := filepath.Join(dir, "federation.yaml")
	if err := os.WriteFile(v1, data, 0o644); err != nil {
		t.Fatal(err)
	}
	clients, err := gcp.New(context.Background(), gcp.Config{Endpoint: sb.srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close()
	store := gcplayer.New(clients, gcplayer.Options{}).LockStore("asm-multicluster-demo", "asm-sample")
	apply := func(file string, extra ...string) []string {
		return append([]string{"apply", "-f", file, "--auto-approve", "--wait=false", "--lock-timeout=3m"}, extra...)
	}

	t.Run("same file", func(t *testing.T) {
		_, loser, _ := race(t, sb, store, apply(v1), apply(v1))
		_ = loser
		r := runAgainst(t, sb, "plan", "-f", v1, "--detailed-exitcode")
		if r.code != exitOK {
			t.Fatalf("plan after the race: code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("two versions", func(t *testing.T) {
		files := [2]string{withNamespace("team-a"), withNamespace("team-b")}
		names := [2]string{"team-a", "team-b"}
		winner, loser, _ := race(t, sb, store, apply(files[0]), apply(files[1]))
		// Everything the winner created is in the inventories: planning the first version deletes it.
		del := deletions(t, sb, v1)
		for _, c := range []string{"cluster3", "cluster4"} {
			ns := plan.ObjectAddress(c, "", "Namespace", names[winner])
			if !del[ns] {
				t.Errorf("%s was created but is not in the inventory: plan of v1 deletes %v", ns, del)
			}
		}
		// The refused version applies after a new plan, and its objects are in the inventory too.
		r := runAgainst(t, sb, apply(files[loser], "--allow-destroy")...)
		if r.code != exitOK {
			t.Fatalf("apply of the refused version: code %d\n%s", r.code, r.stderr)
		}
		del = deletions(t, sb, v1)
		for _, c := range []string{"cluster3", "cluster4"} {
			if ns := plan.ObjectAddress(c, "", "Namespace", names[loser]); !del[ns] {
				t.Errorf("%s is not in the inventory: plan of v1 deletes %v", ns, del)
			}
			if ns := plan.ObjectAddress(c, "", "Namespace", names[winner]); del[ns] {
				t.Errorf("%s was pruned but is still planned for deletion", ns)
			}
		}
	})

	// Nothing is left holding the lock.
	if rec, _, err := store.Read(context.Background()); err != nil || rec != nil {
		t.Errorf("lock after the applies: %+v, %v", rec, err)
	}
}
