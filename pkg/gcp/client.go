package gcp

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	container "cloud.google.com/go/container/apiv1"
	gkehub "cloud.google.com/go/gkehub/apiv1beta1"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	serviceusage "cloud.google.com/go/serviceusage/apiv1"
	"golang.org/x/oauth2"
	hubv1 "google.golang.org/api/gkehub/v1"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
	orgpolicy "google.golang.org/api/orgpolicy/v2"
)

// Config says how to reach Google Cloud.
type Config struct {
	// Endpoint, when set, is one base URL for every Google API (e.g. the local sandbox,
	// http://127.0.0.1:8080). Loopback endpoints need no credentials.
	Endpoint string
	// ImpersonateServiceAccount runs every call as this service account, through the caller's
	// Application Default Credentials.
	ImpersonateServiceAccount string
	// AccessToken, when set, is sent instead of Application Default Credentials (a token minted
	// elsewhere, e.g. by CI's workload identity federation).
	AccessToken string
	// UserAgent identifies the tool in Google's request logs.
	UserAgent string
	// Retry tunes retries of 429 and 5xx responses.
	Retry RetryPolicy
	// PollInterval is the first interval between polls of a long-running operation; it grows
	// to MaxPollInterval. Defaults: 500 ms and 5 s.
	PollInterval, MaxPollInterval time.Duration
	// OperationTimeout bounds the wait for each long-running operation; when it passes, the wait
	// fails naming the operation. Default DefaultOperationTimeout; negative: no limit.
	OperationTimeout time.Duration
}

// DefaultOperationTimeout outlasts the slowest operation the tool starts (a regional private
// cluster takes 10 to 20 minutes to create).
const DefaultOperationTimeout = 45 * time.Minute

// Clients are the official Google Cloud clients the tool uses, behind narrow methods.
type Clients struct {
	cfg Config

	networks    *compute.NetworksClient
	subnetworks *compute.SubnetworksClient
	firewalls   *compute.FirewallsClient
	routers     *compute.RoutersClient
	instances   *compute.InstancesClient
	projects    *compute.ProjectsClient
	regions     *compute.RegionsClient
	globalOps   *compute.GlobalOperationsClient
	regionOps   *compute.RegionOperationsClient
	zoneOps     *compute.ZoneOperationsClient
	clusters    *container.ClusterManagerClient
	services    *serviceusage.Client
	rmProjects  *resourcemanager.ProjectsClient
	memberships *gkehub.GkeHubMembershipClient

	closers []func() error

	// opts are the client options every client was built with; the Hub features client is
	// built from them on first use.
	opts    []option.ClientOption
	hubOnce sync.Once
	hubSvc  *hubv1.Service
	hubErr  error
	// The Organization Policy client, built like the Hub features client.
	orgOnce sync.Once
	orgSvc  *orgpolicy.Service
	orgErr  error
	// disc are the IAM and Cloud SQL Admin clients, built on first use.
	disc discovery
}

