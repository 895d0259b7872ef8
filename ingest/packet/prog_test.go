package packet

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
)

// Program return values: XDP_PASS, and TCX_NEXT as the kernel reports it.
const (
	xdpPass = 2
	tcxNext = 0xffffffff
)

// loIfindex is the interface BPF_PROG_TEST_RUN reports for both XDP
// (ingress_ifindex) and skb programs when no context is given: loopback.
const loIfindex = 1

// newTestCapture loads the capture programs without attaching them, with
// small rings, and configures loopback.
func newTestCapture(t *testing.T, ringSize int, rate, snaplen uint32) *Capture {
	t.Helper()
	return newTestCaptureConfig(t, Config{Interfaces: []string{"lo"}, RingSize: ringSize, Snaplen: snaplen}, rate, snaplen)
}

// newTestCaptureConfig is newTestCapture with more of the Config.
func newTestCaptureConfig(t *testing.T, cfg Config, rate, snaplen uint32) *Capture {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root (CAP_BPF and CAP_NET_ADMIN)")
	}
	cfg, err := cfg.normalize()
	if err != nil {
		t.Fatal(err)
	}
	c, err := load(cfg, allPrograms)
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("kernel lacks a feature: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := c.SetInterface(loIfindex, rate, snaplen); err != nil {
		t.Fatal(err)
	}
	return c
}

// pinCPU keeps the calling goroutine on one OS thread bound to CPU 0 for
// the rest of the test, so that per-CPU state (sampler, sequence, ring) is
// deterministic across repeated runs.
func pinCPU(t *testing.T) {
	t.Helper()
	runtime.LockOSThread()
	var old, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		t.Fatalf("sched_getaffinity: %v", err)
	}
	one.Set(0)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		t.Fatalf("sched_setaffinity: %v", err)
	}
	t.Cleanup(func() {
		unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	})
}

type testProg struct {
	name string
	prog *ebpf.Program
	ret  uint32
	dir  uint8
	hook uint8
}

func testProgs(c *Capture) []testProg {
	x, ti, te := c.Programs()
	return []testProg{
		{"xdp", x, xdpPass, RecordIngress, HookXDP},
		{"tc-ingress", ti, tcxNext, RecordIngress, HookTCX},
		{"tc-egress", te, tcxNext, RecordEgress, HookTCX},
	}
}

// runProg runs p on data repeat times and checks that it passed the packet
// on unchanged.
func runProg(t *testing.T, p testProg, data []byte, repeat uint32) {
	t.Helper()
	out := make([]byte, len(data)+256)
	ret, err := p.prog.Run(&ebpf.RunOptions{Data: data, DataOut: out, Repeat: repeat})
	if err != nil {
		t.Fatalf("%s: BPF_PROG_TEST_RUN: %v", p.name, err)
	}
	if ret != p.ret {
		t.Fatalf("%s returned %#x; want %#x (pass without action)", p.name, ret, p.ret)
	}
}

type capturedRecord struct {
	hdr  Header
	data []byte
	ev   cabi.Event
}

// drain reads every record waiting in the capture's rings, checks the event
// descriptors, copies the records out and releases the batches.
func drain(t *testing.T, c *Capture) []capturedRecord {
	t.Helper()
	b, err := cabi.AllocBatch(256, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cabi.FreeBatch(b)
	var recs []capturedRecord
	now := uint64(time.Now().UnixNano())
	// Every record is committed: merge without holding any back.
	c.Reader().SetOrder(0)
	for {
		n, err := c.Reader().Read(b, 0)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if n == 0 {
			return recs
		}
		for _, ev := range b.EventSlice() {
			h, data, err := Decode(ev.Bytes())
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if ev.Kind != cabi.KindPacket || ev.StreamID != uint64(h.Ifindex) || ev.Len != uint32(HeaderSize)+h.CapLen {
				t.Errorf("event kind %d stream %d len %d; want %d, %d, %d", ev.Kind, ev.StreamID, ev.Len, cabi.KindPacket, h.Ifindex, uint32(HeaderSize)+h.CapLen)
			}
			if trunc := ev.Flags&cabi.FlagTruncated != 0; trunc != h.Truncated() {
				t.Errorf("event truncated flag %v; header says %v", trunc, h.Truncated())
			}
			if d := int64(now) - int64(ev.TsNs); d < -int64(time.Second) || d > int64(time.Minute) {
				t.Errorf("event time %d is %v away from now", ev.TsNs, time.Duration(d))
			}
			if h.Clock != cabi.ClockMonotonic || h.Reserved != [3]uint8{} || h.Reserved1 != 0 {
				t.Errorf("record clock %v, reserved %v %d; want %v and zeros", h.Clock, h.Reserved, h.Reserved1, cabi.ClockMonotonic)
			}
			// Unsampled records say so; sampled ones say how.
			if (h.SampleRate <= 1) != (h.SampleMode == cabi.SampleNone) || h.SampleMode > cabi.SampleFlow {
				t.Errorf("record sample rate %d, mode %d; want mode %d exactly when the rate is 1", h.SampleRate, h.SampleMode, cabi.SampleNone)
			}
			// The kit reader sees what Decode sees, with the event's Unix time.
			if v, err := cabi.ReadPacketEvent(&ev); err != nil || v.TsNs != ev.TsNs || v.Ifindex != h.Ifindex || v.WireLen != h.OrigLen || !bytes.Equal(v.Frame, data) {
				t.Errorf("cabi.ReadPacketEvent = %+v, %v; want the record Decode read", v, err)
			}
			recs = append(recs, capturedRecord{hdr: h, data: bytes.Clone(data), ev: ev})
		}
		if err := c.Reader().Release(b); err != nil {
			t.Fatalf("Release: %v", err)
		}
	}
}

// checkInvariant asserts seen = filtered + sampled out + emitted + ring full,
// per CPU and in total, and returns the totals.
func checkInvariant(t *testing.T, c *Capture) Counters {
	t.Helper()
	per, err := c.CountersPerCPU()
	if err != nil {
		t.Fatal(err)
	}
	for cpu, k := range per {
		if k.Seen != k.Filtered+k.SampledOut+k.Emitted+k.RingFull {
			t.Errorf("cpu %d counters %+v: seen != filtered + sampled out + emitted + ring full", cpu, k)
		}
	}
	sum, err := c.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Seen != sum.Filtered+sum.SampledOut+sum.Emitted+sum.RingFull {
		t.Errorf("counters %+v: seen != filtered + sampled out + emitted + ring full", sum)
	}
	return sum
}
