package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

func init() { register(newVerifyCmd) }

// lakeSource is the "where is the lake" flag set shared by verify and query:
// a local folder, or an S3 bucket (real AWS when the endpoint is omitted).
type lakeSource struct {
	dir, endpoint, bucket, prefix, region, accessKey, secretKey string
	timeout                                                     time.Duration
}

func (s *lakeSource) flags(fs *pflag.FlagSet) {
	fs.StringVar(&s.dir, "dir", "", "local folder that holds stock_ticks/ (e.g. after aws s3 sync)")
	fs.StringVar(&s.endpoint, "s3-endpoint", "", "S3 endpoint URL, e.g. http://127.0.0.1:9000 (omit for real AWS S3)")
	fs.StringVar(&s.bucket, "bucket", "", "S3 bucket")
	fs.StringVar(&s.prefix, "prefix", "", "S3 prefix: the folder that holds stock_ticks/ (empty: the bucket root)")
	fs.StringVar(&s.region, "region", "", "AWS region (default us-east-1 or the SDK's configuration)")
	fs.StringVar(&s.accessKey, "access-key", "", "static S3 access key (default: the AWS SDK credential chain; for a local --s3-endpoint with none set, tickflow serve's)")
	fs.StringVar(&s.secretKey, "secret-key", "", "static S3 secret key")
	fs.DurationVar(&s.timeout, "s3-timeout", objstore.DefaultTimeout, "give up on an S3 endpoint that does not connect or answer within this long")
}

func (s *lakeSource) target() s3Target {
	return s3Target{endpoint: s.endpoint, bucket: s.bucket, timeout: s.timeout}
}

// open returns the store and the prefix inside it that holds stock_ticks/.
func (s *lakeSource) open(ctx context.Context) (objstore.Store, string, error) {
	switch {
	case s.dir != "" && (s.bucket != "" || s.endpoint != "" || s.prefix != ""):
		return nil, "", usageError("--dir and --s3-endpoint/--bucket/--prefix are exclusive")
	case s.dir != "":
		st, err := objstore.NewDir(s.dir)
		if err != nil {
			return nil, "", dirError(s.dir, err)
		}
		return st, "", nil
	case s.bucket == "":
		return nil, "", usageError("give --dir DIR or --bucket B [--s3-endpoint URL] [--prefix P]")
	case (s.accessKey == "") != (s.secretKey == ""):
		return nil, "", usageError("--access-key and --secret-key go together")
	}
	if s.timeout <= 0 {
		return nil, "", usageError("--s3-timeout %s: want a duration > 0", s.timeout)
	}
	ak, sk := localCredentials(os.Stderr, s.endpoint, s.accessKey, s.secretKey)
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: s.endpoint, Bucket: s.bucket, Region: s.region,
		AccessKey: ak, SecretKey: sk, Timeout: s.timeout})
	if err != nil {
		return nil, "", usageError("%v", err)
	}
	if err := checkBucket(ctx, st, s.target()); err != nil {
		return nil, "", err
	}
	return st, s.prefix, nil
}

type verifyFlags struct {
	src        lakeSource
	expect     int64
	production bool
	allowGaps  bool
	json       bool
	table      string
	infer      bool
	verbose    bool // --infer: every table with its columns
	crawler    bool // --crawler: judge the table as a crawler maintains it

	// Dead letters: offsets the sink sent to the dead-letter topic are not
	// gaps. A lake downloaded to a folder lost the S3 metadata that says
	// so; these flags say it instead.
	brokers, topic, dlqTopic string
	dlqTimeout               time.Duration
	skipped                  string
	kafka                    kafkaSecurity // --tls, --sasl...: how to reach --brokers

	// The lake against Kafka: the group whose commits it must reach, or
	// the end offsets with --expect-drained.
	group         string
	expectDrained bool
	strict        bool
}

