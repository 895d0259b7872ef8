package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/weirproject/weir/connector"
)

// ErrNotLoaded is returned by the constructors of types registered by
// LoadSaved: their library was described, not loaded.
var ErrNotLoaded = errors.New("plugin described by its saved description, not loaded")

// saved is the part of `weir plugin inspect --json` that LoadSaved reads.
type saved struct {
	Types []struct {
		ID           string          `json:"id"`
		Description  string          `json:"description"`
		Roles        []string        `json:"roles"`
		Unpausable   bool            `json:"unpausable"`
		ConfigSchema json.RawMessage `json:"config_schema"`
	} `json:"types"`
}

// LoadSaved registers into reg the connector types of plugin libraries
// from their saved descriptions, without loading them: for each library
// FILE it reads FILE.json, the output of `weir plugin inspect --json FILE`.
// The types have the roles and config specs the libraries declared, so a
// config can be validated against them, but their constructors return
// ErrNotLoaded: no plugin code runs. paths are files or directories, as
// Load takes them.
func LoadSaved(reg *connector.Registry, paths ...string) error {
	files, err := Files(paths...)
	if err != nil {
		return err
	}
	for _, f := range files {
		text, err := readSaved(f + ".json")
		if err != nil {
			return fmt.Errorf("plugin %s: no saved description (write one with: weir plugin inspect --json %s > %s.json): %w", f, f, f, err)
		}
		var s saved
		if err := json.Unmarshal(text, &s); err != nil {
			return fmt.Errorf("plugin %s: saved description %s.json: %w", f, f, err)
		}
		for _, st := range s.Types {
			t := connector.Type{ID: st.ID, Description: st.Description, Unpausable: st.Unpausable,
				New: func([]byte, connector.Env) (connector.Connector, error) {
					return nil, fmt.Errorf("type %s from %s: %w", st.ID, f, ErrNotLoaded)
				}}
			for role, bit := range map[string]int{"source": connector.RoleSource, "sink": connector.RoleSink, "processor": connector.RoleProcessor} {
				if slices.Contains(st.Roles, role) {
					t.Roles |= bit
				}
			}
			if len(st.ConfigSchema) > 0 {
				if t.Spec, err = SpecFromSchema(string(st.ConfigSchema)); err != nil {
					t.Spec = nil // accepts any config, as Load does
				}
			}
			if err := reg.Register(t); err != nil {
				return fmt.Errorf("plugin %s: %w", f, err)
			}
		}
	}
	return nil
}

// maxSaved bounds a saved description: a real one is a few KiB.
const maxSaved = 1 << 20

// readSaved reads a saved description, refusing anything but a regular
// file of at most maxSaved bytes, so that a device or a FIFO in its place
// cannot hang validation or grow memory without bound.
func readSaved(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > maxSaved {
		return nil, fmt.Errorf("%s is larger than the limit of %d bytes", path, maxSaved)
	}
	return os.ReadFile(path)
}
