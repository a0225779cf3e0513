package lake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The dead-letter headers the sink (harness/sink Header*) puts on every
// record it sends to the dead-letter topic. They are repeated here so that
// lake does not import the sink; a test checks they match.
const (
	dlqHeaderTopic     = "tickflow-source-topic"
	dlqHeaderPartition = "tickflow-source-partition"
	dlqHeaderOffset    = "tickflow-source-offset"
)

// maxMalformedExamples bounds DeadLetters.MalformedExamples.
const maxMalformedExamples = 5

// DeadLetters is what ReadDeadLetters found on a dead-letter topic: the
// source offsets it accounts for, to be passed to Check with Option.
type DeadLetters struct {
	Topic       string            `json:"topic"`        // the dead-letter topic read
	SourceTopic string            `json:"source_topic"` // only its records count
	Missing     bool              `json:"missing"`      // the topic does not exist: nothing was dead-lettered
	Records     int64             `json:"records"`      // every record read
	Offsets     map[int32][]int64 `json:"offsets"`      // source partition → sorted distinct source offsets
	OtherTopics int64             `json:"other_topics"` // records of other source topics (ignored)
	Malformed   int64             `json:"malformed"`    // records without usable source headers (ignored)
	// MalformedExamples names the first few malformed records and why.
	MalformedExamples []string `json:"malformed_examples,omitempty"`
}

// Count returns the number of distinct source offsets accounted for.
func (d *DeadLetters) Count() int64 {
	var n int64
	for _, offs := range d.Offsets {
		n += int64(len(offs))
	}
	return n
}

// Option returns the Check option that declares every offset in d as
// dead-lettered (SkippedOffsets), so those offsets are not L12 gaps, and
// counts them as delivered for R01 (ExpectRecords is then the number of
// records produced: the lake's plus the dead letters).
func (d *DeadLetters) Option() Option {
	return func(c *config) {
		SkippedOffsetMap(d.Offsets)(c)
		if c.deadLetters == nil {
			c.deadLetters = map[int32][]int64{}
		}
		for p, offs := range d.Offsets {
			c.deadLetters[p] = append(c.deadLetters[p], offs...)
		}
	}
}

// SkippedOffsetMap is SkippedOffsets for several partitions at once
// (partition → offsets), e.g. the result of ParseSkippedOffsets.
func SkippedOffsetMap(m map[int32][]int64) Option {
	return func(c *config) {
		for p, offs := range m {
			SkippedOffsets(p, offs...)(c)
		}
	}
}

// maxSkippedRange bounds one "a-b" range of ParseSkippedOffsets, so a typo
// such as 0:5-5000000000 is an error, not gigabytes of offsets.
const maxSkippedRange = 1 << 20

// ParseSkippedOffsets reads a list "P:O[-O2],..." of Kafka partitions and
// offsets (or inclusive offset ranges), e.g. "0:17,0:40-42,3:9", into
// partition → sorted distinct offsets. The error names the bad item.
func ParseSkippedOffsets(s string) (map[int32][]int64, error) {
	sets := map[int32]map[int64]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("skipped offsets: %q: %s (want PARTITION:OFFSET or PARTITION:FIRST-LAST, e.g. 0:17 or 0:40-42)", item, why)
		}
		ps, offs, ok := strings.Cut(item, ":")
		if !ok {
			return nil, bad("no ':' between partition and offset")
		}
		p, err := strconv.ParseInt(strings.TrimSpace(ps), 10, 32)
		if err != nil || p < 0 {
			return nil, bad("partition is not a number ≥ 0")
		}
		a, b, isRange := strings.Cut(offs, "-")
		lo, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
		if err != nil || lo < 0 {
			return nil, bad("offset is not a number ≥ 0")
		}
		hi := lo
		if isRange {
			if hi, err = strconv.ParseInt(strings.TrimSpace(b), 10, 64); err != nil || hi < lo {
				return nil, bad("range end is not a number ≥ its start")
			}
			if hi-lo >= maxSkippedRange {
				return nil, bad(fmt.Sprintf("range longer than %d offsets", maxSkippedRange))
			}
		}
		if sets[int32(p)] == nil {
			sets[int32(p)] = map[int64]bool{}
		}
		for o := lo; o <= hi; o++ {
			sets[int32(p)][o] = true
		}
	}
	return sortedOffsets(sets), nil
}

func sortedOffsets(sets map[int32]map[int64]bool) map[int32][]int64 {
	out := make(map[int32][]int64, len(sets))
	for p, set := range sets {
		offs := make([]int64, 0, len(set))
		for o := range set {
			offs = append(offs, o)
		}
		sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
		out[p] = offs
	}
	return out
}

