package verify

import (
	"context"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func findings(fs ...Finding) func(context.Context, *Env) []Finding {
	return func(context.Context, *Env) []Finding { return fs }
}

// A check whose requirement is not met is skipped with the reason and never run; a check that
// finds nothing to look at says so; the others run.
func TestRequirements(t *testing.T) {
	var ran atomic.Int32
	failing := func(context.Context, *Env) []Finding {
		ran.Add(1)
		return []Finding{{Status: Fail, Message: "must not run"}}
	}
	unmet := Requirement{Name: "a", Unmet: func(*Env) string { return "a was not read" }}
	met := Requirement{Name: "b", Unmet: func(*Env) string { return "" }}
	checks := []Check{
		{ID: "T-A-001", Name: "needs a", Requires: []Requirement{met, unmet}, Run: failing},
		{ID: "T-B-001", Name: "needs b", Requires: []Requirement{met}, Run: findings(Finding{Status: OK, Message: "fine"})},
		{ID: "T-C-001", Name: "nothing", Run: findings()},
	}
	r := Run(context.Background(), &Env{}, checks)
	if ran.Load() != 0 {
		t.Error("a check whose requirement is not met ran")
	}
	want := []Finding{
		{Check: "T-A-001", Name: "needs a", Status: Skipped, Message: "a was not read"},
		{Check: "T-B-001", Name: "needs b", Status: OK, Message: "fine"},
		{Check: "T-C-001", Name: "nothing", Status: Skipped, Message: "nothing to check"},
	}
	if diff := cmp.Diff(want, r.Results); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if r.Failed() || r.Counts.Checks != (CheckCounts{Total: 3, OK: 1, Skipped: 2}) {
		t.Errorf("counts %+v", r.Counts)
	}
}

// The built-in requirements skip their checks with a reason when what they need was not read.
func TestBuiltInRequirements(t *testing.T) {
	env := &Env{Federation: fed(t)}
	r := Run(context.Background(), env, Checks())
	for _, c := range r.Checks {
		if c.ID == "ASMFED-PRE-001" {
			continue // it needs nothing beyond the file
		}
		if c.Status != Skipped {
			t.Errorf("%s ran without what it needs: %s", c.ID, c.Status)
		}
	}
	for _, f := range r.Results {
		if f.Status == Skipped && f.Message == "" {
			t.Errorf("%s skipped without a reason", f.Check)
		}
	}
}

// Checks, and clusters within a check, run in parallel up to the bound, and the report keeps
// the order of the checks and of the items whatever order they finish in.
func TestParallelWithABound(t *testing.T) {
	const limit = 3
	var running, peak atomic.Int32
	var mu sync.Mutex
	order := []int{}
	items := []int{0, 1, 2, 3, 4, 5, 6, 7}
	env := &Env{Parallelism: limit}
	got := forEach(context.Background(), env, items, func(_ context.Context, i int) []Finding {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		// Later items finish first.
		time.Sleep(time.Duration(len(items)-i) * 5 * time.Millisecond)
		mu.Lock()
		order = append(order, i)
		mu.Unlock()
		running.Add(-1)
		return []Finding{{Subject: string(rune('a' + i))}}
	})
	if peak.Load() != limit {
		t.Errorf("at most %d at once, want exactly %d", peak.Load(), limit)
	}
	var subjects string
	for _, f := range got {
		subjects += f.Subject
	}
	if subjects != "abcdefgh" {
		t.Errorf("findings in the order %q, want the items' order", subjects)
	}
	if order[0] == 0 {
		t.Errorf("the items finished in order %v: the test proves nothing about ordering", order)
	}

	// Whole checks too: each waits until all four have started, which only happens when they run
	// at once, and the first to start finishes last.
	var started atomic.Int32
	var checks []Check
	for i := range 4 {
		id := "T-P-00" + string(rune('1'+i))
		checks = append(checks, Check{ID: id, Name: id, Run: func(context.Context, *Env) []Finding {
			started.Add(1)
			deadline := time.Now().Add(5 * time.Second)
			for started.Load() < 4 {
				if time.Now().After(deadline) {
					return []Finding{{Status: Fail, Message: "the checks did not run at once"}}
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(time.Duration(4-i) * 10 * time.Millisecond)
			return []Finding{{Status: OK}}
		}})
	}
	r := Run(context.Background(), &Env{Parallelism: 4}, checks)
	for i, f := range r.Results {
		if f.Check != checks[i].ID || f.Status != OK {
			t.Errorf("result %d: %s %s %s, want %s ok", i, f.Check, f.Status, f.Message, checks[i].ID)
		}
	}
}

func TestSelect(t *testing.T) {
	all := []Check{{ID: "ASMFED-PRE-001"}, {ID: "ASMFED-NET-001"}, {ID: "ASMFED-NET-002"}, {ID: "ASMFED-GKE-001"}}
	ids := func(cs []Check) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	tests := []struct {
		name       string
		only, skip []string
		want       []string
		err        string
	}{
		{name: "everything", want: []string{"ASMFED-PRE-001", "ASMFED-NET-001", "ASMFED-NET-002", "ASMFED-GKE-001"}},
		{name: "a group by glob", only: []string{"ASMFED-NET-*"}, want: []string{"ASMFED-NET-001", "ASMFED-NET-002"}},
		{name: "case does not matter", only: []string{"asmfed-gke-001"}, want: []string{"ASMFED-GKE-001"}},
		{name: "skip wins over only, order is the checks'", only: []string{"ASMFED-GKE-001", "*-NET-*"}, skip: []string{"ASMFED-NET-002"},
			want: []string{"ASMFED-NET-001", "ASMFED-GKE-001"}},
		{name: "a pattern that matches nothing", skip: []string{"ASMFED-NETWORK-*"},
			err: `--skip "ASMFED-NETWORK-*" matches no check: the IDs are listed in kubectl asmfed verify --help and docs/verify.md`},
		{name: "a bad pattern", only: []string{"ASMFED-[NET"}, err: `--only "ASMFED-[NET": syntax error in pattern`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(all, tt.only, tt.skip)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("selected (-want +got):\n%s", diff)
			}
		})
	}
}

// docs/verify.md has a section for every check, headed by its ID (the anchor the output links
// to), with what it checks, when it is skipped and the fix; and no section for a check that does
// not exist.
func TestEveryCheckIsDocumented(t *testing.T) {
	data, err := os.ReadFile("../../" + DocPage)
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	heading := regexp.MustCompile(`(?m)^### (ASMFED-[A-Z]+-\d{3})$`)
	locs := heading.FindAllStringSubmatchIndex(string(data), -1)
	for i, loc := range locs {
		end := len(data)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		sections[string(data[loc[2]:loc[3]])] = string(data[loc[1]:end])
	}
	known := map[string]bool{}
	for _, c := range Checks() {
		known[c.ID] = true
		body, ok := sections[c.ID]
		if !ok {
			t.Errorf("%s (%s) has no section %q in %s", c.ID, c.Name, "### "+c.ID, DocPage)
			continue
		}
		if !strings.Contains(body, "**"+c.Name+"**") {
			t.Errorf("the section of %s does not name it %q", c.ID, c.Name)
		}
		for _, part := range []string{"Checks:", "Skipped when:", "Fix:"} {
			if !strings.Contains(body, part) {
				t.Errorf("the section of %s says nothing after %q", c.ID, part)
			}
		}
		if c.Anchor() != strings.ToLower(c.ID) || c.Doc() != DocPage+"#"+c.Anchor() {
			t.Errorf("%s links to %s, which is not its heading's anchor", c.ID, c.Doc())
		}
	}
	for id := range sections {
		if !known[id] {
			t.Errorf("%s documents %s, which is no check", DocPage, id)
		}
	}
}

// TestRepeatedFailureReportedOnce: checks sharing a cause report it in full once; later checks
// still fail for that subject and point at the first, and different failures stay whole.
func TestRepeatedFailureReportedOnce(t *testing.T) {
	long := "the probe's pods in asmfed-verify-1 did not become Ready within 2m0s: ImagePullBackOff"
	hint := "pass --probe-image with an image from a registry the nodes reach"
	same := func(context.Context, *Env) []Finding {
		return []Finding{
			{Subject: "cluster1", Status: Fail, Message: long, Hint: hint},
			{Subject: "cluster2", Status: OK, Message: "2 of 2 answered"},
		}
	}
	checks := []Check{
		{ID: "T-R-001", Name: "first", Run: same},
		{ID: "T-R-002", Name: "second", Run: same},
		{ID: "T-R-003", Name: "other", Run: func(context.Context, *Env) []Finding {
			return []Finding{
				{Subject: "cluster1", Status: Fail, Message: "refused", Hint: hint},
				{Subject: "cluster2", Status: Fail, Message: long, Hint: hint},
				{Subject: "cluster1", Status: Warn, Message: long, Hint: hint},
			}
		}},
	}
	// Checks finish in any order; the first in the given order keeps the whole text.
	r := Run(context.Background(), &Env{Parallelism: 3}, checks)
	want := []Finding{
		{Check: "T-R-001", Name: "first", Subject: "cluster1", Status: Fail, Message: long, Hint: hint},
		{Check: "T-R-001", Name: "first", Subject: "cluster2", Status: OK, Message: "2 of 2 answered"},
		{Check: "T-R-002", Name: "second", Subject: "cluster1", Status: Fail, Message: "the same failure as T-R-001 reports for cluster1"},
		{Check: "T-R-002", Name: "second", Subject: "cluster2", Status: OK, Message: "2 of 2 answered"},
		{Check: "T-R-003", Name: "other", Subject: "cluster1", Status: Fail, Message: "refused", Hint: hint},
		{Check: "T-R-003", Name: "other", Subject: "cluster2", Status: Fail, Message: long, Hint: hint},
		{Check: "T-R-003", Name: "other", Subject: "cluster1", Status: Warn, Message: long, Hint: hint},
	}
	if diff := cmp.Diff(want, r.Results); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if r.Counts.Checks.Fail != 3 || r.Counts.Fail != 4 {
		t.Errorf("counts %+v: every check with the failure still fails", r.Counts)
	}
}
