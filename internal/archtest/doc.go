// Package archtest checks weir's package layering: which weir packages may
// import which. It has no code of its own; its test lists every package in
// the module with the go command and checks each one's non-test imports
// against a table of rules, the same rules docs/ARCHITECTURE.md states.
//
// A new rule is one line in that table, and a unit test of the rule on a
// made-up import graph shows that it can fail.
package archtest
