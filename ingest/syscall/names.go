package syscall

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/weirproject/weir/cabi"
)

// Name returns the name of syscall number nr on this architecture (Arch),
// or "syscall_NR" for a number the table does not know.
func Name(nr uint32) string {
	if int(nr) < len(sysNames) && sysNames[nr] != "" {
		return sysNames[nr]
	}
	return "syscall_" + strconv.FormatUint(uint64(nr), 10)
}

// Number returns the number of the named syscall on this architecture.
func Number(name string) (uint32, bool) {
	for nr, n := range sysNames {
		if n == name {
			return uint32(nr), true
		}
	}
	return 0, false
}

// Names returns every syscall name this architecture has, by number.
func Names() []string {
	out := make([]string, 0, len(sysNames))
	for _, n := range sysNames {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// UnknownSyscallError is ParseList's error for a name this architecture
// has no syscall for.
type UnknownSyscallError struct {
	Name string
}

func (e *UnknownSyscallError) Error() string {
	return fmt.Sprintf("unknown syscall %q on %s", e.Name, Arch)
}

// ParseList parses a comma-separated list of syscall names or numbers
// ("openat,connect,59") into numbers. Names are the kernel's, lower case,
// as Names lists them. An unknown name is an *UnknownSyscallError; a number
// must be below NrMax.
func ParseList(list string) ([]uint32, error) {
	var out []uint32
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if n, err := strconv.ParseUint(f, 10, 32); err == nil {
			if n >= NrMax {
				return nil, fmt.Errorf("syscall number %d: the programs look up numbers below %d", n, NrMax)
			}
			out = append(out, uint32(n))
			continue
		}
		nr, ok := Number(strings.ToLower(f))
		if !ok {
			return nil, &UnknownSyscallError{Name: f}
		}
		out = append(out, nr)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("syscall list %q names no syscall", list)
	}
	return out, nil
}

// NrMax bounds the syscall numbers the programs look up
// (WEIR_SYS_NR_MAX): calls with larger numbers are traced only when every
// syscall is, and never decoded.
const NrMax = 1024

// decoding says what the kernel program reads for a syscall: a
// weir_sys_info without the trace flag.
type decoding struct {
	kind uint8 // cabi.Decode*
	a, b uint8 // argument indexes, with argLenPtr and argMsghdr
}

// Flags of weir_sys_info's argument indexes (WEIR_SYS_ARG_*).
const (
	argLenPtr = 0x80 // the length argument is a pointer; read after success
	argMsghdr = 0x40 // args[1] is a msghdr holding the address
)

// decoders lists, by name, the syscalls whose memory arguments the
// programs decode; on an architecture without a name (arm64 has no open,
// rename or unlink) the entry is unused. Scalar arguments (fds, counts,
// flags, lengths) need no kernel work: the record has every argument
// register, and Format decodes them by name.
var decoders = map[string]decoding{
	"connect":   {cabi.DecodeSockaddr, 1, 2},
	"bind":      {cabi.DecodeSockaddr, 1, 2},
	"accept":    {cabi.DecodeSockaddr, 1, 2 | argLenPtr},
	"accept4":   {cabi.DecodeSockaddr, 1, 2 | argLenPtr},
	"sendto":    {cabi.DecodeSockaddr, 4, 5},
	"recvfrom":  {cabi.DecodeSockaddr, 4, 5 | argLenPtr},
	"sendmsg":   {cabi.DecodeSockaddr, argMsghdr, 0},
	"recvmsg":   {cabi.DecodeSockaddr, argMsghdr, argLenPtr},
	"listen":    {cabi.DecodeSockFD, 0, 0},
	"execve":    {cabi.DecodeExec, 0, 1},
	"execveat":  {cabi.DecodeExec, 1, 2},
	"open":      {cabi.DecodePath, 0, 0},
	"creat":     {cabi.DecodePath, 0, 0},
	"openat":    {cabi.DecodePath, 1, 0},
	"openat2":   {cabi.DecodePath, 1, 0},
	"unlink":    {cabi.DecodePath, 0, 0},
	"unlinkat":  {cabi.DecodePath, 1, 0},
	"rename":    {cabi.DecodePath2, 0, 1},
	"renameat":  {cabi.DecodePath2, 1, 3},
	"renameat2": {cabi.DecodePath2, 1, 3},
}

// noReturn lists the syscalls that never return to their caller.
var noReturn = map[string]bool{"exit": true, "exit_group": true}
