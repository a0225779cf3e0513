package lake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaOffsets is what Kafka says about the topic a lake was written from:
// per partition the log start and end offsets and the offset a consumer
// group committed. Pass it to Check with WithKafka to check that the lake
// holds every record Kafka still has up to the group's commit (K02, K03)
// and that nothing expired before the group read it (K01).
type KafkaOffsets struct {
	Brokers    string             `json:"brokers"` // comma-separated, as given
	Topic      string             `json:"topic"`
	Group      string             `json:"group"` // whose commits were read
	Partitions []KafkaPartOffsets `json:"partitions"`
}

// KafkaPartOffsets is one partition of KafkaOffsets. Offsets are Kafka's:
// LogStart is the first offset still stored, End the next offset to be
// written, Committed the next offset the group will read (-1: the group
// committed nothing for this partition).
type KafkaPartOffsets struct {
	Partition int32 `json:"partition"`
	LogStart  int64 `json:"log_start"`
	End       int64 `json:"end"`
	Committed int64 `json:"committed"`
}

// HasCommits reports whether the group committed an offset for at least one
// partition.
func (k *KafkaOffsets) HasCommits() bool {
	for _, p := range k.Partitions {
		if p.Committed >= 0 {
			return true
		}
	}
	return false
}

// ReadKafkaOffsets reads topic's log start and end offsets (ListOffsets)
// and group's committed offsets for it (OffsetFetch). A topic that does not
// exist is an error naming it; a group that does not exist, or committed
// nothing, yields Committed = -1 for every partition. Bound the call with
// ctx. opts are extra kgo options (TLS, SASL, timeouts).
func ReadKafkaOffsets(ctx context.Context, brokers []string, topic, group string, opts ...kgo.Opt) (*KafkaOffsets, error) {
	where := fmt.Sprintf("topic %s on brokers %s", topic, strings.Join(brokers, ","))
	fail := func(what string, err error) error {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return fmt.Errorf("lake: %s: %s: %w (are the brokers reachable?)", where, what, err)
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("lake: read offsets of topic %s: no brokers given", topic)
	}
	if group == "" {
		return nil, fmt.Errorf("lake: read offsets of %s: no consumer group given (the sink's default is tickflow-sink)", where)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("lake: %s: %w", where, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	// Commits first: a live sink commits only what it uploaded, and its
	// commit never passes the end offsets read after it.
	commits, err := adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, fail("fetch the committed offsets of group "+group, err)
	}
	if err == nil {
		if err := commits.Error(); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, fail("fetch the committed offsets of group "+group, err)
		}
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil, fmt.Errorf("lake: %s: the topic does not exist: %w (fix: --topic names the topic the lake was written from)", where, err)
	}
	if err != nil {
		return nil, fail("list end offsets", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fail("list start offsets", err)
	}

	k := &KafkaOffsets{Brokers: strings.Join(brokers, ","), Topic: topic, Group: group}
	ends.Each(func(e kadm.ListedOffset) {
		p := KafkaPartOffsets{Partition: e.Partition, LogStart: 0, End: e.Offset, Committed: -1}
		if s, ok := starts.Lookup(topic, e.Partition); ok {
			p.LogStart = s.Offset
		}
		if c, ok := commits.Lookup(topic, e.Partition); ok && c.Err == nil && c.At >= 0 {
			p.Committed = c.At
		}
		k.Partitions = append(k.Partitions, p)
	})
	sort.Slice(k.Partitions, func(i, j int) bool { return k.Partitions[i].Partition < k.Partitions[j].Partition })
	if len(k.Partitions) == 0 {
		return nil, fmt.Errorf("lake: %s: Kafka listed no partitions for it (fix: --topic names the topic the lake was written from)", where)
	}
	return k, nil
}

// readEndOffsets re-reads topic's end offsets (see KafkaSource).
func readEndOffsets(ctx context.Context, brokers []string, topic string, opts ...kgo.Opt) (map[int32]int64, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("lake: topic %s on brokers %s: %w", topic, strings.Join(brokers, ","), err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("lake: topic %s on brokers %s: list end offsets after reading the lake: %w", topic, strings.Join(brokers, ","), err)
	}
	out := map[int32]int64{}
	ends.Each(func(e kadm.ListedOffset) { out[e.Partition] = e.Offset })
	return out, nil
}

// KafkaError is Check's error when it could not read Kafka (WithKafkaSource),
// so callers can tell it from a failure to read the lake.
type KafkaError struct{ Err error }

func (e *KafkaError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *KafkaError) Unwrap() error { return e.Err }

// KafkaSource is where WithKafkaSource reads Kafka's offsets.
type KafkaSource struct {
	Brokers []string
	Topic   string
	Group   string        // whose commits the lake must reach
	Timeout time.Duration // bound on each read (default 30s)
	Options []kgo.Opt     // extra kgo options: TLS, SASL
}

func (s *KafkaSource) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 30 * time.Second
}

