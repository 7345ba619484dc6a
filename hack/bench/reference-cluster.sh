#!/usr/bin/env bash
# The cluster side of the reference setup's own way, replayed with kubectl and openssl: what its
# scripts do per cluster after the infrastructure exists, one cluster after the other, as they do.
# Used by compare.sh, after reference-gcloud.sh, against the same sandbox.
#
# Per cluster: the istio-system namespace with its network label; the plug-in CA's `cacerts`, an
# intermediate issued from the shared root with openssl, as Istio's certificate Makefile does; the
# control plane (install_asm runs istioctl install, which renders Istio's charts in process and
# applies the result: here `kubectl asmfed render --manifests`, Istio's same library, piped to
# `kubectl apply --server-side`, without waiting for pods the sandbox has no nodes for); the fleet
# membership (`gcloud container fleet memberships register`). Then, for every ordered pair, what
# `istioctl create-remote-secret | kubectl apply` does: a token Secret for the source's reader
# account, its token read back once the token controller filled it in, and the kubeconfig Secret
# applied to the peer.
#
# usage: reference-cluster.sh PROJECT PROJECT_NUMBER FEDERATION_FILE CA_DIR KUBECTL_ASMFED
#   (gcloud pointed at the sandbox, ASMFED_GCP_ACCESS_TOKEN_FILE set, by the caller)
set -euo pipefail
P="$1"
N="$2"
fed="$3"
ca="$4"
asmfed="$5"
clusters=(cluster3 cluster4)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
token="$(cat "$ASMFED_GCP_ACCESS_TOKEN_FILE")"

g() { gcloud --project "$P" --quiet "$@"; }
k() { # k CLUSTER kubectl-args...
	local c=$1
	shift
	kubectl --server "$(cat "$work/$c.server")" --certificate-authority "$work/$c.ca" --token "$token" "$@"
}

# get-credentials, as the scripts did before anything else (the endpoint and CA kubectl uses)
for c in "${clusters[@]}"; do
	g container clusters describe "$c" --region us-west2 --format 'value(endpoint)' >"$work/$c.endpoint"
	echo "https://$(cat "$work/$c.endpoint")" >"$work/$c.server"
	g container clusters describe "$c" --region us-west2 --format 'value(masterAuth.clusterCaCertificate)' | base64 -d >"$work/$c.ca"
done

for c in "${clusters[@]}"; do
	# istio-system and its network
	k "$c" create namespace istio-system >/dev/null
	k "$c" label namespace istio-system topology.istio.io/network=asm-vpc-3 >/dev/null

	# cacerts: an intermediate of the shared root, as tools/certs/Makefile.selfsigned.mk makes it
	openssl req -new -newkey rsa:2048 -nodes -keyout "$work/$c-ca-key.pem" -subj "/O=Istio/CN=Intermediate CA $c" \
		-out "$work/$c-ca.csr" 2>/dev/null
	printf 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectAltName=URI:spiffe://cluster.local/ns/istio-system/sa/citadel\n' >"$work/$c.ext"
	openssl x509 -req -days 730 -in "$work/$c-ca.csr" -CA "$ca/root-cert.pem" -CAkey "$ca/root-key.pem" -CAcreateserial \
		-extfile "$work/$c.ext" -out "$work/$c-ca-cert.pem" 2>/dev/null
	cat "$work/$c-ca-cert.pem" "$ca/root-cert.pem" >"$work/$c-cert-chain.pem"
	k "$c" create secret generic cacerts -n istio-system --from-file=ca-cert.pem="$work/$c-ca-cert.pem" \
		--from-file=ca-key.pem="$work/$c-ca-key.pem" --from-file=root-cert.pem="$ca/root-cert.pem" \
		--from-file=cert-chain.pem="$work/$c-cert-chain.pem" >/dev/null

	# istioctl install: render in process, apply
	"$asmfed" render -f "$fed" --manifests --cluster "$c" --fleet-project-number "$N" 2>/dev/null |
		k "$c" apply --server-side --field-manager istioctl -f - >/dev/null

	# the fleet membership
	g container fleet memberships register "$c" --gke-cluster "us-west2/$c" --enable-workload-identity >/dev/null 2>&1
done

# istioctl create-remote-secret --name SRC | kubectl apply (on DST)
for src in "${clusters[@]}"; do
	for dst in "${clusters[@]}"; do
		[ "$src" = "$dst" ] && continue
		k "$src" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: istio-reader-service-account-istio-remote-secret-token
  namespace: istio-system
  annotations: {kubernetes.io/service-account.name: istio-reader-service-account}
type: kubernetes.io/service-account-token
YAML
		tok=""
		for _ in $(seq 100); do
			tok="$(k "$src" get secret -n istio-system istio-reader-service-account-istio-remote-secret-token -o 'jsonpath={.data.token}')"
			[ -n "$tok" ] && break
			sleep 0.1
		done
		[ -n "$tok" ] || { echo "no token for $src's reader account" >&2; exit 1; }
		cfg="$(
			cat <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: $src
  cluster:
    server: $(cat "$work/$src.server")
    certificate-authority-data: $(base64 -w0 <"$work/$src.ca")
contexts:
- name: $src
  context: {cluster: $src, user: $src}
current-context: $src
users:
- name: $src
  user: {token: $(echo "$tok" | base64 -d)}
KUBECONFIG
		)"
		k "$dst" create secret generic "istio-remote-secret-$src" -n istio-system --from-literal="$src=$cfg" \
			--dry-run=client -o yaml |
			k "$dst" label --local -f - istio/multiCluster=true -o yaml |
			k "$dst" annotate --local -f - networking.istio.io/cluster="$src" -o yaml |
			k "$dst" apply -f - >/dev/null
	done
done
