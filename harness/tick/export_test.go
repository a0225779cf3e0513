package tick

// DecodeFast exposes the fast path so tests can check which inputs take it.
var DecodeFast = decodeFast
