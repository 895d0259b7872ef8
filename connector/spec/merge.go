package spec

import "gopkg.in/yaml.v3"

// MappingPairs returns the key and value nodes of mapping n, alternating,
// with YAML merge keys expanded: "<<: *base" (or a list of aliases) adds
// the pairs of the merged mappings whose keys n does not set itself, the
// first merged mapping winning over later ones. Other nodes yield nil.
func MappingPairs(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	if !hasMerge(n) {
		return n.Content
	}
	return mergePairs(n, 0)
}

func hasMerge(n *yaml.Node) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMergeKey(n.Content[i]) {
			return true
		}
	}
	return false
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "!!merge" || k.Tag == "" || k.ShortTag() == "!!merge")
}

// mergePairs expands merges, bounded in depth against alias loops.
func mergePairs(n *yaml.Node, depth int) []*yaml.Node {
	var own, merged []*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !isMergeKey(k) {
			own = append(own, k, n.Content[i+1])
			seen[k.Value] = true
		}
	}
	if depth > 16 {
		return own
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !isMergeKey(n.Content[i]) {
			continue
		}
		v := deref(n.Content[i+1])
		var sources []*yaml.Node
		switch {
		case v == nil:
		case v.Kind == yaml.MappingNode:
			sources = []*yaml.Node{v}
		case v.Kind == yaml.SequenceNode:
			for _, s := range v.Content {
				if s = deref(s); s != nil && s.Kind == yaml.MappingNode {
					sources = append(sources, s)
				}
			}
		}
		for _, src := range sources {
			p := src.Content
			if hasMerge(src) {
				p = mergePairs(src, depth+1)
			}
			for j := 0; j+1 < len(p); j += 2 {
				if !seen[p[j].Value] {
					seen[p[j].Value] = true
					merged = append(merged, p[j], p[j+1])
				}
			}
		}
	}
	return append(own, merged...)
}
