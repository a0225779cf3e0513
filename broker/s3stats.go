package broker

import (
	"net/http"
	"sort"
	"sync"
)

// S3OpStats counts the fake S3's requests of one operation since the world
// started (for dashboards and Prometheus metrics).
type S3OpStats struct {
	// Op is the operation as S3Fault.Op names it: PUT, GET, HEAD, LIST,
	// DELETE, MULTIPART, or the HTTP method of anything else.
	Op       string
	Requests int64
	// Errors counts answers with a 4xx/5xx status by status code (injected
	// ones included; a HEAD or GET of a missing key is a 404 here too).
	Errors map[int]int64
	// Injected counts requests an S3 fault answered (failed, delayed or hung).
	Injected int64
}

// S3Stats returns request counts per S3 operation, ordered by operation.
// Counting costs one map update per request.
func (w *World) S3Stats() []S3OpStats {
	if w.s3 == nil {
		return nil
	}
	return w.s3.stats.snapshot()
}

// s3Stats counts requests by operation and status; guarded by mu.
type s3Stats struct {
	mu  sync.Mutex
	ops map[string]*S3OpStats
}

func (st *s3Stats) opLocked(op string) *S3OpStats {
	if st.ops == nil {
		st.ops = map[string]*S3OpStats{}
	}
	o := st.ops[op]
	if o == nil {
		o = &S3OpStats{Op: op, Errors: map[int]int64{}}
		st.ops[op] = o
	}
	return o
}

// injected counts a request an S3 fault took.
func (st *s3Stats) injected(op string) {
	st.mu.Lock()
	st.opLocked(op).Injected++
	st.mu.Unlock()
}

func (st *s3Stats) done(op string, status int) {
	st.mu.Lock()
	o := st.opLocked(op)
	o.Requests++
	if status >= 400 {
		o.Errors[status]++
	}
	st.mu.Unlock()
}

func (st *s3Stats) snapshot() []S3OpStats {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]S3OpStats, 0, len(st.ops))
	for _, o := range st.ops {
		c := *o
		c.Errors = make(map[int]int64, len(o.Errors))
		for k, v := range o.Errors {
			c.Errors[k] = v
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Op < out[j].Op })
	return out
}

// counted wraps next so that every request is counted by operation and the
// status it was answered with.
func (st *s3Stats) counted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, _, _ := classify(r)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() { st.done(op, sw.status) }()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
