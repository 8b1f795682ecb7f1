package sqlite

import (
	"context"
	"fmt"

	"github.com/starling-social/starling"
)

// HostSignatures returns what every host with a record is known to
// verify.
func (db *DB) HostSignatures(ctx context.Context) (map[string]starling.HostSignature, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT host, standard, refused, refused_at FROM host_signatures`)
	type hs struct {
		host string
		sig  starling.HostSignature
	}
	list, err := collect(rows, err, func(r scanner) (hs, error) {
		var h hs
		err := r.Scan(&h.host, &h.sig.Standard, &h.sig.Refused, ts(&h.sig.RefusedAt))
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: host signatures: %w", err)
	}
	out := make(map[string]starling.HostSignature, len(list))
	for _, h := range list {
		out[h.host] = h.sig
	}
	return out, nil
}

// SetHostSignature records what host verifies; unless overwrite, only
// when nothing is recorded for host yet. Writing the record already
// stored changes nothing.
func (db *DB) SetHostSignature(ctx context.Context, host string, s starling.HostSignature, overwrite bool) error {
	var at any
	if s.Refused != "" {
		at = microOrNull(s.RefusedAt)
	}
	q := `INSERT INTO host_signatures (host, standard, refused, refused_at) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (host) DO NOTHING`
	if overwrite {
		q = `INSERT INTO host_signatures (host, standard, refused, refused_at) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (host) DO UPDATE SET standard = excluded.standard, refused = excluded.refused,
			refused_at = excluded.refused_at, updated_at = ?5
		WHERE host_signatures.standard <> excluded.standard OR host_signatures.refused <> excluded.refused
			OR host_signatures.refused_at IS NOT excluded.refused_at`
	}
	args := []any{host, s.Standard, s.Refused, at}
	if overwrite {
		args = append(args, nowMicro())
	}
	if _, err := db.exec(ctx, q, args...); err != nil {
		return fmt.Errorf("sqlite: set host signature %s: %w", host, err)
	}
	return nil
}
