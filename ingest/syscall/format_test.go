package syscall

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
)

// record builds the bytes of a syscall record.
func record(h cabi.SyscallRecord, s0, s1 string) []byte {
	h.Type, h.Version = cabi.RecordSyscall, cabi.SyscallRecordVersion
	n := cabi.SyscallRecordSize
	if h.HasStrings() {
		n += 2 * cabi.SyscallStrMax
		h.Str0Len, h.Str1Len = uint16(len(s0)), uint16(len(s1))
	}
	h.Size = uint32(n)
	b := make([]byte, n)
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&h)), cabi.SyscallRecordSize))
	if h.HasStrings() {
		copy(b[cabi.SyscallRecordSize:], s0)
		copy(b[cabi.SyscallRecordSize+cabi.SyscallStrMax:], s1)
	}
	return b
}

func nr(t *testing.T, name string) uint32 {
	n, ok := Number(name)
	if !ok {
		t.Skipf("%s has no %s", Arch, name)
	}
	return n
}

// withArgCounts makes ArgCount return counts for the rest of the test.
func withArgCounts(t *testing.T, counts map[string]int) {
	c := make([]int8, len(sysNames))
	for nr, name := range sysNames {
		c[nr] = -1
		if n, ok := counts[name]; ok {
			c[nr] = int8(n)
		}
	}
	old := argCounts
	argCounts = func() []int8 { return c }
	t.Cleanup(func() { argCounts = old })
}

