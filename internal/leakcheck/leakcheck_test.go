package leakcheck

import (
	"bytes"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	var held []*os.File
	stop := make(chan struct{})
	defer func() {
		close(stop)
		for _, f := range held {
			f.Close()
		}
	}()
	for _, tc := range []struct {
		name  string
		o     Options
		tests func() int
		code  int
		msg   string
	}{
		{"clean", Options{FDs: true, Goroutines: true}, func() int { return 0 }, 0, ""},
		{"failed tests pass through", Options{FDs: true}, func() int { return 3 }, 3, ""},
		{"fd leak", Options{FDs: true, Grace: 20 * time.Millisecond}, func() int {
			f, err := os.Open(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, f)
			return 0
		}, 1, "1 file descriptors left open"},
		{"goroutine leak", Options{Goroutines: true, Grace: 20 * time.Millisecond}, func() int {
			go func() { <-stop }()
			return 0
		}, 1, "1 goroutines left running"},
		{"goroutine ends within grace", Options{Goroutines: true}, func() int {
			go func() { time.Sleep(50 * time.Millisecond) }()
			return 0
		}, 0, ""},
		{"the os/signal loop is not a leak", Options{Goroutines: true, Grace: 20 * time.Millisecond}, func() int {
			// go test -fuzz starts it, and it runs for the life of the
			// process.
			c := make(chan os.Signal, 1)
			signal.Notify(c, syscall.SIGUSR2)
			signal.Stop(c)
			return 0
		}, 0, ""},
		{"unchecked kinds are ignored", Options{}, func() int {
			go func() { <-stop }()
			return 0
		}, 0, ""},
	} {
		var stderr bytes.Buffer
		code := run(tc.tests, tc.o, &stderr)
		if code != tc.code || (tc.msg != "" && !strings.Contains(stderr.String(), tc.msg)) {
			t.Errorf("%s: run = %d, %q; want %d and %q", tc.name, code, stderr.String(), tc.code, tc.msg)
		}
	}
}
