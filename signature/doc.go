// Package signature signs and verifies HTTP requests with both standards of
// the fediverse: draft-cavage HTTP Signatures (signing through
// go-fed/httpsig, verification with Starling's strict checks around it:
// covered headers, Date window, Digest recomputed) and RFC 9421 HTTP
// Message Signatures (on httpsfv, against the RFC's vectors). Its functions
// are pure over requests, bodies and keys: key lookup is the caller's
// (KeyLookup), and nothing here does I/O of its own.
package signature
