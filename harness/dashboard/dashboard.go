package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// DefaultAddr is where the page is served unless Addr says otherwise:
// loopback only, so nothing on the network can reach the fault buttons.
const DefaultAddr = "127.0.0.1:8080"

// Option configures Start.
type Option func(*config)

type config struct {
	addr     string
	interval time.Duration
	history  time.Duration
	log      *slog.Logger
}

func defaults() config {
	return config{addr: DefaultAddr, interval: time.Second, history: 5 * time.Minute, log: slog.New(slog.DiscardHandler)}
}

// Addr sets the listen address (default DefaultAddr, "127.0.0.1:8080"; port 0
// picks a free port). Binding anything but a loopback address exposes the
// fault actions to whoever can reach it.
func Addr(addr string) Option { return func(c *config) { c.addr = addr } }

// SampleInterval sets how often the world is sampled and the page updated
// (default 1s). Requests never scan the world themselves: they read the
// latest sample, so the page stays responsive however big the world is.
func SampleInterval(d time.Duration) Option { return func(c *config) { c.interval = d } }

// History sets how far back the lag-over-time charts reach (default 5m).
func History(d time.Duration) Option { return func(c *config) { c.history = d } }

// Logger sets the logger for sampling errors and fault actions (default:
// discard).
func Logger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// Target is the world the dashboard shows.
type Target struct {
	// World is the running embedded world (required).
	World *broker.World
	// Store is the lake's object store. Default: the world's bucket.
	Store objstore.Store
	// Prefix is the folder the Lake panel and the contract check watch:
	// one that holds stock_ticks/ (as for tickflow sink --prefix), or a
	// table's own folder (its dt=… folders or objects right under it).
	// Default: the root's stock_ticks/. The page can switch it
	// (SetLakePrefix).
	Prefix string
	// Table is the definition the contract check applies (lake.ParseTable);
	// its location, under Prefix, is the folder watched. Default: the
	// built-in stock_ticks contract, applied to whatever folder is watched.
	Table *lake.TableDef
}

// Server is a running dashboard: the page, its JSON API and /metrics on one
// address. Create it with Start, point it at a world with Watch, stop it with
// Close. Its methods are safe for concurrent use.
type Server struct {
	cfg  config
	url  string
	ln   net.Listener
	srv  *http.Server
	reg  *prometheus.Registry
	stop context.CancelFunc
	done chan struct{} // closed when the sampler has stopped

	mu      sync.Mutex
	cur     *target   // nil: no world
	snap    *Snapshot // the latest sample
	seq     uint64
	run     *RunStatus
	verify  *VerifyResult
	events  []Event
	subs    map[chan struct{}]struct{}
	actions map[string]int64 // fault actions taken, by action
	wake    chan struct{}    // asks the sampler to sample now
	closed  bool
}

// Start listens on the configured address and starts sampling. The page is
// at URL(); until Watch is called it says that no world is attached. ctx
// bounds start-up only.
func Start(ctx context.Context, opts ...Option) (*Server, error) {
	cfg := defaults()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.interval <= 0 {
		return nil, fmt.Errorf("dashboard: SampleInterval(%s) must be positive, e.g. 1s", cfg.interval)
	}
	if cfg.history < cfg.interval {
		return nil, fmt.Errorf("dashboard: History(%s) must be at least the sample interval %s", cfg.history, cfg.interval)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dashboard: start: %w", err)
	}
	addr, err := checkAddr(cfg.addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		reason := err.Error()
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			reason = op.Err.Error() // without "listen tcp ADDR:", which repeats the address
		}
		return nil, &AddrError{Addr: cfg.addr, Reason: reason + "; pick another address (port 0 picks a free one) or turn the dashboard off", Err: err}
	}
	sctx, stop := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, ln: ln, stop: stop, done: make(chan struct{}),
		url:     "http://" + ln.Addr().String() + "/",
		subs:    map[chan struct{}]struct{}{},
		actions: map[string]int64{},
		wake:    make(chan struct{}, 1),
		snap:    &Snapshot{Time: time.Now()},
	}
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(&collector{s: s})
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return sctx },
		ErrorLog:          slog.NewLogLogger(cfg.log.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.log.Warn("dashboard: server stopped", "err", err)
		}
	}()
	go s.sampleLoop(sctx)
	return s, nil
}

// AddrError is returned by Start for an address it cannot serve on (Addr,
// or --ui in the CLI): malformed, not an IP address, or not bindable (Err
// then wraps the listen error, e.g. syscall.EADDRINUSE).
type AddrError struct {
	Addr   string
	Reason string // what is wrong and the fix
	Err    error
}

func (e *AddrError) Error() string { return fmt.Sprintf("dashboard: address %q: %s", e.Addr, e.Reason) }
func (e *AddrError) Unwrap() error { return e.Err }

// checkAddr refuses what cannot work before binding: a malformed address or
// a host name (the page checks the Host header against IP addresses). An
// empty host or localhost means 127.0.0.1, never every interface.
func checkAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", &AddrError{Addr: addr, Reason: "not host:port: use e.g. 127.0.0.1:8080 (port 0 picks a free one)"}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", &AddrError{Addr: addr, Reason: fmt.Sprintf("port %q is not a number in 0..65535: use e.g. 127.0.0.1:8080", port)}
	}
	switch {
	case host == "" || host == "localhost":
		host = "127.0.0.1"
	case net.ParseIP(host) == nil:
		return "", &AddrError{Addr: addr, Reason: fmt.Sprintf("host %q is not an IP address: use 127.0.0.1 (or another local IP)", host)}
	}
	return net.JoinHostPort(host, port), nil
}

