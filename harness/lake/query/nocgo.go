//go:build !cgo

package query

import "context"

// session needs cgo: this build has no DuckDB.
type session struct{}

func openSession(context.Context) (*session, error)             { return nil, ErrNeedsCgo }
func (*session) close()                                         {}
func (*session) exec(context.Context, string) error             { return ErrNeedsCgo }
func (*session) query(context.Context, string) (*Result, error) { return nil, ErrNeedsCgo }

// HaveDuckDB reports whether this build links DuckDB (built with cgo).
const HaveDuckDB = false