func TestFormat(t *testing.T) {
	withArgCounts(t, map[string]int{"kill": 2, "getuid": 0, "nanosleep": 2})
	junk := [6]uint64{0x11, 0x22, 0x33, 0x44, 0x55, 0x66}
	comm := [16]byte{'c', 'a', 't'}
	for _, tc := range []struct {
		name   string
		h      cabi.SyscallRecord
		s0, s1 string
		text   string
	}{
		{"openat", cabi.SyscallRecord{Decode: cabi.DecodePath, Args: [6]uint64{uint64(0xffffff9c), 0, unix.O_RDONLY | unix.O_CLOEXEC}, Ret: 3, DurationNs: 1500},
			"/etc/hosts", "", `cat 10/11 openat(AT_FDCWD, "/etc/hosts", O_RDONLY|O_CLOEXEC) = 3 <0.000002>`},
		{"openat", cabi.SyscallRecord{Decode: cabi.DecodePath, Flags: cabi.SysStr0Truncated, Args: [6]uint64{uint64(0xffffff9c), 0, unix.O_WRONLY | unix.O_CREAT, 0o644}, Ret: -int64(unix.EACCES)},
			"/long", "", `cat 10/11 openat(AT_FDCWD, "/long"..., O_WRONLY|O_CREAT, 0644) = -1 EACCES (permission denied) <0.000000>`},
		{"connect", cabi.SyscallRecord{Decode: cabi.DecodeSockaddr, Flags: cabi.SysAddr, Family: unix.AF_INET, Port: 8080, Addr: [16]byte{127, 0, 0, 1}, Args: [6]uint64{5, 0, 16}, Ret: -int64(unix.ECONNREFUSED)},
			"", "", `cat 10/11 connect(5, 127.0.0.1:8080, 16) = -1 ECONNREFUSED (connection refused) <0.000000>`},
		{"connect", cabi.SyscallRecord{Decode: cabi.DecodeSockaddr, Flags: cabi.SysAddr, Family: unix.AF_INET6, Port: 443, Addr: [16]byte{15: 1}, Args: [6]uint64{5, 0, 28}},
			"", "", `cat 10/11 connect(5, [::1]:443, 28) = 0 <0.000000>`},
		{"execve", cabi.SyscallRecord{Decode: cabi.DecodeExec, Flags: cabi.SysStr1Truncated},
			"/bin/ls", "ls\x00-l\x00", `cat 10/11 execve("/bin/ls", ["ls", "-l", ...]) = 0 <0.000000>`},
		{"renameat2", cabi.SyscallRecord{Decode: cabi.DecodePath2, Args: [6]uint64{uint64(0xffffff9c), 0, uint64(0xffffff9c)}},
			"a", "b", `cat 10/11 renameat2(-100, "a", -100, "b", 0x0) = 0 <0.000000>`},
		{"write", cabi.SyscallRecord{Args: [6]uint64{1, 0, 1}, Ret: 1}, "", "", `cat 10/11 write(1, 1) = 1 <0.000000>`},
		{"mmap", cabi.SyscallRecord{Args: [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_WRITE, 0x22, uint64(0xffffffff), 0}, Ret: 0x7f0000000000},
			"", "", `cat 10/11 mmap(0x0, 4096, PROT_READ|PROT_WRITE, 0x22, -1, 0) = 0x7f0000000000 <0.000000>`},
		{"exit_group", cabi.SyscallRecord{Flags: cabi.SysNoReturn, Args: [6]uint64{3}}, "", "", `cat 10/11 exit_group(3) = ?`},
		// Calls weir does not decode: as many arguments as the kernel
		// says they take, all six registers when it does not say.
		{"kill", cabi.SyscallRecord{Args: junk}, "", "", `cat 10/11 kill(0x11, 0x22) = 0 <0.000000>`},
		{"getuid", cabi.SyscallRecord{Args: junk}, "", "", `cat 10/11 getuid() = 0 <0.000000>`},
		{"ioctl", cabi.SyscallRecord{Args: junk}, "", "", `cat 10/11 ioctl(0x11, 0x22, 0x33, 0x44, 0x55, 0x66) = 0 <0.000000>`},
		// A signal interrupted the call: the kernel's own codes, which
		// the process never sees, named as strace names them.
		{"nanosleep", cabi.SyscallRecord{Args: junk, Ret: -516}, "", "", `cat 10/11 nanosleep(0x11, 0x22) = -1 ERESTART_RESTARTBLOCK (interrupted by signal) <0.000000>`},
		{"kill", cabi.SyscallRecord{Args: junk, Ret: -512}, "", "", `cat 10/11 kill(0x11, 0x22) = -1 ERESTARTSYS (to be restarted if SA_RESTART is set) <0.000000>`},
	} {
		tc.h.Nr = nr(t, tc.name)
		tc.h.Pid, tc.h.Tid, tc.h.Comm = 10, 11, comm
		v, err := cabi.ReadSyscall(record(tc.h, tc.s0, tc.s1))
		if err != nil {
			t.Fatal(err)
		}
		c := Decode(&v, 1e9)
		got := string(c.AppendText(nil))
		if _, rest, _ := strings.Cut(got, " "); rest != tc.text {
			t.Errorf("%s: text\n got %s\nwant %s", tc.name, rest, tc.text)
		}
		var j map[string]any
		if err := json.Unmarshal(c.AppendJSON(nil), &j); err != nil || j["syscall"] != tc.name || j["comm"] != "cat" {
			t.Errorf("%s: JSON %s: %v", tc.name, c.AppendJSON(nil), err)
		}
		if args, _ := j["args"].(map[string]any); len(args) != len(c.Args) {
			t.Errorf("%s: JSON args %v; want %d", tc.name, j["args"], len(c.Args))
		}
		if c.NoReturn != (j["ret"] == nil) {
			t.Errorf("%s: JSON ret %v for a call that %s", tc.name, j["ret"], map[bool]string{true: "did not return", false: "returned"}[c.NoReturn])
		}
	}
}

func TestParseArgCount(t *testing.T) {
	for _, tc := range []struct {
		name string
		want int
	}{{"getpid", 0}, {"kill", 2}, {"openat", 4}, {"newstat", 2}} {
		b, err := os.ReadFile("testdata/tracefs/events/syscalls/sys_enter_" + tc.name + "/format")
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := parseArgCount(string(b)); n != tc.want || !ok {
			t.Errorf("parseArgCount(sys_enter_%s) = %d, %v; want %d, true", tc.name, n, ok, tc.want)
		}
	}
	for _, bad := range []string{"", "format:\n\tfield:int common_pid;\toffset:4;\n\tfield:long ret;\toffset:8;\n",
		"\tfield:int __syscall_nr;\n" + strings.Repeat("\tfield:long a;\n", 7)} {
		if n, ok := parseArgCount(bad); ok {
			t.Errorf("parseArgCount(%q) = %d, true; want false", bad, n)
		}
	}
}

