package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// interpError is an interpolation error at a byte offset in a scalar.
type interpError struct {
	off int
	msg string
}

// expand replaces ${NAME} and ${NAME:-default} in s with values from
// lookup, and $${ with a literal ${. With ":-", the default is used when
// NAME is unset or empty. An unset NAME without a default is an error, as
// are an unterminated ${ and a bad name.
func expand(s string, lookup func(string) (string, bool)) (string, *interpError) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	i := 0
	for i < len(s) {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		j += i
		if j > i && s[j-1] == '$' {
			// $${ escapes: write everything up to the first $, then ${.
			b.WriteString(s[i : j-1])
			b.WriteString("${")
			i = j + 2
			continue
		}
		b.WriteString(s[i:j])
		end := strings.IndexByte(s[j+2:], '}')
		if end < 0 {
			return "", &interpError{j, "unterminated ${; want ${NAME} or ${NAME:-default} (write $${ for a literal ${)"}
		}
		body := s[j+2 : j+2+end]
		name, def, hasDef := strings.Cut(body, ":-")
		if !validVar(name) {
			return "", &interpError{j, fmt.Sprintf("bad variable name %q in ${%s}; want letters, digits and _, not starting with a digit", name, body)}
		}
		v, ok := lookup(name)
		switch {
		case hasDef && (!ok || v == ""):
			v = def
		case !ok:
			return "", &interpError{j, fmt.Sprintf("environment variable %s is not set; set it or give a default with ${%s:-default}", name, name)}
		}
		b.WriteString(v)
		i = j + 2 + end + 1
	}
	return b.String(), nil
}

func validVar(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// Marks that stand in for the braces of ${...} while YAML is parsed. In
// flow style ({...} and [...]) YAML reads a brace as structure, so
// {path: ${DIR}/x} would not parse. Each mark is one rune, as a brace is,
// so the columns yaml.v3 reports (which count runes) do not move.
const (
	openMark  = "\u00a7" // §
	closeMark = "\u00a4" // ¤
)

// protect replaces the braces of every ${...} that closes on its line with
// the marks. It leaves data alone, and reports false, when data already
// holds a mark, so that restore is an exact inverse.
func protect(data []byte) ([]byte, bool) {
	s := string(data)
	if !strings.Contains(s, "${") || strings.Contains(s, openMark) || strings.Contains(s, closeMark) {
		return data, false
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		end := strings.IndexAny(s[i+2:], "}\n")
		if end < 0 || s[i+2+end] != '}' {
			b.WriteString(s[:i+2])
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i+1])
		b.WriteString(openMark)
		b.WriteString(s[i+2 : i+2+end])
		b.WriteString(closeMark)
		s = s[i+2+end+1:]
	}
	return []byte(b.String()), true
}

// restore puts the braces back in every scalar under n.
func restore(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, openMark) {
		n.Value = strings.ReplaceAll(strings.ReplaceAll(n.Value, "$"+openMark, "${"), closeMark, "}")
	}
	for _, c := range n.Content {
		restore(c)
	}
}

// interpolate expands every scalar value under n in place (mapping keys
// are left alone). A plain scalar's tag is reset so that, for example,
// "${N:-16}" becomes the integer 16. Errors go to l.
func (l *loader) interpolate(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			l.interpolate(c)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			l.interpolate(n.Content[i])
		}
	case yaml.ScalarNode:
		v, err := expand(n.Value, l.lookup)
		if err != nil {
			line, col := l.offsetPos(n, err.off)
			l.errs = append(l.errs, l.errAt(line, col, "%s", err.msg))
			l.badNodes[l.pos(n)] = true
			return
		}
		if v != n.Value {
			n.Value = v
			if n.Style == 0 {
				n.Tag = ""
			}
		}
	}
}

// offsetPos maps a byte offset in a scalar's value to a line and column in
// the file. It is exact for single-line plain and quoted scalars without
// escapes and for literal blocks; otherwise it falls back to the node.
func (l *loader) offsetPos(n *yaml.Node, off int) (int, int) {
	before := n.Value[:min(max(off, 0), len(n.Value))]
	switch n.Style {
	case 0:
		if !strings.Contains(before, "\n") {
			return n.Line, n.Column + off
		}
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if !strings.ContainsAny(n.Value, "\n\\'\"") {
			return n.Line, n.Column + 1 + off
		}
	case yaml.LiteralStyle:
		// The value starts on the line after the | indicator, indented as
		// its first line is in the file.
		line := n.Line + 1 + strings.Count(before, "\n")
		col := off - (strings.LastIndexByte(before, '\n') + 1)
		if n.Line < len(l.lines) {
			text := l.lines[n.Line]
			indent := len(text) - len(strings.TrimLeft(text, " "))
			return line, indent + 1 + col
		}
	}
	return n.Line, n.Column
}
