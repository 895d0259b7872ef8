package syscall

import (
	"encoding/json"
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

func TestFormat(t *testing.T) {
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
		if c.NoReturn != (j["ret"] == nil) {
			t.Errorf("%s: JSON ret %v for a call that %s", tc.name, j["ret"], map[bool]string{true: "did not return", false: "returned"}[c.NoReturn])
		}
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
