package builtin

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/blackhole"
	"github.com/weirproject/weir/connector/blaster"
	"github.com/weirproject/weir/connector/file"
	"github.com/weirproject/weir/connector/metronome"
	"github.com/weirproject/weir/connector/pcapng"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/connector/stdout"
)

// configTypes maps each built-in type to its config struct.
var configTypes = map[string]any{
	"blaster":   blaster.Config{},
	"blackhole": blackhole.Config{},
	"stdout":    stdout.Config{},
	"file":      file.Config{},
	"metronome": metronome.Config{},
	"pcapng":    pcapng.Config{},
}

// minimal are the smallest configs each type accepts: its required fields.
var minimal = map[string]string{"file": `{"path":"x"}`, "pcapng": `{"path":"x"}`}

// TestSpecsDocumentConfig checks that every built-in type is registered,
// that its spec is sound and lists exactly the fields its config struct
// decodes, each with a doc sentence, and that the spec's defaults alone
// (with the required fields) create an instance: constructors take their
// defaults from the spec and nowhere else.
func TestSpecsDocumentConfig(t *testing.T) {
	for id, cfg := range configTypes {
		typ, ok := connector.Default.Lookup(id)
		if !ok {
			t.Errorf("type %q is not registered in connector.Default", id)
			continue
		}
		if typ.Description == "" || typ.Spec == nil {
			t.Errorf("type %q lacks a description or spec", id)
		}
		if err := typ.Spec.Check(); err != nil {
			t.Errorf("%s: spec: %v", id, err)
		}
		var tags, fields []string
		rt := reflect.TypeOf(cfg)
		for i := 0; i < rt.NumField(); i++ {
			tags = append(tags, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
		}
		for _, f := range typ.Spec {
			fields = append(fields, f.Name)
			if f.Doc == "" || !strings.HasSuffix(f.Doc, ".") {
				t.Errorf("%s field %q: doc %q is not a sentence", id, f.Name, f.Doc)
			}
		}
		sort.Strings(tags)
		sort.Strings(fields)
		if !reflect.DeepEqual(tags, fields) {
			t.Errorf("%s: spec fields %v; config struct fields %v", id, fields, tags)
		}
		config := minimal[id]
		if config == "" {
			config = "{}"
		}
		c, err := typ.New([]byte(config), connector.Env{Name: "x", Wakeup: func() {}})
		if err != nil {
			t.Errorf("%s: New(%s) = %v; want an instance from the spec's defaults", id, config, err)
			continue
		}
		c.Close()
	}
}

// TestSpecBoundsRefused checks values the constructors cannot use are
// refused by the spec, so `weir validate` refuses them with a position.
func TestSpecBoundsRefused(t *testing.T) {
	for _, tc := range []struct{ id, config, want string }{
		{"blaster", `{"rate": -5}`, "rate"},
		{"metronome", `{"interval": "0s"}`, "interval"},
		{"blackhole", `{"max_latency": "0s"}`, "max_latency"},
		{"file", `{"path": "x", "buffer": "2GiB"}`, "buffer"},
		{"blackhole", `{"latency": "some"}`, "latency"},
		{"pcapng", `{"path": "x", "flush_interval": "-1s"}`, "flush_interval"},
	} {
		typ, _ := connector.Default.Lookup(tc.id)
		if _, err := spec.ApplyJSON(typ.Spec, []byte(tc.config)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: spec.ApplyJSON(%s) = %v; want an error naming %q", tc.id, tc.config, err, tc.want)
		}
		if c, err := typ.New([]byte(tc.config), connector.Env{Name: "x"}); err == nil {
			c.Close()
			t.Errorf("%s: New(%s) succeeded; want the spec's error", tc.id, tc.config)
		}
	}
}
