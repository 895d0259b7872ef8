package privs

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"testing"
)

// TestMain runs Drop in a child process (the test binary with
// PRIVS_CHILD=user), since a process cannot get its capabilities back, and
// prints what /proc says of it afterwards.
func TestMain(m *testing.M) {
	if name, ok := os.LookupEnv("PRIVS_CHILD"); ok {
		if err := Drop(name); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		status, _ := os.ReadFile("/proc/self/status")
		fmt.Print(string(status))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child runs Drop(name) in a child and returns its /proc/self/status.
func child(t *testing.T, name string) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PRIVS_CHILD="+name)
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), ErrNotSupported.Error()) {
		// go test with cgo enabled links a C runtime, and Go then
		// refuses AllThreadsSyscall; make test builds with
		// CGO_ENABLED=0, as the weir binary is.
		t.Skipf("this test binary cannot drop every thread's capabilities (built with cgo? run with CGO_ENABLED=0): %s", out)
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	st := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			st[k] = strings.TrimSpace(v)
		}
	}
	return st
}

func TestDropCapabilities(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: there are no capabilities to drop")
	}
	st := child(t, "")
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if st[k] != "0000000000000000" {
			t.Errorf("%s = %s after Drop; want none", k, st[k])
		}
	}
	if st["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %s; want 1", st["NoNewPrivs"])
	}
}

func TestDropToUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	st := child(t, "nobody")
	if want := strings.Repeat(u.Uid+"\t", 4); st["Uid"]+"\t" != want {
		t.Errorf("Uid = %q; want %s in all four", st["Uid"], u.Uid)
	}
	if st["CapEff"] != "0000000000000000" || st["CapPrm"] != "0000000000000000" {
		t.Errorf("capabilities %s/%s as nobody; want none", st["CapPrm"], st["CapEff"])
	}
}

func TestDropUnknownUser(t *testing.T) {
	if err := Drop("no-such-user-weir"); err == nil || !strings.Contains(err.Error(), "no-such-user-weir") {
		t.Errorf("Drop(unknown user) = %v; want an error naming it", err)
	}
}
