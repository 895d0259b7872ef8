package syscall

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	ksys "github.com/weirproject/weir/ingest/syscall"
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
