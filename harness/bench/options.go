package bench

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/tickflow/tickflow/harness/sink"
)

// Limits on the options, so a typo cannot start an hour-long run or exhaust
// memory (the 4×N memory phase keeps 4×N records in the embedded Kafka).
const (
	MaxRecords    = 50_000_000
	MaxPartitions = 256
	MaxConsumers  = 64
	MaxRuns       = 50
	MaxSeedSample = 100_000
)

// Defaults of the options.
const (
	DefaultRecords         = 1_000_000
	DefaultPartitions      = 6
	DefaultConsumers       = 1
	DefaultRuns            = 3
	DefaultSeedSample      = 2_000
	DefaultLatencyFraction = 0.5
	DefaultLatencyDuration = 3 * time.Second
	DefaultLatencyFlush    = time.Second
	DefaultDrainTimeout    = 5 * time.Minute
	// DefaultStartTimeout bounds how long a consumer program may run
	// without committing an offset or writing to S3 before the bench gives
	// up on it (capped at the drain timeout).
	DefaultStartTimeout = time.Minute
	// DefaultStopGrace is how long a consumer program gets after SIGTERM
	// before SIGKILL.
	DefaultStopGrace = 10 * time.Second
	// MaxDrainTimeout bounds DrainTimeout.
	MaxDrainTimeout = 24 * time.Hour
)

// Option configures Run.
type Option func(*config)

type config struct {
	records, partitions, consumers, runs, seedSample int
	format                                           sink.Format
	latencyFraction                                  float64
	latencyDuration, latencyFlush                    time.Duration
	skipMemory                                       bool
	seed                                             uint64
	sinkBin                                          string // SinkBinary
	sweepRecords, sweepPartitions, sweepConsumers    []int

	progress func(string)
	log      *slog.Logger

	// A user's consumer program (Consumer).
	consumerCmd, consumerDir              string
	instances                             int // 0: consumers
	drainTimeout, startTimeout, stopGrace time.Duration
	lakeAfter                             time.Duration // tests shorten it
}

func defaults() config {
	return config{
		records: DefaultRecords, partitions: DefaultPartitions, consumers: DefaultConsumers,
		runs: DefaultRuns, seedSample: DefaultSeedSample, format: sink.Parquet,
		latencyFraction: DefaultLatencyFraction, latencyDuration: DefaultLatencyDuration,
		latencyFlush: DefaultLatencyFlush, seed: 1,
		drainTimeout: DefaultDrainTimeout, startTimeout: DefaultStartTimeout, stopGrace: DefaultStopGrace,
		lakeAfter:    defaultLakeAfter,
		sweepRecords: DefaultSweepRecords, sweepPartitions: DefaultSweepPartitions, sweepConsumers: DefaultSweepConsumers,
		progress: func(string) {}, log: slog.New(slog.DiscardHandler),
	}
}

// Records is N, the number of synthetic ticks produced once and read by every
// throughput phase; the memory phase also runs over 4×N. Default 1,000,000.
func Records(n int) Option { return func(c *config) { c.records = n } }

// Partitions is the topic's partition count. Default 6.
func Partitions(n int) Option { return func(c *config) { c.partitions = n } }

// Consumers is the number of consumer group members (raw consumers or sink
// instances) each phase runs side by side. Default 1.
func Consumers(n int) Option { return func(c *config) { c.consumers = n } }

// WithFormat is the sink's lake format. Default sink.Parquet.
func WithFormat(f sink.Format) Option { return func(c *config) { c.format = f } }

// Runs is how often each throughput phase is repeated (a fresh consumer
// group each time); the report gives the best and the median. Default 3.
func Runs(n int) Option { return func(c *config) { c.runs = n } }

// SeedSample is how many records the seed-baseline phase writes, one S3
// object each; its rate is extrapolated. Default 2,000 (capped at N).
func SeedSample(n int) Option { return func(c *config) { c.seedSample = n } }

// Latency sets the latency phase: produce for d at fraction (0,1] of the
// median sink rate. Default 0.5 for 3s.
func Latency(fraction float64, d time.Duration) Option {
	return func(c *config) { c.latencyFraction, c.latencyDuration = fraction, d }
}

// LatencyFlushInterval is the sink's FlushInterval in the latency phase.
// Latency is dominated by it at low rates, so it is reported with the
// percentiles. Default 1s (the sink's own default is 10s).
func LatencyFlushInterval(d time.Duration) Option { return func(c *config) { c.latencyFlush = d } }

// SkipMemory leaves out the memory phase (N and 4×N records), the slowest
// one. For quick runs and tests.
func SkipMemory() Option { return func(c *config) { c.skipMemory = true } }

// SinkBinary is the tickflow binary whose `tickflow sink` the memory phase
// (and Sweep) runs as OS processes, to measure the sink's own CPU and peak
// RSS without the embedded world's. Default: $TICKFLOW_BIN; without
// either, the memory phase measures only the bench's own process and the
// report says the sink process was not measured. `tickflow bench` passes
// itself.
func SinkBinary(path string) Option { return func(c *config) { c.sinkBin = path } }

// Seed seeds the synthetic tick generator. Default 1.
func Seed(s uint64) Option { return func(c *config) { c.seed = s } }

