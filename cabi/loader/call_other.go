//go:build !(linux && amd64)

package loader

const haveDirect = false

// callDirect is never called where haveDirect is false.
func callDirect(*callFrame) { panic("cabi: no direct call path on this platform") }
