package operator

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/spec"
)

var routeSpec = spec.Spec{
	{Name: "outputs", Kind: spec.Objects, Required: true, Doc: "The named outputs, in order, each with the predicate that selects its events.", Fields: spec.Spec{
		{Name: "name", Kind: spec.String, Required: true, Doc: "Output name, used in connections as PIPELINE.NAME."},
		{Name: "when", Kind: spec.String, Required: true, Doc: "Predicate selecting the events for this output, in the filter expression syntax."},
	}},
	{Name: "default", Kind: spec.Bool, Default: true, Doc: "Send the events that match no output to an output named default; when false they are dropped."},
}

// DefaultOutput is the output of a route that receives the events matching
// no other output.
const DefaultOutput = "default"

// MaxOutputs is the most named outputs a route may have, with default.
const MaxOutputs = 64

var outputName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// Route sends each event to every output whose predicate it matches, and
// the events that match none to DefaultOutput (when enabled) or nowhere.
type Route struct {
	names   []string
	preds   []*pred
	defMask uint64
}

var _ Router = (*Route)(nil)

func newRoute(config []byte) (Op, error) {
	var c struct {
		Outputs []struct {
			Name string `json:"name"`
			When string `json:"when"`
		} `json:"outputs"`
		Default bool `json:"default"`
	}
	if err := decode(config, &c); err != nil {
		return nil, err
	}
	n := len(c.Outputs)
	if c.Default {
		n++
	}
	if len(c.Outputs) == 0 {
		return nil, &FieldError{Field: "outputs", Msg: "want at least one output"}
	}
	if n > MaxOutputs {
		return nil, &FieldError{Field: "outputs", Msg: fmt.Sprintf("%d outputs, at most %d allowed (with default)", n, MaxOutputs)}
	}
	// Report every bad output, not just the first.
	r := &Route{}
	var errs []error
	seen := map[string]bool{}
	for i, o := range c.Outputs {
		field := fmt.Sprintf("outputs[%d].name", i)
		switch {
		case !outputName.MatchString(o.Name):
			errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf("%q is not a valid output name; want letters, digits, _ and -, not starting with a digit", o.Name)})
		case o.Name == DefaultOutput:
			errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf("%q is reserved for unmatched events; set default: true instead", o.Name)})
		case seen[o.Name]:
			errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf("output %q is named twice", o.Name)})
		}
		seen[o.Name] = true
		p, err := parsePred(fmt.Sprintf("outputs[%d].when", i), o.When)
		if err != nil {
			errs = append(errs, err)
		}
		r.names = append(r.names, o.Name)
		r.preds = append(r.preds, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if c.Default {
		r.defMask = 1 << len(r.names)
		r.names = append(r.names, DefaultOutput)
	}
	return r, nil
}

// Outputs returns the output names: the configured ones in order, then
// DefaultOutput when enabled.
func (r *Route) Outputs() []string { return r.names }

// Route returns the mask of outputs e goes to.
func (r *Route) Route(e *cabi.Event) uint64 {
	var m uint64
	for i, p := range r.preds {
		if p.eval(e) {
			m |= 1 << i
		}
	}
	if m == 0 {
		m = r.defMask
	}
	return m
}

// Apply marks dropped the live events that go to no output.
func (r *Route) Apply(b *cabi.Batch, _ time.Time) {
	if r.defMask != 0 {
		return
	}
	evs := b.EventSlice()
	for i := range evs {
		e := &evs[i]
		if e.Flags&cabi.FlagDrop == 0 && r.Route(e) == 0 {
			e.Flags |= cabi.FlagDrop
		}
	}
}
