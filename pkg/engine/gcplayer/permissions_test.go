package gcplayer

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// planKinds are the values of the Kind constants of pkg/plan/address.go: every kind of Google
// Cloud resource the layer can plan.
func planKinds(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../plan/address.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if strings.HasPrefix(name.Name, "Kind") && i < len(vs.Values) {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
					v, _ := strconv.Unquote(lit.Value)
					kinds = append(kinds, v)
				}
			}
		}
		return true
	})
	if len(kinds) < 10 {
		t.Fatalf("found only %d kinds in pkg/plan/address.go", len(kinds))
	}
	return kinds
}

// A kind added to the layer without the permissions its changes need fails here, so preflight
// cannot forget it.
func TestEveryKindHasPermissions(t *testing.T) {
	for _, k := range planKinds(t) {
		byAction, ok := changePermissions[k]
		if !ok {
			t.Errorf("kind %s has no entry in changePermissions", k)
			continue
		}
		if _, org := orgPermissions[k]; org {
			continue
		}
		if len(byAction[plan.Create]) == 0 {
			t.Errorf("kind %s: no permission for create", k)
		}
	}
}

// Every permission preflight can report names a role that grants it.
func TestEveryPermissionHasARole(t *testing.T) {
	perms := append(append([]string{}, subnetBindingPermissions...), lockPermissions...)
	for _, byAction := range changePermissions {
		for _, ps := range byAction {
			perms = append(perms, ps...)
		}
	}
	for _, p := range orgPermissions {
		perms = append(perms, p)
	}
	for _, p := range perms {
		if roles := rolesGranting(p); len(roles) == 0 || roles[0] == "roles/owner" {
			t.Errorf("no predefined role in the table grants %s", p)
		}
	}
}

func TestConstraintValues(t *testing.T) {
	for _, tc := range []struct {
		name         string
		match        func(string, string) bool
		policy, used string
		want         bool
	}{
		{"region itself", locationMatch, "us-west2", "us-west2", true},
		{"zone under an allowed region", locationMatch, "us-west2", "us-west2-a", true},
		{"region group", locationMatch, "in:us-west2-locations", "us-west2", true},
		{"multi-region group", locationMatch, "in:us-locations", "us-west2-b", true},
		{"other multi-region", locationMatch, "in:europe-locations", "us-west2", false},
		{"other region", locationMatch, "europe-west1", "us-west2", false},
		{"subnet itself", subnetMatch, "projects/h/regions/r/subnetworks/s", "https://www.googleapis.com/compute/v1/projects/h/regions/r/subnetworks/s", true},
		{"subnet under its project", subnetMatch, "under:projects/h", "projects/h/regions/r/subnetworks/s", true},
		{"subnet of another project", subnetMatch, "under:projects/other", "projects/h/regions/r/subnetworks/s", false},
		{"another subnet", subnetMatch, "projects/h/regions/r/subnetworks/t", "projects/h/regions/r/subnetworks/s", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.match(tc.policy, tc.used); got != tc.want {
				t.Errorf("%q against %q: %v, want %v", tc.used, tc.policy, got, tc.want)
			}
		})
	}
}

func TestMachineCPUs(t *testing.T) {
	for mt, want := range map[string]float64{"e2-standard-4": 4, "n2-highmem-16": 16, "custom-6-16384": 6, "n2-custom-8-32768": 8,
		"e2-medium": 2, "zones/us-west2-a/machineTypes/e2-standard-8": 8} {
		if got := machineCPUs(mt); got != want {
			t.Errorf("%s: %v CPUs, want %v", mt, got, want)
		}
	}
}
