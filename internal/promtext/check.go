package promtext

import (
	"fmt"
	"strconv"
	"strings"
)

// Check reports the first way text breaks the exposition format, as
// "line N: what", or nil. It checks each line's syntax (metric and label
// names, quoted and escaped label values, values), that every family has
// at most one HELP and one TYPE and that both come before its samples,
// that a family's lines are contiguous, that no series appears twice, that
// a family's samples carry its name (plus _bucket, _sum or _count for a
// histogram or summary), that counters are named ..._total, and that
// every family has a HELP text (promtool's lint asks for the last two).
func Check(text string) error {
	type family struct{ help, typ, samples bool }
	fams := map[string]*family{}
	done := map[string]bool{} // families whose block ended
	series := map[string]bool{}
	cur := ""
	types := map[string]string{}
	enter := func(name string) error {
		if name == cur {
			return nil
		}
		if done[name] {
			return fmt.Errorf("family %s appears again after other families", name)
		}
		if cur != "" {
			done[cur] = true
		}
		cur = name
		if fams[name] == nil {
			fams[name] = &family{}
		}
		return nil
	}
	lines := strings.Split(text, "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	} else if text != "" {
		return fmt.Errorf("line %d: the text does not end with a newline", len(lines))
	}
	for i, line := range lines {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d: %s: %q", i+1, fmt.Sprintf(format, args...), line)
		}
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			f := strings.SplitN(line, " ", 4)
			if len(f) < 3 || f[0] != "#" || f[1] != "HELP" && f[1] != "TYPE" {
				continue // a comment
			}
			name := f[2]
			if !validName(name, true) {
				return fail("bad metric name %q", name)
			}
			if err := enter(name); err != nil {
				return fail("%v", err)
			}
			fam := fams[name]
			rest := ""
			if len(f) == 4 {
				rest = f[3]
			}
			if f[1] == "HELP" {
				if fam.help {
					return fail("second HELP for %s", name)
				}
				if err := checkEscapes(rest, false); err != nil {
					return fail("HELP text: %v", err)
				}
				fam.help = true
				continue
			}
			if fam.typ {
				return fail("second TYPE for %s", name)
			}
			if fam.samples {
				return fail("TYPE for %s after its samples", name)
			}
			switch rest {
			case "counter", "gauge", "histogram", "summary", "untyped":
			default:
				return fail("unknown type %q", rest)
			}
			if rest == "counter" && !strings.HasSuffix(name, "_total") {
				return fail("counter %s is not named ..._total", name)
			}
			fam.typ = true
			types[name] = rest
			continue
		}
		name, labels, value, err := splitSample(line)
		if err != nil {
			return fail("%v", err)
		}
		famName := name
		if _, ok := fams[name]; !ok || !fams[name].typ {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				base := strings.TrimSuffix(name, suf)
				if base != name && (types[base] == "histogram" || types[base] == "summary") {
					famName = base
				}
			}
		}
		if err := enter(famName); err != nil {
			return fail("%v", err)
		}
		fams[famName].samples = true
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			return fail("bad value %q", value)
		}
		key := name + "{" + labels + "}"
		if series[key] {
			return fail("series %s appears twice", key)
		}
		series[key] = true
	}
	for name, fam := range fams {
		if fam.samples && !fam.help {
			return fmt.Errorf("family %s has no HELP text", name)
		}
	}
	return nil
}

// validName reports whether s is a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*),
// or a label name ([a-zA-Z_][a-zA-Z0-9_]*) when metric is false.
func validName(s string, metric bool) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || metric && c == ':' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

// checkEscapes checks the backslash escapes of a HELP text (\\ and \n) or
// of a label value (also \"), in which a bare quote is an error.
func checkEscapes(s string, label bool) error {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return fmt.Errorf("trailing backslash")
			}
			i++
			if s[i] != '\\' && s[i] != 'n' && !(label && s[i] == '"') {
				return fmt.Errorf("bad escape \\%c", s[i])
			}
		case '"':
			if label {
				return fmt.Errorf("unescaped quote")
			}
		}
	}
	return nil
}

// splitSample splits "name{labels} value [timestamp]", checking the
// label set, and returns the labels sorted-insensitive as written.
func splitSample(line string) (name, labels, value string, err error) {
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return "", "", "", fmt.Errorf("no value")
	}
	name = line[:i]
	if !validName(name, true) {
		return "", "", "", fmt.Errorf("bad metric name %q", name)
	}
	rest := line[i:]
	if rest[0] == '{' {
		end, err := scanLabels(rest)
		if err != nil {
			return "", "", "", err
		}
		labels, rest = rest[1:end], rest[end+1:]
	}
	if !strings.HasPrefix(rest, " ") {
		return "", "", "", fmt.Errorf("no space before the value")
	}
	f := strings.Split(rest[1:], " ")
	if len(f) > 2 || f[0] == "" {
		return "", "", "", fmt.Errorf("want a value and at most a timestamp after the labels")
	}
	if len(f) == 2 {
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			return "", "", "", fmt.Errorf("bad timestamp %q", f[1])
		}
	}
	return name, labels, f[0], nil
}

// scanLabels checks the label set that s starts with ("{a="x",b="y"}")
// and returns the index of its closing brace.
func scanLabels(s string) (int, error) {
	seen := map[string]bool{}
	i := 1
	for {
		if i < len(s) && s[i] == '}' {
			return i, nil
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return 0, fmt.Errorf("label without '='")
		}
		ln := s[i : i+eq]
		if !validName(ln, false) || strings.HasPrefix(ln, "__") {
			return 0, fmt.Errorf("bad label name %q", ln)
		}
		if seen[ln] {
			return 0, fmt.Errorf("label %s twice", ln)
		}
		seen[ln] = true
		i += eq + 1
		if i >= len(s) || s[i] != '"' {
			return 0, fmt.Errorf("label %s: value not quoted", ln)
		}
		j := i + 1
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' {
				j++
			}
		}
		if j >= len(s) {
			return 0, fmt.Errorf("label %s: unterminated value", ln)
		}
		if err := checkEscapes(s[i+1:j], true); err != nil {
			return 0, fmt.Errorf("label %s: %v", ln, err)
		}
		i = j + 1
		if i < len(s) && s[i] == ',' {
			i++
			continue
		}
		if i < len(s) && s[i] == '}' {
			return i, nil
		}
		return 0, fmt.Errorf("expected ',' or '}' after label %s", ln)
	}
}
