package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/loader"
)

// sinks are the blackholes the demo feeds: library file and type ID.
var sinks = []struct{ lang, file, id string }{
	{"C", "libweir_blackhole.so", "c_blackhole"},
	{"Rust", "libweir_rust_blackhole.so", "rust_blackhole"},
	{"Go", "libweir_go_blackhole.so", "go_blackhole"},
}

type options struct {
	dir      string
	duration time.Duration
	size     int
	batch    int
	rate     int
}

func main() {
	var o options
	fs := pflag.NewFlagSet("plugindemo", pflag.ContinueOnError)
	fs.StringVar(&o.dir, "dir", "bin/plugins", "directory holding the plugin libraries")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "how long to drive each blackhole")
	fs.IntVar(&o.size, "size", 64, "bytes per generated event")
	fs.IntVar(&o.batch, "batch", 256, "events per batch")
	fs.IntVar(&o.rate, "rate", 0, "generator rate in events/s (0: as fast as possible)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "plugindemo:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.batch < 1 || o.size < 0 || o.rate < 0 || o.duration <= 0 {
		return fmt.Errorf("bad flags: --batch %d, --size %d, --rate %d, --duration %v: want batch >= 1, size >= 0, rate >= 0, duration > 0",
			o.batch, o.size, o.rate, o.duration)
	}
	genLib, err := loader.Load(filepath.Join(o.dir, "libweir_generator.so"))
	if err != nil {
		return err
	}
	genType := genLib.Type("generator")
	if genType == nil {
		return fmt.Errorf("%s offers no \"generator\" type", genLib.Path)
	}
	arena := o.batch * o.size
	if arena == 0 {
		arena = 1
	}
	b, err := cabi.AllocBatch(o.batch, arena)
	if err != nil {
		return err
	}
	defer cabi.FreeBatch(b)
	fmt.Printf("generator -> blackhole, %d-byte events, batches of %d, %v each, rate %s\n",
		o.size, o.batch, o.duration, rateString(o.rate))
	fmt.Printf("%-6s %14s %12s %14s\n", "sink", "events", "events/s", "counted by sink")
	for _, s := range sinks {
		lib, err := loader.Load(filepath.Join(o.dir, s.file))
		if err != nil {
			return err
		}
		typ := lib.Type(s.id)
		if typ == nil {
			return fmt.Errorf("%s offers no %q type", lib.Path, s.id)
		}
		n, counted, elapsed, err := drive(o, genType, typ, b)
		if err != nil {
			return fmt.Errorf("%s blackhole: %w", s.lang, err)
		}
		fmt.Printf("%-6s %14d %12.0f %14d\n", s.lang, n, float64(n)/elapsed.Seconds(), counted)
		if counted != n {
			return fmt.Errorf("%s blackhole counted %d events; the generator sent %d", s.lang, counted, n)
		}
	}
	return nil
}

func rateString(r int) string {
	if r == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d/s", r)
}

// drive runs one generator and one blackhole through their lifecycle for
// o.duration and returns the events sent, the events the sink's counter
// reports, and the time taken.
func drive(o options, genType, sinkType *loader.ConnectorType, b *cabi.Batch) (int64, int64, time.Duration, error) {
	gen, err := genType.Create([]byte(fmt.Sprintf(`{"size":%d,"rate":%d}`, o.size, o.rate)), loader.NewBasicHost("", nil))
	if err != nil {
		return 0, 0, 0, err
	}
	defer gen.Destroy()
	host := loader.NewBasicHost("", os.Stderr)
	sink, err := sinkType.Create([]byte("{}"), host)
	if err != nil {
		return 0, 0, 0, err
	}
	defer sink.Destroy()
	for attempt := uint32(1); ; attempt++ {
		st, err := sink.Connect(attempt)
		if err != nil {
			return 0, 0, 0, err
		}
		if st == cabi.OK {
			break
		}
		if attempt == 5 {
			return 0, 0, 0, fmt.Errorf("connect still asks for a retry after %d attempts", attempt)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := sink.Start(); err != nil {
		return 0, 0, 0, err
	}
	if err := gen.Start(); err != nil {
		return 0, 0, 0, err
	}
	var sent int64
	start := time.Now()
	for time.Since(start) < o.duration {
		b.Reset()
		st, err := gen.Poll(b, 10*time.Millisecond)
		if err != nil {
			return 0, 0, 0, err
		}
		if b.Len > 0 {
			if _, err := sink.Write(b); err != nil {
				return 0, 0, 0, err
			}
			sent += int64(b.Len)
		}
		if st == cabi.EOF {
			break
		}
	}
	elapsed := time.Since(start)
	if err := gen.Drain(); err != nil {
		return 0, 0, 0, err
	}
	if err := sink.Drain(); err != nil {
		return 0, 0, 0, err
	}
	if err := sink.Stop(); err != nil {
		return 0, 0, 0, err
	}
	if err := gen.Stop(); err != nil {
		return 0, 0, 0, err
	}
	counted, _, ok := host.Metric("blackhole_events_total")
	if !ok {
		return 0, 0, 0, errors.New("the sink registered no blackhole_events_total counter")
	}
	return sent, counted, elapsed, nil
}
