// Package connector is the contract between weir's engine and its
// connectors, the role database/sql/driver plays for database/sql: the
// Source, Sink and Processor interfaces and their lifecycle, Base for
// connectors that need only some of it, the Env an instance is given, and
// the Registry of connector types.
//
// It depends only on the ABI layout package cabi (Event, Batch, status
// codes) and on spec, which describes config fields. The engine (package
// runtime) and every connector import it; no connector imports the engine.
//
// Built-in connectors live in one package each below this one (blackhole,
// blaster, file, stdout, metronome, packet, pcapng); connector/builtin
// lists them; connector/plugin adapts plugin libraries loaded through
// cabi/loader to the same interfaces, so the engine cannot tell the two
// apart.
package connector
