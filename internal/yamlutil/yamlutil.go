// Package yamlutil prints Go values as YAML in the order their fields are declared, which reads
// better than the alphabetical order of a JSON round trip.
package yamlutil

import (
	"bytes"
	"encoding/json"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// Marshal encodes v as block-style YAML, keeping struct field order (through its JSON encoding)
// and leaving out empty mappings and lists.
func Marshal(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("convert to YAML: %w", err)
	}
	prune(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// prune resets the flow style JSON brings and drops empty collections.
func prune(n *yaml.Node) {
	n.Style = 0
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			prune(c)
		}
	case yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			prune(v)
			if (v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode) && len(v.Content) == 0 {
				continue
			}
			k.Style = 0
			kept = append(kept, k, v)
		}
		n.Content = kept
	}
}
