package packet

import (
	"fmt"
	"testing"
)

// TestSampling checks the deterministic 1-in-N sampler: on one CPU, of
// count packets exactly ceil(count/rate) are kept, the first of them the
// very first packet, with the rate in every record.
func TestSampling(t *testing.T) {
	for _, tc := range []struct{ rate, count uint32 }{{1, 10}, {2, 9}, {10, 95}, {10, 100}, {7, 1}, {1000, 999}} {
		for _, name := range []string{"xdp", "tc-ingress", "tc-egress"} {
			t.Run(fmt.Sprintf("%s/rate=%d/count=%d", name, tc.rate, tc.count), func(t *testing.T) {
				pinCPU(t)
				c := newTestCapture(t, 1<<16, tc.rate, 0)
				var p testProg
				for _, q := range testProgs(c) {
					if q.name == name {
						p = q
					}
				}
				runProg(t, p, frame(nil, 0x0800, ipv4(17, 0, 0, udp(22))), tc.count)
				recs := drain(t, c)
				want := (tc.count + tc.rate - 1) / tc.rate
				if uint32(len(recs)) != want {
					t.Fatalf("rate %d over %d packets kept %d; want %d", tc.rate, tc.count, len(recs), want)
				}
				for i, r := range recs {
					if r.hdr.SampleRate != tc.rate {
						t.Errorf("record %d sample rate %d; want %d", i, r.hdr.SampleRate, tc.rate)
					}
					if r.hdr.Seq != uint64(i) || r.hdr.CPU != 0 {
						t.Errorf("record %d seq %d cpu %d; want %d, 0", i, r.hdr.Seq, r.hdr.CPU, i)
					}
				}
				k := checkInvariant(t, c)
				if want := (Counters{Seen: uint64(tc.count), SampledOut: uint64(tc.count - want), Emitted: uint64(want)}); k != want {
					t.Errorf("counters %+v; want %+v", k, want)
				}
			})
		}
	}
}

// TestTruncation checks snaplen handling across the size classes: the
// record keeps min(len, snaplen) bytes, the original length, and exactly the
// frame's leading bytes.
func TestTruncation(t *testing.T) {
	for _, tc := range []struct {
		snaplen uint32
		size    int
	}{
		{64, 60}, {64, 64}, {64, 65}, {96, 1500}, {128, 128}, {129, 200}, {256, 3000},
		{500, 600}, {1024, 1024}, {2000, 3000}, {4096, 3500}, {9216, 3500}, {1, 100}, {9999, 200},
	} {
		t.Run(fmt.Sprintf("snaplen=%d/size=%d", tc.snaplen, tc.size), func(t *testing.T) {
			c := newTestCapture(t, 1<<16, 1, tc.snaplen)
			f := frame(nil, 0x0800, ipv4(17, 0, 0, udp(tc.size-14-28)))
			for _, p := range testProgs(c) {
				runProg(t, p, f, 1)
				recs := drain(t, c)
				if len(recs) != 1 {
					t.Fatalf("%s: %d records; want 1", p.name, len(recs))
				}
				h := recs[0].hdr
				want := min(uint32(tc.size), tc.snaplen, SnaplenMax)
				if h.OrigLen != uint32(tc.size) || h.CapLen != want {
					t.Errorf("%s: orig %d cap %d; want %d, %d", p.name, h.OrigLen, h.CapLen, tc.size, want)
				}
				if string(recs[0].data) != string(f[:want]) {
					t.Errorf("%s: captured bytes are not the frame's first %d bytes", p.name, want)
				}
			}
			checkInvariant(t, c)
		})
	}
}

