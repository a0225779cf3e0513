package scenarios

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/sink"
	"github.com/tickflow/tickflow/harness/tick"
)

// maxFailures bounds the failure details a Result keeps.
const maxFailures = 8

// counts is what one iteration's check found.
type counts struct {
	records, rows, lost, duplicated, overlaps, gaps, dlq, poison int64
	objects                                                      int
	failures                                                     []string
	failed                                                       bool
	nfail                                                        int    // every failure, kept or not
	firstSince                                                   string // first failure since the last checked invariant, for Config.Watch
	verdict                                                      *Verdict
	producerRuns                                                 []ProducerRun
	output                                                       []string // consumer instances' output, on failure
}

func (c *counts) failf(format string, args ...any) {
	c.failed = true
	msg := fmt.Sprintf(format, args...)
	if c.firstSince == "" {
		c.firstSince = msg
	}
	c.nfail++
	if len(c.failures) < maxFailures {
		c.failures = append(c.failures, msg)
	}
}

type objRange struct {
	key        string
	start, end int64
}

// verify reads the lake, the topic, the group and the dead-letter topic back
// and checks every invariant (see the package doc). The error is for a
// check that could not run at all.
func (e *env) verify(ctx context.Context) (counts, error) {
	var c counts
	vctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	e.mu.Lock()
	expected := make(map[int64]expectedTick, len(e.expected))
	for k, v := range e.expected {
		expected[k] = v
	}
	poison := make(map[partOff]bool, len(e.poison))
	for k, v := range e.poison {
		poison[k] = v
	}
	e.mu.Unlock()
	c.records, c.poison = int64(len(expected)), int64(len(poison))

	ends, err := e.adm.ListEndOffsets(vctx, e.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return c, fmt.Errorf("verify: end offsets of %s: %w", e.topic, err)
	}
	hwm := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { hwm[o.Partition] = o.Offset })
	comm, err := e.adm.FetchOffsets(vctx, e.group)
	if err != nil {
		return c, fmt.Errorf("verify: committed offsets of group %s: %w", e.group, err)
	}
	dlq, err := e.readDLQ(vctx)
	if err != nil {
		return c, err
	}
	c.dlq = int64(len(dlq))

	// Objects and their offset ranges, from the key and the S3 metadata.
	root := tick.Table + "/"
	objs, err := e.check.List(vctx, root)
	if err != nil {
		return c, fmt.Errorf("verify: list %s: %w", root, err)
	}
	ranges := map[int32][]objRange{}
	for _, o := range objs {
		topic, p, start, ok := sink.ParseObjectName(o.Key)
		if !ok {
			continue
		}
		c.objects++
		if topic != e.topic {
			c.failf("object %s names topic %q, want %q", o.Key, topic, e.topic)
			continue
		}
		h, err := e.check.Head(vctx, o.Key)
		if err != nil {
			return c, fmt.Errorf("verify: head %s: %w", o.Key, err)
		}
		end, err := strconv.ParseInt(h.Metadata[sink.MetaEndOffset], 10, 64)
		if err != nil || end <= start {
			c.failf("object %s: metadata %s=%q is not an end offset after %d", o.Key, sink.MetaEndOffset, h.Metadata[sink.MetaEndOffset], start)
			continue
		}
		ranges[p] = append(ranges[p], objRange{o.Key, start, end})
	}

	var rows []tick.Row
	if c.objects > 0 {
		if rows, err = lake.ReadRows(vctx, e.check, ""); err != nil {
			return c, fmt.Errorf("verify: read the lake back: %w", err)
		}
	}
	c.rows = int64(len(rows))

	// Exactly once, by sequence number (the volume column).
	// Report each invariant to Config.Watch as it is checked.
	mark := 0
	step := func(i int) {
		e.checked(i, &c, mark)
		mark = c.nfail
	}
	seen := make(map[int64]int, len(rows))
	covered := map[int32]map[int64]int{}
	for _, r := range rows {
		seq := r.Volume
		want, ok := expected[seq]
		switch {
		case !ok:
			c.failf("row %s[%d]@%d has sequence %d, which was never produced", e.topic, r.KafkaPartition, r.KafkaOffset, seq)
		case want.symbol != r.Symbol || tick.DaysToDate(r.TradeDate) != want.date:
			c.failf("row %s[%d]@%d (sequence %d) is %s %s, produced as %s %s", e.topic, r.KafkaPartition, r.KafkaOffset, seq,
				r.Symbol, tick.DaysToDate(r.TradeDate), want.symbol, want.date)
		}
		seen[seq]++
		if covered[r.KafkaPartition] == nil {
			covered[r.KafkaPartition] = map[int64]int{}
		}
		covered[r.KafkaPartition][r.KafkaOffset]++
	}
	step(0)
	var lostSeqs []int64
	for seq := range expected {
		if seen[seq] == 0 {
			lostSeqs = append(lostSeqs, seq)
		}
	}
	sort.Slice(lostSeqs, func(i, j int) bool { return lostSeqs[i] < lostSeqs[j] })
	c.lost = int64(len(lostSeqs))
	if c.lost > 0 {
		c.failf("%d produced records are not in the lake, e.g. sequence %s", c.lost, firstInts(lostSeqs, 5))
	}
	step(1)
	var dupSeqs []int64
	for seq, n := range seen {
		if n > 1 {
			c.duplicated += int64(n - 1)
			dupSeqs = append(dupSeqs, seq)
		}
	}
	if c.duplicated > 0 {
		sort.Slice(dupSeqs, func(i, j int) bool { return dupSeqs[i] < dupSeqs[j] })
		c.failf("%d rows are duplicates, e.g. sequence %s", c.duplicated, firstInts(dupSeqs, 5))
	}

	step(2)
	// Per partition: ranges tile [0, end), every offset is a row or a dead
	// letter, the commit is the last object's end, order per key holds.
	parts := map[int32]bool{}
	for p := range hwm {
		parts[p] = true
	}
	for p := range ranges {
		parts[p] = true
	}
	for p := range sortedParts(parts) {
		rs := ranges[p]
		sort.Slice(rs, func(i, j int) bool { return rs[i].start < rs[j].start })
		missing := map[int64]bool{}
		next := int64(0)
		for i, r := range rs {
			if r.start < next {
				c.overlaps++
				c.failf("partition %d: object %s [%d,%d) overlaps %s", p, r.key, r.start, r.end, rs[i-1].key)
			} else if r.start > next {
				c.failf("partition %d: offsets [%d,%d) are in no object (before %s)", p, next, r.start, r.key)
				for o := next; o < r.start; o++ {
					missing[o] = true
				}
			}
			next = max(next, r.end)
		}
		end := hwm[p]
		// Dead letters after the last object are covered by the commit
		// (carried into the next object), not by an object yet.
		deadTo := func(from, to int64) bool {
			for o := from; o < to; o++ {
				if !dlq[partOff{p, o}] {
					return false
				}
			}
			return true
		}
		if next < end && !deadTo(next, end) {
			c.failf("partition %d: offsets [%d,%d) are in no object (the partition ends at %d)", p, next, end, end)
		}
		for o := int64(0); o < end; o++ {
			if covered[p][o] == 0 && !dlq[partOff{p, o}] {
				missing[o] = true
			}
		}
		if len(missing) > 0 {
			c.gaps += int64(len(missing))
			c.failf("partition %d: %d offsets are neither in the lake nor dead-lettered, e.g. %s", p, len(missing), firstInts(keys(missing), 5))
		}
		committed := int64(-1)
		if o, ok := comm.Lookup(e.topic, p); ok {
			committed = o.At
		}
		// The commit is the last object's end, or ahead of it only by
		// dead-lettered offsets (a carried range).
		if len(rs) > 0 && (committed < next || !deadTo(next, committed)) {
			c.failf("partition %d: committed offset %d, but its last object ends at %d", p, committed, next)
		}
		if len(rs) == 0 && committed > 0 && !deadTo(0, committed) {
			c.failf("partition %d: committed offset %d, but no object holds it", p, committed)
		}
	}
	step(3)
	c.checkOrder(rows)
	step(4)

	// Dead letters: exactly the injected poison records.
	for po := range poison {
		if !dlq[po] {
			c.failf("poison record %s[%d]@%d is not in %s.dlq", e.topic, po.p, po.o, e.topic)
		}
		if covered[po.p][po.o] > 0 {
			c.failf("poison record %s[%d]@%d became a row", e.topic, po.p, po.o)
		}
	}
	if c.dlq != c.poison {
		c.failf("%s.dlq holds %d distinct records, %d poison records were injected", e.topic, c.dlq, c.poison)
	}

	step(5)
	// The contract checker.
	if c.objects > 0 {
		rep, err := lake.Check(vctx, e.check, "", lake.ExpectRecords(c.records))
		if err != nil {
			return c, fmt.Errorf("verify: lake check: %w", err)
		}
		for _, v := range rep.Errors() {
			c.failf("lake check: %s", v)
		}
	} else if c.records > 0 {
		c.failf("the lake is empty, %d records were produced", c.records)
	}
	step(6)
	return c, nil
}

