// Package lake checks a lake table (an S3 prefix or a local folder) against
// docs/lake-contract.md: it reads every object through an objstore.Store,
// applies the contract's rules (L01–L26) against a table definition — the
// built-in stock_ticks, or any table parsed by ParseTable from `aws glue
// get-table` JSON, a Glue TableInput or Athena DDL — predicts the tables a
// default Glue crawler would create, and reconciles Kafka offsets. It also
// prints the Athena DDL. SQL over a lake lives in the separate package
// harness/lake/query so that importing lake never links DuckDB.
//
//	st, _ := objstore.NewDir("/tmp/lake")          // the folder that holds stock_ticks/
//	rep, err := lake.Check(ctx, st, "", lake.ExpectRecords(5692))
//	if err != nil { ... }                          // IO or usage problem
//	if !rep.OK() { rep.WriteText(os.Stderr) }      // violations
//
//	def, err := lake.ParseTable("clicks.json", b)  // any table; the folder mirrors its bucket
//	rep, err = lake.Check(ctx, st, "", lake.WithTable(def))
//
//	k, err := lake.ReadKafkaOffsets(ctx, brokers, "stock-ticks", "tickflow-sink")
//	rep, err = lake.Check(ctx, st, "", lake.WithKafka(k), lake.Strict()) // the lake against Kafka (K01–K03)
//
// A rule Check cannot apply (no expected count, no offset columns, no
// Kafka offsets) is listed in Report.Unchecked; with Strict it fails.
package lake

//go:generate go run ./internal/fixturegen -out ../../testdata/lakes

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/tickflow/tickflow/harness/objstore"
)

// ErrEmptyLake is returned (wrapped) by Check when nothing is stored under the
// table location: a wrong prefix, a prefix that does not exist, or a lake the
// sink has not written yet. It is an error, not a clean report, so that "0
// rows" is never passed off as success.
var ErrEmptyLake = errors.New("lake: no objects under the table location")

// MinProductionObjectSize is L15's threshold: the median object size per
// partition Athena's small-files guidance asks for.
const MinProductionObjectSize = 64 << 20

// Option configures Check.
type Option func(*config)

type config struct {
	expect      int64 // -1: not asked
	production  bool
	allowGaps   bool
	skipped     map[int32]map[int64]bool
	concurrency int
	def         *TableDef

	deadLetters   map[int32][]int64 // read from the dead-letter topic: delivered, for R01
	kafka         *KafkaOffsets     // WithKafka
	kafkaSource   *KafkaSource      // WithKafkaSource: Check reads kafka itself
	laterEnds     map[int32]int64   // end offsets read after the lake (WithKafkaSource)
	expectDrained bool
	strict        bool
	crawler       bool // PredictCrawler
}

// PredictCrawler judges the table as a Glue crawler would maintain it, even
// when its definition shows no crawler: Check predicts the tables a default
// crawler would create (Report.Tables) and applies the crawler's rules (C01,
// L05, and L07's kind flips). Default: only for crawled tables — the
// built-in stock_ticks and Glue tables whose parameters name a crawler
// (UPDATED_BY_CRAWLER, CrawlerSchemaDeserializerVersion…); any other table
// is judged by how Athena reads each file.
func PredictCrawler() Option { return func(c *config) { c.crawler = true } }

// Strict makes every rule Check could not apply (Report.Unchecked: no
// --expect-records, no offset columns, no Kafka offsets…) fail the check,
// for schedules that must prove the lake complete. Default off: such rules
// are listed in the report but do not fail it.
func Strict() Option { return func(c *config) { c.strict = true } }

// WithTable checks the lake against def (see ParseTable) instead of the
// built-in stock_ticks definition: its columns and types, partition keys,
// format, SerDe and partition projection. The table root is prefix +
// the path of def.Location (without the bucket), so prefix names the folder
// that mirrors the bucket ("" for a bucket or a folder made by aws s3 sync
// of the whole bucket). A definition without a Location is looked for at
// prefix + def.Name + "/".
func WithTable(def *TableDef) Option { return func(c *config) { c.def = def } }

