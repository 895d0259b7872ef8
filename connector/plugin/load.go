package plugin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/weirproject/weir/cabi/loader"
	"github.com/weirproject/weir/connector"
)

// Loaded describes one library Load registered types from.
type Loaded struct {
	// Library is the loaded library.
	Library *loader.Library
	// Types are the IDs registered from it, in the plugin's order.
	Types []string
	// SchemaErrors holds, by type ID, why a type's config_schema could not
	// become a spec; such types accept any JSON object.
	SchemaErrors map[string]error
}

// origins remembers which file registered each plugin type ID into each
// registry, so a duplicate can name both files.
var (
	originsMu sync.Mutex
	origins   = map[*connector.Registry]map[string]string{}
)

// Load loads the plugin libraries at paths and registers every connector
// type they offer into reg. A path that is a directory stands for every
// *.so file directly inside it, in name order. A type ID that is already
// registered, or offered twice, is an error naming both files (or
// "built-in"); in that case, or when any library fails to load, nothing is
// registered. Each type's config_schema becomes its spec when
// SpecFromSchema can express it; otherwise its Spec is nil and accepts any
// JSON object, and Loaded.SchemaErrors says why.
//
// Libraries are never closed: instances may outlive any caller's interest
// in them, and libraries with a Go runtime inside cannot be unloaded.
//
// Load refuses a library that users other than root and the one loading
// it could have changed (loader.CheckFile); LoadWith can allow them.
func Load(reg *connector.Registry, paths ...string) ([]Loaded, error) {
	return LoadWith(reg, loader.Options{}, paths...)
}

// LoadWith is Load, opening each library with the options opts.
func LoadWith(reg *connector.Registry, opts loader.Options, paths ...string) ([]Loaded, error) {
	files, err := Files(paths...)
	if err != nil {
		return nil, err
	}
	originsMu.Lock()
	defer originsMu.Unlock()
	var loaded []Loaded
	// On failure, unload what this call loaded; nothing was created from it.
	ok := false
	defer func() {
		if !ok {
			for _, l := range loaded {
				l.Library.Close()
			}
		}
	}()
	var types []connector.Type
	from := map[string]string{}
	for _, f := range files {
		lib, err := opts.Load(f)
		if err != nil {
			return nil, err
		}
		loaded = append(loaded, Loaded{Library: lib})
		l := &loaded[len(loaded)-1]
		for _, ct := range lib.Types {
			if prev, dup := from[ct.ID]; dup {
				return nil, fmt.Errorf("load plugins: connector type %q is offered by both %s and %s", ct.ID, prev, f)
			}
			if _, taken := reg.Lookup(ct.ID); taken {
				return nil, fmt.Errorf("load plugins: connector type %q from %s is already registered by %s: %w", ct.ID, f, origin(reg, ct.ID), connector.ErrDuplicate)
			}
			from[ct.ID] = f
			t, serr := typeFor(ct)
			if serr != nil {
				if l.SchemaErrors == nil {
					l.SchemaErrors = map[string]error{}
				}
				l.SchemaErrors[ct.ID] = serr
			}
			types = append(types, t)
			l.Types = append(l.Types, ct.ID)
		}
	}
	var done []string
	for _, t := range types {
		if err := reg.Register(t); err != nil {
			// Someone registered the ID since the check above. Types
			// registered already need their library: keep it open.
			ok = len(done) > 0
			return nil, fmt.Errorf("load plugins: %s: %w (registered from %s meanwhile; types %v of this call remain registered)", from[t.ID], err, origin(reg, t.ID), done)
		}
		if origins[reg] == nil {
			origins[reg] = map[string]string{}
		}
		origins[reg][t.ID] = from[t.ID]
		done = append(done, t.ID)
	}
	ok = true
	return loaded, nil
}

// origin names what registered id into reg: a plugin file, or "built-in".
// originsMu is held.
func origin(reg *connector.Registry, id string) string {
	if f, ok := origins[reg][id]; ok {
		return f
	}
	return "built-in (or another package)"
}

// Files returns the plugin libraries paths stand for, as Load reads them:
// a file stands for itself, a directory for every *.so file directly
// inside it, in name order. It is an error when a path does not exist or
// no library is found.
func Files(paths ...string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("load plugins: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("load plugins: %w", err)
		}
		var sos []string
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".so") {
				sos = append(sos, filepath.Join(p, e.Name()))
			}
		}
		sort.Strings(sos)
		files = append(files, sos...)
	}
	if len(files) == 0 {
		return nil, errors.New("load plugins: no plugin libraries found in " + strings.Join(paths, ", "))
	}
	return files, nil
}

// typeFor makes the runtime type for a plugin connector type. The error is
// the reason its schema could not become a spec, if any; the type is
// usable either way.
func typeFor(ct *loader.ConnectorType) (connector.Type, error) {
	roles := 0
	if ct.Roles&loader.RoleSource != 0 {
		roles |= connector.RoleSource
	}
	if ct.Roles&loader.RoleSink != 0 {
		roles |= connector.RoleSink
	}
	if ct.Roles&loader.RoleProcessor != 0 {
		roles |= connector.RoleProcessor
	}
	desc := ct.Description
	if desc == "" {
		desc = "Plugin connector from " + ct.Library().Name + "."
	}
	sp, err := SpecFromSchema(ct.ConfigSchema)
	if err != nil {
		sp = nil
	}
	return connector.Type{
		ID:          ct.ID,
		Description: desc,
		Roles:       roles,
		Unpausable:  ct.Unpausable,
		Isolatable:  true,
		Spec:        sp,
		Library:     ct.Library().Path,
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return newConnector(ct, config, env)
		},
	}, err
}