// checkOrder: within a partition, a key's records appear in produce order
// (their sequence numbers increase with the offset). rows are sorted by
// partition and offset.
func (c *counts) checkOrder(rows []tick.Row) {
	type pk struct {
		p   int32
		sym string
	}
	last := map[pk]tick.Row{}
	for _, r := range rows {
		k := pk{r.KafkaPartition, r.Symbol}
		if prev, ok := last[k]; ok && prev.KafkaOffset != r.KafkaOffset && prev.Volume >= r.Volume {
			c.failf("partition %d key %s: sequence %d at offset %d comes after sequence %d at offset %d (order per key broken)",
				r.KafkaPartition, r.Symbol, r.Volume, r.KafkaOffset, prev.Volume, prev.KafkaOffset)
		}
		last[k] = r
	}
}

// readDLQ reads <topic>.dlq from the start to its end and returns the
// distinct source (partition, offset) of its records.
func (e *env) readDLQ(ctx context.Context) (map[partOff]bool, error) {
	out := map[partOff]bool{}
	err := e.readTopic(ctx, e.topic+".dlq", func(r *kgo.Record) {
		var p, o string
		for _, h := range r.Headers {
			switch h.Key {
			case sink.HeaderPartition:
				p = string(h.Value)
			case sink.HeaderOffset:
				o = string(h.Value)
			}
		}
		pi, err1 := strconv.ParseInt(p, 10, 32)
		oi, err2 := strconv.ParseInt(o, 10, 64)
		if err1 != nil || err2 != nil {
			e.log.Warn("scenario: DLQ record without source headers", "offset", r.Offset)
			return
		}
		out[partOff{int32(pi), oi}] = true
	})
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return out, nil
}

// readTopic reads every partition of topic from its start to the end it
// had when the call began, calling each for every record.
func (e *env) readTopic(ctx context.Context, topic string, each func(*kgo.Record)) error {
	ends, err := e.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(fastKafka(), kgo.SeedBrokers(e.w.KafkaAddrs()...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return fmt.Errorf("read %s: %w", topic, err)
	}
	defer cl.Close()
	got := map[int32]int64{}
	done := func() bool {
		for p, end := range want {
			if got[p] < end {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %s: got %v of %v: %w", topic, got, want, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
		if ferr != nil {
			e.log.Debug("scenario: fetch error (retrying)", "topic", topic, "err", ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = r.Offset + 1
			each(r)
		})
	}
	return nil
}

func firstInts(xs []int64, n int) string {
	var b strings.Builder
	for i, x := range xs {
		if i == n {
			fmt.Fprintf(&b, ", … (%d more)", len(xs)-n)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(x, 10))
	}
	return b.String()
}

func keys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// sortedParts iterates partitions in order.
func sortedParts(m map[int32]bool) func(yield func(int32) bool) {
	ps := make([]int32, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return func(yield func(int32) bool) {
		for _, p := range ps {
			if !yield(p) {
				return
			}
		}
	}
}
