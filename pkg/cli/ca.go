package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
)

func newCACommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Manage the mesh's shared root of trust (plug-in CA)",
		Example: `  # Create a root CA (see kubectl asmfed ca init --help)
  kubectl asmfed ca init --out /tmp/asmfed-ca --force`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newCAInitCommand(g))
	return cmd
}

type caInitOptions struct {
	*globalOptions
	out          string
	organization string
	validity     time.Duration
	force        bool
	output       outputFormat
}

func newCAInitCommand(g *globalOptions) *cobra.Command {
	o := &caInitOptions{globalOptions: g, output: newOutputFormat("text", "json")}
	cmd := &cobra.Command{
		Use:   "init [--out DIR]",
		Short: "Create the root CA every cluster's istiod chains to",
		Long: `Init creates a self-signed root CA (ECDSA P-256) for the plug-in CA and writes root-cert.pem
and root-key.pem into DIR (default ./ca), both readable by their owner only (0600).

With an in-cluster control plane the plug-in CA is the mesh's root of trust, and a federation file
looks for ca/root-cert.pem and ca/root-key.pem beside itself unless mesh.ca.rootCertFile and
rootKeyFile say otherwise: run init in the file's directory, or with --out <its directory>/ca, and
validate finds the root (validate prints that command when the files are missing). apply then
issues an intermediate per cluster, signed by this root, and installs it as the cacerts Secret
istiod reads, so workloads in every cluster trust each other. The key is read only to sign
intermediates; plans show the root's fingerprint, never key material. Keep the key offline.

Init refuses to replace an existing root: clusters using intermediates of the old root would stop
trusting the new ones.`,
		Example: `  # Try it in a scratch directory (--force replaces an earlier try)
  kubectl asmfed ca init --out /tmp/asmfed-ca --force

  # With an organisation name and a 20-year lifetime, as JSON
  kubectl asmfed ca init --out /tmp/asmfed-ca --force --organization example --validity 175200h -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringVar(&o.out, "out", v1alpha1.DefaultCADir, "Directory to write root-cert.pem and root-key.pem into (created 0700 if missing)")
	cmd.Flags().StringVar(&o.organization, "organization", istio.DefaultOrg, "Organisation (O) of the root certificate's subject")
	cmd.Flags().DurationVar(&o.validity, "validity", 10*365*24*time.Hour, "Lifetime of the root certificate")
	cmd.Flags().BoolVar(&o.force, "force", false, "Replace an existing root in --out (breaks trust with clusters using the old one)")
	o.output.addFlag(cmd, "Output format", "")
	_ = cmd.MarkFlagDirname("out")
	return cmd
}

// Complete has nothing to read.
func (o *caInitOptions) Complete() error { return nil }

// Validate checks the flags.
func (o *caInitOptions) Validate() error {
	if o.out == "" {
		return errors.New("--out is empty: pass the directory to write the root into")
	}
	if o.validity < 24*time.Hour {
		return fmt.Errorf("--validity %s is too short for a root: use at least 24h", o.validity)
	}
	if o.organization == "" {
		return errors.New("--organization is empty")
	}
	return o.output.validate()
}

// caInitResult is what init reports: where the files are and how to recognise the root.
type caInitResult struct {
	CertFile    string    `json:"certFile"`
	KeyFile     string    `json:"keyFile"`
	Fingerprint string    `json:"fingerprint"`
	Subject     string    `json:"subject"`
	NotAfter    time.Time `json:"notAfter"`
}

// Run creates the root and writes it.
func (o *caInitOptions) Run(context.Context) error {
	root, err := istio.NewRoot(istio.RootOptions{Organization: o.organization, Validity: o.validity})
	if err != nil {
		return err
	}
	certFile, keyFile, err := root.WriteFiles(o.out, o.force)
	if err != nil {
		return err
	}
	res := caInitResult{CertFile: certFile, KeyFile: keyFile, Fingerprint: root.Fingerprint(),
		Subject: root.Cert.Subject.String(), NotAfter: root.Cert.NotAfter.UTC()}
	if o.output.is("json") {
		enc := json.NewEncoder(o.streams.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(o.streams.Out, "root CA %s\n  fingerprint %s\n  valid until %s\n  certificate %s\n  private key %s (0600: keep it offline)\n",
		res.Subject, res.Fingerprint, res.NotAfter.Format(time.RFC3339), certFile, keyFile)
	if filepath.Base(filepath.Clean(o.out)) == v1alpha1.DefaultCADir {
		fmt.Fprintf(o.streams.ErrOut, "next: a federation file in %s with an in-cluster control plane uses this root by default; a file elsewhere names it:\n", filepath.Dir(filepath.Clean(o.out)))
	} else {
		fmt.Fprintf(o.streams.ErrOut, "next: set in the federation file\n")
	}
	fmt.Fprintf(o.streams.ErrOut, "  mesh:\n    ca:\n      rootCertFile: %s\n      rootKeyFile: %s\n", absPath(certFile), absPath(keyFile))
	return nil
}

// absPath makes p absolute where it can: paths in a federation file are relative to the file, and
// an absolute one fits any file.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
