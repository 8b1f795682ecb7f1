package sqlite

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// tableName is what a table of this store is called: Export takes names
// from the PostgreSQL store's catalogue, never from a person.
var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Columns returns table's columns, in order.
func (db *DB) Columns(ctx context.Context, table string) ([]string, error) {
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("sqlite: %q is not a table name", table)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT name FROM pragma_table_info(?1) ORDER BY cid`, table)
	if err != nil {
		return nil, fmt.Errorf("sqlite: columns of %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("sqlite: columns of %s: %w", table, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Export calls emit with every row of table, its columns those named, as
// stored (integers, floats, text, blobs, NULL). Each table is read on its
// own: copy a store whose server is stopped (starling admin migrate-store
// says so).
func (db *DB) Export(ctx context.Context, table string, columns []string, emit func([]any) error) error {
	if !tableName.MatchString(table) {
		return fmt.Errorf("sqlite: %q is not a table name", table)
	}
	for _, c := range columns {
		if !tableName.MatchString(c) {
			return fmt.Errorf("sqlite: %q is not a column name", c)
		}
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+strings.Join(columns, ", ")+` FROM `+table)
	if err != nil {
		return fmt.Errorf("sqlite: export %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		vals := make([]any, len(columns))
		ptrs := make([]any, len(columns))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("sqlite: export %s: %w", table, err)
		}
		if err := emit(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: export %s: %w", table, err)
	}
	return nil
}
