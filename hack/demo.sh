#!/usr/bin/env bash
# The main job on the two-cluster sample, as far as the tool goes today: check the file offline and
# show everything the tool derives from it (firewall rules, authorized networks, NAT, remote-secret
# pairs, mesh identity), each with the reason it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bin/kubectl-asmfed
sample=samples/two-cluster-private/federation.yaml

echo "\$ kubectl asmfed validate -f $sample" >&2
"$bin" validate -f "$sample"
echo >&2
echo "\$ kubectl asmfed render -f $sample --derived" >&2
"$bin" render -f "$sample" --derived
