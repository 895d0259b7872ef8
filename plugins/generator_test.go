package plugins

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/loader"
)

// TestGeneratorConfig runs every config in testdata/generator_configs.txt
// through create.
func TestGeneratorConfig(t *testing.T) {
	typ := loadType(t, "c_generator", "generator")
	f, err := os.Open("testdata/generator_configs.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.HasPrefix(text, "#") || strings.TrimSpace(text) == "" {
			continue
		}
		cfg, want, ok := strings.Cut(text, "=> ")
		if !ok {
			t.Fatalf("generator_configs.txt:%d: no \" => \" separator", line)
		}
		cfg = strings.TrimSuffix(cfg, " ")
		n++
		// An empty config means "{}" to cabi; send one space instead so the
		// plugin sees it.
		raw := []byte(cfg)
		if len(raw) == 0 {
			raw = []byte(" ")
		}
		in, err := typ.Create(raw, loader.NewBasicHost("", nil))
		if want == "OK" {
			if err != nil {
				t.Errorf("line %d: Create(%q) = %v; want OK", line, cfg, err)
			} else {
				in.Destroy()
			}
			continue
		}
		var oe *loader.OpError
		if !errors.As(err, &oe) {
			if err == nil {
				in.Destroy()
			}
			t.Errorf("line %d: Create(%q) = %v; want an error containing %q", line, cfg, err, want)
			continue
		}
		if !strings.Contains(oe.Message, want) {
			t.Errorf("line %d: Create(%q) error = %q; want it to contain %q", line, cfg, oe.Message, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("only %d cases read from testdata", n)
	}
}

// FuzzConfig feeds arbitrary bytes to every plugin's config parser (the C
// one shared by the generator and blackhole, the Rust one, and the Go
// plugins' encoding/json) through create: each must answer OK, or
// WEIR_ERROR with a message, and never crash.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{`{}`, `{"size":64,"rate":10,"count":5}`, `{"size":`, `{"a":1}`, "{\"\\\"\":1}",
		`{"size":18446744073709551615}`, `{"publish_every":0}`, `{"panic":"create"}`, `{"panic":"x\u0000"}`} {
		f.Add([]byte(s))
	}
	types := []*loader.ConnectorType{
		loadType(f, "c_generator", "generator"),
		loadType(f, "c_blackhole", "c_blackhole"),
		loadType(f, "rust_blackhole", "rust_blackhole"),
		loadType(f, "go_blackhole", "go_blackhole"),
		loadType(f, "go_counter", "go_counter"),
	}
	f.Fuzz(func(t *testing.T, cfg []byte) {
		for _, typ := range types {
			in, err := typ.Create(cfg, loader.NewBasicHost("", nil))
			if err == nil {
				in.Destroy()
				continue
			}
			var oe *loader.OpError
			if !errors.As(err, &oe) || oe.Message == "" {
				t.Fatalf("%s: Create(%q) = %v; want OK or an *loader.OpError with a message", typ.ID, cfg, err)
			}
		}
	})
}

// TestGeneratorRate checks the token bucket: 300 events at 3000/s take
// about 100 ms, and a poll with no token waits no longer than its timeout.
func TestGeneratorRate(t *testing.T) {
	typ := loadType(t, "c_generator", "generator")
	gen, _ := create(t, typ, `{"size":16,"rate":3000,"burst":10,"count":300}`)
	mustOK(t, "start", gen.Start())
	b := allocBatch(t, 64, 64*16)
	start := time.Now()
	got := 0
	for {
		b.Reset()
		st, err := gen.Poll(b, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		got += int(b.Len)
		if b.Len > 10 {
			t.Fatalf("poll returned %d events; the burst is 10", b.Len)
		}
		if st == cabi.EOF {
			break
		}
	}
	elapsed := time.Since(start)
	if got != 300 {
		t.Fatalf("got %d events; want 300", got)
	}
	// 300 events, 1 token at start and 10 in the burst: at least ~96 ms.
	// That is the property; a busy machine may take longer, so the upper
	// bound only catches a hang.
	if elapsed < 90*time.Millisecond || elapsed > time.Minute {
		t.Errorf("300 events at 3000/s took %v; want at least 90ms", elapsed)
	}

	slow, _ := create(t, typ, `{"size":8,"rate":1}`)
	mustOK(t, "start", slow.Start())
	b.Reset()
	if st, err := slow.Poll(b, 0); err != nil || st != cabi.OK || b.Len != 1 {
		t.Fatalf("first poll = %v, %v, %d events; want one event", st, err, b.Len)
	}
	b.Reset()
	if st, err := slow.Poll(b, 0); err != nil || st != cabi.Timeout {
		t.Fatalf("poll without a token and timeout 0 = %v, %v; want WEIR_TIMEOUT", st, err)
	}
	start = time.Now()
	if st, err := slow.Poll(b, 20*time.Millisecond); err != nil || st != cabi.Timeout {
		t.Fatalf("poll without a token = %v, %v; want WEIR_TIMEOUT", st, err)
	}
	if d := time.Since(start); d < 15*time.Millisecond || d > time.Minute {
		t.Errorf("poll with a 20ms timeout returned after %v", d)
	}
	mustOK(t, "pause", slow.Pause())
	if st, err := slow.Poll(b, time.Millisecond); err != nil || st != cabi.Timeout {
		t.Fatalf("poll while paused = %v, %v; want WEIR_TIMEOUT", st, err)
	}
	mustOK(t, "resume", slow.Resume())
	mustOK(t, "drain", slow.Drain())
	if st, err := slow.Poll(b, 0); err != nil || st != cabi.EOF {
		t.Fatalf("poll after drain = %v, %v; want WEIR_EOF", st, err)
	}
}

// TestGeneratorArena checks that the generator fills only what the arena
// holds and fails clearly when not even one event fits.
func TestGeneratorArena(t *testing.T) {
	typ := loadType(t, "c_generator", "generator")
	gen, _ := create(t, typ, `{"size":100}`)
	mustOK(t, "start", gen.Start())
	b := allocBatch(t, 64, 250)
	if st, err := gen.Poll(b, 0); err != nil || st != cabi.OK || b.Len != 2 || b.ArenaLen != 200 {
		t.Fatalf("poll = %v, %v with %d events, %d arena bytes; want 2 events, 200 bytes", st, err, b.Len, b.ArenaLen)
	}
	_, err := gen.Poll(b, 0)
	var oe *loader.OpError
	if !errors.As(err, &oe) || !strings.Contains(oe.Message, "arena has 50 free bytes, an event needs 100") {
		t.Fatalf("poll into a full arena = %v; want an arena error", err)
	}
}
