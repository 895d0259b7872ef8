package testmem

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

func TestReadOnly(t *testing.T) {
	data := []byte("weir lends read-only bytes")
	mem := ReadOnly(t, data)
	if !bytes.Equal(mem, data) {
		t.Fatalf("ReadOnly = %q; want %q", mem, data)
	}
	if os.Getenv("TESTMEM_WRITE") == "1" {
		mem[0] = 'W' // must die with SIGSEGV
		return
	}
	// A store must crash: run it in a child process.
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadOnly$")
	cmd.Env = append(os.Environ(), "TESTMEM_WRITE=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("SIGSEGV")) {
		t.Fatalf("writing into ReadOnly memory did not fault: %v\n%s", err, out)
	}
}
