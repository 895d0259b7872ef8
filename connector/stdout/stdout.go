package stdout

import (
	"fmt"
	"io"
	"os"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/format"
	"github.com/weirproject/weir/connector/spec"
)

// Spec describes the stdout sink's config fields.
var Spec = spec.Spec{
	{Name: "format", Kind: spec.Enum, Enum: []string{format.Text, format.JSONL, format.Packet, format.PacketJSON}, Default: format.Text,
		Doc: "text prints each event's bytes and a newline; jsonl prints one JSON object per event, in the format the blaster reads; packet prints each packet event as a tcpdump-like line and packet-json as a JSON object, with a marker line for other events."},
}

// Config is the stdout sink's decoded config.
type Config struct {
	Format string `json:"format"`
}

// Sink is a sink that prints events to standard output, one line each.
// Each batch is encoded into one reused buffer and written with one call.
type Sink struct {
	connector.Base
	out     io.Writer
	encode  func([]byte, *cabi.Event) []byte
	scratch []byte
}

var _ connector.Sink = (*Sink)(nil)

// New creates a stdout sink from a JSON config.
func New(config []byte, env connector.Env) (*Sink, error) {
	var cfg Config
	if err := spec.Decode(Spec, config, &cfg); err != nil {
		return nil, fmt.Errorf("stdout %s: %w", env.Name, err)
	}
	if cfg.Format == format.Raw {
		return nil, fmt.Errorf("stdout %s: format raw is for files; want text, jsonl, packet or packet-json", env.Name)
	}
	enc, err := format.Encoder(cfg.Format)
	if err != nil {
		return nil, fmt.Errorf("stdout %s: %w", env.Name, err)
	}
	return &Sink{out: os.Stdout, encode: enc}, nil
}

// SetOutput replaces standard output as the destination, for tests and
// library users.
func (s *Sink) SetOutput(w io.Writer) { s.out = w }

// Write prints the batch.
func (s *Sink) Write(b *cabi.Batch) (cabi.Status, error) {
	buf := s.scratch[:0]
	evs := b.EventSlice()
	for i := range evs {
		buf = s.encode(buf, &evs[i])
	}
	s.scratch = buf
	if _, err := s.out.Write(buf); err != nil {
		return cabi.Error, fmt.Errorf("write to stdout: %w", err)
	}
	return cabi.OK, nil
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "stdout",
		Description: "Prints events to standard output as text or JSON lines, or packets as tcpdump-like or JSON lines.",
		Roles:       connector.RoleSink,
		Spec:        Spec,
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return New(config, env)
		},
	})
}