// ExpectRecords asks Check to reconcile the lake against n produced records:
// the number of distinct (kafka_partition, kafka_offset) pairs must equal n
// (rule R01). Default: not checked.
func ExpectRecords(n int64) Option { return func(c *config) { c.expect = n } }

// Production enables the checks that only matter for a production lake:
// L15 (median object size per partition ≥ 64 MiB, a warning). Default off,
// because tests and demos write small objects on purpose.
func Production(on bool) Option { return func(c *config) { c.production = on } }

// SkippedOffsets tells the gap check that these offsets of a Kafka partition
// are legitimately absent from the lake, e.g. poison records the sink sent to
// the dead-letter topic, when the lake was downloaded to a folder and lost
// its S3 metadata. On S3 the sink's metadata does this by itself: an object
// whose tickflow-start-offset/tickflow-end-offset range misses exactly
// tickflow-dlq offsets has those offsets declared. A metadata value
// "skipped-offsets" (comma-separated offsets or ranges "a-b") is honoured too.
func SkippedOffsets(partition int32, offsets ...int64) Option {
	return func(c *config) {
		if c.skipped == nil {
			c.skipped = map[int32]map[int64]bool{}
		}
		if c.skipped[partition] == nil {
			c.skipped[partition] = map[int64]bool{}
		}
		for _, o := range offsets {
			c.skipped[partition][o] = true
		}
	}
}

// AllowOffsetGaps turns off the gap part of L12 (overlaps and duplicates are
// still errors). Use it for topics whose offsets are not dense: transactional
// producers (commit markers take offsets) or compacted topics. Default off.
func AllowOffsetGaps() Option { return func(c *config) { c.allowGaps = true } }

// Concurrency bounds how many objects Check reads at once (default 8).
func Concurrency(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.concurrency = n
		}
	}
}

