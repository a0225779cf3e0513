package scenarios

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/sink"
)

// ErrUnknown is returned (wrapped) by Lookup for a name that is not a
// scenario; the message lists the valid names.
var ErrUnknown = errors.New("unknown scenario")

// Config is what a run shares across scenarios.
type Config struct {
	// Seed drives every random choice (crash points, fault shares, brokers
	// to stop, poison values). The same seed replays the same schedule.
	Seed int64
	// Long runs the full iteration counts, record volumes and fault
	// durations (minutes); the default short form takes seconds.
	Long bool
	// TickflowBin is the tickflow binary sink-kill-9 runs as a child
	// process ("" → $TICKFLOW_BIN; if that is empty too the scenario
	// reports an error).
	TickflowBin string
	// Consumer, when set, runs a program of your own in place of the
	// built-in sink (see Consumer) and judges it by record identity: the
	// Result's Verdict says what it lost and duplicated.
	Consumer *Consumer
	// Compression is the scenario producer's batch codec (default
	// produce.DefaultCompression, "none": every client reads it).
	Compression string
	// SinkOptions are added to every in-process sink a scenario starts,
	// after the scenario's own. Tests pass sink.UnsafeCommitBeforeUpload()
	// here to prove that the invariants catch a broken sink.
	SinkOptions []sink.Option
	// Logger receives the world's and the sinks' logs. Default: discard.
	Logger *slog.Logger
	// Watch, when set, is told what the run is doing: each iteration's
	// world once it is up, its phases, and each invariant as it is
	// checked. It is called from the scenario's goroutine; keep it quick.
	Watch func(Event)

	// hooks break a scenario on purpose, for the tests that prove it
	// cannot pass vacuously. nil in every real run.
	hooks *hooks
}

// hooks are the test-only ways to break a scenario.
type hooks struct {
	// noIdempotence runs produce-timeout-retries' "idempotent" producer
	// without idempotence.
	noIdempotence bool
	// produceFault replaces the after-append fault of
	// produce-timeout-retries (e.g. with one that refuses before the append).
	produceFault func(e *env) *broker.Fault
}

// Result is the outcome of one scenario (summed over its iterations).
type Result struct {
	Scenario   string        `json:"scenario"`
	Seed       int64         `json:"seed"`
	Long       bool          `json:"long"`
	Iterations int           `json:"iterations"`
	Records    int64         `json:"records"`    // good records produced and acknowledged
	Rows       int64         `json:"rows"`       // rows read back from the lake
	Objects    int           `json:"objects"`    // lake objects read back
	Lost       int64         `json:"lost"`       // produced records missing from the lake
	Duplicated int64         `json:"duplicated"` // rows beyond the first per record
	Overlaps   int64         `json:"overlaps"`   // objects whose offset range overlaps another's
	Gaps       int64         `json:"gaps"`       // offsets neither in the lake nor dead-lettered
	DLQ        int64         `json:"dlq"`        // distinct records found in <topic>.dlq
	Poison     int64         `json:"poison"`     // poison records injected
	Restarts   int           `json:"restarts"`   // sink crashes/kills the scenario caused
	Duration   time.Duration `json:"duration_ns"`
	Pass       bool          `json:"pass"`
	// Error is set when the scenario could not run or reach its
	// precondition (world did not start, load not produced, drain timed
	// out): a failure, never a pass.
	Error string `json:"error,omitempty"`
	// Failures are the first few invariant violations found.
	Failures []string `json:"failures,omitempty"`
	// Notes say what the fault schedule did (e.g. "stopped broker 1 after
	// 1200 records").
	Notes []string `json:"notes,omitempty"`
	// ProducerRuns are a producer scenario's runs (of the last iteration):
	// what each producer configuration did to the log.
	ProducerRuns []ProducerRun `json:"producer_runs,omitempty"`
	// Consumer is the user's command when Config.Consumer was set; Verdict
	// is then what it did to the records (of the last iteration run).
	Consumer string   `json:"consumer,omitempty"`
	Verdict  *Verdict `json:"verdict,omitempty"`
	// Output is the end of each consumer instance's stdout/stderr, kept
	// when the scenario did not pass.
	Output []string `json:"output,omitempty"`
}

