// Package config reads weir's YAML configuration into a runtime.Graph. It
// validates everything it can without starting anything: connector types
// and their fields against the registry's specs, operator fields and
// predicates here, and the graph rules (references between connectors,
// pipelines and connections, roles, ports, cycles) with
// runtime.CheckGraph, whose problems it places in the file. It reports every error it finds, each as FILE:LINE:COL:
// message, and separately warns about settings that cannot be honoured,
// such as the block policy on a kernel ring source.
//
// Scalar values may use ${VAR} and ${VAR:-default} to take text from the
// environment; $${ stands for a literal ${. See docs/config.md for the
// format.
package config
