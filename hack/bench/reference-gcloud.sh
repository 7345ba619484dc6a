#!/usr/bin/env bash
# The reference setup's own way, replayed as gcloud commands: one command per resource that the
# sample repository's Terraform and scripts create for two private clusters, in their order, run
# one after another as its scripts do. Used by compare.sh to time it beside kubectl asmfed apply
# against the same sandbox. The bastion VM (the two-cluster sample asmfed applies has none) and the
# steps that need a live cluster (install_asm, memberships register, remote secrets) are left out;
# docs/performance.md says what that leaves on each side.
#
# usage: reference-gcloud.sh PROJECT PROJECT_NUMBER   (gcloud pointed at the sandbox by the caller)
set -euo pipefail
P="$1"
N="$2"
g() { gcloud --project "$P" --quiet "$@" >/dev/null; }
policy="$(mktemp)"
trap 'rm -f "$policy"' EXIT

# infrastructure/projects.tf: one google_project_service per API
for api in container dns compute monitoring logging meshca meshtelemetry meshconfig iamcredentials anthos gkeconnect gkehub cloudresourcemanager serviceusage cloudtrace; do
	g services enable "$api.googleapis.com"
done

# infrastructure/network.tf
g compute networks create asm-vpc-3 --subnet-mode=custom
g compute networks subnets create bastion-subnet --network asm-vpc-3 --region us-west2 --range 10.0.0.0/24 --enable-private-ip-google-access
g compute networks subnets create cluster3 --network asm-vpc-3 --region us-west2 --range 10.184.19.0/24 --enable-private-ip-google-access \
	--secondary-range cluster3-pod-cidr=10.185.128.0/18,cluster3-services-cidr=172.16.2.0/24
g compute networks subnets create cluster4 --network asm-vpc-3 --region us-west2 --range 10.184.20.0/24 --enable-private-ip-google-access \
	--secondary-range cluster4-pod-cidr=10.185.192.0/18,cluster4-services-cidr=172.16.3.0/24
g compute routers create asm-router3 --network asm-vpc-3 --region us-west2
g compute routers nats create asm-nat3 --router asm-router3 --region us-west2 --auto-allocate-nat-external-ips \
	--nat-custom-subnet-ip-ranges cluster3,cluster4
cat >"$policy" <<JSON
{"bindings":[{"role":"roles/compute.networkUser","members":["serviceAccount:${N}@cloudservices.gserviceaccount.com","serviceAccount:service-${N}@container-engine-robot.iam.gserviceaccount.com"]}]}
JSON
g compute networks subnets set-iam-policy cluster3 "$policy" --region us-west2
g compute networks subnets set-iam-policy cluster4 "$policy" --region us-west2

# infrastructure/clusters.tf: private-cluster module, then its node pool, then removal of the default pool
for c in 3 4; do
	peer=$((7 - c))
	pods=$([ "$peer" = 3 ] && echo 10.185.128.0/18 || echo 10.185.192.0/18)
	g container clusters create "cluster$c" --region us-west2 --network asm-vpc-3 --subnetwork "cluster$c" \
		--enable-ip-alias --cluster-secondary-range-name "cluster$c-pod-cidr" --services-secondary-range-name "cluster$c-services-cidr" \
		--enable-private-nodes --enable-private-endpoint --master-ipv4-cidr "192.168.$((c - 1)).0/28" \
		--enable-master-authorized-networks --master-authorized-networks "10.0.0.0/24,$pods" \
		--workload-pool "$P.svc.id.goog" --labels "mesh_id=proj-$N" --release-channel regular --enable-shielded-nodes --num-nodes 1
	g container node-pools create "cluster$c-node-pool" --cluster "cluster$c" --region us-west2 --machine-type e2-standard-4 \
		--enable-autoscaling --min-nodes 1 --max-nodes 5 --tags "cluster$c"
	g container node-pools delete default-pool --cluster "cluster$c" --region us-west2
done

# infrastructure/firewalls.tf and application-firewalls.tf
g compute firewall-rules create asm-ports-15017-9443-vpc3 --network asm-vpc-3 --source-ranges 192.168.2.0/28,192.168.3.0/28 --target-tags cluster3,cluster4 --allow tcp:15017,tcp:9443
g compute firewall-rules create asm-ports-8443-vpc3 --network asm-vpc-3 --source-ranges 192.168.2.0/28,192.168.3.0/28 --target-tags cluster3,cluster4 --allow tcp:8443
g compute firewall-rules create asm-gce-to-vpc3-clusters-all --network asm-vpc-3 --source-ranges 10.0.0.0/24 --target-tags cluster3,cluster4 --allow tcp
g compute firewall-rules create asm-from-cluster3-to-cluster4 --network asm-vpc-3 --source-ranges 10.185.128.0/18 --target-tags cluster4 \
	--allow tcp:9555,tcp:7070,tcp:7000,tcp:5000,tcp:3550,tcp:8080,tcp:50051,tcp:5050
g compute firewall-rules create asm-from-cluster4-to-cluster3 --network asm-vpc-3 --source-ranges 10.185.192.0/18 --target-tags cluster3 --allow tcp:5000

# infrastructure/anthos-service-accounts.tf
for c in 3 4; do
	g iam service-accounts create "asm-cluster$c-connect"
done
g projects add-iam-policy-binding "$P" --role roles/gkehub.connect \
	--member "serviceAccount:asm-cluster3-connect@$P.iam.gserviceaccount.com" --member "serviceAccount:asm-cluster4-connect@$P.iam.gserviceaccount.com" \
	--condition=None 2>/dev/null || g projects add-iam-policy-binding "$P" --role roles/gkehub.connect --member "serviceAccount:asm-cluster3-connect@$P.iam.gserviceaccount.com"

# scripts/main.sh: credentials, then the Hub membership check before registering
for c in 3 4; do
	g container clusters get-credentials "cluster$c" --region us-west2
	g container hub memberships list --filter "Name:cluster$c"
done