// Status is "pass", "FAIL" or "ERROR".
func (r Result) Status() string {
	switch {
	case r.Pass:
		return "pass"
	case r.Error != "":
		return "ERROR"
	default:
		return "FAIL"
	}
}

// Scenario is a named fault scenario.
type Scenario struct {
	Name        string
	Description string
	// iterations in the short and the long form; each gets a fresh world.
	short, long int
	env         envOptions
	proc        bool // runs `tickflow sink` processes: needs Config.TickflowBin
	// builtin: the scenario needs the built-in sink itself (crash hooks, a
	// dying store, its log lines), so it cannot run a user's Consumer.
	builtin bool
	// producer: the scenario judges producers, not a sink: it runs no sink,
	// reads the topic back itself and leaves the lake alone.
	producer bool
	run      func(ctx context.Context, e *env) error
}

// ForConsumer reports whether the scenario can run a user's Consumer in
// place of the built-in sink.
func (s Scenario) ForConsumer() bool { return !s.builtin && !s.producer }

// Producer reports whether the scenario judges producers (it runs no sink
// and leaves the lake alone).
func (s Scenario) Producer() bool { return s.producer }

// NotForConsumer says why the scenario cannot run a user's Consumer ("" when
// it can).
func (s Scenario) NotForConsumer() string {
	switch {
	case s.producer:
		return s.Name + " judges the producer and runs no consumer"
	case s.builtin:
		return s.Name + " needs tickflow's own sink (its crash hooks or its log lines) and cannot run your consumer; kill-after-put and kill-after-commit hit the same windows from outside"
	}
	return ""
}

