package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// Set at release time with -ldflags "-X github.com/asmfed/kubectl-asmfed/pkg/cli.version=…".
var (
	version string
	commit  string
	date    string
)

// versionInfo describes the binary.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
	// IstioTag is the Istio release the tool installs unless mesh.tag says otherwise.
	IstioTag string `json:"istioTag"`
	// IstioLibrary is the istio.io/istio module linked in for rendering, if any.
	IstioLibrary string `json:"istioLibrary"`
}

// buildVersionInfo combines release ldflags with what the Go toolchain recorded in the binary, so
// `go install` builds report their module version and commit too.
func buildVersionInfo() versionInfo {
	v := versionInfo{
		Version: version, Commit: commit, BuildDate: date,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		IstioTag: v1alpha1.DefaultIstioTag, IstioLibrary: "none",
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.time":
				if v.BuildDate == "" {
					v.BuildDate = s.Value
				}
			}
		}
		for _, d := range bi.Deps {
			if d.Path == "istio.io/istio" {
				v.IstioLibrary = d.Version
			}
		}
	}
	for _, p := range []*string{&v.Version, &v.Commit, &v.BuildDate} {
		if *p == "" {
			*p = "unknown"
		}
	}
	return v
}

type versionOptions struct {
	*globalOptions
	output outputFormat
}

func newVersionCommand(g *globalOptions) *cobra.Command {
	o := &versionOptions{globalOptions: g, output: newOutputFormat("text", "json", "yaml")}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of kubectl-asmfed and of the Istio it installs",
		Example: `  kubectl asmfed version
  kubectl asmfed version -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.output.addFlag(cmd, "Output format", "")
	return cmd
}

// Complete has nothing to read.
func (o *versionOptions) Complete() error { return nil }

// Validate checks the flags.
func (o *versionOptions) Validate() error { return o.output.validate() }

// Run prints the version.
func (o *versionOptions) Run(context.Context) error {
	v := buildVersionInfo()
	switch o.output.String() {
	case "json":
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.streams.Out, string(data))
		return err
	case "yaml":
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = o.streams.Out.Write(data)
		return err
	}
	_, err := fmt.Fprintf(o.streams.Out, "kubectl-asmfed %s\n  commit:     %s\n  built:      %s\n  go:         %s %s\n  istio:      %s (default image tag)\n  istio lib:  %s\n",
		v.Version, v.Commit, v.BuildDate, v.GoVersion, v.Platform, v.IstioTag, v.IstioLibrary)
	return err
}