// WithKafkaSource is WithKafka with the offsets read by Check itself, in
// the order that makes the comparison sound while the sink runs: the
// group's commits, the log start and end offsets before the lake is listed
// (the sink commits only what it uploaded, so everything committed is
// listed), and the end offsets again after the lake is read (so an object
// uploaded meanwhile is not taken for offsets Kafka never wrote). A read
// that fails is Check's error, a *KafkaError.
func WithKafkaSource(src KafkaSource) Option { return func(c *config) { c.kafkaSource = &src } }

// WithKafka compares the lake with Kafka's offsets (see ReadKafkaOffsets):
// per partition the lake, together with the dead letters and the offsets the
// sink's metadata declares expired, must hold every offset from the log
// start to the group's committed offset (to the end offset with
// ExpectDrained), with no hole at the start or the end (holes between
// objects are L12). Offsets the group committed that the lake lacks are K03,
// offsets Kafka holds that the lake lacks and the group has not committed
// are K02, committed offsets below the log start are K01.
func WithKafka(k *KafkaOffsets) Option { return func(c *config) { c.kafka = k } }

// ExpectDrained makes WithKafka's check reach the topic's end offsets
// instead of the group's commits: every record produced must be in the lake
// (for a sink that was stopped after it caught up). Default off.
func ExpectDrained() Option { return func(c *config) { c.expectDrained = true } }

// KafkaCoverage is the lake against Kafka, per partition (Report.Kafka).
type KafkaCoverage struct {
	Brokers string `json:"brokers"`
	Topic   string `json:"topic"`
	Group   string `json:"group"` // whose committed offsets were used
	// Target says what the lake must reach: "committed" (the group's
	// offsets) or "end" (ExpectDrained).
	Target     string              `json:"target"`
	Partitions []KafkaPartCoverage `json:"partitions"`
}

// KafkaPartCoverage is one partition of KafkaCoverage. LakeFirst and
// LakeLast are the lowest and highest offsets the lake holds (-1: none).
type KafkaPartCoverage struct {
	KafkaPartOffsets
	LakeFirst int64          `json:"lake_first"`
	LakeLast  int64          `json:"lake_last"`
	Missing   []MissingRange `json:"missing,omitempty"`
}

// MissingRange is a range of offsets the lake lacks, with the rule that
// reports it (K01, K02 or K03).
type MissingRange struct {
	Rule string `json:"rule"`
	OffsetRange
}

// lakePart is what the lake holds of one Kafka partition: its distinct
// offsets and the offsets accounted for without a row (dead letters, offsets
// the sink's metadata declares expired), both sorted.
type lakePart struct {
	offsets   []int64
	accounted []int64
}

// uncovered returns the ranges of [a, b] that are in neither sorted list.
func uncovered(a, b int64, lists ...[]int64) []OffsetRange {
	if a > b {
		return nil
	}
	var in []int64
	for _, l := range lists {
		i := sort.Search(len(l), func(i int) bool { return l[i] >= a })
		for ; i < len(l) && l[i] <= b; i++ {
			in = append(in, l[i])
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i] < in[j] })
	var out []OffsetRange
	next := a
	for _, o := range in {
		if o > next {
			out = append(out, OffsetRange{next, o - 1})
		}
		if o >= next {
			next = o + 1
		}
	}
	if next <= b {
		out = append(out, OffsetRange{next, b})
	}
	return out
}

// splitAt cuts r at offset c: the part below c and the part from c on.
func splitAt(r OffsetRange, c int64) (below, from *OffsetRange) {
	switch {
	case c <= r.First:
		return nil, &r
	case c > r.Last:
		return &r, nil
	}
	return &OffsetRange{r.First, c - 1}, &OffsetRange{c, r.Last}
}

