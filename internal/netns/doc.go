// Package netns creates throw-away network namespaces joined by a veth pair,
// for tests, benchmarks and demos that need real traffic without touching
// the host's network.
//
// NewPair creates two namespaces with unique names, a veth pair with one end
// in each, a 10.x.y.z/30 address on each end, and brings both ends up. IPv6
// is disabled in both namespaces so that the pair carries only the traffic
// the caller sends (no router solicitations or MLD reports). Close deletes
// the namespaces, which deletes the veth pair with them; it is safe to call
// after a failed NewPair and more than once.
//
// Do runs a function with the calling goroutine's OS thread switched into a
// namespace. The package shells out to iproute2's ip(8) for setup, which
// keeps it small; it needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN).
package netns
