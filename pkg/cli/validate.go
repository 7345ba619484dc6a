package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio/render"
)

type validateOptions struct {
	*globalOptions
	filename     string
	showDefaults bool
	output       outputFormat

	source  *fileSource
	checked *v1alpha1.Checked
}

func newValidateCommand(g *globalOptions) *cobra.Command {
	o := &validateOptions{globalOptions: g, output: newOutputFormat("text", "json")}
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a federation file offline and report every problem at once",
		Long: `Validate parses a federation file strictly (unknown and duplicate fields are errors), applies
defaults, and checks it: names, CIDR syntax and overlaps, control-plane ranges, subnets and regions,
mesh settings that contradict each other, and the files it references (certificates, keys,
overlays). IstioOperator overlays are checked field by field against Istio's own types (a
misspelt meshConfig field is an error, where istioctl ignores it), then merged and checked with
Istio's own validation. Every problem is printed as FILE:LINE:COL: field: message (hint).

It needs no credentials and calls no API.`,
		Example: `  # Check a file
  kubectl asmfed validate -f samples/two-cluster-private/federation.yaml

  # Print the file with every default filled in
  kubectl asmfed validate -f samples/two-cluster-private/federation.yaml --show-defaults

  # From standard input: the paths it names (the plug-in root in ca/) are relative to the working directory
  cd samples/two-cluster-private && cat federation.yaml | kubectl asmfed validate -f -

  # Machine-readable problems for CI annotations
  kubectl asmfed validate -f samples/two-cluster-private/federation.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringVarP(&o.filename, "filename", "f", "", "Federation file, or - for standard input")
	cmd.Flags().BoolVar(&o.showDefaults, "show-defaults", false, "Print the file with defaults applied (YAML) after checking it")
	o.output.addFlag(cmd, "Output format of the problems", "")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

// Complete reads the federation file and checks it; its problems are what Run prints.
func (o *validateOptions) Complete() (err error) {
	if o.filename == "" {
		return nil
	}
	if o.source, err = completeFile(o.filename, o.streams.In); err != nil {
		return err
	}
	o.checked = o.source.check()
	return nil
}

// Validate checks the flags.
func (o *validateOptions) Validate() error {
	if o.filename == "" {
		return errors.New("no federation file: pass -f FILE")
	}
	if err := o.output.validate(); err != nil {
		return err
	}
	if o.showDefaults && o.output.is("json") {
		return errors.New("--show-defaults prints YAML: drop -o json")
	}
	return nil
}

// validateReport is the JSON form of validate's result.
type validateReport struct {
	File     string             `json:"file"`
	Valid    bool               `json:"valid"`
	Errors   v1alpha1.ErrorList `json:"errors"`
	Warnings v1alpha1.ErrorList `json:"warnings"`
}

// Run validates the file and prints the problems.
func (o *validateOptions) Run(context.Context) error {
	lf := o.checked
	errs, warnings := lf.Errors, lf.Warnings
	if len(errs) == 0 {
		errs = append(errs, checkOverlays(lf, o.source.baseDir())...)
	}
	out, errOut := o.streams.Out, o.streams.ErrOut
	if o.output.is("json") {
		report := validateReport{File: o.source.name, Valid: len(errs) == 0, Errors: nonNil(errs), Warnings: nonNil(warnings)}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else {
		for _, e := range errs {
			fmt.Fprintln(out, e.Error())
		}
		for _, w := range warnings {
			fmt.Fprintln(out, "warning: "+w.Error())
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(errOut, "%s: %s, %s\n", o.source.name, plural(len(errs), "error"), plural(len(warnings), "warning"))
		return &exitError{Code: exitFailure}
	}
	if o.showDefaults {
		data, err := marshalYAML(lf.Federation)
		if err != nil {
			return fmt.Errorf("print defaulted file: %w", err)
		}
		_, err = out.Write(data)
		return err
	}
	if o.output.is("text") {
		fmt.Fprintf(errOut, "%s is valid (%s, %s)\n", o.source.name, plural(len(lf.Federation.Spec.Clusters), "cluster"), plural(len(warnings), "warning"))
	}
	return nil
}

// checkOverlays checks the IstioOperator overlays deeply: every field against Istio's own types,
// then the merged result with Istio's validation. The v1alpha1 check only looks at their shape, as
// that package must not link Istio.
func checkOverlays(lf *v1alpha1.Checked, baseDir string) v1alpha1.ErrorList {
	d, err := federation.Compile(lf.Federation, federation.Facts{})
	if err != nil {
		return v1alpha1.ErrorList{lf.Source.Errorf("", "", "%v", err)}
	}
	return render.Check(render.Input{Federation: lf.Federation, Desired: d, Source: lf.Source, BaseDir: baseDir})
}

func nonNil(l v1alpha1.ErrorList) v1alpha1.ErrorList {
	if l == nil {
		return v1alpha1.ErrorList{}
	}
	return l
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
