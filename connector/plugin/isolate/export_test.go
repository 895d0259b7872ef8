package isolate

// Build compiles test plugins for the external tests.
var Build = build
