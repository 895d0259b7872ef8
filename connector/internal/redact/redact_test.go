package redact

import (
	"strings"
	"testing"
)

func TestUserinfo(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://h:4222", "nats://h:4222"},
		{"h:9092", "h:9092"},
		{"nats://u:secret@h:4222", "nats://REDACTED@h:4222"},
		{"nats://u:s3cr%zzet@h:4222", "nats://REDACTED@h:4222"},
		{"nats://u:p/w0rd@h:4222", "nats://REDACTED@h:4222"},
		{"nats://u:p@ss@h:4222", "nats://REDACTED@h:4222"},
		{"u:secret@h:9092", "REDACTED@h:9092"},
		{" tls://tok@h ", " tls://REDACTED@h "},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Userinfo(tt.in); got != tt.want {
			t.Errorf("Userinfo(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzUserinfo(f *testing.F) {
	f.Add("nats://u:p@h:1")
	f.Add("u:p/w@h:9092")
	f.Fuzz(func(t *testing.T, s string) {
		got := Userinfo(s)
		if !strings.Contains(s, "@") {
			if got != s {
				t.Fatalf("Userinfo(%q) = %q; want it unchanged", s, got)
			}
			return
		}
		// Everything up to the last '@' (after a scheme) is the word.
		rest := got[:strings.LastIndexByte(got, '@')]
		if i := strings.Index(rest, "://"); i >= 0 && strings.HasPrefix(s, rest[:i+3]) {
			rest = rest[i+3:]
		}
		if rest != "REDACTED" {
			t.Fatalf("Userinfo(%q) = %q; the part before '@' is %q", s, got, rest)
		}
		if again := Userinfo(got); again != got {
			t.Fatalf("Userinfo not idempotent: %q then %q", got, again)
		}
	})
}
