package spec

import (
	"bytes"
	"encoding/json"
)

// Redacted replaces the value of a Secret field in Redact's output.
const Redacted = "REDACTED"

// Redact returns config, a JSON object that s describes, with the value of
// every non-empty Secret field, in nested objects too, replaced by
// Redacted. Config that is not a JSON object is returned unchanged, and
// so is one with no secret set; a nil s redacts nothing.
func Redact(s Spec, config []byte) []byte {
	var obj map[string]json.RawMessage
	if len(s) == 0 || json.Unmarshal(config, &obj) != nil {
		return config
	}
	if !redactObject(s, obj) {
		return config
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(obj) != nil {
		return config
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// redactObject redacts obj in place and reports whether it changed it.
func redactObject(s Spec, obj map[string]json.RawMessage) bool {
	changed := false
	for i := range s {
		f := &s[i]
		v, ok := obj[f.Name]
		if !ok {
			continue
		}
		switch {
		case f.Secret:
			if string(v) != `""` && string(v) != "null" {
				obj[f.Name] = json.RawMessage(`"` + Redacted + `"`)
				changed = true
			}
		case f.Kind == Object && len(f.Fields) > 0:
			var sub map[string]json.RawMessage
			if json.Unmarshal(v, &sub) == nil && redactObject(f.Fields, sub) {
				if b, err := json.Marshal(sub); err == nil {
					obj[f.Name] = b
					changed = true
				}
			}
		}
	}
	return changed
}
