package syscall

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// How many arguments a syscall takes is not in the tables mksysnum reads
// (x/sys has the numbers only, as do the kernel's unistd.h and
// syscall_*.tbl). The running kernel says it: tracefs describes each
// syscall's sys_enter event, whose fields after __syscall_nr are the
// arguments, with their kernel names (CONFIG_FTRACE_SYSCALLS, which every
// distribution kernel has). Decode reads it for the calls it does not
// decode, so that they print as many arguments as they take, as strace
// does, rather than all six registers.

// tracefsDir is tracefs' own mount point (Linux 4.1 on); the second place
// it is found is under debugfs, which mounts it on first access.
const tracefsDir = "/sys/kernel/tracing"

var tracefsDirs = []string{tracefsDir, "/sys/kernel/debug/tracing"}

// argCounts returns each syscall's argument count, indexed by number as
// sysNames, -1 where the kernel does not say; nil when tracefs could not
// be read. It reads them once, at the first call.
var argCounts = sync.OnceValue(kernelArgCounts)

// ArgCount returns how many arguments syscall nr takes, as the running
// kernel's syscall trace events list them. ok is false when it is not
// known: tracefs is not mounted and weir could not mount it (that needs
// CAP_SYS_ADMIN), the kernel has no event for the call, or the event is
// named after a kernel function ArgCount does not find (umount2's is
// sys_umount). The first call reads tracefs, which takes a few
// milliseconds. ArgCount is safe for concurrent use.
func ArgCount(nr uint32) (n int, ok bool) {
	c := argCounts()
	if int(nr) >= len(c) || c[nr] < 0 {
		return 0, false
	}
	return int(c[nr]), true
}

// kernelArgCounts reads the argument counts from tracefs where it is
// mounted, or else from a private mount of it.
func kernelArgCounts() []int8 {
	for _, d := range tracefsDirs {
		if c, err := readArgCounts(d); err == nil {
			return c
		}
	}
	c, _ := readArgCountsPrivately()
	return c
}

// readArgCountsPrivately mounts tracefs where no one else sees it: on a
// thread of its own, in a mount namespace of its own that ends with the
// thread, so weir leaves no mount behind, even when killed.
func readArgCountsPrivately() ([]int8, error) {
	type result struct {
		c   []int8
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread leaves weir's mount namespace, so
		// it must end with this goroutine, which the runtime then does.
		runtime.LockOSThread()
		c, err := func() ([]int8, error) {
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return nil, fmt.Errorf("unshare the mount namespace: %w", err)
			}
			// Keep the mount below from propagating back to the
			// namespace weir came from.
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return nil, fmt.Errorf("make mounts private: %w", err)
			}
			if err := unix.Mount("tracefs", tracefsDir, "tracefs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
				return nil, fmt.Errorf("mount tracefs on %s: %w", tracefsDir, err)
			}
			return readArgCounts(tracefsDir)
		}()
		done <- result{c, err}
	}()
	r := <-done
	return r.c, r.err
}

// readArgCounts reads each syscall's argument count from the sys_enter
// event formats of the tracefs mounted at root.
func readArgCounts(root string) ([]int8, error) {
	dir := filepath.Join(root, "events", "syscalls")
	if _, err := os.ReadDir(dir); err != nil {
		return nil, err
	}
	c := make([]int8, len(sysNames))
	for nr, name := range sysNames {
		c[nr] = -1
		if name == "" {
			continue
		}
		// The event is named after the kernel function, sys_NAME,
		// which for a few calls is not the table's name: stat's is
		// sys_newstat, sendfile's sys_sendfile64, arm64's fadvise64's
		// sys_fadvise64_64.
		for _, ev := range []string{name, "new" + name, name + "64", name + "_64"} {
			b, err := os.ReadFile(filepath.Join(dir, "sys_enter_"+ev, "format"))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				break
			}
			if n, ok := parseArgCount(string(b)); ok {
				c[nr] = int8(n)
			}
			break
		}
	}
	return c, nil
}

// parseArgCount counts the arguments in a sys_enter event's format: the
// fields after __syscall_nr.
//
//	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
//	field:pid_t pid;	offset:16;	size:8;	signed:0;
//	field:int sig;	offset:24;	size:8;	signed:0;
func parseArgCount(format string) (int, bool) {
	n, nr := 0, false
	for _, line := range strings.Split(format, "\n") {
		decl, ok := strings.CutPrefix(strings.TrimSpace(line), "field:")
		if !ok {
			continue
		}
		switch decl, _, _ = strings.Cut(decl, ";"); {
		case nr:
			n++
		case strings.HasSuffix(decl, " __syscall_nr"):
			nr = true
		}
	}
	return n, nr && n <= 6
}
