package postgres

import (
	"context"
	"fmt"
)

// HostSignatureStandards returns the signature standard of every host
// with one on record.
func (db *DB) HostSignatureStandards(ctx context.Context) (map[string]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT host, standard FROM host_signatures`)
	if err != nil {
		return nil, fmt.Errorf("host signature standards: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var host, std string
		if err := rows.Scan(&host, &std); err != nil {
			return nil, fmt.Errorf("host signature standards: %w", err)
		}
		out[host] = std
	}
	return out, rows.Err()
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
