// Package promtext checks text in the Prometheus exposition format
// (version 0.0.4) strictly, for tests: what weir serves on /metrics must be
// what promtool and a Prometheus server accept, also where promtool is not
// installed.
package promtext
