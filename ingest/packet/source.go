package packet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
)

// SourceSpec is the config of the "packet" source connector.
var SourceSpec = spec.Spec{
	{Name: "interfaces", Kind: spec.Strings, Required: true, Doc: "Interfaces to capture on, by name."},
	{Name: "direction", Kind: spec.Enum, Enum: []string{"auto", "in", "out", "both"}, Default: "auto", Doc: "Traffic to capture: received (in), sent (out) or both; auto is both in tc mode and in in xdp mode, which supports only in."},
	{Name: "mode", Kind: spec.Enum, Enum: []string{"tc", "xdp"}, Default: "tc", Doc: "Kernel hook: tc (TCX, both directions) or xdp (ingress only, before the kernel allocates a socket buffer)."},
	{Name: "snaplen", Kind: spec.Size, Default: SnaplenMax, Min: 1, Doc: "Most bytes kept of each packet; values above 9216 are capped to it."},
	{Name: "sample", Kind: spec.Uint, Default: 1, Min: 1, Doc: "Keep 1 packet in this many, per interface and CPU, deterministically."},
	{Name: "ring_size", Kind: spec.Size, Default: DefaultRingSize, Min: 4096, Max: 1 << 30, Doc: "Size of each CPU's ring buffer, a power of two."},
	{Name: "filter", Kind: spec.String, Default: "", Doc: "Filter expression; reserved for the filter compiler, so only the empty filter is accepted for now."},
}

// sourceConfig is SourceSpec decoded.
type sourceConfig struct {
	Interfaces []string `json:"interfaces"`
	Direction  string   `json:"direction"`
	Mode       string   `json:"mode"`
	Snaplen    uint64   `json:"snaplen"`
	Sample     uint64   `json:"sample"`
	RingSize   uint64   `json:"ring_size"`
	Filter     string   `json:"filter"`
}

// Source is the "packet" source connector: a Capture whose records it
// hands to the runtime without copying. Each Poll appends descriptors of
// packet records (cabi.KindPacket, starting at their Header) that point into
// the kernel rings, and gives the ring memory of the previous Poll back to
// the kernel, as the runtime's source contract allows (bytes stay valid until
// the next Poll). The kernel rings cannot be paused: when the runtime falls
// behind, the rings fill and the kernel counts ring-full drops. Drain
// detaches the programs; Poll then hands over what the rings still hold and
// answers cabi.EOF once they are empty.
type Source struct {
	connector.Base
	cfg      Config
	env      connector.Env
	capture  *Capture
	last     *cabi.Batch
	draining bool // Drain detached the programs
}

var _ connector.Source = (*Source)(nil)

// NewSource creates a packet source from its JSON config. It only parses
// the config; Connect loads and attaches the programs.
func NewSource(config []byte, env connector.Env) (*Source, error) {
	norm, err := spec.ApplyJSON(SourceSpec, config)
	if err != nil {
		return nil, fmt.Errorf("packet source %s: %w", env.Name, err)
	}
	var sc sourceConfig
	if err := json.Unmarshal(norm, &sc); err != nil {
		return nil, fmt.Errorf("packet source %s: decode config: %w", env.Name, err)
	}
	if sc.Filter != "" {
		return nil, fmt.Errorf("packet source %s: filter %q: filter expressions are not supported yet; leave filter empty", env.Name, sc.Filter)
	}
	mode, err := ParseMode(sc.Mode)
	if err != nil {
		return nil, fmt.Errorf("packet source %s: %w", env.Name, err)
	}
	dir := mode.DefaultDirection()
	if sc.Direction != "auto" {
		if dir, err = ParseDirection(sc.Direction); err != nil {
			return nil, fmt.Errorf("packet source %s: %w", env.Name, err)
		}
	}
	cfg := Config{
		Interfaces: sc.Interfaces,
		Direction:  dir,
		Mode:       mode,
		Snaplen:    uint32(min(sc.Snaplen, SnaplenMax)),
		SampleRate: uint32(min(sc.Sample, 1<<32-1)),
		RingSize:   int(sc.RingSize),
	}
	if _, err := cfg.normalize(); err != nil {
		return nil, fmt.Errorf("packet source %s: %w", env.Name, err)
	}
	return &Source{cfg: cfg, env: env}, nil
}

