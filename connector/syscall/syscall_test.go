package syscall

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	ksys "github.com/weirproject/weir/ingest/syscall"
	"github.com/weirproject/weir/runtime/config"
)

func TestSpec(t *testing.T) {
	if err := Spec.Check(); err != nil {
		t.Fatal(err)
	}
	typ, ok := connector.Default.Lookup("syscall")
	if !ok || !typ.Unpausable || typ.Roles != connector.RoleSource {
		t.Fatalf("syscall type = %+v, %v; want a registered unpausable source", typ, ok)
	}
}

func TestNewSourceErrors(t *testing.T) {
	for _, tc := range []struct{ config, want string }{
		{`{"syscalls": ["opn"]}`, `unknown syscall "opn"`},
		{`{"syscalls": ["conect"]}`, "did you mean connect"},
		{`{"pids": ["x"]}`, `pids[0]: "x" is not a pid`},
		{`{"follow": true}`, "follow needs a pid"},
		{`{"comms": ["a-name-of-16-byt"]}`, "1 to 15 bytes"},
		{`{"cgroup": "no/such/weir-cgroup"}`, "no/such/weir-cgroup"},
		{`{"ring_size": 5000}`, "ring size 5000"},
		{`{"sample": 0}`, "sample"},
		{`{"sample": 4294967296}`, "sample"},
		{`{"slower": "fast"}`, "slower"},
		{`{"bogus": 1}`, "bogus"},
	} {
		_, err := New([]byte(tc.config), connector.Env{Name: "s"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s) = %v; want an error mentioning %q", tc.config, err, tc.want)
		}
		if typ, _ := connector.Default.Lookup("syscall"); typ.Check([]byte(tc.config)) == nil {
			t.Errorf("Check(%s) = nil; want the error New gives", tc.config)
		}
	}
}

// TestConfigErrorPositions: a value the spec takes but the tracer would
// refuse is reported at its own FILE:LINE:COL, not at the config's first
// field.
func TestConfigErrorPositions(t *testing.T) {
	for _, c := range []struct{ field, want string }{
		{"syscalls: [openat, opnat]", `test.yaml:8:26: connector "s" (type syscall): field syscalls[1]: unknown syscall "opnat"`},
		{"pids: [\"1\", \"x\"]", `test.yaml:8:20: connector "s" (type syscall): field pids[1]: "x" is not a pid`},
		{"pids: [1, 0]", `test.yaml:8:17: connector "s" (type syscall): field pids[1]: pid 0 out of range`},
		{"comms: [ok, a-name-of-16-byt]", `test.yaml:8:19: connector "s" (type syscall): field comms[1]: process name "a-name-of-16-byt": want 1 to 15 bytes`},
		{"comms: [a, b, c, d, e, f, g, h, i]", `test.yaml:8:39: connector "s" (type syscall): field comms[8]: 9 process names given; at most 8`},
		{"cgroup: no/such/weir-cgroup", `test.yaml:8:15: connector "s" (type syscall): field cgroup: `},
		{"slower: -1s", `test.yaml:8:15: connector "s" (type syscall): field slower: negative`},
		{"ring_size: 5000", `test.yaml:8:18: connector "s" (type syscall): field ring_size: ring size 5000 is not a power of two`},
		{"follow: true", `test.yaml:8:15: connector "s" (type syscall): field follow: follow needs a pid to follow`},
		// A pid the kernel cannot have: Open refuses it whenever the
		// source connects, so the config is wrong, not the moment.
		{fmt.Sprintf("pids: [%d]", kernelPidMax(t)), fmt.Sprintf(`test.yaml:8:14: connector "s" (type syscall): field pids[0]: pid %d is not below the kernel's pid_max %d`, kernelPidMax(t), kernelPidMax(t))},
	} {
		yaml := "connectors:\n  s:\n    type: syscall\n    config:\n      order: true\n      failed: false\n      sample: 1\n      " + c.field +
			"\n"
		_, err := config.Parse("test.yaml", []byte(yaml), config.Options{Registry: connector.Default})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config with %s: %v; want %s", c.field, err, c.want)
		}
	}
}

// TestSourceEvents runs the source over /bin/true's calls: the events are
// syscall records of that process, and the counters balance.
func TestSourceEvents(t *testing.T) {
	s, err := New([]byte(`{"comms": ["true"], "syscalls": ["execve", "exit_group"]}`), connector.Env{Name: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Connect(context.Background(), 1)
	if errors.Is(err, ksys.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	b, err := cabi.AllocBatch(64, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer cabi.FreeBatch(b)
	found := false
	for deadline := time.Now().Add(20 * time.Second); !found && time.Now().Before(deadline); {
		b.Reset()
		st, err := s.Poll(b, 50*time.Millisecond)
		if err != nil || st == cabi.Error {
			t.Fatal(st, err)
		}
		for _, ev := range b.EventSlice() {
			v, err := cabi.ReadSyscall(ev.Bytes())
			if ev.Kind != cabi.KindSyscall || err != nil {
				t.Fatalf("event kind %d: %v", ev.Kind, err)
			}
			if int(v.Header.Pid) == cmd.Process.Pid && ksys.Name(v.Header.Nr) == "exit_group" {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("no exit_group of /bin/true within 5s")
	}
	if err := s.Drain(); err != nil {
		t.Fatal(err)
	}
	c := map[string]uint64{}
	for _, k := range s.Counters() {
		c[k.Name] = k.Value
	}
	if c["seen"] != c["filtered"]+c["sampled_out"]+c["emitted"]+c["ring_full"]+c["unpaired"] || c["emitted"] == 0 {
		t.Errorf("counters %v do not balance", c)
	}
}

func kernelPidMax(t *testing.T) int {
	n, ok := pidMax()
	if !ok {
		t.Skip("no /proc/sys/kernel/pid_max")
	}
	return n
}