// New builds the clients. Credentials come from Application Default Credentials, optionally
// impersonating a service account; a loopback Endpoint needs none.
func New(ctx context.Context, cfg Config) (*Clients, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	if cfg.MaxPollInterval <= 0 {
		cfg.MaxPollInterval = 5 * time.Second
	}
	if cfg.OperationTimeout == 0 {
		cfg.OperationTimeout = DefaultOperationTimeout
	}
	cfg.Retry = cfg.Retry.WithDefaults()
	opts, err := clientOptions(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c := &Clients{cfg: cfg, opts: opts}
	var firstErr error
	if c.networks, err = compute.NewNetworksRESTClient(ctx, opts...); c.track(c.networks, "compute networks", err, &firstErr) {
		c.networks = nil
	}
	if c.subnetworks, err = compute.NewSubnetworksRESTClient(ctx, opts...); c.track(c.subnetworks, "compute subnetworks", err, &firstErr) {
		c.subnetworks = nil
	}
	if c.firewalls, err = compute.NewFirewallsRESTClient(ctx, opts...); c.track(c.firewalls, "compute firewalls", err, &firstErr) {
		c.firewalls = nil
	}
	if c.routers, err = compute.NewRoutersRESTClient(ctx, opts...); c.track(c.routers, "compute routers", err, &firstErr) {
		c.routers = nil
	}
	if c.instances, err = compute.NewInstancesRESTClient(ctx, opts...); c.track(c.instances, "compute instances", err, &firstErr) {
		c.instances = nil
	}
	if c.zoneOps, err = compute.NewZoneOperationsRESTClient(ctx, opts...); c.track(c.zoneOps, "compute zone operations", err, &firstErr) {
		c.zoneOps = nil
	}
	if c.projects, err = compute.NewProjectsRESTClient(ctx, opts...); c.track(c.projects, "compute projects", err, &firstErr) {
		c.projects = nil
	}
	if c.regions, err = compute.NewRegionsRESTClient(ctx, opts...); c.track(c.regions, "compute regions", err, &firstErr) {
		c.regions = nil
	}
	if c.globalOps, err = compute.NewGlobalOperationsRESTClient(ctx, opts...); c.track(c.globalOps, "compute operations", err, &firstErr) {
		c.globalOps = nil
	}
	if c.regionOps, err = compute.NewRegionOperationsRESTClient(ctx, opts...); c.track(c.regionOps, "compute region operations", err, &firstErr) {
		c.regionOps = nil
	}
	if c.clusters, err = container.NewClusterManagerRESTClient(ctx, opts...); c.track(c.clusters, "container", err, &firstErr) {
		c.clusters = nil
	}
	if c.services, err = serviceusage.NewRESTClient(ctx, opts...); c.track(c.services, "serviceusage", err, &firstErr) {
		c.services = nil
	}
	if c.rmProjects, err = resourcemanager.NewProjectsRESTClient(ctx, opts...); c.track(c.rmProjects, "resourcemanager", err, &firstErr) {
		c.rmProjects = nil
	}
	if c.memberships, err = gkehub.NewGkeHubMembershipRESTClient(ctx, opts...); c.track(c.memberships, "gkehub", err, &firstErr) {
		c.memberships = nil
	}
	if firstErr != nil {
		_ = c.Close()
		return nil, firstErr
	}
	return c, nil
}

// track records a new client's Close, or its creation error; it reports whether creation failed.
func (c *Clients) track(cl interface{ Close() error }, name string, err error, first *error) bool {
	if err != nil {
		if *first == nil {
			*first = fmt.Errorf("create %s client: %w (set up Application Default Credentials with gcloud auth application-default login, or point %s at the sandbox)", name, err, "ASMFED_GCP_ENDPOINT")
		}
		return true
	}
	c.closers = append(c.closers, cl.Close)
	return false
}

// Close releases the clients' connections.
func (c *Clients) Close() error {
	var first error
	for _, f := range c.closers {
		if err := f(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func clientOptions(ctx context.Context, cfg Config) ([]option.ClientOption, error) {
	var opts []option.ClientOption
	if cfg.UserAgent != "" {
		opts = append(opts, option.WithUserAgent(cfg.UserAgent))
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("invalid Google Cloud endpoint %q: want http(s)://host:port", cfg.Endpoint)
		}
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("refusing plain-HTTP Google Cloud endpoint %q: only loopback endpoints (the local sandbox) may skip TLS", cfg.Endpoint)
		}
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
		if isLoopback(u.Hostname()) {
			return append(opts, option.WithoutAuthentication()), nil
		}
	}
	if cfg.AccessToken != "" {
		return append(opts, option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: cfg.AccessToken}))), nil
	}
	if cfg.ImpersonateServiceAccount != "" {
		ts, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{
			TargetPrincipal: cfg.ImpersonateServiceAccount,
			Scopes:          []string{"https://www.googleapis.com/auth/cloud-platform"},
		})
		if err != nil {
			return nil, fmt.Errorf("impersonate %s: %w (the caller needs roles/iam.serviceAccountTokenCreator on it)", cfg.ImpersonateServiceAccount, err)
		}
		opts = append(opts, option.WithTokenSource(ts))
	}
	return opts, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
