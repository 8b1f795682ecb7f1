package store

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsDataError reports whether PostgreSQL refused err's statement for what it
// was given rather than for its own state: a data exception (SQLSTATE class
// 22: a NUL in text, invalid UTF-8, a value out of range) or an integrity
// violation (class 23: a foreign key, a NOT NULL, a check). The same input
// will be refused the same way every time, so a consumer must not retry it.
//
// A unique violation (23505) is not one: it means the row is already there,
// which idempotent writers expect and retries may resolve.
func IsDataError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch {
	case strings.HasPrefix(pgErr.Code, "22"):
		return true
	case strings.HasPrefix(pgErr.Code, "23"):
		return pgErr.Code != "23505"
	}
	return false
}
