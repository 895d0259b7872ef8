//go:build !(linux && amd64)

package loader

const haveDirect = false

// callDirect is never called where haveDirect is false.
func callDirect(*callFrame) { panic("cabi: no direct call path on this platform") }

// InstallFaultHandler does nothing here: only linux/amd64 has the direct
// call path whose frames a fault can be traced to.
func InstallFaultHandler() error { return nil }
