package filter

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a token.
type tokKind int

const (
	tEOF  tokKind = iota
	tWord         // keyword, name, number or address
	tOp           // punctuation: ( ) [ ] : ! = != < > <= >= + - * / % & | ^ << >> && || \
)

// token is one lexical token and the byte offset where it starts.
type token struct {
	kind tokKind
	text string
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

// Error is a syntax or semantic error in a filter expression. Col is the
// 1-based column (in bytes) where the problem starts.
type Error struct {
	Col int
	Msg string
}

// Error returns "column N: message".
func (e *Error) Error() string { return fmt.Sprintf("column %d: %s", e.Col, e.Msg) }

func errAt(pos int, format string, args ...any) *Error {
	return &Error{Col: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isWordChar(c byte) bool {
	return isWordStart(c) || c == '-' || c == '_' || c == '.'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// lex splits s into tokens. Words follow libpcap's scanner: a word starts
// with a letter or digit and may contain '-', '_' and '.', so "80-90" and
// "tcp-syn" are single words; a run of hex digits, ':' and '.' that forms an
// IPv6 or MAC address is one word too.
func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\\':
			j := i + 1
			for j < len(s) && !strings.ContainsRune(" \t\n\r!()", rune(s[j])) {
				j++
			}
			if j == i+1 {
				return nil, errAt(i, "expected a name after '\\'")
			}
			toks = append(toks, token{tOp, "\\", i}, token{tWord, s[i+1 : j], i + 1})
			i = j
		case isWordStart(c) || c == ':' && i+1 < len(s) && s[i+1] == ':':
			j := i
			for j < len(s) && isWordChar(s[j]) {
				j++
			}
			// An address with colons: take the longest run of hex digits,
			// ':' and '.' if it contains a colon and parses as one.
			k := i
			for k < len(s) && (isHex(s[k]) || s[k] == ':' || s[k] == '.') {
				k++
			}
			if k > j && strings.Contains(s[i:k], ":") {
				if w := s[i:k]; isIPv6(w) || isMAC(w) {
					j = k
				}
			}
			for j > i+1 && (s[j-1] == '-' || s[j-1] == '_') {
				j-- // a word does not end with '-' or '_'
			}
			if j == i {
				// "::" that starts no address ("0:::2"): consume
				// nothing, and the loop would never end.
				return nil, errAt(i, "unexpected character ':'")
			}
			toks = append(toks, token{tWord, s[i:j], i})
			i = j
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "!=", "<=", ">=", "<<", ">>", "&&", "||", "==":
				toks = append(toks, token{tOp, two, i})
				i += 2
				continue
			}
			if strings.IndexByte("()[]:!=<>+-*/%&|^", c) < 0 {
				// Name the character the user typed, not the first byte
				// of its UTF-8 form read as Latin-1 ('é', not 'Ã').
				if r, size := utf8.DecodeRuneInString(s[i:]); r == utf8.RuneError && size <= 1 {
					return nil, errAt(i, "unexpected byte 0x%02x (not UTF-8 text)", c)
				} else if r >= utf8.RuneSelf {
					return nil, errAt(i, "unexpected character %q (filter words are ASCII)", r)
				}
				return nil, errAt(i, "unexpected character %q", c)
			}
			toks = append(toks, token{tOp, string(c), i})
			i++
		}
	}
	toks = append(toks, token{tEOF, "", len(s)})
	return toks, nil
}