// All returns every scenario, ordered by name.
func All() []Scenario {
	out := append([]Scenario(nil), catalog()...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns every scenario name, sorted.
func Names() []string {
	var out []string
	for _, s := range All() {
		out = append(out, s.Name)
	}
	return out
}

// Lookup finds a scenario by name. An unknown name gives an error wrapping
// ErrUnknown that lists the valid names.
func Lookup(name string) (Scenario, error) {
	for _, s := range All() {
		if s.Name == name {
			return s, nil
		}
	}
	return Scenario{}, fmt.Errorf("%w %q; valid names: %s", ErrUnknown, name, strings.Join(Names(), ", "))
}

// Iterations is how many fresh worlds the scenario runs through.
func (s Scenario) Iterations(long bool) int {
	if long {
		return max(s.long, 1)
	}
	return max(s.short, 1)
}

// Run runs the named scenario; an unknown name gives a Result with Error
// set.
func Run(ctx context.Context, name string, cfg Config) Result {
	s, err := Lookup(name)
	if err != nil {
		return Result{Scenario: name, Seed: cfg.Seed, Long: cfg.Long, Error: err.Error()}
	}
	return s.Run(ctx, cfg)
}

// Run runs every iteration of s (each in a fresh world), checks the
// invariants after each and sums the counts. It stops at the first
// iteration that errors or fails, so the failure details stay readable.
func (s Scenario) Run(ctx context.Context, cfg Config) Result {
	start := time.Now()
	res := Result{Scenario: s.Name, Seed: cfg.Seed, Long: cfg.Long}
	if cfg.Consumer != nil {
		res.Consumer = cfg.Consumer.Command
		if err := cfg.Consumer.Validate(); err != nil {
			res.Error = err.Error()
			return res
		}
		if why := s.NotForConsumer(); why != "" {
			res.Error = why
			return res
		}
	}
	n := s.Iterations(cfg.Long)
	for i := 0; i < n; i++ {
		c, notes, restarts, err := s.iteration(ctx, cfg, i)
		if c.verdict != nil {
			res.Verdict = c.verdict
		}
		if c.producerRuns != nil {
			res.ProducerRuns = c.producerRuns
		}
		if len(c.output) > 0 {
			res.Output = c.output
		}
		res.Iterations++
		res.Records += c.records
		res.Rows += c.rows
		res.Objects += c.objects
		res.Lost += c.lost
		res.Duplicated += c.duplicated
		res.Overlaps += c.overlaps
		res.Gaps += c.gaps
		res.DLQ += c.dlq
		res.Poison += c.poison
		res.Restarts += restarts
		prefix := ""
		if n > 1 {
			prefix = fmt.Sprintf("iteration %d: ", i)
		}
		for _, note := range notes {
			if len(res.Notes) < maxFailures {
				res.Notes = append(res.Notes, prefix+note)
			}
		}
		for _, f := range c.failures {
			if len(res.Failures) < maxFailures {
				res.Failures = append(res.Failures, prefix+f)
			}
		}
		if err != nil {
			res.Error = prefix + err.Error()
			break
		}
		if c.failed {
			break
		}
	}
	res.Duration = time.Since(start)
	res.Pass = res.Error == "" && len(res.Failures) == 0
	return res
}

func (s Scenario) iteration(ctx context.Context, cfg Config, i int) (c counts, notes []string, restarts int, err error) {
	e, err := newEnv(ctx, cfg, s.Name, i, s.env)
	if err != nil {
		return c, nil, 0, err
	}
	e.iterations = s.Iterations(cfg.Long)
	defer e.emit(PhaseClosed, nil) // after close
	defer e.close()
	e.emit(PhaseStarted, nil)
	e.emit(PhaseRunning, nil)
	defer func() {
		e.mu.Lock()
		notes, restarts = e.notes, e.restarts
		e.mu.Unlock()
	}()
	if err := s.run(ctx, e); err != nil {
		if e.user() {
			c.output = e.consumerTails(2000)
		}
		return c, nil, 0, err
	}
	// The scenario removed its faults and drained; from here on only reads.
	e.emit(PhaseVerifying, nil)
	if s.producer {
		if e.producerCounts == nil {
			return c, nil, 0, fmt.Errorf("%s made no judgement of its producers", s.Name)
		}
		c = *e.producerCounts
	} else if e.user() {
		c, err = e.judge(ctx, s.Name, i)
	} else {
		c, err = e.verify(ctx)
	}
	e.emit(PhaseVerified, nil)
	return c, nil, 0, err
}

// judge makes the verdict on a user's consumer, keeps the evidence when
// Consumer.Out is set, and the instances' output when the run failed.
func (e *env) judge(ctx context.Context, name string, i int) (counts, error) {
	c, v, ev, err := e.verdict(ctx)
	c.verdict = v
	if out := e.cfg.Consumer.Out; out != "" && ev != nil {
		if kerr := e.keepOut(filepath.Join(out, name, strconv.Itoa(i)), v, ev); kerr != nil && err == nil {
			err = fmt.Errorf("keep the evidence under %s: %w", out, kerr)
		}
	}
	if err != nil || c.failed {
		c.output = e.consumerTails(2000)
	}
	return c, err
}

// RunAll runs the named scenarios (all when names is empty) one after the
// other. started is called before and done after each (either may be nil),
// for live progress lines. Unknown names give an error wrapping ErrUnknown
// before anything runs.
func RunAll(ctx context.Context, names []string, cfg Config, started func(Scenario), done func(Result)) ([]Result, error) {
	var list []Scenario
	if len(names) == 0 {
		list = All()
	}
	for _, n := range names {
		s, err := Lookup(n)
		if err != nil {
			return nil, err
		}
		list = append(list, s)
	}
	var out []Result
	for _, s := range list {
		if ctx.Err() != nil {
			break
		}
		if started != nil {
			started(s)
		}
		r := s.Run(ctx, cfg)
		if done != nil {
			done(r)
		}
		out = append(out, r)
	}
	return out, ctx.Err()
}
