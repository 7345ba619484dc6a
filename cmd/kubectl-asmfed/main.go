// Command kubectl-asmfed federates private GKE clusters into one Istio / Cloud Service Mesh.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/asmfed/kubectl-asmfed/pkg/cli"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(cli.ExitCode(os.Stderr, err))
}
