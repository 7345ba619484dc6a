package cli

import "github.com/spf13/cobra"

func newRenderCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "render", Hidden: true}
}
