//go:build !race

package bench

// raceEnabled is true in a test binary built with -race, whose detector
// keeps shadow memory of its own that grows the process's RSS.
const raceEnabled = false
