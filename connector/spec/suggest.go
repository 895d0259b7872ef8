package spec

import "sort"

// Suggest returns the candidates close to name in spelling, closest first,
// for "did you mean" hints. A candidate is close when its edit distance
// from name is at most a third of name's length (at least 1 edit), or when
// one is a prefix of the other.
func Suggest(name string, candidates []string) []string {
	type scored struct {
		s string
		d int
	}
	limit := len(name) / 3
	if limit < 1 {
		limit = 1
	}
	var out []scored
	for _, c := range candidates {
		d := distance(name, c)
		prefix := len(name) >= 2 && len(c) >= 2 && (hasPrefix(c, name) || hasPrefix(name, c))
		if d <= limit || prefix {
			out = append(out, scored{c, d})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].d < out[j].d })
	names := make([]string, len(out))
	for i, s := range out {
		names[i] = s.s
	}
	return names
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// distance is the Levenshtein distance between a and b, counting
// transposition of neighbours as one edit.
func distance(a, b string) int {
	if a == b {
		return 0
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
