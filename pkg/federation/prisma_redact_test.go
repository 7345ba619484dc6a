package federation

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedactRegistryTokens(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"SaaS image", "registry-auth.twistlock.com/tw_abc123DEF/twistlock/defender:defender_32_07_123",
			"registry-auth.twistlock.com/tw_<redacted>/twistlock/defender:defender_32_07_123"},
		{"quoted in a pod's message", `Back-off pulling image "registry-auth.twistlock.com/tw_s3cr3t-t0k3n/twistlock/defender:32"`,
			`Back-off pulling image "registry-auth.twistlock.com/tw_<redacted>/twistlock/defender:32"`},
		{"two images", "registry-auth.twistlock.com/tw_one/a registry-auth.twistlock.com/tw_two/b",
			"registry-auth.twistlock.com/tw_<redacted>/a registry-auth.twistlock.com/tw_<redacted>/b"},
		{"the registry without a token", "registry.twistlock.com/twistlock/defender:defender_32_07_123",
			"registry.twistlock.com/twistlock/defender:defender_32_07_123"},
		{"another registry", "gcr.io/tw_project/defender:1", "gcr.io/tw_project/defender:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, RedactRegistryTokens(tc.in)); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestRedactRegistryTokensIn(t *testing.T) {
	in := map[string]any{"spec": map[string]any{"containers": []any{
		map[string]any{"image": "registry-auth.twistlock.com/tw_tokenB/twistlock/defender:1", "ports": []any{int64(9998)}},
		map[string]any{"image": "registry-auth.twistlock.com/tw_tokenA/twistlock/defender:1"},
		map[string]any{"image": "registry-auth.twistlock.com/tw_tokenB/twistlock/init:1"},
	}}}
	out, tokens := RedactRegistryTokensIn(in)
	if diff := cmp.Diff([]string{"tokenA", "tokenB"}, tokens); diff != "" {
		t.Errorf("tokens: %s", diff)
	}
	want := map[string]any{"spec": map[string]any{"containers": []any{
		map[string]any{"image": "registry-auth.twistlock.com/tw_<redacted>/twistlock/defender:1", "ports": []any{int64(9998)}},
		map[string]any{"image": "registry-auth.twistlock.com/tw_<redacted>/twistlock/defender:1"},
		map[string]any{"image": "registry-auth.twistlock.com/tw_<redacted>/twistlock/init:1"},
	}}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("redacted: %s", diff)
	}
	if img := in["spec"].(map[string]any)["containers"].([]any)[1].(map[string]any)["image"]; img != "registry-auth.twistlock.com/tw_tokenA/twistlock/defender:1" {
		t.Errorf("the input was modified: %v", img)
	}
	plain := map[string]any{"image": "registry.twistlock.com/twistlock/defender:1"}
	if out, tokens := RedactRegistryTokensIn(plain); tokens != nil || !cmp.Equal(out, plain) {
		t.Errorf("a value without tokens: %v, %v", out, tokens)
	}
}
