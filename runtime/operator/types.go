package operator

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/weirproject/weir/connector/spec"
)

// Type describes a built-in operator type.
type Type struct {
	// ID names the operator in pipeline configs, e.g. "filter".
	ID string
	// Description is one line for help and docs.
	Description string
	// Spec lists the config fields.
	Spec spec.Spec
	// Routes marks a routing operator (its ops implement Router): a
	// pipeline that ends in one exposes its named outputs.
	Routes bool
	// Exprs are the paths of the fields that hold predicates, such as
	// "expr" or "outputs[].when" (a field of every list element), so that
	// a validator can check them even when other fields are wrong.
	Exprs []string
	build func(config []byte) (Op, error)
}

// Types holds the built-in operator types by ID. Treat it as read-only.
var Types = map[string]*Type{
	"filter":     {ID: "filter", Description: "Keep the events that match a predicate (or drop them, with drop: true).", Spec: filterSpec, Exprs: []string{"expr"}, build: newFilter},
	"sample":     {ID: "sample", Description: "Keep one event in every n: at random (the default, unbiased) or every nth (mode every).", Spec: sampleSpec, build: newSample},
	"truncate":   {ID: "truncate", Description: "Shorten events longer than max bytes and flag them truncated.", Spec: truncateSpec, build: newTruncate},
	"rate_limit": {ID: "rate_limit", Description: "Pass at most rate events per second with bursts up to burst (a token bucket); drop the excess.", Spec: rateLimitSpec, build: newRateLimit},
	"route":      {ID: "route", Description: "Send each event to every named output whose predicate it matches, or to default when it matches none.", Spec: routeSpec, Routes: true, Exprs: []string{"outputs[].when"}, build: newRoute},
	"aggregate":  {ID: "aggregate", Description: "Count events and sum a field per group over tumbling windows, emitting one rollup event per group at each window's end.", Spec: aggregateSpec, build: newAggregate},
}

// IDs returns the operator type IDs, sorted.
func IDs() []string {
	ids := make([]string, 0, len(Types))
	for id := range Types {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// ErrUnknownType is wrapped by the error New returns for a type that is
// not in Types, so that a caller can tell an unknown type from a bad
// config.
var ErrUnknownType = errors.New("unknown type")

// New builds an operator of type typ from its JSON config. The config is
// checked against the type's spec and absent fields take their defaults, so
// "{}" or empty input is fine for types without required fields. Predicate
// errors are *ExprError, wrapped.
func New(typ string, config []byte) (Op, error) {
	t, ok := Types[typ]
	if !ok {
		return nil, fmt.Errorf("new operator: %w %q; want one of %s", ErrUnknownType, typ, strings.Join(IDs(), ", "))
	}
	full, err := spec.ApplyJSON(t.Spec, config)
	if err != nil {
		return nil, fmt.Errorf("new %s operator: %w", typ, err)
	}
	op, err := t.build(full)
	if err != nil {
		return nil, fmt.Errorf("new %s operator: %w", typ, err)
	}
	return op, nil
}

// CheckExpr parses a predicate and returns nil or an *ExprError for field,
// with the offset of the problem in text. The syntax is described at
// parsePred and in docs/config.md.
func CheckExpr(field, text string) error {
	if _, err := parsePred(field, text); err != nil {
		return err
	}
	return nil
}

// decode unmarshals a config already completed by spec.ApplyJSON.
func decode(config []byte, dst any) error {
	if err := json.Unmarshal(config, dst); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	return nil
}