// kafkaOptions reads --skipped-offsets, the dead-letter topic and the
// topic's offsets and the group's commits (--brokers) and returns the Check
// options, plus the DLQ read (nil without --brokers).
func (f *verifyFlags) kafkaOptions(cmd *cobra.Command) ([]lake.Option, *lake.DeadLetters, error) {
	ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
	var opts []lake.Option
	if f.skipped != "" {
		m, err := lake.ParseSkippedOffsets(f.skipped)
		if err != nil {
			return nil, nil, usageError("--skipped-offsets: %v", err)
		}
		opts = append(opts, lake.SkippedOffsetMap(m))
	}
	if f.brokers == "" {
		if f.kafka.enabled() {
			return nil, nil, usageError("--tls/--sasl flags only apply with --brokers (reading the dead-letter topic)")
		}
		if f.expectDrained || cmd.Flags().Changed("group") {
			return nil, nil, usageError("--group and --expect-drained compare the lake with Kafka: give --brokers ADDRS too")
		}
		return opts, nil, nil
	}
	if f.group == "" {
		return nil, nil, usageError("--group is empty: name the consumer group that wrote the lake (tickflow sink's default is %s)", defaultSinkGroup)
	}
	if f.topic == "" {
		return nil, nil, usageError("--topic is empty: name the source topic the lake was written from")
	}
	if f.dlqTimeout <= 0 {
		return nil, nil, usageError("--dlq-timeout %s: want a duration > 0", f.dlqTimeout)
	}
	dlq := f.dlqTopic
	if dlq == "" {
		dlq = f.topic + ".dlq"
	}
	var brokers []string
	for _, b := range strings.Split(f.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	kopts, err := f.kafka.clientOptions(ctx, stderr, brokers)
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, f.dlqTimeout)
	defer cancel()
	d, err := lake.ReadDeadLetters(rctx, brokers, dlq, f.topic, kopts...)
	if err != nil {
		return nil, nil, usageError("verify: %v (--brokers, --dlq-topic, --dlq-timeout %s; without Kafka access use --skipped-offsets)", err, f.dlqTimeout)
	}
	// Check reads the topic's offsets and the group's commits itself,
	// around reading the lake, so a running sink gives no false findings.
	opts = append(opts, d.Option(), lake.WithKafkaSource(lake.KafkaSource{
		Brokers: brokers, Topic: f.topic, Group: f.group, Timeout: f.dlqTimeout, Options: kopts}))
	if f.expectDrained {
		opts = append(opts, lake.ExpectDrained())
	}
	return opts, d, nil
}

