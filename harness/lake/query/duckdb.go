//go:build cgo

package query

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"

	"github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver
)

func init() {
	mapEntries = func(v any) ([]any, []any, bool) {
		switch m := v.(type) {
		case duckdb.OrderedMap:
			return m.Keys(), m.Values(), true
		case *duckdb.OrderedMap:
			return m.Keys(), m.Values(), true
		}
		return nil, nil, false
	}
}

// session is one in-memory DuckDB connection.
type session struct {
	db   *sql.DB
	conn *sql.Conn
}

// openSession opens an in-memory DuckDB with Athena's session time zone
// (UTC) and the Athena-dialect macros.
func openSession(ctx context.Context) (*session, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("query: open duckdb: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("query: duckdb: %w", err)
	}
	s := &session{db: db, conn: conn}
	for _, m := range append([]string{"SET TimeZone = 'UTC'"}, Macros...) {
		if err := s.exec(ctx, m); err != nil {
			s.close()
			return nil, fmt.Errorf("query: set up Athena's functions (%s): %w", m, err)
		}
	}
	return s, nil
}

func (s *session) close() {
	s.conn.Close()
	s.db.Close()
}

func (s *session) exec(ctx context.Context, stmt string) error {
	_, err := s.conn.ExecContext(ctx, stmt)
	return err
}

// query runs q and collects every row.
func (s *session) query(ctx context.Context, q string) (*Result, error) {
	rows, err := s.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	res := &Result{}
	if res.Columns, err = rows.Columns(); err != nil {
		return nil, err
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	for _, ct := range cts {
		res.Types = append(res.Types, ct.DatabaseTypeName())
	}
	for rows.Next() {
		vals := make([]any, len(res.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			// DuckDB sums and counts integers as HUGEINT where Athena
			// answers bigint.
			if b, ok := v.(*big.Int); ok && b.IsInt64() {
				vals[i] = b.Int64()
			}
		}
		res.Rows = append(res.Rows, vals)
	}
	return res, rows.Err()
}

// HaveDuckDB reports whether this build links DuckDB (built with cgo).
const HaveDuckDB = true