// TestReadArgCounts reads a tracefs copy holding the events of getpid,
// kill, openat and newstat (stat's: the event is named after the kernel
// function).
func TestReadArgCounts(t *testing.T) {
	c, err := readArgCounts("testdata/tracefs")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"getpid": 0, "kill": 2, "openat": 4, "stat": 2, "read": -1}
	for name, n := range want {
		if nr, ok := Number(name); ok && int(c[nr]) != n {
			t.Errorf("readArgCounts: %s takes %d arguments; want %d", name, c[nr], n)
		}
	}
	if _, err := readArgCounts(t.TempDir()); err == nil {
		t.Errorf("readArgCounts of an empty directory: nil error")
	}
}

// TestArgCount asks the running kernel.
func TestArgCount(t *testing.T) {
	if _, ok := ArgCount(nr(t, "getpid")); !ok {
		t.Skip("the kernel's syscall events cannot be read here (no tracefs, or no CAP_SYS_ADMIN to mount it)")
	}
	for name, want := range map[string]int{"getpid": 0, "kill": 2, "openat": 4, "mmap": 6, "set_tid_address": 1, "stat": 2, "fstat": 2, "uname": 1} {
		n, ok := Number(name)
		if !ok {
			continue // arm64 has no stat
		}
		if got, ok := ArgCount(n); got != want || !ok {
			t.Errorf("ArgCount(%s) = %d, %v; want %d, true", name, got, ok, want)
		}
	}
	if n, ok := ArgCount(1 << 20); ok {
		t.Errorf("ArgCount(1<<20) = %d, true; want false", n)
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList("read, write,0")
	if r, _ := Number("read"); err != nil || len(got) != 3 || got[0] != r || got[2] != 0 {
		t.Errorf("ParseList = %v, %v", got, err)
	}
	for _, bad := range []string{"", ",", "opn", "99999"} {
		if _, err := ParseList(bad); err == nil {
			t.Errorf("ParseList(%q) = nil error", bad)
		}
	}
	if Name(1<<20) != "syscall_1048576" {
		t.Errorf("Name(1<<20) = %q", Name(1<<20))
	}
	// The table has the calls every architecture weir supports has.
	for _, n := range []string{"read", "write", "openat", "connect", "execve", "exit_group", "clone", "renameat2", "getpid"} {
		if nr, ok := Number(n); !ok || Name(nr) != n {
			t.Errorf("Number(%q) = %d, %v", n, nr, ok)
		}
	}
}

// TestFormatComm: a task name with a space, a quote, a control character
// or a byte outside ASCII is quoted in the text line, so that the line
// stays one line of fields and no raw escape reaches a terminal.
func TestFormatComm(t *testing.T) {
	for _, tc := range []struct{ comm, want string }{
		{"cat", "cat"},
		{"kworker/0:1", "kworker/0:1"},
		{"a b", `"a b"`},
		{"a\nb", `"a\nb"`},
		{"x\x1b[2J", `"x\x1b[2J"`},
		{"q\"", `"q\""`},
		{"back\\", `"back\\"`},
		{"\xff\x01", `"\xff\x01"`},
		{"é", `"\u00e9"`},
		{"", `""`},
	} {
		c := Call{Comm: tc.comm, Name: "getpid", NoReturn: true}
		line := string(c.AppendText(nil))
		if strings.ContainsAny(line, "\n\x1b") {
			t.Errorf("comm %q: line %q holds a raw control character", tc.comm, line)
		}
		if got := strings.SplitN(line, " ", 2)[1]; !strings.HasPrefix(got, tc.want+" 0/0 getpid(") {
			t.Errorf("comm %q: line %q; want the name written %s", tc.comm, line, tc.want)
		}
	}
}

// FuzzDecode: any record ReadSyscall accepts decodes and formats without
// panicking, and its JSON is valid.
func FuzzDecode(f *testing.F) {
	f.Add(record(cabi.SyscallRecord{Decode: cabi.DecodeExec, Nr: 59}, "/bin/true", "true\x00"))
	f.Add(record(cabi.SyscallRecord{Decode: cabi.DecodeSockaddr, Flags: cabi.SysAddr, Family: 1, Nr: 42}, "", ""))
	f.Fuzz(func(t *testing.T, rec []byte) {
		v, err := cabi.ReadSyscall(rec)
		if err != nil {
			return
		}
		c := Decode(&v, v.Header.DurationNs)
		c.AppendText(nil)
		if !json.Valid(c.AppendJSON(nil)) {
			t.Fatalf("invalid JSON %s", c.AppendJSON(nil))
		}
	})
}