// URL is the page's address, e.g. "http://127.0.0.1:8080/".
func (s *Server) URL() string { return s.url }

// Registry is the Prometheus registry behind /metrics; register more
// collectors on it to serve them on the same address.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Watch points the dashboard at t.World (replacing any earlier world; lag
// history and the event log are kept, the verify result is cleared).
// Watch(ctx, Target{}) detaches: the page then says no world is running.
func (s *Server) Watch(ctx context.Context, t Target) error {
	var nt *target
	if t.World != nil {
		var err error
		if nt, err = newTarget(ctx, t); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		if nt != nil {
			nt.close()
		}
		return errors.New("dashboard: Watch after Close")
	}
	old := s.cur
	s.cur = nt
	s.verify = nil
	// A sample running now may still read the old world; the one after
	// it reads the new one.
	want := s.seq + 2
	s.mu.Unlock()
	if old != nil {
		old.close()
	}
	if nt != nil {
		s.logEvent("world", fmt.Sprintf("watching a world: Kafka %v, S3 %s", t.World.KafkaAddrs(), t.World.S3Endpoint()), nil)
	} else {
		s.logEvent("world", "no world attached", nil)
	}
	s.waitSample(ctx, want)
	return nil
}

// waitSample waits (at most 5 s, or until ctx ends) for sample number seq,
// so that the page and /api/state show a new world as soon as Watch returns.
func (s *Server) waitSample(ctx context.Context, seq uint64) {
	ch, unsub := s.subscribe()
	defer unsub()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	for {
		s.Refresh()
		s.mu.Lock()
		got := s.seq
		s.mu.Unlock()
		if got >= seq {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case <-s.done:
			return
		}
	}
}

// Refresh asks for a sample now instead of at the next interval.
func (s *Server) Refresh() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Verify runs the lake contract check (tickflow verify) over the watched
// lake now and shows its result on the page; the page's "re-run" button does
// the same.
func (s *Server) Verify(ctx context.Context) (*lake.Report, error) {
	t := s.current()
	if t == nil {
		return nil, errors.New("dashboard: verify: no world attached")
	}
	s.setVerify(&VerifyResult{Running: true, Started: time.Now()})
	start := time.Now()
	ls := t.lakeSampler()
	prefix, opts := ls.loc.check(ls.location(), t.w.Bucket())
	rep, err := lake.Check(ctx, t.store, prefix, opts...)
	res := &VerifyResult{Started: start, Seconds: time.Since(start).Seconds()}
	if err != nil {
		res.Error = err.Error()
	} else {
		res.fill(rep)
	}
	s.setVerify(res)
	s.logEvent("verify", res.summary(), err)
	return rep, err
}

// SetLakePrefix points the Lake panel and the contract check at another
// folder of the watched world's bucket (see Target.Prefix; "" is the root's
// stock_ticks/). The previous check result is cleared. The page's prefix
// selector does the same through POST /api/lake.
func (s *Server) SetLakePrefix(ctx context.Context, prefix string) error {
	if err := ValidPrefix(prefix); err != nil {
		return fmt.Errorf("%w: lake prefix %q: %v", errBadAction, prefix, err)
	}
	t := s.current()
	if t == nil {
		return errors.New("dashboard: lake prefix: no world attached")
	}
	loc := newLakeLocation(prefix, t.table)
	t.setLake(newLakeSampler(t.store, loc))
	s.mu.Lock()
	s.verify = nil
	want := s.seq + 2
	s.mu.Unlock()
	what := "folder " + loc.fixed
	if loc.fixed == "" {
		what = fmt.Sprintf("folder %s (its %s/ if it has one)", loc.prefix, tick.Table)
	}
	s.logEvent("lake", fmt.Sprintf("panel and check on %s of %s", what, t.store), nil)
	s.waitSample(ctx, want)
	return nil
}

// ValidPrefix says why p cannot be a folder of a bucket for Target.Prefix
// or SetLakePrefix (nil when it can): a leading /, empty, . or .. folder
// names, control characters, more than 1024 bytes.
func ValidPrefix(p string) error {
	switch {
	case len(p) > 1024:
		return errors.New("longer than 1024 bytes")
	case strings.HasPrefix(p, "/"):
		return errors.New("give it without a leading /, e.g. warehouse/clicks")
	case !utf8.ValidString(p) || strings.ContainsFunc(p, unicode.IsControl):
		return errors.New("control characters or invalid UTF-8")
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		if p != "" && (seg == "" || seg == "." || seg == "..") {
			return errors.New("empty, . or .. folder names")
		}
	}
	return nil
}

func (s *Server) setVerify(v *VerifyResult) {
	s.mu.Lock()
	s.verify = v
	s.mu.Unlock()
	s.notify()
}

// Close stops the server and the sampler. It does not close the watched
// world.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	cur := s.cur
	s.cur = nil
	s.mu.Unlock()
	s.stop() // ends event streams and the sampler
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	if cur != nil {
		cur.close()
	}
	if err != nil {
		return fmt.Errorf("dashboard: close: %w", err)
	}
	return nil
}

func (s *Server) current() *target {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// subscribe returns a channel signalled after every new sample.
func (s *Server) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

func (s *Server) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