// Consumer adds the consumer phase: command, a consumer program of your
// own in any language, runs with `sh -c` as Instances OS processes (each in
// its own process group) over the same N records the other phases read,
// with the world's coordinates in its environment and in {placeholders}
// (see harness/program.Coordinates). Its rate and time to drain are
// reported as ratios to the ceiling and to tickflow's sink of the same
// run. The world's S3 then checks no signatures, so every instance can
// sign with credentials of its own. Default: no consumer phase.
func Consumer(command string) Option { return func(c *config) { c.consumerCmd = command } }

// ConsumerDir is the consumer program's working directory. Default: the
// current one.
func ConsumerDir(dir string) Option { return func(c *config) { c.consumerDir = dir } }

// Instances is how many processes of the Consumer program run at once.
// Default: Consumers, so the program runs as many members as tickflow's
// sink did.
func Instances(n int) Option { return func(c *config) { c.instances = n } }

// DrainTimeout bounds the consumer phase: if the group has not drained the
// topic by then, the phase is reported as timed out, not as a throughput.
// Default 5 minutes.
func DrainTimeout(d time.Duration) Option { return func(c *config) { c.drainTimeout = d } }

// StartTimeout is how long the Consumer program may run without
// committing an offset or writing to S3 before the bench fails with its
// output. Default 1 minute (capped at DrainTimeout).
func StartTimeout(d time.Duration) Option { return func(c *config) { c.startTimeout = d } }

// StopGrace is how long each Consumer process gets after SIGTERM, at the
// end of the phase, before SIGKILL. Default 10s.
func StopGrace(d time.Duration) Option { return func(c *config) { c.stopGrace = d } }

// Progress receives one line per phase step (for a CLI's stderr). Default:
// nothing.
func Progress(fn func(msg string)) Option {
	return func(c *config) {
		if fn != nil {
			c.progress = fn
		}
	}
}

// Logger sets a structured logger for the embedded world and the sinks.
// Default: discard.
func Logger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// ConfigError is a bad option value; Option names the option.
type ConfigError struct {
	Option string
	Value  any
	Want   string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("bench: %s = %v: want %s", e.Option, e.Value, e.Want)
}

func (c *config) validate() error {
	switch {
	case c.records < 1 || c.records > MaxRecords:
		return &ConfigError{"records", c.records, fmt.Sprintf("1..%d", MaxRecords)}
	case c.partitions < 1 || c.partitions > MaxPartitions:
		return &ConfigError{"partitions", c.partitions, fmt.Sprintf("1..%d", MaxPartitions)}
	case c.consumers < 1 || c.consumers > MaxConsumers:
		return &ConfigError{"consumers", c.consumers, fmt.Sprintf("1..%d", MaxConsumers)}
	case c.runs < 1 || c.runs > MaxRuns:
		return &ConfigError{"runs", c.runs, fmt.Sprintf("1..%d", MaxRuns)}
	case c.seedSample < 1 || c.seedSample > MaxSeedSample:
		return &ConfigError{"seed-sample", c.seedSample, fmt.Sprintf("1..%d", MaxSeedSample)}
	case c.format != sink.Parquet && c.format != sink.JSON:
		return &ConfigError{"format", c.format, "parquet or json"}
	case !(c.latencyFraction > 0 && c.latencyFraction <= 1):
		return &ConfigError{"latency fraction", c.latencyFraction, "(0, 1]"}
	case c.latencyDuration <= 0 || c.latencyDuration > 10*time.Minute:
		return &ConfigError{"latency duration", c.latencyDuration, "(0, 10m]"}
	case c.latencyFlush <= 0:
		return &ConfigError{"latency flush interval", c.latencyFlush, "> 0"}
	case c.instances < 0 || c.instances > MaxConsumers:
		return &ConfigError{"instances", c.instances, fmt.Sprintf("1..%d", MaxConsumers)}
	case c.instances > 0 && c.consumerCmd == "":
		return &ConfigError{"instances", c.instances, "a --consumer command to run"}
	case c.consumerCmd != "" && strings.TrimSpace(c.consumerCmd) == "":
		return &ConfigError{"consumer", fmt.Sprintf("%q", c.consumerCmd), "a command, e.g. 'python3 consumer.py'"}
	case c.drainTimeout <= 0 || c.drainTimeout > MaxDrainTimeout:
		return &ConfigError{"drain-timeout", c.drainTimeout, fmt.Sprintf("(0, %s]", MaxDrainTimeout)}
	case c.startTimeout <= 0:
		return &ConfigError{"start timeout", c.startTimeout, "> 0"}
	case c.stopGrace <= 0:
		return &ConfigError{"stop grace", c.stopGrace, "> 0"}
	}
	if c.sinkBin != "" {
		if st, err := os.Stat(c.sinkBin); err != nil || st.IsDir() {
			return &ConfigError{"sink binary", c.sinkBin, "the tickflow binary"}
		}
	}
	if c.consumerDir != "" {
		if st, err := os.Stat(c.consumerDir); err != nil || !st.IsDir() {
			return &ConfigError{"workdir", c.consumerDir, "an existing directory"}
		}
	}
	return nil
}

// consumerInstances is how many processes the consumer phase runs.
func (c *config) consumerInstances() int {
	if c.instances > 0 {
		return c.instances
	}
	return c.consumers
}
