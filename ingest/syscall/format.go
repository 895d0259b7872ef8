package syscall

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
)

// Arg is one decoded argument of a call.
type Arg struct {
	Name  string // what it is: "fd", "path", "addr", "count", ...
	Value string // its value as text
	Quote bool   // a string from user memory: printed quoted
	Cut   bool   // the string was truncated
}

// Call is a syscall record decoded for people: names for numbers, errno
// names for errors, arguments by meaning.
type Call struct {
	Time     time.Time     // when the call started
	Comm     string        // task name
	Pid, Tid uint32        // tgid and thread id
	CgroupID uint64        // the task's cgroup v2 id (the inode number of its directory)
	Name     string        // syscall name
	Nr       uint32        // syscall number
	Args     []Arg         // decoded arguments
	Ret      int64         // return value
	Errno    string        // errno name when the call failed (ENOENT), "" otherwise
	Duration time.Duration // how long the call took
	NoReturn bool          // exit, exit_group: the call did not return
}

// Decode turns a syscall record into a Call. retNs is the Unix time in
// nanoseconds of the return (the event's TsNs).
func Decode(v *cabi.SyscallView, retNs uint64) Call {
	h := &v.Header
	c := Call{
		Time:     time.Unix(0, int64(retNs-h.DurationNs)),
		Comm:     cstring(h.Comm[:]),
		Pid:      h.Pid,
		Tid:      h.Tid,
		CgroupID: h.CgroupID,
		Name:     Name(h.Nr),
		Nr:       h.Nr,
		Ret:      h.Ret,
		Duration: time.Duration(h.DurationNs),
		NoReturn: h.Flags&cabi.SysNoReturn != 0,
	}
	if h.Failed() {
		c.Errno = unix.ErrnoName(unix.Errno(-h.Ret))
		if k, ok := kernelErrnos[-h.Ret]; ok {
			c.Errno = k[0]
		}
		if c.Errno == "" {
			c.Errno = "E" + strconv.FormatInt(-h.Ret, 10)
		}
	}
	c.Args = decodeArgs(v, c.Name)
	return c
}

// kernelErrnos names the codes of include/linux/errno.h that a call
// returns at sys_exit when a signal interrupts it: the kernel restarts the
// call or turns them into EINTR before the process sees them, so libc has
// no name for them. The names and texts are strace's.
var kernelErrnos = map[int64][2]string{
	512: {"ERESTARTSYS", "to be restarted if SA_RESTART is set"},
	513: {"ERESTARTNOINTR", "to be restarted"},
	514: {"ERESTARTNOHAND", "to be restarted if no handler"},
	515: {"ENOIOCTLCMD", "no ioctl command"},
	516: {"ERESTART_RESTARTBLOCK", "interrupted by signal"},
}

// errnoText is the description of errno e.
func errnoText(e int64) string {
	if k, ok := kernelErrnos[e]; ok {
		return k[1]
	}
	return unix.Errno(e).Error()
}