// TestRingFull fills a small ring without reading it: the overflow is
// counted as ring full, the records that fit read back intact, and the
// sequence numbers show the gap once the reader catches up.
func TestRingFull(t *testing.T) {
	pinCPU(t)
	c := newTestCapture(t, 4096, 1, 64)
	_, p, _ := c.Programs()
	tp := testProg{"tc-ingress", p, tcxNext, RecordIngress, HookTCX}
	f := frame(nil, 0x86dd, ipv6(nil, 17, udp(100)))
	runProg(t, tp, f, 100)
	// Each record is 8 (ring header) + HeaderSize + 64 (size class) bytes,
	// and the kernel never fills a ring to the last byte (it refuses a
	// record that would make producer - consumer exceed size - 1).
	fit := uint64((4096 - 1) / (8 + HeaderSize + 64))
	k := checkInvariant(t, c)
	if k.Emitted != fit || k.RingFull != 100-fit {
		t.Fatalf("counters %+v; want %d emitted and %d ring full", k, fit, 100-fit)
	}
	recs := drain(t, c)
	if uint64(len(recs)) != fit {
		t.Fatalf("read %d records; want %d", len(recs), fit)
	}
	for i, r := range recs {
		if r.hdr.Seq != uint64(i) || string(r.data) != string(f[:64]) {
			t.Fatalf("record %d: seq %d, data ok %v", i, r.hdr.Seq, string(r.data) == string(f[:64]))
		}
	}
	runProg(t, tp, f, 1)
	recs = drain(t, c)
	if len(recs) != 1 || recs[0].hdr.Seq != 100 {
		t.Fatalf("after release got %d records (first seq %v); want one with seq 100", len(recs), recs)
	}
	k = checkInvariant(t, c)
	if k.Seen != 101 || k.Emitted != fit+1 {
		t.Errorf("counters %+v; want 101 seen, %d emitted", k, fit+1)
	}
}

// TestSnaplenClass checks that the largest record class is sized by the
// capture's snaplen: a 4 KiB ring holds as many records as their size
// (8 ring header + HeaderSize + the snaplen rounded up to 8, or a smaller class for
// a short frame) allows, and SetInterface cannot raise the snaplen above
// the one the programs were loaded with.
func TestSnaplenClass(t *testing.T) {
	for _, tc := range []struct {
		snaplen, setTo uint32
		size, class    int
	}{
		{96, 96, 1500, 96}, {100, 100, 1500, 104}, {200, 200, 1500, 200},
		{96, 96, 60, 64}, {96, 500, 1500, 96}, {100, 500, 1500, 104}, {9216, 0, 1500, 2048},
	} {
		t.Run(fmt.Sprintf("snaplen=%d/set=%d/size=%d", tc.snaplen, tc.setTo, tc.size), func(t *testing.T) {
			pinCPU(t)
			c := newTestCapture(t, 4096, 1, tc.snaplen)
			if err := c.SetInterface(loIfindex, 1, tc.setTo); err != nil {
				t.Fatal(err)
			}
			_, p, _ := c.Programs()
			tp := testProg{"tc-ingress", p, tcxNext, RecordIngress, HookTCX}
			f := frame(nil, 0x0800, ipv4(17, 0, 0, udp(tc.size-14-28)))
			runProg(t, tp, f, 100)
			// The kernel refuses a record that would make producer -
			// consumer exceed the ring size - 1.
			fit := uint64((4096 - 1) / (8 + HeaderSize + tc.class))
			k := checkInvariant(t, c)
			if k.Emitted != fit || k.RingFull != 100-fit {
				t.Fatalf("counters %+v; want %d emitted and %d ring full for %d-byte records", k, fit, 100-fit, 8+HeaderSize+tc.class)
			}
			want := min(tc.size, int(tc.snaplen))
			for i, r := range drain(t, c) {
				if int(r.hdr.CapLen) != want || string(r.data) != string(f[:want]) {
					t.Fatalf("record %d: %d bytes captured; want the frame's first %d", i, r.hdr.CapLen, want)
				}
			}
		})
	}
}

// TestUnconfiguredInterface checks that packets on interfaces without
// settings pass untouched and uncounted.
func TestUnconfiguredInterface(t *testing.T) {
	c := newTestCapture(t, 1<<16, 1, 0)
	if err := c.objs.WeirIfcfg.Delete(uint32(loIfindex)); err != nil {
		t.Fatal(err)
	}
	for _, p := range testProgs(c) {
		runProg(t, p, frame(nil, 0x0800, ipv4(17, 0, 0, udp(10))), 3)
	}
	if recs := drain(t, c); len(recs) != 0 {
		t.Errorf("got %d records; want none", len(recs))
	}
	if k := checkInvariant(t, c); k != (Counters{}) {
		t.Errorf("counters %+v; want zero", k)
	}
}
