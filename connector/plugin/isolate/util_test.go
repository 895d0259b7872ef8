package isolate

import (
	"strconv"
	"unsafe"
)

func itoa(n int) string { return strconv.Itoa(n) }

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }
