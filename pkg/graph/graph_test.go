package graph_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/graph/formats/dot"
	"gonum.org/v1/gonum/graph/formats/dot/ast"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/graph"
	"github.com/google/go-cmp/cmp"
)

func compileSample(t *testing.T, path string) *federation.Desired {
	t.Helper()
	c, err := v1alpha1.CheckFile(path, v1alpha1.ValidateOptions{SkipFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	d, err := federation.Compile(c.Federation, federation.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSamples draws every sample in both formats (golden), parses the DOT back with a real DOT
// parser and checks it against the model: every cluster's control plane and nodes, an edge per
// firewall rule naming it, a dashed edge per remote secret. Where Graphviz is installed, dot lays
// every sample out.
func TestSamples(t *testing.T) {
	samples, err := filepath.Glob("../../samples/*/federation.yaml")
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	dotBin, _ := exec.LookPath("dot")
	if dotBin == "" {
		t.Log("Graphviz dot is not installed: the layout step is skipped, parsing and goldens are not")
	}
	for _, path := range samples {
		name := filepath.Base(filepath.Dir(path))
		t.Run(name, func(t *testing.T) {
			d := compileSample(t, path)
			g := graph.Of(d)
			testutil.Golden(t, filepath.Join("testdata", name+".mmd"), g.Mermaid())
			out := g.DOT()
			testutil.Golden(t, filepath.Join("testdata", name+".dot"), out)

			f, err := dot.ParseString(out)
			if err != nil {
				t.Fatalf("parse DOT: %v", err)
			}
			nodes, edges := map[string]bool{}, map[string][]map[string]string{}
			var walk func(stmts []ast.Stmt)
			walk = func(stmts []ast.Stmt) {
				for _, s := range stmts {
					switch s := s.(type) {
					case *ast.NodeStmt:
						nodes[s.Node.ID] = true
					case *ast.EdgeStmt:
						attrs := map[string]string{}
						for _, a := range s.Attrs {
							attrs[a.Key] = strings.Trim(a.Val, `"`)
						}
						key := s.From.(*ast.Node).ID + "->" + s.To.Vertex.(*ast.Node).ID
						edges[key] = append(edges[key], attrs)
					case *ast.Subgraph:
						walk(s.Stmts)
					}
				}
			}
			walk(f.Graphs[0].Stmts)
			for _, c := range d.Clusters {
				for _, n := range []string{"cp_" + c.Name, "nodes_" + c.Name} {
					if !nodes[strings.ReplaceAll(n, "-", "_")] {
						t.Errorf("no node %s", n)
					}
				}
			}
			labelled := func(want string, dashed bool) bool {
				for _, es := range edges {
					for _, a := range es {
						if strings.Contains(a["label"], want) && (a["style"] == "dashed") == dashed {
							return true
						}
					}
				}
				return false
			}
			for _, r := range d.FirewallRules {
				if !labelled("firewall "+r.Name, false) {
					t.Errorf("no edge carried by firewall rule %s", r.Name)
				}
			}
			for _, rs := range d.RemoteSecrets {
				key := strings.ReplaceAll("cp_"+rs.Holder, "-", "_") + "->" + strings.ReplaceAll("cp_"+rs.Target, "-", "_")
				if len(edges[key]) == 0 || edges[key][0]["style"] != "dashed" {
					t.Errorf("no dashed edge %s for remote secret %s", key, rs.Name)
				}
			}
			for _, c := range d.Clusters {
				for _, an := range c.MasterAuthorizedNetworks {
					if !labelled("authorized network "+an.DisplayName, false) {
						t.Errorf("no edge carried by authorized network %s of %s", an.DisplayName, c.Name)
					}
				}
			}
			if dotBin != "" {
				cmd := exec.Command(dotBin, "-Tsvg")
				cmd.Stdin = strings.NewReader(out)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("dot -Tsvg: %v\n%s", err, b)
				}
			}
		})
	}
}

// TestStable draws a model twice and gets the same text.
func TestStable(t *testing.T) {
	d := compileSample(t, "../../samples/multi-project-shared-vpc/federation.yaml")
	a, b := graph.Of(d), graph.Of(d)
	if a.Mermaid() != b.Mermaid() || a.DOT() != b.DOT() {
		t.Fatal("two drawings of one model differ")
	}
}

// TestAuthorizedNetworkEdges: a merged entry carries an edge from each peer it admits, and an
// admin network that holds a peer's pod range carries that peer's edge beside the admin network's.
func TestAuthorizedNetworkEdges(t *testing.T) {
	f := fedtest.New("f").Network(fedtest.DefaultFleetProject, fedtest.DefaultNetwork).Admin("wide", "10.66.0.0/15").
		Cluster(fedtest.Cluster("a").Ranges("10.10.0.0/24", "10.64.0.0/16", "172.16.0.0/24", "192.168.0.0/28")).
		Cluster(fedtest.Cluster("b").Ranges("10.10.1.0/24", "10.65.0.0/16", "172.16.1.0/24", "192.168.1.0/28")).
		Cluster(fedtest.Cluster("c").Ranges("10.10.2.0/24", "10.66.0.0/16", "172.16.2.0/24", "192.168.2.0/28")).Build()
	d, err := federation.Compile(f, federation.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range graph.Of(d).Edges {
		if strings.HasPrefix(e.Label, "tcp:443 (authorized network") {
			got = append(got, e.From+" -> "+e.To+" "+e.Label)
		}
	}
	slices.Sort(got)
	want := []string{
		"admin_10_66_0_0_15 -> cp_a tcp:443 (authorized network wide)",
		"admin_10_66_0_0_15 -> cp_b tcp:443 (authorized network wide)",
		"admin_10_66_0_0_15 -> cp_c tcp:443 (authorized network wide)",
		"nodes_a -> cp_b tcp:443 (authorized network a-pods)",
		"nodes_a -> cp_c tcp:443 (authorized network a-to-b-pods)",
		"nodes_b -> cp_a tcp:443 (authorized network b-pods)",
		"nodes_b -> cp_c tcp:443 (authorized network a-to-b-pods)",
		"nodes_c -> cp_a tcp:443 (authorized network wide)",
		"nodes_c -> cp_b tcp:443 (authorized network wide)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("edges through master authorized networks (-want +got):\n%s", diff)
	}
}
