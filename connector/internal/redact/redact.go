// Package redact hides credentials that users write into server
// addresses, so that errors, logs and printed configs never show them.
package redact

import "strings"

// Userinfo returns addr with anything that could be a user name or
// password replaced by REDACTED: the part before the last '@' (after a
// scheme's "://", which is kept). It works on the text alone, so an
// address that does not parse as a URL (a password holding '/', '%' or
// '#') is hidden too. An address without '@' is returned unchanged.
func Userinfo(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	start := 0
	if i := strings.Index(addr[:at], "://"); i >= 0 {
		start = i + 3
	}
	return addr[:start] + "REDACTED" + addr[at:]
}
