package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/starling-social/starling"
)

// HostSignatures returns what every host with a record is known to
// verify.
func (db *DB) HostSignatures(ctx context.Context) (map[string]starling.HostSignature, error) {
	rows, err := db.pool.Query(ctx, `SELECT host, standard, refused, refused_at FROM host_signatures`)
	if err != nil {
		return nil, fmt.Errorf("host signatures: %w", err)
	}
	defer rows.Close()
	out := map[string]starling.HostSignature{}
	for rows.Next() {
		var (
			host string
			s    starling.HostSignature
			at   *time.Time
		)
		if err := rows.Scan(&host, &s.Standard, &s.Refused, &at); err != nil {
			return nil, fmt.Errorf("host signatures: %w", err)
		}
		if at != nil {
			s.RefusedAt = *at
		}
		out[host] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("host signatures: %w", err)
	}
	return out, nil
}

// SetHostSignature records what host verifies; unless overwrite, only
// when nothing is recorded for host yet. Writing the record already
// stored changes nothing.
func (db *DB) SetHostSignature(ctx context.Context, host string, s starling.HostSignature, overwrite bool) error {
	var at *time.Time
	if s.Refused != "" && !s.RefusedAt.IsZero() {
		at = &s.RefusedAt
	}
	q := `INSERT INTO host_signatures (host, standard, refused, refused_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (host) DO NOTHING`
	if overwrite {
		q = `INSERT INTO host_signatures (host, standard, refused, refused_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (host) DO UPDATE SET standard = EXCLUDED.standard, refused = EXCLUDED.refused,
			refused_at = EXCLUDED.refused_at, updated_at = now()
		WHERE (host_signatures.standard, host_signatures.refused, host_signatures.refused_at)
			IS DISTINCT FROM (EXCLUDED.standard, EXCLUDED.refused, EXCLUDED.refused_at)`
	}
	if _, err := db.pool.Exec(ctx, q, host, s.Standard, s.Refused, at); err != nil {
		return fmt.Errorf("set host signature %s: %w", host, err)
	}
	return nil
}