func cstring(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func num(name string, v uint64) Arg  { return Arg{Name: name, Value: strconv.FormatInt(int64(v), 10)} }
func unum(name string, v uint64) Arg { return Arg{Name: name, Value: strconv.FormatUint(v, 10)} }
func hex(name string, v uint64) Arg  { return Arg{Name: name, Value: "0x" + strconv.FormatUint(v, 16)} }

// fd formats a file descriptor argument, which the kernel reads as int.
func fd(name string, v uint64) Arg { return num(name, uint64(int64(int32(v)))) }

// dirfd formats a directory fd, naming AT_FDCWD.
func dirfd(v uint64) Arg {
	if int32(v) == unix.AT_FDCWD {
		return Arg{Name: "dirfd", Value: "AT_FDCWD"}
	}
	return fd("dirfd", v)
}

func str(name string, s []byte, h *cabi.SyscallRecord, slot int) Arg {
	trunc, fault := uint16(cabi.SysStr0Truncated), uint16(cabi.SysStr0Fault)
	if slot == 1 {
		trunc, fault = cabi.SysStr1Truncated, cabi.SysStr1Fault
	}
	if h.Flags&fault != 0 {
		return Arg{Name: name, Value: "?"}
	}
	return Arg{Name: name, Value: string(s), Quote: true, Cut: h.Flags&trunc != 0}
}

// addr formats the decoded socket address.
func addr(h *cabi.SyscallRecord) Arg {
	if h.Flags&cabi.SysAddr == 0 {
		return Arg{Name: "addr", Value: "NULL"}
	}
	switch h.Family {
	case unix.AF_INET:
		a := netip.AddrFrom4([4]byte(h.Addr[:4]))
		return Arg{Name: "addr", Value: netip.AddrPortFrom(a, h.Port).String()}
	case unix.AF_INET6:
		a := netip.AddrFrom16(h.Addr)
		return Arg{Name: "addr", Value: netip.AddrPortFrom(a, h.Port).String()}
	case unix.AF_UNIX:
		p := h.Addr[:]
		if len(p) > 0 && p[0] == 0 {
			return Arg{Name: "addr", Value: "unix:@" + cstring(p[1:])}
		}
		return Arg{Name: "addr", Value: "unix:" + cstring(p)}
	}
	return Arg{Name: "addr", Value: "family " + strconv.Itoa(int(h.Family))}
}

func decodeArgs(v *cabi.SyscallView, name string) []Arg {
	h := &v.Header
	a := h.Args
	switch name {
	case "open", "creat":
		return []Arg{str("path", v.Str0, h, 0), {Name: "flags", Value: openFlags(a[1])}}
	case "openat":
		out := []Arg{dirfd(a[0]), str("path", v.Str0, h, 0), {Name: "flags", Value: openFlags(a[2])}}
		if a[2]&(unix.O_CREAT|unix.O_TMPFILE) != 0 {
			out = append(out, Arg{Name: "mode", Value: "0" + strconv.FormatUint(a[3]&0o7777, 8)})
		}
		return out
	case "openat2":
		return []Arg{dirfd(a[0]), str("path", v.Str0, h, 0), hex("how", a[2])}
	case "unlink":
		return []Arg{str("path", v.Str0, h, 0)}
	case "unlinkat":
		return []Arg{dirfd(a[0]), str("path", v.Str0, h, 0), hex("flags", a[2])}
	case "rename":
		return []Arg{str("oldpath", v.Str0, h, 0), str("newpath", v.Str1, h, 1)}
	case "renameat", "renameat2":
		out := []Arg{fd("olddirfd", a[0]), str("oldpath", v.Str0, h, 0), fd("newdirfd", a[2]), str("newpath", v.Str1, h, 1)}
		if name == "renameat2" {
			out = append(out, hex("flags", a[4]))
		}
		return out
	case "execve", "execveat":
		out := []Arg{str("path", v.Str0, h, 0)}
		if h.Flags&cabi.SysStr1Fault != 0 {
			return append(out, Arg{Name: "argv", Value: "?"})
		}
		argv := strings.Split(strings.TrimSuffix(string(v.Str1), "\x00"), "\x00")
		if len(v.Str1) == 0 {
			argv = nil
		}
		quoted := make([]string, len(argv))
		for i, s := range argv {
			quoted[i] = strconv.Quote(s)
		}
		val := "[" + strings.Join(quoted, ", ")
		if h.Flags&cabi.SysStr1Truncated != 0 {
			val += ", ..."
		}
		return append(out, Arg{Name: "argv", Value: val + "]", Cut: h.Flags&cabi.SysStr1Truncated != 0})
	case "connect", "bind":
		return []Arg{fd("fd", a[0]), addr(h), unum("addrlen", a[2]&0xffffffff)}
	case "accept", "accept4":
		return []Arg{fd("fd", a[0]), addr(h)}
	case "listen":
		return []Arg{fd("fd", a[0]), addr(h), num("backlog", uint64(int64(int32(a[1]))))}
	case "sendto", "recvfrom":
		return []Arg{fd("fd", a[0]), unum("count", a[2]), addr(h)}
	case "sendmsg", "recvmsg":
		return []Arg{fd("fd", a[0]), addr(h), hex("flags", a[2])}
	case "close", "dup", "fsync", "fdatasync":
		return []Arg{fd("fd", a[0])}
	case "dup2":
		return []Arg{fd("oldfd", a[0]), fd("newfd", a[1])}
	case "dup3":
		return []Arg{fd("oldfd", a[0]), fd("newfd", a[1]), hex("flags", a[2])}
	case "read", "write", "readv", "writev":
		return []Arg{fd("fd", a[0]), unum("count", a[2])}
	case "pread64", "pwrite64", "preadv", "pwritev":
		return []Arg{fd("fd", a[0]), unum("count", a[2]), num("offset", a[3])}
	case "mmap":
		return []Arg{hex("addr", a[0]), unum("length", a[1]), {Name: "prot", Value: protFlags(a[2])}, hex("flags", a[3]), fd("fd", a[4]), num("offset", a[5])}
	case "mprotect":
		return []Arg{hex("addr", a[0]), unum("length", a[1]), {Name: "prot", Value: protFlags(a[2])}}
	case "munmap":
		return []Arg{hex("addr", a[0]), unum("length", a[1])}
	case "clone":
		return []Arg{hex("flags", a[0])}
	case "clone3":
		return []Arg{hex("args", a[0]), unum("size", a[1])}
	case "fork", "vfork", "getpid", "gettid", "getppid", "sched_yield":
		return nil
	case "exit", "exit_group":
		return []Arg{num("status", uint64(int64(int32(a[0]))))}
	}
	// Any other call: its argument registers as numbers, as many as
	// the kernel says it takes (all six when it does not say).
	n := len(a)
	if c, ok := ArgCount(h.Nr); ok {
		n = c
	}
	out := make([]Arg, n)
	for i := range out {
		out[i] = hex("arg"+strconv.Itoa(i), a[i])
	}
	return out
}

var openBits = []struct {
	bit  uint64
	name string
}{
	{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"}, {unix.O_NOCTTY, "O_NOCTTY"},
	{unix.O_TRUNC, "O_TRUNC"}, {unix.O_APPEND, "O_APPEND"}, {unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_DSYNC, "O_DSYNC"}, {unix.O_DIRECT, "O_DIRECT"}, {unix.O_DIRECTORY, "O_DIRECTORY"},
	{unix.O_NOFOLLOW, "O_NOFOLLOW"}, {unix.O_NOATIME, "O_NOATIME"}, {unix.O_CLOEXEC, "O_CLOEXEC"},
	{unix.O_PATH, "O_PATH"},
}

// openFlags names open(2) flags: the access mode, then the other bits.
func openFlags(f uint64) string {
	var parts []string
	switch f & unix.O_ACCMODE {
	case unix.O_RDONLY:
		parts = append(parts, "O_RDONLY")
	case unix.O_WRONLY:
		parts = append(parts, "O_WRONLY")
	case unix.O_RDWR:
		parts = append(parts, "O_RDWR")
	default:
		parts = append(parts, "O_ACCMODE")
	}
	rest := f &^ unix.O_ACCMODE
	if rest&unix.O_TMPFILE == unix.O_TMPFILE {
		parts = append(parts, "O_TMPFILE")
		rest &^= unix.O_TMPFILE
	}
	if rest&unix.O_SYNC == unix.O_SYNC {
		parts = append(parts, "O_SYNC")
		rest &^= unix.O_SYNC
	}
	for _, b := range openBits {
		if rest&b.bit != 0 {
			parts = append(parts, b.name)
			rest &^= b.bit
		}
	}
	if rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(rest, 16))
	}
	return strings.Join(parts, "|")
}