// Connect loads the capture programs and attaches them. After a failure
// nothing stays attached, so the runtime may call it again.
func (s *Source) Connect(ctx context.Context, attempt int) error {
	if s.capture != nil {
		return nil
	}
	c, err := Open(s.cfg)
	if err != nil {
		return fmt.Errorf("packet source %s: %w", s.env.Name, err)
	}
	s.capture = c
	return nil
}

// Poll releases the ring memory of the previous Poll's events and appends
// the records now waiting, waiting up to timeout for the first. After Drain
// it answers cabi.EOF once every record the programs emitted has been read.
func (s *Source) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	if s.capture == nil {
		return cabi.Error, fmt.Errorf("packet source %s: poll before connect", s.env.Name)
	}
	if err := s.release(); err != nil {
		return cabi.Error, err
	}
	if s.draining {
		// Programs detached: only records already in the rings, or
		// being written by a program that started before Detach, are
		// left; they do not wake the reader, so wait briefly.
		timeout = time.Millisecond
	}
	n, err := s.capture.Reader().Append(b, timeout)
	if err != nil {
		return cabi.Error, fmt.Errorf("packet source %s: %w", s.env.Name, err)
	}
	if n == 0 {
		if !s.draining {
			return cabi.Timeout, nil
		}
		done, err := s.drained()
		if err != nil {
			return cabi.Error, err
		}
		if done {
			return cabi.EOF, nil
		}
		return cabi.OK, nil // a record is still being written: poll again
	}
	s.last = b
	return cabi.OK, nil
}

func (s *Source) release() error {
	if s.last == nil {
		return nil
	}
	b := s.last
	s.last = nil
	if err := s.capture.Reader().Release(b); err != nil {
		return fmt.Errorf("packet source %s: %w", s.env.Name, err)
	}
	return nil
}

// Drain stops intake: it detaches the programs, so the rings only empty
// from now on, and gives back the ring memory of the last Poll.
func (s *Source) Drain() error {
	if s.capture == nil {
		return nil
	}
	s.draining = true
	var errs []error
	if err := s.capture.Detach(); err != nil {
		errs = append(errs, fmt.Errorf("packet source %s: drain: %w", s.env.Name, err))
	}
	if err := s.release(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// drained reports whether every record the programs emitted has been read.
func (s *Source) drained() (bool, error) {
	done, err := s.capture.Drained()
	if err != nil {
		return false, fmt.Errorf("packet source %s: %w", s.env.Name, err)
	}
	return done, nil
}

// Counters returns the kernel counters of the running capture.
func (s *Source) Counters() (Counters, error) {
	if s.capture == nil {
		return Counters{}, errors.New("packet source: not connected")
	}
	return s.capture.Counters()
}

// Close logs the final counters, detaches the programs and unloads them.
// It is safe after a failed Connect.
func (s *Source) Close() error {
	if s.capture == nil {
		return nil
	}
	var errs []error
	if err := s.release(); err != nil {
		errs = append(errs, err)
	}
	if k, err := s.capture.Counters(); err == nil && s.env.Log != nil {
		s.env.Log.Info("packet capture counters", "seen", k.Seen, "filtered", k.Filtered,
			"sampled_out", k.SampledOut, "emitted", k.Emitted, "ring_full", k.RingFull)
	}
	errs = append(errs, s.capture.Close())
	s.capture = nil
	return errors.Join(errs...)
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "packet",
		Description: "Captures packets with eBPF (XDP or TCX) and hands them over from the kernel rings without copying.",
		Roles:       connector.RoleSource,
		Unpausable:  true,
		Spec:        SourceSpec,
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return NewSource(config, env)
		},
	})
}
