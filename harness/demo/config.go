package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// ErrInvalid is wrapped by every error about a bad Config (the CLI maps it
// to exit code 2).
var ErrInvalid = errors.New("invalid demo configuration")

// ErrFailed is wrapped by Run's error when the pipeline ran to the end but the
// lake is not complete, duplicate-free and contract-clean, or the sink did
// not drain in time. The Summary is returned with it; Summary.Problems says
// what is wrong.
var ErrFailed = errors.New("demo failed")

// Formats the demo's sink can write.
const (
	FormatParquet = "parquet"
	FormatJSON    = "json"
)

// Defaults used for zero Config fields.
const (
	DefaultConsumers  = 2
	DefaultPartitions = 6
	DefaultSeed       = 1
	DefaultGroup      = "tickflow-demo"
	// maxConsumers bounds Consumers: more members than that only slow the
	// group's rebalances down on one machine.
	maxConsumers = 64
)

// Config says what to run. The zero value runs the embedded HSI sample into
// a Parquet lake with 2 consumers over 6 partitions.
type Config struct {
	// Records > 0 produces that many deterministic synthetic ticks (a random
	// walk per index, seeded by Seed) instead of a CSV.
	Records int
	// CSV is a file in the seed project's CSV format. Empty (and Records 0):
	// the embedded HSI sample, tickflow.SampleCSV.
	CSV string
	// Seed seeds the synthetic generator (default 1).
	Seed uint64
	// Rate paces the producer at Rate records/s; 0 produces as fast as Kafka
	// acknowledges.
	Rate float64
	// Consumers is the number of sink consumers in the group (default 2).
	Consumers int
	// Format is the lake file format, "parquet" (default) or "json".
	Format string
	// Partitions is the topic's partition count (default 6).
	Partitions int
	// Prefix is the folder in the bucket that holds stock_ticks/ (default:
	// the bucket root).
	Prefix string
	// Out, when set, also copies the lake into this local folder
	// (Out/stock_ticks/...), ready for tickflow verify --dir and query --dir.
	Out string
	// DrainTimeout bounds the wait for every produced record to be committed
	// by the sink. Default: 30s plus 1s per 20,000 records.
	DrainTimeout time.Duration
	// Hold, when set, is called after the check while the world is still up,
	// with the live endpoints and the final summary: to query the lake, or to
	// keep serving until ctx is done (tickflow demo --keep-serving). Its
	// error is returned by Run.
	Hold func(ctx context.Context, live *Live, sum *Summary) error
	// Started, when set, is called once the world and the lake's store are
	// up, before the sinks start and anything is produced: to attach a
	// live view such as harness/dashboard (tickflow demo --ui).
	Started func(ctx context.Context, live *Live)
	// Logger receives the world's and the pipeline's debug messages.
	// Default: discard.
	Logger *slog.Logger
}

// Live describes the running world, for Config.Hold.
type Live struct {
	Bootstrap  []string       // Kafka bootstrap servers
	Topic      string         // the topic the ticks were produced to
	Group      string         // the sink's consumer group
	S3Endpoint string         // e.g. http://127.0.0.1:PORT
	Bucket     string         // the lake's bucket
	Prefix     string         // the folder in the bucket holding stock_ticks/
	Region     string         // the S3 region to configure clients with
	AccessKey  string         // credentials the fake S3 accepts
	SecretKey  string         //
	Store      objstore.Store // the lake's bucket, ready to read
	World      *broker.World  // the embedded world itself (Coordinator, fault knobs, S3 counters)
}

func (c Config) withDefaults() (Config, error) {
	if c.Consumers == 0 {
		c.Consumers = DefaultConsumers
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Format == "" {
		c.Format = FormatParquet
	}
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	bad := func(format string, args ...any) (Config, error) {
		return c, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	switch {
	case c.Records < 0:
		return bad("records %d: must be positive (or 0 for a CSV source)", c.Records)
	case c.Records > 0 && c.CSV != "":
		return bad("give either synthetic records (%d) or a CSV file (%s), not both", c.Records, c.CSV)
	case c.Consumers < 0 || c.Consumers > maxConsumers:
		return bad("consumers %d: must be between 1 and %d", c.Consumers, maxConsumers)
	case c.Partitions < 0:
		return bad("partitions %d: must be at least 1", c.Partitions)
	case c.Rate < 0:
		return bad("rate %g: must be positive records/s (or 0 for as fast as possible)", c.Rate)
	case c.Format != FormatParquet && c.Format != FormatJSON:
		return bad("format %q: use parquet or json", c.Format)
	case c.DrainTimeout < 0:
		return bad("drain timeout %s: must be positive", c.DrainTimeout)
	}
	if c.CSV != "" {
		st, err := os.Stat(c.CSV)
		switch {
		case err != nil:
			return bad("csv file %s: %v (give an existing file in the seed CSV format)", c.CSV, err)
		case st.IsDir():
			return bad("csv file %s is a directory (give a file in the seed CSV format)", c.CSV)
		}
	}
	if c.Out != "" {
		if st, err := os.Stat(c.Out); err == nil && !st.IsDir() {
			return bad("out %s is a file, not a folder", c.Out)
		}
		// Objects of an earlier run would mix with this one's in the copy
		// (other keys, same offsets: duplicates). Refuse rather than delete.
		table := filepath.Join(c.Out, tick.Table)
		if entries, err := os.ReadDir(table); err == nil && len(entries) > 0 {
			return bad("out %s already holds a lake (%s is not empty): remove it or pick another folder", c.Out, table)
		}
	}
	return c, nil
}

// drainTimeout is the configured bound or the default for n records.
func (c Config) drainTimeout(n int64) time.Duration {
	if c.DrainTimeout > 0 {
		return c.DrainTimeout
	}
	return 30*time.Second + time.Duration(n/20_000)*time.Second
}
