// Package metronome is the "metronome" source: it emits a tick event every
// interval.
package metronome
