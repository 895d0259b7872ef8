// Package file is the "file" sink: it writes events to a file as JSON
// lines, length-prefixed raw records, text lines or decoded packets (see
// package format).
package file
