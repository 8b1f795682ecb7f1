package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ImportTable is a table of this store as an import fills it: its columns
// and their PostgreSQL types (information_schema's data_type, or the
// element's udt_name for arrays, such as "_text").
type ImportTable struct {
	Name    string
	Columns []string
	Types   []string
}

// ImportTables returns the store's tables (not the migrations'), parents
// before the tables whose foreign keys point at them, so that an import
// in this order never breaks a reference.
func (db *DB) ImportTables(ctx context.Context) ([]ImportTable, error) {
	rows, err := db.pool.Query(ctx, `SELECT table_name, column_name, CASE WHEN data_type = 'ARRAY' THEN udt_name ELSE data_type END
		FROM information_schema.columns c
		WHERE table_schema = 'public' AND table_name <> 'goose_db_version'
		  AND EXISTS (SELECT 1 FROM information_schema.tables t WHERE t.table_schema = 'public' AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE')
		ORDER BY table_name, ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("import: list tables: %w", err)
	}
	byName := map[string]*ImportTable{}
	var names []string
	for rows.Next() {
		var table, column, typ string
		if err := rows.Scan(&table, &column, &typ); err != nil {
			rows.Close()
			return nil, fmt.Errorf("import: list tables: %w", err)
		}
		t := byName[table]
		if t == nil {
			t = &ImportTable{Name: table}
			byName[table] = t
			names = append(names, table)
		}
		t.Columns, t.Types = append(t.Columns, column), append(t.Types, typ)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("import: list tables: %w", err)
	}
	deps := map[string][]string{}
	rows, err = db.pool.Query(ctx, `SELECT c.conrelid::regclass::text, c.confrelid::regclass::text
		FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
		WHERE c.contype = 'f' AND n.nspname = 'public' AND c.conrelid <> c.confrelid`)
	if err != nil {
		return nil, fmt.Errorf("import: foreign keys: %w", err)
	}
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			rows.Close()
			return nil, fmt.Errorf("import: foreign keys: %w", err)
		}
		deps[child] = append(deps[child], parent)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("import: foreign keys: %w", err)
	}
	// Depth-first: a table after every table it references.
	var out []ImportTable
	state := map[string]int{} // 1: visiting, 2: done
	var visit func(string) error
	visit = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("import: foreign keys form a cycle through %s", name)
		case 2:
			return nil
		}
		state[name] = 1
		parents := slices.Clone(deps[name])
		slices.Sort(parents)
		for _, p := range parents {
			if err := visit(p); err != nil {
				return err
			}
		}
		state[name] = 2
		if t := byName[name]; t != nil {
			out = append(out, *t)
		}
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Import copies tables into this store in one transaction, in the order
// given (ImportTables'): rows calls emit with each row of a table, its
// values in the table's column order, as the embedded store keeps them
// (timestamps as Unix microseconds, dates as text, booleans as 0 and 1,
// arrays and JSON as JSON text); they are converted by the column's type.
// The store must be empty (freshly migrated): an import never merges.
// Sequences then continue after the imported ids. It returns the rows
// copied per table. progress, when set, hears of every 5,000 rows copied
// and of each table's end (done).
func (db *DB) Import(ctx context.Context, tables []ImportTable, rows func(t ImportTable, emit func([]any) error) error,
	progress func(table string, copied int64, done bool)) (map[string]int64, error) {
	var accounts int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&accounts); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if accounts > 0 {
		return nil, fmt.Errorf("import: the database already holds %d accounts; import into a new, empty database", accounts)
	}
	counts := map[string]int64{}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, t := range tables {
			var batch [][]any
			flush := func() error {
				if len(batch) == 0 {
					return nil
				}
				n, err := tx.CopyFrom(ctx, pgx.Identifier{t.Name}, t.Columns, pgx.CopyFromRows(batch))
				counts[t.Name] += n
				batch = batch[:0]
				if err == nil && progress != nil {
					progress(t.Name, counts[t.Name], false)
				}
				return err
			}
			err := rows(t, func(in []any) error {
				row := make([]any, len(in))
				for i, v := range in {
					c, err := convert(v, t.Types[i])
					if err != nil {
						return fmt.Errorf("%s.%s: %w", t.Name, t.Columns[i], err)
					}
					row[i] = c
				}
				if batch = append(batch, row); len(batch) == 5000 {
					return flush()
				}
				return nil
			})
			if err == nil {
				err = flush()
			}
			if err != nil {
				return fmt.Errorf("import %s: %w", t.Name, err)
			}
			if progress != nil {
				progress(t.Name, counts[t.Name], true)
			}
		}
		// Identity and serial columns continue after the largest id.
		seqs, err := tx.Query(ctx, `SELECT table_name, column_name, pg_get_serial_sequence(quote_ident(table_name), column_name)
			FROM information_schema.columns WHERE table_schema = 'public'
			  AND pg_get_serial_sequence(quote_ident(table_name), column_name) IS NOT NULL`)
		if err != nil {
			return fmt.Errorf("import: sequences: %w", err)
		}
		type seq struct{ table, column, name string }
		var list []seq
		for seqs.Next() {
			var s seq
			if err := seqs.Scan(&s.table, &s.column, &s.name); err != nil {
				seqs.Close()
				return fmt.Errorf("import: sequences: %w", err)
			}
			list = append(list, s)
		}
		seqs.Close()
		for _, s := range list {
			q := fmt.Sprintf(`SELECT setval($1, greatest((SELECT max(%s) FROM %s), 1), (SELECT max(%s) FROM %s) IS NOT NULL)`,
				pgx.Identifier{s.column}.Sanitize(), pgx.Identifier{s.table}.Sanitize(), pgx.Identifier{s.column}.Sanitize(), pgx.Identifier{s.table}.Sanitize())
			if _, err := tx.Exec(ctx, q, s.name); err != nil {
				return fmt.Errorf("import: sequence of %s.%s: %w", s.table, s.column, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// convert turns a value as the embedded store keeps it into one for a
// PostgreSQL column of type typ.
func convert(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if b, ok := v.([]byte); ok && typ != "bytea" {
		v = string(b)
	}
	switch typ {
	case "timestamp with time zone", "timestamp without time zone":
		switch x := v.(type) {
		case int64:
			return time.UnixMicro(x).UTC(), nil
		case string:
			return time.Parse(time.RFC3339Nano, x)
		}
	case "date":
		if s, ok := v.(string); ok {
			return time.Parse(time.DateOnly, s)
		}
	case "boolean":
		switch x := v.(type) {
		case int64:
			return x != 0, nil
		case bool:
			return x, nil
		}
	case "bytea":
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	case "jsonb", "json":
		if s, ok := v.(string); ok {
			if !json.Valid([]byte(s)) {
				return nil, fmt.Errorf("not JSON: %.40q", s)
			}
			return s, nil
		}
	case "_text", "_varchar":
		if s, ok := v.(string); ok {
			return jsonArray[string](s, "strings")
		}
	case "_int8", "_int4":
		if s, ok := v.(string); ok {
			return jsonArray[int64](s, "integers")
		}
	default:
		if strings.HasPrefix(typ, "_") {
			return nil, fmt.Errorf("array type %s is not importable", typ)
		}
		return v, nil
	}
	return nil, fmt.Errorf("cannot import %T into %s", v, typ)
}

// jsonArray decodes s, a JSON array as the embedded store keeps arrays,
// into the slice PostgreSQL's array column takes; null is an empty array.
func jsonArray[T any](s, what string) (any, error) {
	var out []T
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("not a JSON array of %s: %.40q", what, s)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}
