package verify

import (
	"context"
	"fmt"
	"strings"
)

// clustersExist checks that every cluster of the file exists, runs and can be reached.
func clustersExist(_ context.Context, env *Env) []Finding {
	var out []Finding
	notReady := map[string]bool{}
	for _, n := range env.NotReady {
		notReady[n] = true
	}
	for _, c := range env.Federation.Spec.Clusters {
		if why, ok := env.NotReachable[c.Name]; ok {
			out = append(out, Finding{Subject: c.Name, Status: Fail, Message: why.Message, Hint: why.Hint})
			continue
		}
		if notReady[c.Name] {
			out = append(out, Finding{Subject: c.Name, Status: Fail, Message: "the cluster does not exist or is not running",
				Hint: "run kubectl asmfed apply, or wait for GKE to finish creating it"})
			continue
		}
		out = append(out, Finding{Subject: c.Name, Status: OK, Message: "running and reachable"})
	}
	return out
}

// converged warns when apply has something left to do: the live state is not what the file says.
func converged(_ context.Context, env *Env) []Finding {
	s := env.Pending.Summary
	if len(env.NotReady) > 0 {
		return []Finding{{Status: Warn, Message: fmt.Sprintf("the cluster side was not planned: %s cannot be reached or do not run yet, so what apply would change in the clusters is not known",
			strings.Join(env.NotReady, ", ")),
			Hint: "ASMFED-PRE-001 says why and what fixes it; then verify again"}}
	}
	if !env.Pending.HasChanges() && len(env.Pending.Conflicts) == 0 {
		return []Finding{{Status: OK, Message: "apply has nothing left to do"}}
	}
	return []Finding{{Status: Warn, Message: fmt.Sprintf("apply would still add %d, change %d, replace %d and destroy %d resources; %d conflicts", s.Add, s.Change, s.Replace, s.Destroy, len(env.Pending.Conflicts)),
		Hint: "kubectl asmfed plan shows them; kubectl asmfed apply carries them out"}}
}