// checkKafka compares the lake's offsets (parts, nil when the table has no
// offsets) with Kafka's.
func checkKafka(rep *Report, parts map[int32]*lakePart, cfg *config) {
	k := cfg.kafka
	kc := &KafkaCoverage{Brokers: k.Brokers, Topic: k.Topic, Group: k.Group, Target: "committed"}
	if cfg.expectDrained {
		kc.Target = "end"
	}
	rep.Kafka = kc
	if parts == nil {
		return // nothing to compare: Check lists K01–K03 as not checked
	}
	inKafka := map[int32]bool{}
	for _, kp := range k.Partitions {
		inKafka[kp.Partition] = true
		pc := KafkaPartCoverage{KafkaPartOffsets: kp, LakeFirst: -1, LakeLast: -1}
		lp := parts[kp.Partition]
		if lp == nil {
			lp = &lakePart{}
		}
		if n := len(lp.offsets); n > 0 {
			pc.LakeFirst, pc.LakeLast = lp.offsets[0], lp.offsets[n-1]
		}
		pc.Missing = kafkaHoles(rep, kp, lp, cfg, k.Group)
		kc.Partitions = append(kc.Partitions, pc)
	}
	var extra []int32
	for p, lp := range parts {
		if !inKafka[p] && len(lp.offsets) > 0 {
			extra = append(extra, p)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	for _, p := range extra {
		lp := parts[p]
		rep.add(violation("K02", rep.Location, "",
			"Kafka partition %d: the lake holds offsets %s but topic %s has only %d partitions: wrong --topic or --brokers, or the topic was deleted and re-created",
			p, OffsetRange{lp.offsets[0], lp.offsets[len(lp.offsets)-1]}, k.Topic, len(k.Partitions)))
	}
}

// kafkaHoles reports one partition's K01, K02 and K03 violations and
// returns the ranges it reported.
func kafkaHoles(rep *Report, kp KafkaPartOffsets, lp *lakePart, cfg *config, group string) []MissingRange {
	p, s, e, c := kp.Partition, kp.LogStart, kp.End, kp.Committed
	var missing []MissingRange
	n, overflow := 0, ""
	report := func(rule string, r OffsetRange, format string, args ...any) {
		missing = append(missing, MissingRange{rule, r})
		n++
		if n > maxGapViolations {
			if overflow == "" {
				overflow = rule
			}
			return
		}
		fix := ""
		if rule != "K01" && r.Last >= s {
			fix = fmt.Sprintf("offsets %s of partition %d are still in Kafka: deliver them again (e.g. reset group %s's offset of partition %d to %d and run the sink), and find out why they are missing (deleted objects, an S3 lifecycle rule, a second writer)",
				OffsetRange{max(r.First, s), r.Last}, p, group, p, max(r.First, s))
		}
		v := violation(rule, rep.Location, fix, format, args...)
		if rule == "K01" {
			// Found from Kafka's offsets, not declared by the sink's
			// metadata: an unaccounted loss, so an error.
			v.Severity = Error
		}
		rep.add(v)
	}
	first, last := int64(-1), int64(-1)
	if len(lp.offsets) > 0 {
		first, last = lp.offsets[0], lp.offsets[len(lp.offsets)-1]
	}

	// The lake holds offsets Kafka never wrote (measured against the end
	// offsets read after the lake when Check read Kafka itself).
	if later, ok := cfg.laterEnds[p]; ok {
		e = max(e, later)
	}
	if last >= e {
		lo := lp.offsets[sort.Search(len(lp.offsets), func(i int) bool { return lp.offsets[i] >= e })]
		report("K02", OffsetRange{lo, last},
			"Kafka partition %d: the lake holds offsets %s at or beyond the end offset %d: Kafka never wrote them (wrong --topic or --brokers, or the topic was deleted and re-created)",
			p, OffsetRange{lo, last}, e)
	}
	e = kp.End
	// Committed below the log start: retention removed records before the
	// group read them, and no object's metadata accounts for them.
	if c >= 0 && c < s {
		for _, r := range uncovered(c, s-1, lp.offsets, lp.accounted) {
			report("K01", r,
				"Kafka partition %d: offsets %s expired (log start %d) before group %s read them (it committed %d); no object's tickflow-expired metadata accounts for them: they are lost",
				p, r, s, group, c)
		}
	}
	if cfg.allowGaps {
		return missing // offsets are not dense: holes are not checked (Check says so)
	}
	// What the lake must cover: [log start, committed) or [log start, end),
	// and always up to its own last offset (no hole before an object: the
	// start hole is looked for up to the first offset whatever the target).
	target := max(c, s)
	if cfg.expectDrained {
		target = e
	}
	if len(lp.offsets) == 0 {
		target = e // records in Kafka and none in the lake: always an error
	}
	// Holes between the lake's first and last offset are L12's: look only
	// before the first and after the last (no lake offset is there, so
	// uncovered never copies the partition's offsets).
	var holes []OffsetRange
	if first < 0 {
		holes = uncovered(s, target-1, lp.accounted)
	} else {
		holes = append(uncovered(s, min(first, e)-1, lp.accounted), uncovered(max(s, last+1), target-1, lp.accounted)...)
	}
	for _, r := range holes {
		where := "after the lake's last offset " + fmt.Sprint(last)
		switch {
		case first < 0:
			where = "and the lake holds none of this partition"
		case r.Last < first:
			where = "before the lake's first offset " + fmt.Sprint(first)
		}
		below, from := splitAt(r, c)
		if below != nil {
			report("K03", *below,
				"Kafka partition %d: group %s committed offset %d but the lake lacks offsets %s (%s): committed but not in the lake: %s",
				p, group, c, *below, where, recoverable(*below, s))
		}
		if from != nil {
			report("K02", *from,
				"Kafka partition %d: offsets %s are in Kafka (log start %d, end %d) but not in the lake (%s)%s",
				p, *from, s, e, where, notCommitted(c, group))
		}
	}
	if n > maxGapViolations {
		v := violation(overflow, rep.Location, "", "Kafka partition %d has %d more missing ranges (see the report's kafka section)", p, n-maxGapViolations)
		v.Severity = Error
		rep.add(v)
	}
	return missing
}

func recoverable(r OffsetRange, logStart int64) string {
	if r.First >= logStart {
		return "the records are still in Kafka"
	}
	if r.Last < logStart {
		return "Kafka no longer has them (below the log start)"
	}
	return fmt.Sprintf("Kafka still has %s", OffsetRange{logStart, r.Last})
}

func notCommitted(c int64, group string) string {
	if c < 0 {
		return fmt.Sprintf("; group %s committed nothing for it", group)
	}
	return fmt.Sprintf("; group %s has not committed them (committed %d)", group, c)
}