// protFlags names mmap/mprotect protection bits.
func protFlags(p uint64) string {
	if p == 0 {
		return "PROT_NONE"
	}
	var parts []string
	for _, b := range []struct {
		bit  uint64
		name string
	}{{unix.PROT_READ, "PROT_READ"}, {unix.PROT_WRITE, "PROT_WRITE"}, {unix.PROT_EXEC, "PROT_EXEC"}} {
		if p&b.bit != 0 {
			parts = append(parts, b.name)
			p &^= b.bit
		}
	}
	if p != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(p, 16))
	}
	return strings.Join(parts, "|")
}

// appendComm appends a task name as is when it is one printable word,
// and quoted, with escapes, when it holds a space, a quote, a control
// character or a byte outside ASCII: a process chooses its own name, and
// one with a newline or a terminal escape must not break the one line
// per call or reach the user's terminal raw.
func appendComm(b []byte, comm string) []byte {
	for i := 0; i < len(comm); i++ {
		if c := comm[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return strconv.AppendQuoteToASCII(b, comm)
		}
	}
	if comm == "" {
		return append(b, `""`...)
	}
	return append(b, comm...)
}

// RetString formats the return value as strace does: "-1 ENOENT (no such
// file or directory)" for an error, hex for mmap's address, "?" for a call
// that did not return.
func (c *Call) RetString() string {
	switch {
	case c.NoReturn:
		return "?"
	case c.Errno != "":
		return fmt.Sprintf("-1 %s (%s)", c.Errno, errnoText(-c.Ret))
	case c.Name == "mmap" || c.Name == "brk":
		return "0x" + strconv.FormatUint(uint64(c.Ret), 16)
	}
	return strconv.FormatInt(c.Ret, 10)
}

