package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// addonOptions are render's flags for what a team adds to its own workloads.
type addonOptions struct {
	name       string
	deployment string
	instance   string
	client     string
}

func (a *addonOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.name, "addon", "", "Print what a team adds to its workloads for an add-on: cloudsql (the Cloud SQL Auth Proxy patch)")
	cmd.Flags().StringVar(&a.deployment, "deployment", "", "With --addon cloudsql: a Deployment manifest to print patched instead of the patch")
	cmd.Flags().StringVar(&a.instance, "instance", "", "With --addon cloudsql: the instance's connection name, when the file has several")
	cmd.Flags().StringVar(&a.client, "client", "", "With --addon cloudsql: the client NAMESPACE/KUBERNETES-SERVICE-ACCOUNT, when the instance has several")
	_ = cmd.RegisterFlagCompletionFunc("addon", cobra.FixedCompletions([]string{"cloudsql"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagFilename("deployment", "yaml", "yml", "json")
}

func (a *addonOptions) validate(f *v1alpha1.Federation) error {
	if a.name == "" {
		if a.deployment != "" || a.instance != "" || a.client != "" {
			return errors.New("--deployment, --instance and --client go with --addon cloudsql")
		}
		return nil
	}
	if a.name != "cloudsql" {
		return fmt.Errorf("--addon %q: the add-on with a workload patch is cloudsql", a.name)
	}
	if f.Spec.Addons.CloudSQL == nil {
		return errors.New("--addon cloudsql: the file has no spec.addons.cloudSQL")
	}
	return nil
}

// run prints the patch for the chosen instance and client, or the Deployment patched.
func (a *addonOptions) run(w io.Writer, d *federation.Desired) error {
	var acc *federation.CloudSQLAccess
	var names []string
	for i := range d.CloudSQL {
		names = append(names, d.CloudSQL[i].ConnectionName)
		if a.instance == d.CloudSQL[i].ConnectionName || (a.instance == "" && len(d.CloudSQL) == 1) {
			acc = &d.CloudSQL[i]
		}
	}
	if acc == nil {
		return fmt.Errorf("--instance: pass one of %s", strings.Join(names, ", "))
	}
	var manifest []byte
	if a.deployment != "" {
		var err error
		if manifest, err = os.ReadFile(a.deployment); err != nil {
			return fmt.Errorf("--deployment: %w", err)
		}
	}
	client, err := a.pickClient(*acc, manifest)
	if err != nil {
		return err
	}
	var out []byte
	if manifest != nil {
		if out, err = federation.PatchDeployment(manifest, *acc, client); err != nil {
			return fmt.Errorf("--deployment %s: %w", a.deployment, err)
		}
	} else {
		if out, err = yaml.Marshal(federation.CloudSQLProxyPatch(*acc, client)); err != nil {
			return err
		}
		out = append([]byte(fmt.Sprintf("# Strategic merge patch for a Deployment in %s whose pods connect to %s through the Cloud SQL Auth Proxy:\n# kubectl patch deployment NAME -n %s --patch-file FILE\n",
			strings.Split(client, "/")[0], acc.ConnectionName, strings.Split(client, "/")[0])), out...)
	}
	_, err = w.Write(out)
	return err
}

// pickClient is --client, the only client, or the client in the Deployment's namespace.
func (a *addonOptions) pickClient(acc federation.CloudSQLAccess, manifest []byte) (string, error) {
	if a.client != "" {
		for _, c := range acc.Clients {
			if c == a.client {
				return c, nil
			}
		}
		return "", fmt.Errorf("--client %q: %s's clients are %s", a.client, acc.ConnectionName, strings.Join(acc.Clients, ", "))
	}
	if len(acc.Clients) == 1 {
		return acc.Clients[0], nil
	}
	var meta struct {
		Metadata struct {
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if manifest != nil && yaml.Unmarshal(manifest, &meta) == nil && meta.Metadata.Namespace != "" {
		var in []string
		for _, c := range acc.Clients {
			if strings.HasPrefix(c, meta.Metadata.Namespace+"/") {
				in = append(in, c)
			}
		}
		if len(in) == 1 {
			return in[0], nil
		}
	}
	return "", fmt.Errorf("--client: %s has several clients, pass one of %s", acc.ConnectionName, strings.Join(acc.Clients, ", "))
}
