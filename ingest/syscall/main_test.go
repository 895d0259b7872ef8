package syscall

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/internal/leakcheck"
)

func init() {
	if os.Getenv("WEIR_SYSCALL_HELPER") != "" {
		// Lock before main runs, so the main goroutine cannot have
		// moved to another thread yet.
		runtime.LockOSThread()
	}
}

// TestMain runs the helper when the test binary is started as one (see
// startHelper), and otherwise the tests, failing the run when they leak
// file descriptors.
func TestMain(m *testing.M) {
	if steps := os.Getenv("WEIR_SYSCALL_HELPER"); steps != "" {
		os.Exit(helper(steps))
	}
	leakcheck.Main(m, leakcheck.Options{FDs: true, BPF: true})
}

// helper is the traced child: it waits at the gate (fd 3, one byte from
// the test once the tracer knows its pid), then makes the calls steps
// names, in order, with raw syscalls so that nothing else runs between
// them on its thread:
//
//	connect:ADDR:PORT   socket + connect to a TCP listener
//	open:PATH           openat(AT_FDCWD, PATH, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0600)
//	write               write 5 bytes to the last opened file
//	rename:OLD:NEW      renameat2(AT_FDCWD, OLD, AT_FDCWD, NEW, 0)
//	enoent              openat of a path that does not exist
//	sleep:DURATION      nanosleep
//	getpid:N            N getpid calls
//	threadgetpid:N      N getpid calls on another thread, whose tid the
//	                    helper prints on stderr ("tid N") before the gate
//	threadsleep:N:D     N threads, each making 5 nanosleeps of 1 ms and
//	                    one of D; the step goes on once they all started
//	alternate:D         getppid and getpid in turn for D
//	exec:PATH           execve(PATH, [PATH])
//	threadexec:PATH     the same from another thread than the main one
func helper(steps string) int {
	// The main goroutine stays on the main thread, so the helper's calls
	// come from tid == pid; the runtime's other threads make their own
	// (sysmon sleeps in nanosleep), which tests tell apart by tid.
	runtime.LockOSThread()
	// A thread of its own for threadgetpid, started before the gate so
	// that the test can trace it by tid.
	var release chan struct{}
	var done chan struct{}
	for _, step := range strings.Split(steps, ",") {
		if n, ok := strings.CutPrefix(step, "threadgetpid:"); ok {
			release, done = make(chan struct{}), make(chan struct{})
			ready := make(chan int)
			go func() {
				runtime.LockOSThread()
				ready <- unix.Gettid()
				<-release
				k, _ := strconv.Atoi(n)
				for range k {
					unix.Getpid()
				}
				close(done)
			}()
			fmt.Fprintf(os.Stderr, "tid %d\n", <-ready)
		}
	}
	gate := os.NewFile(3, "gate")
	var b [1]byte
	if n, _ := gate.Read(b[:]); n != 1 {
		return 3
	}
	fd := -1
	for _, step := range strings.Split(steps, ",") {
		f := strings.Split(step, ":")
		var err error
		switch f[0] {
		case "connect":
			var ap netip.AddrPort
			if ap, err = netip.ParseAddrPort(f[1] + ":" + f[2]); err != nil {
				break
			}
			var s int
			if s, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
				break
			}
			err = unix.Connect(s, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
		case "open":
			fd, err = unix.Openat(unix.AT_FDCWD, f[1], unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
		case "write":
			_, err = unix.Write(fd, []byte("hello"))
		case "rename":
			err = unix.Renameat2(unix.AT_FDCWD, f[1], unix.AT_FDCWD, f[2], 0)
		case "enoent":
			_, err = unix.Openat(unix.AT_FDCWD, "/nonexistent/weir-test", unix.O_RDONLY, 0)
			if err == unix.ENOENT {
				err = nil
			}
		case "sleep":
			var d time.Duration
			if d, err = time.ParseDuration(f[1]); err == nil {
				ts := unix.NsecToTimespec(int64(d))
				err = unix.Nanosleep(&ts, nil)
			}
		case "getpid":
			var n int
			if n, err = strconv.Atoi(f[1]); err == nil {
				for range n {
					unix.Getpid()
				}
			}
		case "threadgetpid":
			close(release)
			<-done
		case "threadsleep":
			var n int
			var d time.Duration
			if n, err = strconv.Atoi(f[1]); err != nil {
				break
			}
			if d, err = time.ParseDuration(f[2]); err != nil {
				break
			}
			started := make(chan struct{})
			for range n {
				go func() {
					runtime.LockOSThread()
					started <- struct{}{}
					for range 5 {
						ts := unix.NsecToTimespec(int64(time.Millisecond))
						unix.Nanosleep(&ts, nil)
					}
					ts := unix.NsecToTimespec(int64(d))
					unix.Nanosleep(&ts, nil)
				}()
			}
			for range n {
				<-started
			}
		case "alternate":
			var d time.Duration
			if d, err = time.ParseDuration(f[1]); err != nil {
				break
			}
			for end := time.Now().Add(d); time.Now().Before(end); {
				for range 1000 {
					unix.Getppid()
					unix.Getpid()
				}
			}
		case "exec":
			err = unix.Exec(f[1], []string{f[1]}, nil)
		case "threadexec":
			// execve from a thread that is not the leader: the kernel
			// gives it the leader's pid.
			errc := make(chan error)
			go func() {
				runtime.LockOSThread()
				errc <- unix.Exec(f[1], []string{f[1]}, nil)
			}()
			err = <-errc
		default:
			err = fmt.Errorf("unknown step %q", step)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "helper: %s: %v\n", step, err)
			return 2
		}
	}
	return 0
}
