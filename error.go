package starling

import (
	"errors"
	"fmt"
	"strings"
)

// Application error codes. An error's code says what kind of failure it is,
// whatever layer it came from; the HTTP edge (api) maps each to a status
// once, and nothing else needs to know about HTTP.
const (
	ECONFLICT       = "conflict"        // a unique value is taken, or a newer version is stored
	EINTERNAL       = "internal"        // anything unexpected: a bug, a store or network failure
	EINVALID        = "invalid"         // the input is refused for what it is
	ENOTFOUND       = "not_found"       // the thing asked for does not exist (or may not be seen)
	EUNAUTHORIZED   = "unauthorized"    // no valid credentials, or not enough of them
	ENOTIMPLEMENTED = "not_implemented" // the operation is not supported
	EUNAVAILABLE    = "unavailable"     // a store or queue cannot be reached now; retry later
)

// Error is an application error: a code and a message safe to show a client.
type Error struct {
	Code    string
	Message string
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error returns the message alone, so wrapped errors read as they did
// before they had codes ("account by id: not found").
func (e *Error) Error() string { return e.Message }

// Is makes any *Error match the sentinel of its code (ErrNotFound,
// ErrConflict), so errors.Is(starling.Errorf(ENOTFOUND, ...), ErrNotFound)
// holds; other *Errors match only an equal one.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t.Code != e.Code {
		return false
	}
	return t.Message == e.Message || t == ErrNotFound || t == ErrConflict
}

// The errors every store returns, in one block. Callers test them with
// errors.Is; the store wraps them with what was asked for.
var (
	// ErrNotFound is returned when the row asked for does not exist.
	ErrNotFound = &Error{Code: ENOTFOUND, Message: "not found"}
	// ErrConflict is returned when a unique value (username, email, uri) is taken.
	ErrConflict = &Error{Code: ECONFLICT, Message: "already exists"}
	// ErrStaleEdit is an edit older than the status's current version.
	ErrStaleEdit = &Error{Code: ECONFLICT, Message: "a newer version is stored"}
)

// ErrorCode returns the code of the first *Error in err's chain, "" for
// nil, and EINTERNAL for any other error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, ""
// for nil, and "Internal error." for any other error, whose text is not
// for clients.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// IsDataError reports whether the store refused err's statement for what it
// was given rather than for its own state: an SQL data exception (SQLSTATE
// class 22: a NUL in text, invalid UTF-8, a value out of range) or an
// integrity violation (class 23: a foreign key, a NOT NULL, a check). The
// same input will be refused the same way every time, so a consumer must
// not retry it. It reads the SQLSTATE through the SQLState method that
// drivers' errors have (pgconn.PgError's), so no driver is imported here.
//
// A unique violation (23505) is not one: it means the row is already there,
// which idempotent writers expect and retries may resolve.
func IsDataError(err error) bool {
	var s interface{ SQLState() string }
	if !errors.As(err, &s) {
		return false
	}
	code := s.SQLState()
	switch {
	case strings.HasPrefix(code, "22"):
		return true
	case strings.HasPrefix(code, "23"):
		return code != "23505"
	}
	return false
}