// writeDeadLetters summarises the dead-letter read and how many of its
// offsets filled holes in the lake.
func writeDeadLetters(w io.Writer, d *lake.DeadLetters, rep *lake.Report) error {
	var filled int64
	for _, p := range rep.Partitions {
		filled += p.Skipped
	}
	var b strings.Builder
	if d.Missing {
		fmt.Fprintf(&b, "DEAD LETTERS: topic %s does not exist: no offsets accounted as dead letters\n", d.Topic)
	} else {
		// Dead letters fill holes between objects (the coverage's skipped
		// column) or lie beyond a partition's first or last object, where
		// only the Kafka comparison and R01 use them: say both, so a poison
		// record at a partition's end does not read as unused.
		n := d.Count()
		where := ""
		switch {
		case n > 0 && filled >= n:
			where = fmt.Sprintf("all %d fill holes between the lake's objects (the offset coverage's skipped column)", n)
		case n > 0:
			holes, other := "none fills a hole between the lake's objects", fmt.Sprintf("all %d lie", n)
			if filled == 1 {
				holes = "1 fills a hole between the lake's objects (the offset coverage's skipped column)"
			} else if filled > 1 {
				holes = fmt.Sprintf("%d fill holes between the lake's objects (the offset coverage's skipped column)", filled)
			}
			if filled > 0 {
				other = fmt.Sprintf("the other %d lie", n-filled)
				if n-filled == 1 {
					other = "the other 1 lies"
				}
			}
			where = holes + "; " + other + " before a partition's first or after its last object, where the KAFKA comparison counts them as held (and R01 as delivered)"
		}
		fmt.Fprintf(&b, "DEAD LETTERS: %s of %s read from %s (%s)", plural(n, "offset", ""), d.SourceTopic, d.Topic, plural(d.Records, "record", ""))
		if where != "" {
			fmt.Fprintf(&b, ": %s", where)
		}
		b.WriteString("\n")
	}
	if d.OtherTopics > 0 {
		fmt.Fprintf(&b, "  %s of other source topics ignored\n", plural(d.OtherTopics, "record", ""))
	}
	if d.Malformed > 0 {
		fmt.Fprintf(&b, "  %s ignored (no usable tickflow-source-* headers), e.g.:\n", plural(d.Malformed, "malformed record", ""))
		for _, e := range d.MalformedExamples {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// runInfer prints the crawler's prediction for every folder under the prefix.
func (f *verifyFlags) runInfer(cmd *cobra.Command, st objstore.Store, prefix string) error {
	if f.table != "" || cmd.Flags().Changed("expect-records") || f.brokers != "" || f.skipped != "" || f.strict || f.expectDrained || f.crawler {
		return usageError("--infer predicts tables for an undescribed lake: it takes no --table, --expect-records, --brokers, --skipped-offsets, --strict, --expect-drained or --crawler (to add the crawler's prediction to a check, use --crawler without --infer)")
	}
	inf, err := lake.InferLake(cmd.Context(), st, prefix)
	if err != nil {
		return usageError("verify --infer: %v", err)
	}
	out := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		err = enc.Encode(inf.Tables)
	} else {
		err = inf.WriteText(out, f.verbose)
	}
	if err != nil {
		return usageError("verify: write tables: %v", err)
	}
	return nil
}

func newVerifyCmd() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify (--dir DIR | [--s3-endpoint URL] --bucket B [--prefix P]) [--table FILE | --infer] [--expect-records N] [--brokers ADDRS [--topic T] [--group G] [--expect-drained] [--dlq-topic T] | --skipped-offsets P:O[-O2],...] [--strict] [--production] [--json]",
		Short: "Check a lake against the Glue/Athena contract (rules L01–L26, crawler prediction, offset coverage)",
		Long: `verify reads every object of a table under a folder or an S3 prefix and checks the lake
contract (docs/lake-contract.md). Without --table the table is the built-in stock_ticks (under
--dir/--prefix, the folder that holds stock_ticks/). --table FILE checks any table: FILE is the
JSON of 'aws glue get-table', a Glue TableInput ('tickflow ddl --glue-json'), or an Athena CREATE
EXTERNAL TABLE statement; then --dir/--prefix mirror the bucket and the table's Location path
(without the bucket) picks the folder, e.g. s3://b/events/clicks/ → DIR/events/clicks/.

Rules it reports (each with the object, the fix and the AWS source):
  L01 hive-partitions       L02 no-root-files      L03 no-marker-files (incl. hidden _/. files)
  L04 one-format            L05 one-schema         L06 json-lines        L07 json-types
  L08 column-names          L09 no-key-in-data     L10 partition-matches-data
  L11 parquet-types (physical/logical type vs declared, timestamp unit)
  L12 deterministic-names (offset tiling, tables with kafka_partition/kafka_offset)
  L13 no-kafka-partition-folder  L14 location  L15 file-size (warning, --production)
  L16 partition-values      L17 decimal-types      L18 nested-types      L19 schema-drift
  L20 json-int-range        L21 json-key-case      L22 json-date-time
  L23 nested-table-root     L25 projection-unreachable  L26 projection-empty (warning, --production)
  C01 crawler-one-table (crawled tables, or --crawler)  R01 record-count (--expect-records)
  K01 retention-expired (offsets Kafka retention removed before the sink read them: a warning
      when the sink's metadata declares them, an error when only --brokers finds them)
  K02 kafka-not-in-lake (--brokers: offsets Kafka holds that the lake lacks, before its first
      object, in a partition it has nothing of, or with --expect-drained up to the end offset)
  K03 committed-not-in-lake (--brokers: offsets the group committed that the lake lacks: loss)
Exit 0: clean; 1: violations (with --strict also any rule not checked); 2: bad flags, a bad
table definition, or the lake or Kafka could not be read.
--production adds the warnings L15 and L26. The crawler's view (C01, L05, L07 kind flips and
the predicted tables) applies to crawled tables only: the built-in stock_ticks and Glue tables
whose parameters name a crawler (UPDATED_BY_CRAWLER, CrawlerSchemaDeserializerVersion); --crawler
applies it to any table. JSON rules follow the SerDe the table declares (OpenX or Hive JSON) and
its properties (timestamp.formats, case.insensitive, ignore.malformed.json). --infer only prints what a default Glue crawler would
create from every folder under --dir/--prefix (the crawler emulation, for any data): first how
many tables and why per folder (e.g. "4,338 objects at the root: the crawler makes one table per
object — put them under a folder"), then each table with its columns (--verbose when over 10).

The lake against Kafka: with --brokers, verify reads the topic's log start and end offsets and
the committed offsets of --group (default tickflow-sink, tickflow sink's default), and per
partition the lake must hold every offset from the log start to the commit (--expect-drained:
to the end), dead letters counted as held. The report names the group and lists, per partition,
log start, committed, end, the lake's first and last offset and the missing ranges by rule.

Nothing is skipped in silence: a rule that cannot run (no --expect-records, a table without
kafka_partition/kafka_offset columns, no --brokers, a group with no commits) is listed under NOT
CHECKED in the report ("unchecked" in --json); --strict makes any of them fail.

Offsets the sink sent to the dead-letter topic are absent from the lake on purpose. On S3 the
objects' metadata declares them; a downloaded folder (aws s3 sync) has no metadata, so give
--brokers to read the dead-letter topic (TOPIC.dlq) from start to end and count its offsets as
dead letters, or list them with --skipped-offsets 0:17,0:40-42,3:9. Unlike --allow-gaps, any
other missing offset still fails. With the dead-letter topic read, --expect-records is the
number of records produced: R01 counts the dead letters as delivered.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, prefix, err := f.src.open(cmd.Context())
			if err != nil {
				return err
			}
			if f.infer {
				return f.runInfer(cmd, st, prefix)
			}
			if f.verbose {
				return usageError("--verbose only applies with --infer (the check's report is always complete)")
			}
			opts, dlq, err := f.kafkaOptions(cmd)
			if err != nil {
				return err
			}
			opts = append(opts, lake.Production(f.production))
			if f.strict {
				opts = append(opts, lake.Strict())
			}
			if f.crawler {
				opts = append(opts, lake.PredictCrawler())
			}
			if f.table != "" {
				b, err := os.ReadFile(f.table)
				if err != nil {
					return usageError("--table %s: %v; fix: give the file aws glue get-table or tickflow ddl wrote", f.table, errors.Unwrap(err))
				}
				def, err := lake.ParseTable(f.table, b)
				if err != nil {
					return usageError("--table %v", err)
				}
				opts = append(opts, lake.WithTable(def))
			}
			if cmd.Flags().Changed("expect-records") {
				if f.expect < 0 {
					return usageError("--expect-records %d: want a count ≥ 0", f.expect)
				}
				opts = append(opts, lake.ExpectRecords(f.expect))
			}
			if f.allowGaps {
				opts = append(opts, lake.AllowOffsetGaps())
			}
			rep, err := lake.Check(cmd.Context(), st, prefix, opts...)
			var kerr *lake.KafkaError
			if errors.As(err, &kerr) {
				return usageError("verify: %v (--brokers, --topic, --group, --dlq-timeout %s)", kerr, f.dlqTimeout)
			}
			if err != nil {
				return usageError("verify: %v", s3Error(f.src.target(), err))
			}
			out := cmd.OutOrStdout()
			if f.json {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				err = enc.Encode(rep)
			} else {
				err = rep.WriteText(out)
			}
			if err == nil && dlq != nil {
				// JSON goes to stdout alone, so the summary goes to stderr.
				w := out
				if f.json {
					w = cmd.ErrOrStderr()
				}
				err = writeDeadLetters(w, dlq, rep)
			}
			if err != nil {
				return usageError("verify: write report: %v", err)
			}
			if rep.StrictFailure() && len(rep.Errors()) == 0 {
				return failError("verify: --strict: rules not checked: %s", strings.Join(rep.UncheckedRules(), ", "))
			}
			if !rep.OK() {
				return failError("verify: %s of rules %s", plural(len(rep.Errors()), "violation", ""), strings.Join(rep.Rules(), ", "))
			}
			return nil
		},
	}
	f.src.flags(cmd.Flags())
	cmd.Flags().Int64Var(&f.expect, "expect-records", 0, "number of records produced: the lake must hold exactly this many distinct (partition, offset)")
	cmd.Flags().BoolVar(&f.production, "production", false, "production checks too (L15 small files, L26 empty projected partitions; warnings only)")
	cmd.Flags().BoolVar(&f.allowGaps, "allow-gaps", false, "do not fail on offset gaps (transactional or compacted topics); overlaps still fail")
	cmd.Flags().BoolVar(&f.json, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&f.infer, "infer", false, "only print the tables a default Glue crawler would create under --dir/--prefix (every folder a candidate table), for a lake nobody has described: a summary per folder, then the tables")
	cmd.Flags().BoolVar(&f.crawler, "crawler", false, "judge the table as a Glue crawler maintains it even when its definition names no crawler: predict the crawler's tables and apply C01, L05 and L07's kind flips")
	cmd.Flags().BoolVar(&f.verbose, "verbose", false, "with --infer: list every predicted table with its columns (default: only when there are at most 10)")
	cmd.Flags().StringVar(&f.table, "table", "", "table definition: aws glue get-table JSON, Glue TableInput JSON, or CREATE EXTERNAL TABLE .sql (default: the built-in stock_ticks)")
	cmd.Flags().StringVar(&f.brokers, "brokers", "", "Kafka bootstrap servers, comma-separated: compare the lake with the topic's offsets and the group's commits (K01–K03) and read the dead-letter topic so its offsets are not gaps")
	cmd.Flags().StringVar(&f.topic, "topic", tick.DefaultTopic, "source topic the lake was written from (with --brokers)")
	cmd.Flags().StringVar(&f.group, "group", defaultSinkGroup, "consumer group whose committed offsets the lake must reach (with --brokers; tickflow sink's --group)")
	cmd.Flags().BoolVar(&f.expectDrained, "expect-drained", false, "with --brokers: the lake must reach the topic's end offsets, not only the group's commits (the sink was stopped after it caught up)")
	cmd.Flags().BoolVar(&f.strict, "strict", false, "fail (exit 1) when a rule could not be checked (no --expect-records, no offset columns, no --brokers...; listed under NOT CHECKED)")
	cmd.Flags().StringVar(&f.dlqTopic, "dlq-topic", "", "dead-letter topic (default TOPIC.dlq)")
	cmd.Flags().DurationVar(&f.dlqTimeout, "dlq-timeout", 30*time.Second, "bound on reading Kafka: the dead-letter topic, the topic's offsets and the group's commits")
	f.kafka.flags(cmd.Flags())
	cmd.Flags().StringVar(&f.skipped, "skipped-offsets", "", "offsets known to be dead letters, PARTITION:OFFSET[-LAST],... (no Kafka access needed)")
	return cmd
}