// ReadDeadLetters reads the dead-letter topic dlqTopic from its start
// offsets to the end offsets it has when the call begins, and collects the
// (partition, offset) of every record of sourceTopic it holds, from the
// sink's tickflow-source-* headers. Records of other source topics are
// counted and ignored, records without usable headers are counted as
// Malformed. A topic that does not exist yields an empty result with
// Missing set. Bound the call with ctx: unreachable brokers make it return
// ctx's error, wrapped with the broker addresses. opts are extra kgo options
// (TLS, SASL, timeouts).
//
// The sink writes dead letters without transactions; on a topic written
// transactionally the trailing commit markers are never delivered, and the
// call waits for them until ctx ends.
func ReadDeadLetters(ctx context.Context, brokers []string, dlqTopic, sourceTopic string, opts ...kgo.Opt) (*DeadLetters, error) {
	where := fmt.Sprintf("dead-letter topic %s on brokers %s", dlqTopic, strings.Join(brokers, ","))
	fail := func(what string, err error) error {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return fmt.Errorf("lake: %s: %s: %w (are the brokers reachable?)", where, what, err)
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("lake: read dead-letter topic %s: no brokers given", dlqTopic)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("lake: %s: %w", where, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, dlqTopic)
	if err != nil {
		return nil, fail("list end offsets", err)
	}
	d := &DeadLetters{Topic: dlqTopic, SourceTopic: sourceTopic, Offsets: map[int32][]int64{}}
	if err := ends.Error(); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			d.Missing = true
			return d, nil
		}
		return nil, fail("list end offsets", err)
	}
	starts, err := adm.ListStartOffsets(ctx, dlqTopic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fail("list start offsets", err)
	}
	// want: partition → the last offset to read (end-1).
	want := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	ends.Each(func(e kadm.ListedOffset) {
		s, ok := starts.Lookup(dlqTopic, e.Partition)
		if ok && e.Offset > s.Offset {
			want[e.Partition] = e.Offset - 1
			from[e.Partition] = kgo.NewOffset().At(s.Offset)
		}
	})
	if len(want) == 0 {
		return d, nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{dlqTopic: from})

	sets := map[int32]map[int64]bool{}
	malformed := func(r *kgo.Record, format string, args ...any) {
		d.Malformed++
		if len(d.MalformedExamples) < maxMalformedExamples {
			d.MalformedExamples = append(d.MalformedExamples,
				fmt.Sprintf("%s[%d]@%d: %s", r.Topic, r.Partition, r.Offset, fmt.Sprintf(format, args...)))
		}
	}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			var left []string
			for p, last := range want {
				left = append(left, fmt.Sprintf("%d (up to offset %d)", p, last))
			}
			sort.Strings(left)
			return nil, fail("read to the end (partitions "+strings.Join(left, ", ")+" not finished)", err)
		}
		for _, fe := range fs.Errors() {
			// Retriable errors are retried by kgo and not returned here;
			// anything returned means this partition cannot be read.
			return nil, fail(fmt.Sprintf("fetch partition %d", fe.Partition), fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			last, ok := want[r.Partition]
			if !ok || r.Offset > last {
				return // produced after the call began
			}
			if r.Offset == last {
				delete(want, r.Partition)
			}
			d.Records++
			var topic, part, off string
			var hasTopic, hasPart, hasOff bool
			// The first header of each name is the sink's; the source
			// record's own headers follow it.
			for _, h := range r.Headers {
				switch {
				case h.Key == dlqHeaderTopic && !hasTopic:
					topic, hasTopic = string(h.Value), true
				case h.Key == dlqHeaderPartition && !hasPart:
					part, hasPart = string(h.Value), true
				case h.Key == dlqHeaderOffset && !hasOff:
					off, hasOff = string(h.Value), true
				}
			}
			if !hasTopic {
				malformed(r, "no %s header", dlqHeaderTopic)
				return
			}
			if topic != sourceTopic {
				d.OtherTopics++
				return
			}
			p, err := strconv.ParseInt(part, 10, 32)
			if !hasPart || err != nil || p < 0 {
				malformed(r, "%s=%q is not a partition number", dlqHeaderPartition, part)
				return
			}
			o, err := strconv.ParseInt(off, 10, 64)
			if !hasOff || err != nil || o < 0 {
				malformed(r, "%s=%q is not an offset", dlqHeaderOffset, off)
				return
			}
			if sets[int32(p)] == nil {
				sets[int32(p)] = map[int64]bool{}
			}
			sets[int32(p)][o] = true
		})
	}
	d.Offsets = sortedOffsets(sets)
	return d, nil
}

// DeadLetterHeaders returns the record headers ReadDeadLetters reads the
// source topic, partition and offset from, in that order.
func DeadLetterHeaders() []string {
	return []string{dlqHeaderTopic, dlqHeaderPartition, dlqHeaderOffset}
}
