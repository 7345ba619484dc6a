package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// outputFormat is the value of every command's -o flag: one of the formats that command prints,
// with one help text, one completion and one error message for all of them.
type outputFormat struct {
	value   string
	allowed []string
}

// newOutputFormat returns a format that defaults to the first of allowed.
func newOutputFormat(allowed ...string) outputFormat {
	return outputFormat{value: allowed[0], allowed: allowed}
}

// String implements pflag.Value.
func (f *outputFormat) String() string { return f.value }

// Set implements pflag.Value. It accepts any value so that Validate reports an unknown one with
// the same words on every command.
func (f *outputFormat) Set(s string) error {
	f.value = s
	return nil
}

// Type implements pflag.Value.
func (f *outputFormat) Type() string { return "string" }

// is reports whether the format is name.
func (f *outputFormat) is(name string) bool { return f.value == name }

// validate reports a format the command does not print.
func (f *outputFormat) validate() error {
	for _, a := range f.allowed {
		if f.value == a {
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q: use %s", f.value, f.list())
}

// list names the allowed formats for people: "text or json", "text, yaml or json".
func (f *outputFormat) list() string {
	if len(f.allowed) == 1 {
		return f.allowed[0]
	}
	return strings.Join(f.allowed[:len(f.allowed)-1], ", ") + " or " + f.allowed[len(f.allowed)-1]
}

// addFlag registers -o/--output on cmd with completion of the allowed formats. The help text is
// what, the allowed formats, then note when there is one.
func (f *outputFormat) addFlag(cmd *cobra.Command, what, note string) {
	usage := what + ": " + f.list()
	if note != "" {
		usage += " " + note
	}
	cmd.Flags().VarP(f, "output", "o", usage)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(f.allowed, cobra.ShellCompDirectiveNoFileComp))
}
