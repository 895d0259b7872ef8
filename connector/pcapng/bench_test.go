package pcapng

import (
	"encoding/binary"
	"io"
	"os"
	goruntime "runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/internal/conntest"
	"github.com/weirproject/weir/ingest/packet"
)

// benchFrame is an Ethernet, IPv4 and UDP frame of n bytes (n >= 42), as
// tools/benchcapture sends.
func benchFrame(n int) []byte {
	f := make([]byte, n)
	copy(f[0:], []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(n-14))
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], 40000)
	binary.BigEndian.PutUint16(udp[2:], 9)
	binary.BigEndian.PutUint16(udp[4:], uint16(n-34))
	return f
}

// BenchmarkCapturePath measures the user-space cost per packet of writing
// captured packets to pcapng, on records the XDP capture program wrote to
// its rings with BPF_PROG_TEST_RUN (4096 records of a 128-byte frame,
// snaplen 96, per pass, outside the timer), written to a discarding
// writer:
//
//   - path=engine is the route weir capture takes: Capture.Poll, as the
//     packet source calls it (ring Reader with packet.Describe, merged by
//     time), into a 4096-event batch (weir capture's BatchEvents), then
//     Sink.Write of that batch.
//   - path=consume is the single pass weir capture made before it went
//     through the engine: Reader.Consume, and for each record packet.View
//     and Writer.WritePacket, in ring order.
//
// Each runs with the records written on the reader's CPU (fill=same) and
// on another one (fill=other).
//
// ns/pkt is wall-clock time per packet, cpu-ns/pkt the reading thread's CPU
// time (CLOCK_THREAD_CPUTIME_ID), which time other work on a shared machine
// takes from the thread does not inflate.
func BenchmarkCapturePath(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("loading the capture programs needs root")
	}
	const perPass = 4096
	frame := benchFrame(128)
	for _, bc := range []struct{ path, fill string }{
		{"engine", "same"}, {"consume", "same"}, {"engine", "other"}, {"consume", "other"},
	} {
		path := bc.path
		b.Run("path="+path+"/fill="+bc.fill, func(b *testing.B) {
			// The reader runs on CPU 0. With fill=same the program
			// writes the records from there too, so that they are in
			// its cache, as ingest/packet's BenchmarkReadRecords
			// does; with fill=other it runs on CPU 1, so that the
			// reader fetches each record from another CPU's cache, as
			// when the packets arrive on another CPU.
			goruntime.LockOSThread()
			defer goruntime.UnlockOSThread()
			if err := pin(0); err != nil {
				b.Skipf("pin to cpu 0: %v", err)
			}
			c, err := packet.Load(packet.Config{Interfaces: []string{"lo"}, RingSize: 4 << 20, Snaplen: 96})
			if err != nil {
				b.Skipf("load capture programs: %v", err)
			}
			defer c.Close()
			defer c.Drain() // gives back the last batch's ring memory

			const loIfindex = 1 // what BPF_PROG_TEST_RUN reports
			if err := c.SetInterface(loIfindex, 1, 96); err != nil {
				b.Fatal(err)
			}
			// Hand out what is there at once, as a draining source
			// does; weir capture's 1 ms window only holds back the
			// newest records.
			c.Reader().SetOrder(0)
			x, _, _ := c.Programs()
			fill := func() error { _, _, err := x.Benchmark(frame, perPass, nil); return err }
			if bc.fill == "other" {
				if goruntime.NumCPU() < 2 {
					b.Skip("fill=other needs a second CPU")
				}
				req, done := make(chan struct{}), make(chan error)
				go func() {
					goruntime.LockOSThread() // the thread ends with the goroutine
					err := pin(1)
					for range req {
						if err == nil {
							_, _, err = x.Benchmark(frame, perPass, nil)
						}
						done <- err
					}
					close(done)
				}()
				defer func() {
					close(req)
					<-done
				}()
				fill = func() error {
					req <- struct{}{}
					return <-done
				}
			}

			var drain func() int
			switch path {
			case "engine":
				s, err := New([]byte(`{"path":"-"}`), conntest.Env("bench"))
				if err != nil {
					b.Fatal(err)
				}
				s.SetOutput(io.Discard)
				if err := s.Connect(b.Context(), 1); err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				batch, err := cabi.AllocBatch(4096, 0)
				if err != nil {
					b.Fatal(err)
				}
				defer cabi.FreeBatch(batch)
				drain = func() int {
					batch.Len = 0
					n, err := c.Poll(batch, 0)
					if err != nil {
						b.Fatal(err)
					}
					if st, err := s.Write(batch); st != cabi.OK || err != nil {
						b.Fatalf("Write = %v, %v", st, err)
					}
					return n
				}
				defer func() {
					if s.Rejected() != 0 {
						b.Errorf("sink rejected %d records", s.Rejected())
					}
				}()
			case "consume":
				w, err := NewWriter(io.Discard, "weir")
				if err != nil {
					b.Fatal(err)
				}
				id, err := w.AddInterface(Interface{Name: "lo", LinkType: LinkTypeEthernet, SnapLen: 96})
				if err != nil {
					b.Fatal(err)
				}
				r := c.Reader()
				var werr error
				write := func(rec []byte) bool {
					h, data, ok := packet.View(rec)
					if !ok {
						b.Fatal("malformed record")
					}
					if werr = w.WritePacket(id, r.UnixNano(h.TsNs), data, int(h.OrigLen)); werr != nil {
						return false
					}
					return true
				}
				drain = func() int {
					n, err := r.Consume(write, 0)
					if err != nil || werr != nil {
						b.Fatal(err, werr)
					}
					return n
				}
			}
			var cpu int64 // thread CPU time of the drains, ns
			pass := func() {
				b.StopTimer()
				if err := fill(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := threadCPU(b)
				for got := 0; got < perPass; {
					n := drain()
					if n == 0 {
						b.Fatalf("read %d of %d records", got, perPass)
					}
					got += n
				}
				cpu += threadCPU(b) - start
			}
			// Go round the whole ring once first: the first touch of
			// each page of the mapping faults it in.
			for range 8 {
				pass()
			}
			read := 0
			cpu = 0
			b.ResetTimer()
			for read < b.N {
				pass()
				read += perPass
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(read), "ns/pkt")
			b.ReportMetric(float64(cpu)/float64(read), "cpu-ns/pkt")
		})
	}
}

// threadCPU returns the calling thread's CPU time in nanoseconds.
func threadCPU(b *testing.B) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return ts.Nano()
}

// pin binds the calling thread to cpu.
func pin(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(0, &set)
}
