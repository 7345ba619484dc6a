package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"

	"github.com/asmfed/kubectl-asmfed/pkg/engine"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
)

// endpointEnv names the variable that points every Google API at one endpoint, such as the local
// sandbox (docs/sandbox.md).
const endpointEnv = "ASMFED_GCP_ENDPOINT"

// accessTokenFileEnv names a file holding an OAuth access token to use instead of Application
// Default Credentials, for Google APIs and for GKE clusters (the sandbox writes one its clusters
// accept).
const accessTokenFileEnv = "ASMFED_GCP_ACCESS_TOKEN_FILE"

// accessToken reads the token named by accessTokenFileEnv, if any.
func (g *globalOptions) accessToken() (string, error) {
	path := g.getenv(accessTokenFileEnv)
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", accessTokenFileEnv, err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("%s names %s, which is empty", accessTokenFileEnv, path)
	}
	return token, nil
}

// cloudFlags are the flags of commands that talk to Google Cloud.
type cloudFlags struct {
	impersonate string
	// operationTimeout bounds each wait for a Google Cloud long-running operation (apply and
	// destroy); zero keeps the client's default.
	operationTimeout time.Duration
}

func (c *cloudFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&c.impersonate, "impersonate-service-account", "", "Run every Google Cloud call, and every call to a cluster reached through its GKE endpoint, as this service account (needs roles/iam.serviceAccountTokenCreator on it)")
}

// addOperationTimeout registers --operation-timeout, on the commands that wait for operations.
func (c *cloudFlags) addOperationTimeout(fs *pflag.FlagSet) {
	fs.DurationVar(&c.operationTimeout, "operation-timeout", 45*time.Minute,
		"How long to wait for each Google Cloud operation (a cluster create takes 5 to 15 minutes); when it runs out the error names the operation, which may still finish: the next apply waits for it")
}

// check refuses what cannot be honoured: a token read from accessTokenFileEnv is sent as it is,
// for Google Cloud and for the clusters, so there is nothing to impersonate with.
func (c cloudFlags) check(g *globalOptions) error {
	if c.impersonate != "" && g.getenv(accessTokenFileEnv) != "" {
		return fmt.Errorf("--impersonate-service-account cannot be used with %s set: the token in that file is sent as it is, to Google Cloud and to the clusters, and cannot impersonate %s (unset %s, or mint the token for %s)",
			accessTokenFileEnv, c.impersonate, accessTokenFileEnv, c.impersonate)
	}
	return nil
}

// addParallelismFlag registers --parallelism on the commands that carry out changes.
func addParallelismFlag(fs *pflag.FlagSet, p *int) {
	fs.IntVar(p, "parallelism", 10, "Changes carried out at once")
}

// validateParallelism checks the value of --parallelism.
func validateParallelism(n int) error {
	if n < 1 {
		return fmt.Errorf("--parallelism must be at least 1, got %d", n)
	}
	return nil
}

func (g *globalOptions) newEngine(ctx context.Context, c cloudFlags) (*engine.Engine, func(), error) {
	if err := c.check(g); err != nil {
		return nil, nil, err
	}
	token, err := g.accessToken()
	if err != nil {
		return nil, nil, err
	}
	clients, err := gcp.New(ctx, gcp.Config{
		Endpoint:                  g.getenv(endpointEnv),
		AccessToken:               token,
		ImpersonateServiceAccount: c.impersonate,
		OperationTimeout:          c.operationTimeout,
		UserAgent:                 "kubectl-asmfed/" + buildVersionInfo().Version,
	})
	if err != nil {
		return nil, nil, err
	}
	return engine.New(clients, engine.Options{}), func() { _ = clients.Close() }, nil
}

// isTerminal reports whether w is a terminal (for colour and spinners).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
