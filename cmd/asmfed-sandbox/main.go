// Command asmfed-sandbox runs the local Google Cloud simulator so that
// kubectl-asmfed and gcloud can be used offline. It is a development tool,
// not part of the shipped plugin.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "asmfed-sandbox:", err)
		os.Exit(1)
	}
}
