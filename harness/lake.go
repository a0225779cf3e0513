package harness

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// LakeTimeout bounds each read of the lake by a Lake assertion.
const LakeTimeout = 60 * time.Second

// maxListed is how many missing, duplicated or differing records a failure
// message lists; the counts cover all of them.
const maxListed = 10

// Lake is the world's lake (the table stock_ticks in the bucket) with
// testify-style assertions. Each call reads the lake afresh, so assert after
// the writer is done (WaitCaughtUp). The Require methods stop the test on
// failure, like testify's require.
type Lake struct {
	t      testing.TB
	store  objstore.Store
	prefix string
}

// Lake returns the lake at the bucket's root, where StartSink writes by
// default.
func (w *World) Lake(t testing.TB) *Lake { return w.LakeAt(t, "") }

// LakeAt returns the lake under prefix (the folder that holds stock_ticks/,
// as given to sink.Prefix).
func (w *World) LakeAt(t testing.TB, prefix string) *Lake {
	return &Lake{t: t, store: w.Store(), prefix: prefix}
}

// Rows returns every row of the lake sorted by (kafka_partition,
// kafka_offset), duplicates included; an empty lake has none. An object
// that cannot be decoded fails the test.
func (l *Lake) Rows() []tick.Row {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), LakeTimeout)
	defer cancel()
	rows, err := lake.ReadRows(ctx, l.store, l.prefix)
	if errors.Is(err, lake.ErrEmptyLake) {
		return nil
	}
	require.NoError(l.t, err, "harness: read the lake")
	return rows
}

// Report runs the contract checker (harness/lake) over the lake and returns
// its report without judging it. An empty lake fails the test.
func (l *Lake) Report(opts ...lake.Option) *lake.Report {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), LakeTimeout)
	defer cancel()
	rep, err := lake.Check(ctx, l.store, l.prefix, opts...)
	require.NoError(l.t, err, "harness: check the lake")
	return rep
}

// RequireContractClean fails the test unless the lake meets the lake
// contract (no Error-severity violation of any rule of
// docs/lake-contract.md), listing the violations grouped by rule. opts go to
// lake.Check: lake.ExpectRecords, or lake.WithTable(def) to check your own
// table (def from lake.ParseTable; the prefix is then the folder that
// mirrors the bucket, "" for the bucket root). It returns the report for
// further assertions.
func (l *Lake) RequireContractClean(opts ...lake.Option) *lake.Report {
	l.t.Helper()
	rep := l.Report(opts...)
	if rep.OK() {
		return rep
	}
	var b strings.Builder
	fmt.Fprintf(&b, "lake %s%s breaks the contract: rules %s\n", rep.Store, "/"+rep.Location, strings.Join(rep.Rules(), ", "))
	for _, id := range rep.Rules() {
		var vs []lake.Violation
		for _, v := range rep.Violations {
			if v.Rule == id {
				vs = append(vs, v)
			}
		}
		fmt.Fprintf(&b, "%s %s (%s, %d) fix: %s\n", id, vs[0].Name, vs[0].Severity, len(vs), vs[0].Fix)
		for i, v := range vs {
			if i == maxListed {
				fmt.Fprintf(&b, "  ... %d more\n", len(vs)-maxListed)
				break
			}
			fmt.Fprintf(&b, "  %s: %s\n", v.Key, v.Message)
		}
	}
	require.Fail(l.t, "lake is not contract-clean", b.String())
	return rep
}

type recordID struct {
	partition int32
	offset    int64
}

func (r recordID) String() string { return fmt.Sprintf("%d/%d", r.partition, r.offset) }

// RequireComplete fails the test unless every given record is in the lake
// exactly once, with the row the sink should have written for it (the
// tick's values, its record timestamp as event_time, its partition and
// offset). The message counts the missing, duplicated and differing records
// and lists the first of each by partition/offset. Rows of other records
// may be in the lake too; use RequireRows for an exact match.
func (l *Lake) RequireComplete(produced []Produced) {
	l.t.Helper()
	rows := l.Rows()
	byID := make(map[recordID][]tick.Row, len(rows))
	for _, r := range rows {
		id := recordID{r.KafkaPartition, r.KafkaOffset}
		byID[id] = append(byID[id], r)
	}
	want := append([]Produced(nil), produced...)
	sort.Slice(want, func(i, j int) bool {
		if want[i].Partition != want[j].Partition {
			return want[i].Partition < want[j].Partition
		}
		return want[i].Offset < want[j].Offset
	})
	var missing, dup, differ []string
	var nMissing, nDup, nDiffer int
	seen := make(map[recordID]bool, len(want))
	for _, p := range want {
		id := recordID{p.Partition, p.Offset}
		if seen[id] {
			continue
		}
		seen[id] = true
		got := byID[id]
		switch {
		case len(got) == 0:
			nMissing++
			missing = listed(missing, p.String())
		case len(got) > 1:
			nDup++
			dup = listed(dup, fmt.Sprintf("%s ×%d", p, len(got)))
		default:
			exp, err := p.Row()
			require.NoError(l.t, err, "harness: expected row of record %s", p)
			if got[0] != exp {
				nDiffer++
				differ = listed(differ, fmt.Sprintf("%s\n      want %+v\n      got  %+v", id, exp, got[0]))
			}
		}
	}
	if nMissing+nDup+nDiffer == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "lake %s (prefix %q): of %d records %d missing, %d duplicated, %d differ (lake has %d rows)\n",
		l.store, l.prefix, len(seen), nMissing, nDup, nDiffer, len(rows))
	section(&b, "missing", nMissing, missing)
	section(&b, "duplicated", nDup, dup)
	section(&b, "differ", nDiffer, differ)
	require.Fail(l.t, "lake is not complete", b.String())
}

// RequireRows fails the test unless the lake holds exactly expected, as a
// multiset (order does not matter, duplicates count), listing the first
// rows missing from the lake and the first rows it should not have.
func (l *Lake) RequireRows(expected []tick.Row) {
	l.t.Helper()
	rows := l.Rows()
	count := make(map[tick.Row]int, len(expected))
	for _, r := range expected {
		count[r]++
	}
	var extra []string
	nExtra := 0
	for _, r := range rows {
		if count[r] > 0 {
			count[r]--
			continue
		}
		nExtra++
		extra = listed(extra, fmt.Sprintf("%d/%d %+v", r.KafkaPartition, r.KafkaOffset, r))
	}
	var missing []string
	nMissing := 0
	for _, r := range expected { // in the caller's order, for a stable message
		if count[r] > 0 {
			count[r]--
			nMissing++
			missing = listed(missing, fmt.Sprintf("%d/%d %+v", r.KafkaPartition, r.KafkaOffset, r))
		}
	}
	if nExtra+nMissing == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "lake %s (prefix %q) has %d rows, expected %d: %d missing, %d unexpected\n",
		l.store, l.prefix, len(rows), len(expected), nMissing, nExtra)
	section(&b, "missing", nMissing, missing)
	section(&b, "unexpected", nExtra, extra)
	require.Fail(l.t, "lake rows differ", b.String())
}

func listed(list []string, s string) []string {
	if len(list) < maxListed {
		list = append(list, s)
	}
	return list
}

func section(b *strings.Builder, name string, n int, list []string) {
	if n == 0 {
		return
	}
	fmt.Fprintf(b, "  %s (%d, first %d by partition/offset):\n", name, n, len(list))
	for _, s := range list {
		fmt.Fprintf(b, "    %s\n", s)
	}
}
