//go:build !cgo

package query

import "context"

// runDuckDB needs cgo: this build has no DuckDB.
func runDuckDB(context.Context, string, string, string) (*Result, error) {
	return nil, ErrNeedsCgo
}

// HaveDuckDB reports whether this build links DuckDB (built with cgo).
const HaveDuckDB = false
