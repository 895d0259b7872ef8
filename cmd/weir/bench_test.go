package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseCount(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1000", 1000, true}, {"10M", 10_000_000, true}, {"2.5K", 2500, true}, {"1g", 1_000_000_000, true},
		{"0", 0, false}, {"-5", 0, false}, {"1.5", 0, false}, {"M", 0, false}, {"1e16", 0, false}, {"ten", 0, false},
	}
	for _, tt := range tests {
		got, err := parseCount(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseCount(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestBenchJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	code := runBench([]string{"--events", "50K", "--size", "128", "--batch", "100", "--filter", "len >= 128", "--sample", "5",
		"--op", `rate_limit={"rate":1e9}`, "--latency", "all", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("weir bench exit %d; stderr:\n%s", code, errOut.String())
	}
	var got struct {
		Config struct {
			Events   uint64
			Pipeline []string
		}
		Result struct {
			Events, Emitted, Bytes uint64
			Latency                *struct {
				Samples int64 `json:"samples"`
			}
			Accounting []struct {
				Name    string
				Dropped map[string]uint64
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if got.Config.Events != 50_000 || len(got.Config.Pipeline) != 3 || !strings.HasPrefix(got.Config.Pipeline[2], "rate_limit") {
		t.Errorf("config = %+v; want 50000 events and filter, sample, rate_limit", got.Config)
	}
	r := got.Result
	if r.Emitted != 50_000 || r.Events != 10_000 || r.Bytes != 10_000*128 {
		t.Errorf("emitted %d, delivered %d events and %d bytes; want 50000, 10000, 1280000", r.Emitted, r.Events, r.Bytes)
	}
	if r.Latency == nil || r.Latency.Samples != 10_000 {
		t.Errorf("latency = %+v; want 10000 samples", r.Latency)
	}
	if len(r.Accounting) != 3 || r.Accounting[1].Name != "pipeline" || r.Accounting[1].Dropped["operator"] != 40_000 {
		t.Errorf("accounting = %+v; want the pipeline to drop 40000 by operator", r.Accounting)
	}
}

func TestBenchText(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runBench([]string{"--events", "20000"}, &out, &errOut); code != 0 {
		t.Fatalf("weir bench exit %d; stderr:\n%s", code, errOut.String())
	}
	for _, want := range []string{"events      20000 emitted, 20000 delivered", "throughput", "latency     p50 ", "accounting  blaster", "memory"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--events", "many"}, {"--size", "big"}, {"--size", "0"}, {"--rate", "-1"}, {"--latency", "some"},
		{"--op", "filter={"}, {"--sink-config", "nope"}, {"--batch", "0"}, {"stray"}, {"--no-such-flag"},
		// Issue 11: sizes the engine cannot allocate used to run until
		// the timeout and past it.
		{"--batch", "100000000", "--timeout", "3s"}, {"--queue", "1000000", "--timeout", "3s"},
		{"--copy", "--size", "1MiB", "--batch", "2048", "--timeout", "3s"},
	} {
		var out, errOut bytes.Buffer
		if code := runBench(args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("weir bench %q exit %d, stderr %q; want 2 with a message", args, code, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := runBench([]string{"--help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "--filter") || errOut.Len() != 0 {
		t.Errorf("weir bench --help exit %d, stderr %q; want 0 and the flags on stdout", code, errOut.String())
	}
	// A run that fails (unknown operator, a histogram log it cannot
	// write) exits 1 with the reason.
	out.Reset()
	errOut.Reset()
	if code := runBench([]string{"--events", "10", "--hdr-log", t.TempDir()}, &out, &errOut); code != 1 || !strings.HasPrefix(errOut.String(), "weir bench: write histogram log") {
		t.Errorf("weir bench --hdr-log DIR exit %d, stderr %q; want 1 and why, after one \"weir bench: \"", code, errOut.String())
	}
	// A run that fails (unknown operator) exits 1 with the engine's error.
	out.Reset()
	errOut.Reset()
	if code := runBench([]string{"--events", "10", "--op", "nonesuch"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "nonesuch") {
		t.Errorf("weir bench with an unknown operator exit %d, stderr %q; want 1 naming it", code, errOut.String())
	}
}
