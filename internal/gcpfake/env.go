package gcpfake

import "strings"

// EndpointEnv is the variable kubectl-asmfed reads to send every Google
// API call to one base URL (scheme, host and port, no path).
const EndpointEnv = "ASMFED_GCP_ENDPOINT"

// Env returns the environment that points kubectl-asmfed and gcloud at a
// simulator at baseURL, as NAME=value pairs. gcloud needs the compute
// override to include /compute/v1/ or it builds resource links in request
// bodies without it; GKE Hub gets its own path prefix because its
// operation paths coincide with GKE's, and the Connect Gateway its own
// because gcloud only takes a gateway override naming it.
func Env(baseURL string) []string {
	u := strings.TrimSuffix(baseURL, "/")
	return []string{
		EndpointEnv + "=" + u,
		"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true",
		"CLOUDSDK_CORE_DISABLE_PROMPTS=true",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=" + u + "/compute/v1/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER=" + u + "/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE=" + u + "/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER=" + u + "/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM=" + u + "/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_SQL=" + u + "/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_GKEHUB=" + u + "/gkehub/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_ORGPOLICY=" + u + "/orgpolicy/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CONNECTGATEWAY=" + u + GatewayPrefix + "/",
	}
}

// EnvWithToken is Env for a simulator that knows the caller by the OAuth access token in
// tokenFile (the sandbox's): gcloud sends that token instead of no credentials, so that
// `gcloud container fleet memberships get-credentials` and the kubeconfig it writes reach the
// clusters through the simulated Connect Gateway.
func EnvWithToken(baseURL, tokenFile string) []string {
	var out []string
	for _, kv := range Env(baseURL) {
		if !strings.HasPrefix(kv, "CLOUDSDK_AUTH_DISABLE_CREDENTIALS=") {
			out = append(out, kv)
		}
	}
	return append(out, "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE="+tokenFile)
}
