// Package spec describes configuration fields: their names, types, defaults
// and documentation, in one place that the config validator, the docs and
// the connectors all read.
package spec
