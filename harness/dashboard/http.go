package dashboard

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed web
var webFS embed.FS

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web")
	files := http.FileServerFS(static)
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /app.js", files)
	mux.Handle("GET /style.css", files)
	mux.HandleFunc("GET /api/state", s.handleState)
	mux.HandleFunc("GET /api/events", s.handleEvents)
	mux.HandleFunc("GET /api/messages", s.handleMessages)
	mux.HandleFunc("POST /api/faults", s.handleFault)
	mux.HandleFunc("POST /api/verify", s.handleVerify)
	mux.HandleFunc("POST /api/lake", s.handleLake)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}}))
	return guard(mux)
}

// guard applies the safety rules to every request:
//   - the Host header must be an IP address or localhost, so a web page
//     whose domain was re-pointed at 127.0.0.1 (DNS rebinding) gets nothing;
//   - requests that change something (POST) must come from the page itself:
//     a foreign Origin, or a browser saying the request is cross-site, is
//     refused with 403, and they must send JSON (which a foreign page cannot
//     send without a CORS preflight this server never approves);
//   - no CORS headers at all, and the page may not be framed.
func guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		if !allowedHost(r.Host) {
			httpError(w, http.StatusForbidden, fmt.Sprintf("Host %q refused: open the dashboard by IP address (e.g. http://127.0.0.1:PORT/) or localhost; other names are refused to stop DNS-rebinding attacks", r.Host))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
				httpError(w, http.StatusForbidden, fmt.Sprintf("Origin %q refused: fault actions are accepted only from the dashboard's own page (http://%s)", o, r.Host))
				return
			}
			if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
				httpError(w, http.StatusForbidden, "cross-site request refused: fault actions are accepted only from the dashboard's own page")
				return
			}
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				httpError(w, http.StatusUnsupportedMediaType, "send the request body as JSON with Content-Type: application/json")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func allowedHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	return strings.EqualFold(host, "localhost") || net.ParseIP(host) != nil
}

type apiError struct {
	Error string `json:"error"`
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) snapshot() *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *s.snap
	// Run, verify and events change between samples; show them now.
	c.Run, c.Verify = s.run, s.verify
	c.Events = append([]Event(nil), s.events...)
	return &c
}

// Snapshot returns the latest sample (what GET /api/state serves).
func (s *Server) Snapshot() *Snapshot { return s.snapshot() }

func (s *Server) handleState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.snapshot())
}

// handleEvents streams a snapshot after every sample as server-sent events.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	ch, unsub := s.subscribe()
	defer unsub()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	send := func() error {
		b, err := json.Marshal(s.snapshot())
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if send() != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ch:
			if send() != nil {
				return
			}
		case <-keepalive.C:
			if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	q, err := parseMessageQuery(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := s.Messages(r.Context(), q)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, page)
	case errors.Is(err, errBadAction):
		httpError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), errBadAction.Error()+": "))
	case errors.Is(err, errNoTopic):
		httpError(w, http.StatusNotFound, err.Error())
	default:
		httpError(w, http.StatusServiceUnavailable, err.Error())
	}
}

func parseMessageQuery(r *http.Request) (MessageQuery, error) {
	v := r.URL.Query()
	q := MessageQuery{Topic: v.Get("topic"), Key: v.Get("key")}
	if q.Topic == "" {
		return q, errors.New("topic: give ?topic=NAME")
	}
	if p := v.Get("partition"); p != "" && p != "all" {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 {
			return q, fmt.Errorf("partition %q: want a partition number or all", p)
		}
		pp := int32(n)
		q.Partition = &pp
	}
	if o := v.Get("offset"); o != "" {
		n, err := strconv.ParseInt(o, 10, 64)
		if err != nil || n < 0 {
			return q, fmt.Errorf("offset %q: want an offset ≥ 0", o)
		}
		q.Offset = &n
	}
	if ts := v.Get("time"); ts != "" {
		if q.Offset != nil {
			return q, errors.New("give offset or time, not both")
		}
		t, err := parseTime(ts)
		if err != nil {
			return q, err
		}
		q.Time = &t
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxMessages {
			return q, fmt.Errorf("limit %q: want 1..%d", l, MaxMessages)
		}
		q.Limit = n
	}
	return q, nil
}

// parseTime takes RFC 3339 (with or without seconds or zone, which is then
// UTC), or Unix milliseconds.
func parseTime(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2024-03-04T09:00:00Z), 2024-03-04T09:00 (UTC) or Unix milliseconds", s)
}

// maxActionBody bounds a fault action's JSON body.
const maxActionBody = 4096

func (s *Server) handleFault(w http.ResponseWriter, r *http.Request) {
	var a Action
	dec := json.NewDecoder(io.LimitReader(r.Body, maxActionBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("fault action: bad JSON (%v); send e.g. {\"action\":\"stop-broker\",\"broker\":1}", err))
		return
	}
	msg, err := s.Do(a)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"result": msg})
	case errors.Is(err, errBadAction):
		httpError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), errBadAction.Error()+": "))
	default:
		// The Coordinator refused (broker already down, the controller,
		// the last live broker, a closed world): a conflict with the
		// world's state.
		httpError(w, http.StatusConflict, err.Error())
	}
}

func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Verify(r.Context()); err != nil && s.current() == nil {
		httpError(w, http.StatusConflict, err.Error())
		return
	}
	s.mu.Lock()
	v := s.verify
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

// LakeChoice is the body of POST /api/lake.
type LakeChoice struct {
	Prefix string `json:"prefix"`
}

func (s *Server) handleLake(w http.ResponseWriter, r *http.Request) {
	var c LakeChoice
	dec := json.NewDecoder(io.LimitReader(r.Body, maxActionBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("lake prefix: bad JSON (%v); send e.g. {\"prefix\":\"warehouse/\"}", err))
		return
	}
	err := s.SetLakePrefix(r.Context(), c.Prefix)
	switch {
	case errors.Is(err, errBadAction):
		httpError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), errBadAction.Error()+": "))
		return
	case err != nil:
		httpError(w, http.StatusConflict, err.Error())
		return
	}
	t := s.current()
	if t == nil {
		httpError(w, http.StatusConflict, "no world attached")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"prefix": c.Prefix, "location": t.lakeSampler().location()})
}

// slogPrinter routes promhttp's errors to the server's logger.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.cfg.log.Warn("dashboard: metrics: " + fmt.Sprint(v...)) }
