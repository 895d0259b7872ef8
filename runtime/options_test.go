package runtime

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestOptionsCheck(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		// bad lists "Field Value Max" of each refused field; none when ok.
		bad []string
	}{
		{"zero", Options{}, nil},
		{"defaults spelt out", Options{BatchEvents: 1024, BatchBytes: 1 << 20, PoolBatches: 64, EdgeCapacity: 16}, nil},
		{"largest", Options{BatchEvents: MaxBatchEvents, BatchBytes: 1, PoolBatches: 400, EdgeCapacity: MaxEdgeCapacity}, nil},
		{"batch events", Options{BatchEvents: 100_000_000}, []string{"BatchEvents 100000000 1048576"}},
		{"negative", Options{BatchEvents: -1, EdgeCapacity: -2}, []string{"BatchEvents -1 1048576", "EdgeCapacity -2 65536"}},
		{"arena", Options{BatchBytes: 1<<30 + 1}, []string{"BatchBytes 1073741825 1073741824"}},
		{"pool", Options{PoolBatches: MaxPoolBatches + 1}, []string{"PoolBatches 4097 4096"}},
		// 64 default batches of 1 GiB: 15 fit in 16 GiB.
		{"pool of big batches", Options{BatchBytes: 1 << 30}, []string{"PoolBatches 64 15"}},
		{"edge", Options{EdgeCapacity: 1 << 20}, []string{"EdgeCapacity 1048576 65536"}},
	}
	for _, tt := range tests {
		err := tt.opts.Check()
		var got []string
		var oe *OptionsError
		if errors.As(err, &oe) {
			for _, f := range oe.Fields {
				got = append(got, strings.Join([]string{f.Field, itoa(f.Value), itoa(f.Max)}, " "))
			}
		} else if err != nil {
			t.Errorf("%s: Check() = %v; want nil or an *OptionsError", tt.name, err)
		}
		if strings.Join(got, ", ") != strings.Join(tt.bad, ", ") {
			t.Errorf("%s: Check() = %v; want refused %q", tt.name, err, tt.bad)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestNewRefusesOptions is issue 11: a batch size AllocBatch can never
// make had every poll fail forever; New refuses it, naming the range.
func TestNewRefusesOptions(t *testing.T) {
	_, err := New(Graph{}, nil, Options{BatchEvents: 100_000_000})
	var oe *OptionsError
	if !errors.As(err, &oe) {
		t.Fatalf("New(BatchEvents 1e8) = %v; want an *OptionsError", err)
	}
	if want := "BatchEvents 100000000 is out of range 1..1048576"; !strings.Contains(err.Error(), want) {
		t.Errorf("New(BatchEvents 1e8) = %q; want it to say %q", err, want)
	}
}
