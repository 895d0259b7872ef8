package packet

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
)

// TestInterfaceGone deletes the interface under a running capture: Poll
// first hands over the records the rings still hold, then ends with an
// error that names the interface, in both modes.
func TestInterfaceGone(t *testing.T) {
	for _, mode := range []Mode{ModeTC, ModeXDP} {
		t.Run(mode.String(), func(t *testing.T) {
			v := newVethPair(t)
			enterNetns(t, v.ns1)
			cfg := Config{Interfaces: []string{v.dev1}, Mode: mode, RingSize: 1 << 16}
			// TC sees the datagrams leave and the peer's ICMP errors
			// quoting them arrive; XDP only what arrives.
			want := 6
			if mode == ModeXDP {
				cfg.Direction = DirectionIn
				want = 3
			}
			c, err := Open(cfg)
			if errors.Is(err, ErrNotSupported) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.CheckAttached(); err != nil {
				t.Fatalf("CheckAttached on a live interface: %v", err)
			}
			sendUDP(t, v.addr2, "weir-gone", 3)
			// Let the records of the datagrams (and the peer's answers)
			// reach the rings before the link goes.
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if k, err := c.Counters(); err == nil && k.Emitted >= uint64(want) {
					break
				}
			}
			ipCmd(t, "-n", v.ns1, "link", "del", v.dev1)

			b, err := cabi.AllocBatch(64, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer cabi.FreeBatch(b)
			tagged := 0
			deadline := time.Now().Add(10 * time.Second)
			for {
				if time.Now().After(deadline) {
					t.Fatal("Poll did not notice the deleted interface in 10s")
				}
				b.Len = 0
				n, err := c.Poll(b, 50*time.Millisecond)
				for _, ev := range b.EventSlice()[:n] {
					if bytes.Contains(ev.Bytes(), []byte("weir-gone")) {
						tagged++
					}
				}
				if err == nil {
					continue
				}
				if err == io.EOF || !errors.Is(err, ErrInterfaceGone) || !strings.Contains(err.Error(), v.dev1) {
					t.Fatalf("Poll ended with %v; want ErrInterfaceGone naming %s", err, v.dev1)
				}
				break
			}
			if tagged != want {
				t.Errorf("read %d records quoting the test datagrams before the error; want %d", tagged, want)
			}
			k := checkInvariant(t, c)
			if st := c.Reader().Stats(); st.Records != k.Emitted {
				t.Errorf("read %d records; the programs emitted %d", st.Records, k.Emitted)
			}
		})
	}
}
