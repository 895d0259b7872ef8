package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The write-* scenarios measure the file system's share of a capture: a
// process that only writes, into the same directory, the bytes one of the
// tools writes for the run's packets, in that tool's write size. Their CPU
// per packet is what writing the file costs either tool, whatever else it
// does. With -rate they write at the pace the packets arrive, since a file
// filled slowly can cost more per page than one filled at once (see
// docs/BENCHMARKS.md on free page reporting).
//
//   - write-pcap: tcpdump's file, a 16-byte record header before each
//     packet's captured bytes, in 4 KiB writes (its stdio buffer on tmpfs).
//   - write-pcapng: weir's file, an enhanced packet block of 32 bytes around
//     the captured bytes padded to 4, in 1 MiB writes (its buffer).
var writeScenarios = map[string]struct {
	header int // bytes per packet besides the captured ones
	pad    int // captured bytes are padded to a multiple of this
	chunk  int // write size
}{
	"write-pcap":   {16, 1, 4 << 10},
	"write-pcapng": {32, 4, 1 << 20},
}

// writerEnv, when set in benchcapture's environment, makes it the writing
// process of a write-* scenario: "PATH BYTES CHUNK PACE", PACE in bytes per
// second (0: as fast as it can).
const writerEnv = "BENCHCAPTURE_WRITE"

// runWrite runs a write-* scenario. Its idle run writes nothing, which
// measures starting the writer.
func (b *bench) runWrite(name string, idle bool) (result, error) {
	var res result
	w := writeScenarios[name]
	captured := min(b.size, b.snap)
	perPkt := w.header + (captured+w.pad-1)/w.pad*w.pad
	total := uint64(perPkt) * b.count
	if idle {
		total = 0
	}
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	out := filepath.Join(b.dir, name+".out")
	cmd := exec.Command(self)
	pace := b.rate * uint64(perPkt)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d %d", writerEnv, out, total, w.chunk, pace))
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("writer: %w", err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.user, res.sys = time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
	}
	// The packets the file stands for, for the per-packet columns.
	res.inFile = b.count
	if idle {
		res.inFile = 0
	}
	return res, os.Remove(out)
}

// writeFile is the writing process: it creates path and writes n bytes
// into it, chunk bytes at a time, from one buffer, at most pace bytes a
// second if pace is not 0.
func writeFile(spec string) error {
	f := strings.Fields(spec)
	bad := fmt.Errorf("%s=%q: want PATH BYTES CHUNK PACE", writerEnv, spec)
	if len(f) != 4 {
		return bad
	}
	n, err1 := strconv.ParseUint(f[1], 10, 64)
	chunk, err2 := strconv.Atoi(f[2])
	pace, err3 := strconv.ParseUint(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || chunk <= 0 {
		return bad
	}
	out, err := os.Create(f[0])
	if err != nil {
		return err
	}
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i)
	}
	start := time.Now()
	var done uint64
	for done < n {
		// Sleep only when a millisecond or more ahead: tcpdump's 4 KiB
		// writes come every 37 us at 1 Mpps, too often for a timer each.
		if pace > 0 {
			if ahead := time.Until(start.Add(time.Duration(float64(done) / float64(pace) * float64(time.Second)))); ahead >= time.Millisecond {
				time.Sleep(ahead)
			}
		}
		k := min(n-done, uint64(chunk))
		if _, err := out.Write(buf[:k]); err != nil {
			out.Close()
			return err
		}
		done += k
	}
	return out.Close()
}
