package packet

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
	kpacket "github.com/weirproject/weir/ingest/packet"
)

func TestSpec(t *testing.T) {
	if err := Spec.Check(); err != nil {
		t.Fatal(err)
	}
	typ, ok := connector.Default.Lookup("packet")
	if !ok || !typ.Unpausable || typ.Roles != connector.RoleSource {
		t.Fatalf("packet type = %+v, %v; want a registered unpausable source", typ, ok)
	}
}

func TestNewSourceErrors(t *testing.T) {
	for _, tc := range []struct{ config, want string }{
		{`{}`, "interfaces"},
		{`{"interfaces": ["lo"], "filter": "udp port"}`, "field filter, offset 8: expected an address"},
		{`{"interfaces": ["lo"], "mode": "xdp", "direction": "out"}`, "XDP sees only received packets"},
		{`{"interfaces": ["lo"], "ring_size": 5000}`, "ring size 5000"},
		{`{"interfaces": ["lo"], "sample": 0}`, "sample"},
		{`{"interfaces": ["lo"], "sample": 4294967296}`, "sample"},
		{`{"interfaces": ["lo"], "sample_mode": "every"}`, "sample_mode"},
		{`{"interfaces": ["lo"], "flow_seed": 4294967296, "sample_mode": "flow"}`, "flow_seed"},
		{`{"interfaces": ["lo"], "flow_seed": 3}`, "3 seeds the flow hash of sample_mode flow, but sample_mode is random"},
		{`{"interfaces": ["lo"], "bogus": 1}`, "bogus"},
	} {
		_, err := New([]byte(tc.config), connector.Env{Name: "p"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s) = %v; want an error mentioning %q", tc.config, err, tc.want)
		}
	}
}

// TestSourceSampling checks how the sampling fields reach the capture
// configuration: random by default, flow with its seed, and that a seed
// given only for flow mode is refused with an error naming the field.
func TestSourceSampling(t *testing.T) {
	for _, tc := range []struct {
		config string
		rate   uint32
		mode   kpacket.SampleMode
		seed   uint32
	}{
		{`{"interfaces": ["lo"]}`, 1, kpacket.SampleRandom, 0},
		{`{"interfaces": ["lo"], "sample": 10}`, 10, kpacket.SampleRandom, 0},
		{`{"interfaces": ["lo"], "sample": 10, "sample_mode": "flow"}`, 10, kpacket.SampleFlow, 0},
		{`{"interfaces": ["lo"], "sample": 4294967295, "sample_mode": "flow", "flow_seed": 4294967295}`, 1<<32 - 1, kpacket.SampleFlow, 1<<32 - 1},
	} {
		s, err := New([]byte(tc.config), connector.Env{Name: "p"})
		if err != nil {
			t.Errorf("New(%s) = %v", tc.config, err)
			continue
		}
		if c := s.Config(); c.SampleRate != tc.rate || c.SampleMode != tc.mode || c.FlowSeed != tc.seed {
			t.Errorf("New(%s) sampling = %d, %v, seed %d; want %d, %v, seed %d", tc.config, c.SampleRate, c.SampleMode, c.FlowSeed, tc.rate, tc.mode, tc.seed)
		}
		s.Close()
	}
	_, err := New([]byte(`{"interfaces": ["lo"], "flow_seed": 3}`), connector.Env{Name: "p"})
	var ve *spec.ValueError
	if !errors.As(err, &ve) || ve.Field != "flow_seed" {
		t.Errorf("New(flow_seed without flow mode) = %v; want a spec.ValueError for flow_seed", err)
	}
	// Outside weir validate the message names the field, not a string
	// offset that a number does not have.
	if want := "field flow_seed: 3 seeds the flow hash"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("New(flow_seed without flow mode) = %v; want it to contain %q", err, want)
	}
}

// TestSourceDirectionDefault: the default direction follows the mode, so
// an xdp source without a direction is valid and captures ingress.
func TestSourceDirectionDefault(t *testing.T) {
	for _, tc := range []struct {
		config string
		want   kpacket.Direction
	}{
		{`{"interfaces": ["lo"]}`, kpacket.DirectionBoth},
		{`{"interfaces": ["lo"], "mode": "xdp"}`, kpacket.DirectionIn},
		{`{"interfaces": ["lo"], "mode": "tc", "direction": "out"}`, kpacket.DirectionOut},
	} {
		s, err := New([]byte(tc.config), connector.Env{Name: "p"})
		if err != nil || s.cfg.Direction != tc.want {
			t.Errorf("New(%s) direction = %v, %v; want %v", tc.config, s, err, tc.want)
			continue
		}
		s.Close()
	}
}

// TestConnectPermanent checks that an interface the host lacks fails
// Connect with an error marked permanent, so the engine does not retry it.
func TestConnectPermanent(t *testing.T) {
	s, err := New([]byte(`{"interfaces": ["nosuch0"]}`), connector.Env{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Connect(context.Background(), 1)
	if !errors.Is(err, connector.ErrPermanent) || !strings.Contains(err.Error(), `"nosuch0"`) {
		t.Fatalf("Connect(nosuch0) = %v; want a permanent error naming the interface", err)
	}
}

// TestSourceFilter: a filter expression compiles into the capture's
// config; an empty one is no filter.
func TestSourceFilter(t *testing.T) {
	s, err := New([]byte(`{"interfaces": ["lo"], "filter": "tcp port 80 or 443"}`), connector.Env{Name: "p"})
	if err != nil || len(s.Config().Filter) == 0 {
		t.Fatalf("New with a filter = %v; want a compiled filter in the config", err)
	}
	s, err = New([]byte(`{"interfaces": ["lo"], "filter": " "}`), connector.Env{Name: "p"})
	if err != nil || s.Config().Filter != nil {
		t.Fatalf("New with an empty filter = %v, %d instructions; want no filter", err, len(s.Config().Filter))
	}
}
