package gcp

import (
	"context"
	"strings"
	"sync"

	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
	sqladmin "google.golang.org/api/sqladmin/v1"
)

// Service accounts, their IAM policies and Cloud SQL instances are served by the official
// discovery-based clients google.golang.org/api/iam/v1 and google.golang.org/api/sqladmin/v1,
// built on first use from the options every client shares.

type discovery struct {
	iamOnce sync.Once
	iamSvc  *iam.Service
	iamErr  error
	sqlOnce sync.Once
	sqlSvc  *sqladmin.Service
	sqlErr  error
}

// discoveryOpts are the options of a client of Google's discovery-based (REST) libraries: the
// shared ones, and with an endpoint set, that endpoint with the API's path prefix.
func (c *Clients) discoveryOpts(prefix string) []option.ClientOption {
	opts := append([]option.ClientOption(nil), c.opts...)
	if c.cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(c.cfg.Endpoint, "/")+"/"+prefix))
	}
	return opts
}

func (c *Clients) iam(ctx context.Context) (*iam.Service, error) {
	c.disc.iamOnce.Do(func() { c.disc.iamSvc, c.disc.iamErr = iam.NewService(ctx, c.discoveryOpts("")...) })
	return c.disc.iamSvc, c.disc.iamErr
}

func (c *Clients) sqladmin(ctx context.Context) (*sqladmin.Service, error) {
	c.disc.sqlOnce.Do(func() { c.disc.sqlSvc, c.disc.sqlErr = sqladmin.NewService(ctx, c.discoveryOpts("")...) })
	return c.disc.sqlSvc, c.disc.sqlErr
}

func serviceAccountName(project, email string) string {
	return "projects/" + project + "/serviceAccounts/" + email
}

// ServiceAccounts lists the Google service accounts of a project.
func (c *Clients) ServiceAccounts(ctx context.Context, project string) ([]*iam.ServiceAccount, error) {
	svc, err := c.iam(ctx)
	if err != nil {
		return nil, err
	}
	var out []*iam.ServiceAccount
	err = c.do(ctx, "list service accounts", "projects/"+project, func(ctx context.Context) error {
		out = nil
		return svc.Projects.ServiceAccounts.List("projects/"+project).PageSize(100).Pages(ctx, func(r *iam.ListServiceAccountsResponse) error {
			out = append(out, r.Accounts...)
			return nil
		})
	})
	return out, err
}

// CreateServiceAccount creates a Google service account; one that exists is a KindConflict error.
func (c *Clients) CreateServiceAccount(ctx context.Context, project, accountID, displayName, description string) error {
	svc, err := c.iam(ctx)
	if err != nil {
		return err
	}
	return c.do(ctx, "create service account", serviceAccountName(project, accountID+"@"+project+".iam.gserviceaccount.com"), func(ctx context.Context) error {
		_, err := svc.Projects.ServiceAccounts.Create("projects/"+project, &iam.CreateServiceAccountRequest{AccountId: accountID,
			ServiceAccount: &iam.ServiceAccount{DisplayName: displayName, Description: description}}).Context(ctx).Do()
		return err
	})
}

// DeleteServiceAccount deletes a Google service account, and with it its IAM policy.
func (c *Clients) DeleteServiceAccount(ctx context.Context, project, email string) error {
	svc, err := c.iam(ctx)
	if err != nil {
		return err
	}
	return c.do(ctx, "delete service account", serviceAccountName(project, email), func(ctx context.Context) error {
		_, err := svc.Projects.ServiceAccounts.Delete(serviceAccountName(project, email)).Context(ctx).Do()
		return err
	})
}

// ServiceAccountIAMPolicy reads the IAM policy of a service account (who may act as it).
func (c *Clients) ServiceAccountIAMPolicy(ctx context.Context, project, email string) (*iam.Policy, error) {
	svc, err := c.iam(ctx)
	if err != nil {
		return nil, err
	}
	var out *iam.Policy
	err = c.do(ctx, "get IAM policy", serviceAccountName(project, email), func(ctx context.Context) (err error) {
		out, err = svc.Projects.ServiceAccounts.GetIamPolicy(serviceAccountName(project, email)).Context(ctx).Do()
		return err
	})
	return out, err
}

// SetServiceAccountIAMPolicy writes a policy read with ServiceAccountIAMPolicy; its etag guards
// concurrent changes.
func (c *Clients) SetServiceAccountIAMPolicy(ctx context.Context, project, email string, p *iam.Policy) error {
	svc, err := c.iam(ctx)
	if err != nil {
		return err
	}
	return c.do(ctx, "set IAM policy", serviceAccountName(project, email), func(ctx context.Context) error {
		_, err := svc.Projects.ServiceAccounts.SetIamPolicy(serviceAccountName(project, email), &iam.SetIamPolicyRequest{Policy: p}).Context(ctx).Do()
		return err
	})
}

// SQLInstances lists the Cloud SQL instances of a project, with their addresses and IP settings.
func (c *Clients) SQLInstances(ctx context.Context, project string) ([]*sqladmin.DatabaseInstance, error) {
	svc, err := c.sqladmin(ctx)
	if err != nil {
		return nil, err
	}
	var out []*sqladmin.DatabaseInstance
	err = c.do(ctx, "list Cloud SQL instances", "projects/"+project, func(ctx context.Context) error {
		out = nil
		return svc.Instances.List(project).Pages(ctx, func(r *sqladmin.InstancesListResponse) error {
			out = append(out, r.Items...)
			return nil
		})
	})
	return out, err
}
