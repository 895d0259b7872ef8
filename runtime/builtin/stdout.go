package builtin

import (
	"fmt"
	"io"
	"os"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/spec"
)

// StdoutSpec describes the stdout sink's config fields.
var StdoutSpec = spec.Spec{
	{Name: "format", Kind: spec.Enum, Enum: []string{formatText, formatJSONL}, Default: formatText,
		Doc: "text prints each event's bytes and a newline; jsonl prints one JSON object per event, in the format the blaster reads."},
}

// StdoutConfig is the stdout sink's decoded config.
type StdoutConfig struct {
	Format string `json:"format"`
}

// Stdout is a sink that prints events to standard output, one line each.
// Each batch is encoded into one reused buffer and written with one call.
type Stdout struct {
	runtime.Base
	out     io.Writer
	encode  func([]byte, *cabi.Event) []byte
	scratch []byte
}

var _ runtime.Sink = (*Stdout)(nil)

// NewStdout creates a stdout sink from a JSON config.
func NewStdout(config []byte, env runtime.Env) (*Stdout, error) {
	cfg := StdoutConfig{Format: formatText}
	if err := decodeConfig("stdout", config, &cfg); err != nil {
		return nil, err
	}
	if cfg.Format == formatRaw {
		return nil, fmt.Errorf("stdout %s: format raw is for files; want text or jsonl", env.Name)
	}
	enc, err := encoderFor(cfg.Format)
	if err != nil {
		return nil, fmt.Errorf("stdout %s: %w", env.Name, err)
	}
	return &Stdout{out: os.Stdout, encode: enc}, nil
}

// SetOutput replaces standard output as the destination, for tests and
// library users.
func (s *Stdout) SetOutput(w io.Writer) { s.out = w }

// Write prints the batch.
func (s *Stdout) Write(b *cabi.Batch) (cabi.Status, error) {
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
	runtime.MustRegister(runtime.Type{
		ID:          "stdout",
		Description: "Prints events to standard output as text or JSON lines.",
		Roles:       runtime.RoleSink,
		Spec:        StdoutSpec,
		New: func(config []byte, env runtime.Env) (runtime.Connector, error) {
			return NewStdout(config, env)
		},
	})
}
