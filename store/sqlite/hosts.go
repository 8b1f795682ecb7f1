package sqlite

import (
	"context"
	"fmt"
)

// HostSignatureStandards returns the signature standard of every host
// with one on record.
func (db *DB) HostSignatureStandards(ctx context.Context) (map[string]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT host, standard FROM host_signatures`)
	type hs struct{ host, std string }
	list, err := collect(rows, err, func(r scanner) (hs, error) {
		var h hs
		err := r.Scan(&h.host, &h.std)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: host signature standards: %w", err)
	}
	out := make(map[string]string, len(list))
	for _, h := range list {
		out[h.host] = h.std
	}
	return out, nil
}

// SetHostSignatureStandard records that host accepts standard; unless
// overwrite, only when nothing is recorded for host yet. Writing the value
// already stored changes nothing.
func (db *DB) SetHostSignatureStandard(ctx context.Context, host, standard string, overwrite bool) error {
	q := `INSERT INTO host_signatures (host, standard) VALUES (?1, ?2) ON CONFLICT (host) DO NOTHING`
	if overwrite {
		q = `INSERT INTO host_signatures (host, standard) VALUES (?1, ?2)
		ON CONFLICT (host) DO UPDATE SET standard = excluded.standard, updated_at = ?3
		WHERE host_signatures.standard <> excluded.standard`
		if _, err := db.exec(ctx, q, host, standard, nowMicro()); err != nil {
			return fmt.Errorf("sqlite: set host signature standard %s: %w", host, err)
		}
		return nil
	}
	if _, err := db.exec(ctx, q, host, standard); err != nil {
		return fmt.Errorf("sqlite: set host signature standard %s: %w", host, err)
	}
	return nil
}
