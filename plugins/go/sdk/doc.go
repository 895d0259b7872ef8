// Package weirsdk writes weir connector plugins in Go.
//
// A plugin is a package main built with
//
//	CGO_ENABLED=1 go build -buildmode=c-shared -o libweir_NAME.so ./path/to/plugin
//
// whose init function names the plugin with SetPlugin and registers its
// connector types with Register. The SDK supplies everything the C ABI in
// cabi/include/weir/plugin.h asks for: the exported weir_plugin_describe
// entry point, static descriptor and role tables in C memory, a trampoline
// for every operation, instance handles, last_error strings, and panic
// recovery. A Go panic in any operation is recovered and returned to the
// host as WEIR_ERROR, with the panic value in last_error.
//
// Instances are Go values the host never sees: the weir_instance pointer
// handed to the host is an integer handle into a table of live instances,
// so no Go pointer is stored in C memory. Batches are host memory outside
// any Go heap; Batch and Event give zero-copy access to them and must not be
// retained after the call that received them.
//
// Lifecycle, per instance, as the host drives it:
//
//	New (create) -> Connect (repeated until it returns nil)
//	  -> Start -> (Pause -> Resume)* -> Drain -> Stop -> Close (destroy)
//
// Every method except New is optional (see Connecter, Starter, Pauser,
// Drainer, Stopper and Closer); a missing one answers WEIR_OK. Close runs
// exactly once per instance New returned, even when New itself failed
// after returning a value, or when an earlier step failed. The host never
// calls one instance from two threads at once; different instances may
// run concurrently, so state shared between instances needs locking.
//
// A minimal sink plugin:
//
//	package main
//
//	import weirsdk "github.com/weirproject/weir/plugins/go/sdk"
//
//	type counter struct{ events int }
//
//	func (c *counter) Write(b *weirsdk.Batch) error {
//		for i := 0; i < int(b.Len); i++ {
//			_ = b.Event(i).Bytes() // zero-copy view, valid during the call
//			c.events++
//		}
//		return nil
//	}
//
//	func init() {
//		weirsdk.SetPlugin("my-plugin", "1.0.0")
//		weirsdk.MustRegister(weirsdk.Type{
//			ID:    "my_counter",
//			Roles: weirsdk.RoleSink,
//			New:   func([]byte, *weirsdk.Host) (any, error) { return &counter{}, nil },
//		})
//	}
//
//	func main() {}
//
// plugins/go/blackhole and plugins/go/counter are complete examples.
//
// This is the only package in weir that uses cgo; the host does not.
package weirsdk

// Every file but this one needs cgo; with CGO_ENABLED=0 (the host's build)
// the package is empty, so `go vet ./...` passes there.