// Check reads a lake table and returns the report. Without WithTable it is
// the built-in stock_ticks table (StockTicks) under prefix (the folder that
// holds stock_ticks/, "" for the store's root). The error is non-nil only
// when the lake could not be read at all (listing failed, credentials
// refused, prefix empty or missing, ctx cancelled); every problem with the
// lake's content is a Violation in the report.
func Check(ctx context.Context, st objstore.Store, prefix string, opts ...Option) (*Report, error) {
	cfg := config{expect: -1, concurrency: 8}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.def == nil {
		cfg.def = builtin
	}
	cfg.def = cfg.def.prepared()
	if cfg.crawler {
		cfg.def.Crawled = true
	}
	def := cfg.def
	prefix = strings.TrimPrefix(prefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	rootRel := def.Name + "/"
	hint := "does the prefix exist? --dir/--prefix name the folder that holds " + rootRel
	if def.Location != "" {
		rootRel = def.locationPath()
		hint = fmt.Sprintf("the table's location is %s: --dir/--prefix name the folder that mirrors bucket %s, and %s must be under it", def.Location, def.Bucket(), rootRel)
	}
	root := prefix + rootRel
	rep := &Report{Store: st.String(), Prefix: prefix, Location: root, ExpectedRecords: cfg.expect, Production: cfg.production,
		Table: def.Name, Definition: def.Source}
	proj, err := parseProjection(def)
	if err != nil {
		return nil, fmt.Errorf("lake: table %s: %w", def.Name, err)
	}

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lake: check %s %s: %w", st, root, err)
	}
	if src := cfg.kafkaSource; src != nil {
		kctx, cancel := context.WithTimeout(ctx, src.timeout())
		cfg.kafka, err = ReadKafkaOffsets(kctx, src.Brokers, src.Topic, src.Group, src.Options...)
		cancel()
		if err != nil {
			return nil, &KafkaError{err}
		}
	}
	// List without the trailing slash so an object named exactly like the
	// table folder (L14: "is not a file") shows up too.
	asFile := strings.TrimSuffix(root, "/")
	listed, err := st.List(ctx, asFile)
	if err != nil {
		return nil, fmt.Errorf("lake: list %s %s: %w", st, root, err)
	}
	var objs []objstore.Object
	var locationIsFile bool
	for _, o := range listed {
		switch {
		case o.Key == asFile && asFile != "":
			locationIsFile = true
		case strings.HasPrefix(o.Key, root):
			objs = append(objs, o)
		}
	}
	if len(objs) == 0 {
		if locationIsFile {
			hint = asFile + " is an object, not a folder"
		}
		return nil, fmt.Errorf("%w %s in %s (%s)", ErrEmptyLake, root, st, hint)
	}
	if _, path, _ := strings.Cut(def.Location, "://"); def.Location != "" && (!strings.HasSuffix(def.Location, "/") || strings.Contains(path, "//")) {
		rep.add(violation("L14", def.Location, "", "the table location %q must end with / and contain no // (an empty folder name)", def.Location))
	}
	if strings.Contains(prefix, "//") {
		rep.add(violation("L14", prefix, "", "the table location %q contains // (an empty folder name)", root))
	}
	if locationIsFile {
		rep.add(violation("L14", asFile, "", "an object named %q sits where the table folder is; the location must be a folder", asFile))
	}

	files, err := readAll(ctx, st, root, objs, cfg.concurrency, def)
	if err != nil {
		return nil, err
	}
	rep.Objects = len(files)
	for _, f := range files {
		rep.Bytes += f.size
		if f.isData() {
			rep.DataObjects++
			rep.Rows += f.rows
		}
	}
	checkRules(rep, files, &cfg, proj)
	rep.Tables = []Table{} // JSON: [] rather than null when no prediction is made
	if def.Crawled {
		rep.Tables = predictTables(sanitize(def.Name), root, files)
		checkCrawler(rep, root, files, def)
	}
	rep.Crawled = def.Crawled
	if src := cfg.kafkaSource; src != nil {
		kctx, cancel := context.WithTimeout(ctx, src.timeout())
		cfg.laterEnds, err = readEndOffsets(kctx, src.Brokers, src.Topic, src.Options...)
		cancel()
		if err != nil {
			return nil, &KafkaError{err}
		}
	}
	var parts map[int32]*lakePart
	if def.kafkaColumns() || sinkMetadata(files) {
		parts = checkCoverage(rep, files, &cfg)
	}
	rep.RecordsCounted = parts != nil
	checkCount(rep, parts, &cfg)
	if cfg.kafka != nil {
		checkKafka(rep, parts, &cfg)
	}
	rep.Unchecked = unchecked(rep, parts, &cfg)
	rep.Strict = cfg.strict
	rep.Timestamps = timestampReport(files)
	rep.Format = lakeFormat(files)
	applyTableFixes(rep, tableFixes(def, proj, root))
	rep.sort()
	return rep, nil
}

// readAll fetches and analyses every object with at most n reads in flight.
func readAll(ctx context.Context, st objstore.Store, root string, objs []objstore.Object, n int, def *TableDef) ([]*file, error) {
	files := make([]*file, len(objs))
	errs := make([]error, len(objs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, n)
	for i, o := range objs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			if err := ctx.Err(); err != nil { // select picks at random when both are ready
				errs[i] = err
				return
			}
			f := newFile(root, o)
			f.def = def
			if f.size > 0 {
				body, obj, err := st.Get(ctx, o.Key)
				if err != nil {
					errs[i] = fmt.Errorf("lake: read %s: %w", o.Key, err)
					return
				}
				f.meta = obj.Metadata
				f.analyse(body)
			}
			files[i] = f
		}()
	}
	wg.Wait()
	// Report the first failure (in key order): when credentials are refused
	// every read fails the same way.
	failed := 0
	var first error
	for _, err := range errs {
		if err != nil {
			if first == nil {
				first = err
			}
			failed++
		}
	}
	if first != nil {
		if failed > 1 {
			return nil, fmt.Errorf("%w (and %d more objects failed)", first, failed-1)
		}
		return nil, first
	}
	sort.Slice(files, func(i, j int) bool { return files[i].key < files[j].key })
	return files, nil
}
