package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// HostSignatureStandard returns the signature standard host is known to
// accept, or "" when nothing is known.
func (db *DB) HostSignatureStandard(ctx context.Context, host string) (string, error) {
	var std string
	err := db.pool.QueryRow(ctx, `SELECT standard FROM host_signatures WHERE host = $1`, host).Scan(&std)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("host signature standard %s: %w", host, err)
	}
	return std, nil
}

// SetHostSignatureStandard records that host accepts standard; unless
// overwrite, only when nothing is recorded for host yet. Writing the value
// already stored changes nothing.
func (db *DB) SetHostSignatureStandard(ctx context.Context, host, standard string, overwrite bool) error {
	q := `INSERT INTO host_signatures (host, standard) VALUES ($1, $2) ON CONFLICT (host) DO NOTHING`
	if overwrite {
		q = `INSERT INTO host_signatures (host, standard) VALUES ($1, $2)
		ON CONFLICT (host) DO UPDATE SET standard = EXCLUDED.standard, updated_at = now()
		WHERE host_signatures.standard <> EXCLUDED.standard`
	}
	_, err := db.pool.Exec(ctx, q, host, standard)
	if err != nil {
		return fmt.Errorf("set host signature standard %s: %w", host, err)
	}
	return nil
}
