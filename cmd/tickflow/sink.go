package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/program"
	"github.com/tickflow/tickflow/harness/sink"
)

func init() { register(newSinkCmd) }

// sinkProgressEvery is how often the sink prints a progress line when
// stderr is not a terminal (a variable for tests).
var sinkProgressEvery = 5 * time.Second

// defaultSinkGroup is tickflow sink's consumer group unless --group says
// otherwise, and the group whose commits verify --brokers reads.
const defaultSinkGroup = "tickflow-sink"

func newSinkCmd() *cobra.Command {
	var (
		brokers, endpoint, bucket, prefix, group, topic, format, accessKey, secretKey, region string
		metricsAddr                                                                           string
		gz, asJSON, verbose, unsafePut, unsafeNoCond                                          bool
		kafka                                                                                 kafkaSecurity
		flushRecords, flushBytes                                                              int
		flushInterval, untilIdle, sessionTimeout, heartbeat, s3Timeout, rebalance             time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sink --brokers ADDRS --bucket B [--s3-endpoint URL] [--prefix P] [--group G] [--topic T] [--format parquet|json] [--gzip] [--flush-records N --flush-bytes B --flush-interval D] [--until-idle D] [--session-timeout D --heartbeat-interval D]",
		Short: "Consume ticks exactly once into an S3 lake (Parquet or JSON Lines)",
		Long: `sink joins a consumer group and writes <prefix>/stock_ticks/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<offset>
objects, committing offsets only after the objects are in S3. It runs until SIGINT/SIGTERM (then flushes
and commits cleanly) or, with --until-idle, until no record arrived for that long. Without --s3-endpoint
it talks to real AWS S3 with the default credential chain unless --access-key/--secret-key are given;
with an --s3-endpoint on this machine and no credentials anywhere it uses tickflow serve's (and says so).
It checks the bucket before joining the group (exit 2 naming it if missing) and gives up on an S3
endpoint that does not connect or answer within --s3-timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if brokers == "" || bucket == "" {
				return usageError("--brokers and --bucket are required")
			}
			if format != "parquet" && format != "json" {
				return usageError("--format %q: want parquet or json", format)
			}
			if gz && format != "json" {
				return usageError("--gzip only applies to --format json")
			}
			if flushRecords <= 0 || flushBytes <= 0 || flushInterval <= 0 || untilIdle < 0 {
				return usageError("--flush-records, --flush-bytes and --flush-interval must be positive")
			}
			if rebalance < 0 {
				return usageError("--rebalance-timeout %s: want a duration >= 0", rebalance)
			}
			if sessionTimeout < 0 || heartbeat < 0 || (sessionTimeout > 0 && heartbeat > 0 && heartbeat >= sessionTimeout) {
				return usageError("--session-timeout %s / --heartbeat-interval %s: want positive durations, the heartbeat shorter than the session timeout", sessionTimeout, heartbeat)
			}
			if s3Timeout <= 0 {
				return usageError("--s3-timeout %s: want a duration > 0", s3Timeout)
			}
			ctx := cmd.Context()
			kopts, err := kafka.clientOptions(ctx, cmd.ErrOrStderr(), strings.Split(brokers, ","))
			if err != nil {
				return err
			}
			var metrics *sinkMetrics
			if metricsAddr != "" {
				if metrics, err = startSinkMetrics(metricsAddr, kopts, strings.Split(brokers, ","), group, topic); err != nil {
					return err
				}
				defer metrics.stop()
				fmt.Fprintf(cmd.ErrOrStderr(), "tickflow sink: Prometheus metrics at %s\n", metrics.url)
			}
			ak, sk := localCredentials(cmd.ErrOrStderr(), endpoint, accessKey, secretKey)
			st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: endpoint, Bucket: bucket, Region: region,
				AccessKey: ak, SecretKey: sk, MaxAttempts: 1, Timeout: s3Timeout}) // the sink retries itself
			if err != nil {
				return usageError("%v", err)
			}
			// A missing bucket would otherwise only show as the sink's
			// retries: say so now, before joining the group.
			if err := checkBucket(ctx, st, s3Target{endpoint: endpoint, bucket: bucket, timeout: s3Timeout}); err != nil {
				if ctx.Err() != nil {
					return nil // SIGINT/SIGTERM before the sink started: nothing consumed
				}
				return err
			}
			var lakeStore objstore.Store = st
			if metrics != nil {
				lakeStore = metrics.store(st) // times every upload
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			opts := []sink.Option{sink.Logger(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))),
				sink.KafkaOptions(kopts...), sink.Topic(topic), sink.Group(group), sink.Prefix(prefix),
				sink.WithFormat(sink.Format(format)), sink.FlushRecords(flushRecords), sink.FlushBytes(flushBytes),
				sink.FlushInterval(flushInterval), sink.UntilIdle(untilIdle)}
			if gz {
				opts = append(opts, sink.Gzip())
			}
			if sessionTimeout > 0 {
				opts = append(opts, sink.SessionTimeout(sessionTimeout))
			}
			if heartbeat > 0 {
				opts = append(opts, sink.HeartbeatInterval(heartbeat))
			}
			if rebalance > 0 {
				opts = append(opts, sink.RebalanceTimeout(rebalance))
			}
			if unsafePut {
				opts = append(opts, sink.UnsafeUnconditionalPut())
			}
			if unsafeNoCond || unsafePut {
				opts = append(opts, sink.UnsafeNoConditionalWrites()) // logs a warning at every start
			} else {
				opts = append(opts, sink.ProveConditionalWrites())
			}
			s, err := sink.New(ctx, strings.Split(brokers, ","), lakeStore, opts...)
			if err != nil && ctx.Err() != nil {
				return nil // SIGINT/SIGTERM before the sink started: nothing consumed
			}
			if errors.Is(err, sink.ErrNoConditionalWrites) {
				where := endpoint
				if where == "" {
					where = "(AWS S3)"
				}
				return usageError("--s3-endpoint %s: %s; exactly-once needs a store that refuses it (AWS S3, tickflow serve), or accept lost and duplicated ranges with --unsafe-no-conditional-writes",
					where, cliText(err))
			}
			if err != nil {
				return usageError("%s", cliText(err))
			}
			if metrics != nil {
				metrics.attach(s)
			}
			stderr := cmd.ErrOrStderr()
			gl := &groupLagCache{s: s, ctx: ctx}
			prog := startProgress(stderr, sinkProgressEvery, func() string {
				st := s.Stats()
				return fmt.Sprintf("tickflow sink: %s consumed, %s written in %s, %s",
					plural(st.Consumed, "record", ""), plural(st.Written, "row", ""), plural(st.Objects, "object", ""),
					gl.text(st.Partitions))
			})
			runErr := s.Run(ctx)
			prog.stop()
			stats := s.Stats()
			if asJSON {
				_ = json.NewEncoder(cmd.OutOrStdout()).Encode(newSinkJSON(stats))
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "consumed %s, wrote %s in %s (%s) to %s/%s, %s to %s.dlq; committed offsets %s\n",
					plural(stats.Consumed, "record", ""), plural(stats.Written, "row", ""), plural(stats.Objects, "object", ""),
					plural(stats.Bytes, "byte", ""), st, strings.Trim(prefix, "/"), plural(stats.DLQ, "record", ""), topic,
					partitionOffsets(stats.Committed))
				if stats.UnknownFields > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "ignored %s of record values that are not lake columns\n", plural(stats.UnknownFields, "key", ""))
				}
			}
			if runErr != nil {
				return usageError("%s", cliText(runErr))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&brokers, "brokers", "", "Kafka bootstrap servers, comma-separated")
	fl.StringVar(&endpoint, "s3-endpoint", "", "S3 endpoint URL (e.g. http://127.0.0.1:9000); empty for real AWS")
	fl.StringVar(&bucket, "bucket", "", "S3 bucket")
	fl.StringVar(&region, "region", "us-east-1", "S3 region")
	fl.StringVar(&prefix, "prefix", "", "folder in the bucket that holds stock_ticks/")
	fl.StringVar(&group, "group", defaultSinkGroup, "consumer group")
	fl.StringVar(&topic, "topic", "stock-ticks", "topic to consume (poison records go to TOPIC.dlq)")
	fl.StringVar(&format, "format", "parquet", "lake file format: parquet or json")
	fl.BoolVar(&gz, "gzip", false, "gzip JSON Lines objects (.json.gz)")
	fl.IntVar(&flushRecords, "flush-records", 100_000, "close a partition's object after N records")
	fl.IntVar(&flushBytes, "flush-bytes", 64<<20, "close a partition's object after B bytes of record values")
	fl.DurationVar(&flushInterval, "flush-interval", 10*time.Second, "close a partition's object D after its first record")
	fl.DurationVar(&untilIdle, "until-idle", 0, "exit once caught up and no record came for D (0: run until SIGINT/SIGTERM); exit 2 if the group gives this member no partition for D (see docs/cli-conventions.md)")
	fl.DurationVar(&sessionTimeout, "session-timeout", 10*time.Second, "group session timeout: a crashed member's partitions move after this long (0: kgo's 45s; brokers allow 6s..30m by default)")
	fl.DurationVar(&heartbeat, "heartbeat-interval", 0, "group heartbeat interval (0: kgo's 3s)")
	fl.DurationVar(&rebalance, "rebalance-timeout", 0, "how long the group waits for members to rejoin a rebalance, and for a member killed mid-rebalance (0: 15s); a revoked member waits 2/3 of it for its uploads, then hands the partitions over (the conditional write fences late uploads)")
	fl.StringVar(&accessKey, "access-key", "", "S3 access key (default: AWS default credential chain; for a local --s3-endpoint with none set, tickflow serve's)")
	fl.StringVar(&secretKey, "secret-key", "", "S3 secret key")
	fl.DurationVar(&s3Timeout, "s3-timeout", objstore.DefaultTimeout, "give up on an S3 request that does not connect or answer within this long")
	fl.BoolVar(&asJSON, "json", false, "print the final stats as JSON")
	fl.BoolVar(&verbose, "verbose", false, "log assignments, adopted objects and retries (warnings are always logged)")
	fl.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics (records, objects, bytes, upload latency, retries, dead letters, fence refusals, lag per partition) on http://ADDR/metrics, e.g. 127.0.0.1:9464 (default: off)")
	kafka.flags(fl)
	// For the scenario suite's proof that its two-owner invariants can fail.
	fl.BoolVar(&unsafePut, "unsafe-unconditional-put", false, "TESTS ONLY: write objects without If-None-Match (breaks exactly-once)")
	_ = fl.MarkHidden("unsafe-unconditional-put")
	fl.BoolVar(&unsafeNoCond, "unsafe-no-conditional-writes", false, "UNSAFE: run against a store that ignores If-None-Match (the sink refuses it otherwise); a late PUT can then overwrite or duplicate a range: exactly-once is lost. Logs a warning at every start")
	return cmd
}

// sinkJSON is `sink --json`'s document: sink.Stats with snake_case keys.
type sinkJSON struct {
	Consumed       int64            `json:"consumed"`
	Written        int64            `json:"written"`
	Objects        int64            `json:"objects"`
	Bytes          int64            `json:"bytes"`
	DLQ            int64            `json:"dlq"`
	OrphansDeleted int64            `json:"orphans_deleted"`
	Retries        int64            `json:"retries"`
	Adopted        int64            `json:"adopted"`        // objects another writer had put at this sink's next key
	Refused        int64            `json:"refused"`        // commits/uploads not made: partition no longer owned
	Expired        int64            `json:"expired"`        // offsets retention removed before the sink read them
	Truncated      int64            `json:"truncated"`      // partition logs truncated below what the sink had read (it stops)
	UnknownFields  int64            `json:"unknown_fields"` // record keys that are not lake columns (ignored)
	Committed      map[string]int64 `json:"committed"`      // partition → committed offset (exclusive end)
	// PeakRSS is this process's peak resident memory (VmHWM of
	// /proc/self/status, Linux; absent elsewhere): what tickflow bench
	// reports for the sink as its own process. The kernel's ru_maxrss of a
	// child is no substitute: Go starts children with vfork, so it
	// includes the parent's resident memory at the start.
	PeakRSS uint64 `json:"peak_rss_bytes,omitempty"`
}

func newSinkJSON(s sink.Stats) sinkJSON {
	out := sinkJSON{Consumed: s.Consumed, Written: s.Written, Objects: s.Objects, Bytes: s.Bytes, DLQ: s.DLQ,
		OrphansDeleted: s.OrphansDeleted, Retries: s.Retries, Adopted: s.Adopted, Refused: s.Refused, Expired: s.Expired,
		Truncated: s.Truncated, UnknownFields: s.UnknownFields,
		Committed: map[string]int64{}, PeakRSS: program.StatusField(0, "VmHWM")}
	for p, o := range s.Committed {
		out.Committed[strconv.Itoa(int(p))] = o
	}
	return out
}

// groupLagCache asks Kafka for the group's lag at most every
// groupLagEvery (the progress line is redrawn every 250ms on a terminal).
type groupLagCache struct {
	s    *sink.Sink
	ctx  context.Context
	at   time.Time
	last string
}

// groupLagEvery is how often the progress line asks Kafka for the group's lag.
var groupLagEvery = 2 * time.Second

// text says how many partitions this member owns, which ones it does not,
// and the group's lag over the whole topic: the lag of what this member
// owns alone would say 0 while records wait in partitions nobody holds.
func (g *groupLagCache) text(owned int) string {
	if g.last != "" && time.Since(g.at) < groupLagEvery {
		return g.last
	}
	ctx, cancel := context.WithTimeout(g.ctx, 2*time.Second)
	defer cancel()
	l, err := g.s.GroupLag(ctx)
	g.at = time.Now()
	if err != nil {
		g.last = fmt.Sprintf("%s owned, group lag unknown (%s)", plural(int64(owned), "partition", ""), cliText(err))
		return g.last
	}
	t := fmt.Sprintf("%d of %s owned", owned, plural(int64(l.Partitions), "partition", ""))
	if len(l.NotOwned) > 0 && len(l.NotOwned) < l.Partitions {
		ps := make([]string, len(l.NotOwned))
		for i, p := range l.NotOwned {
			ps[i] = strconv.Itoa(int(p))
		}
		t += " (not " + strings.Join(ps, " ") + ")"
	}
	g.last = t + ", group lag " + thousands(l.Lag)
	return g.last
}