// AppendText appends the call as one line of text, without a newline:
//
//	15:04:05.000000 comm 1234/1235 openat(AT_FDCWD, "/etc/hosts", O_RDONLY) = 3 <0.000012>
func (c *Call) AppendText(b []byte) []byte {
	b = c.Time.AppendFormat(b, "15:04:05.000000")
	b = append(b, ' ')
	b = appendComm(b, c.Comm)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(c.Pid), 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(c.Tid), 10)
	b = append(b, ' ')
	b = append(b, c.Name...)
	b = append(b, '(')
	for i, a := range c.Args {
		if i > 0 {
			b = append(b, ", "...)
		}
		if a.Quote {
			b = strconv.AppendQuote(b, a.Value)
			if a.Cut {
				b = append(b, "..."...)
			}
		} else {
			b = append(b, a.Value...)
		}
	}
	b = append(b, ") = "...)
	b = append(b, c.RetString()...)
	if !c.NoReturn {
		b = append(b, " <"...)
		b = strconv.AppendFloat(b, c.Duration.Seconds(), 'f', 6, 64)
		b = append(b, '>')
	}
	return b
}

// jsonCall is the JSON form of a Call.
type jsonCall struct {
	Time       string            `json:"time"`
	Comm       string            `json:"comm"`
	Pid        uint32            `json:"pid"`
	Tid        uint32            `json:"tid"`
	CgroupID   uint64            `json:"cgroup_id"`
	Syscall    string            `json:"syscall"`
	Nr         uint32            `json:"nr"`
	Args       map[string]string `json:"args"`
	Truncated  []string          `json:"truncated,omitempty"`
	Ret        *int64            `json:"ret"`
	Errno      string            `json:"errno,omitempty"`
	DurationNs int64             `json:"duration_ns"`
}

// AppendJSON appends the call as one JSON object, without a newline:
// time (RFC 3339, nanoseconds), comm, pid, tid, cgroup_id, syscall, nr, args (name to
// value), truncated (names of cut strings), ret (null for a call that did
// not return), errno and duration_ns.
func (c *Call) AppendJSON(b []byte) []byte {
	j := jsonCall{
		Time: c.Time.UTC().Format(time.RFC3339Nano), Comm: c.Comm, Pid: c.Pid, Tid: c.Tid, CgroupID: c.CgroupID,
		Syscall: c.Name, Nr: c.Nr, Args: make(map[string]string, len(c.Args)), Errno: c.Errno,
		DurationNs: int64(c.Duration),
	}
	for _, a := range c.Args {
		j.Args[a.Name] = a.Value
		if a.Cut {
			j.Truncated = append(j.Truncated, a.Name)
		}
	}
	if !c.NoReturn {
		r := c.Ret
		j.Ret = &r
	}
	out, err := json.Marshal(j)
	if err != nil {
		// Strings are valid Go strings and json.Marshal escapes what
		// is not UTF-8, so this does not happen.
		return append(b, `{"error":"marshal"}`...)
	}
	return append(b, out...)
}
