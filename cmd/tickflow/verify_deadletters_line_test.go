package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/lake"
)

// TestWriteDeadLettersSaysWhereTheyCount: dead letters after a partition's
// last object (a poison record at the end, the audit's 3-record case) fill
// no hole between objects, yet the Kafka comparison and R01 count them; the
// line must not read as if none were used ("0 accounted as dead letters"),
// and it counts in English.
func TestWriteDeadLettersSaysWhereTheyCount(t *testing.T) {
	d := &lake.DeadLetters{Topic: "t4.dlq", SourceTopic: "t4", Records: 3,
		Offsets: map[int32][]int64{1: {357}, 2: {357}, 3: {1786}}, OtherTopics: 1, Malformed: 1}
	line := func(skipped ...int64) string {
		rep := &lake.Report{}
		for i, s := range skipped {
			rep.Partitions = append(rep.Partitions, lake.PartitionCoverage{Partition: int32(i), Skipped: s})
		}
		var b strings.Builder
		require.NoError(t, writeDeadLetters(&b, d, rep))
		return b.String()
	}

	none := line(0, 0)
	assert.Contains(t, none, "DEAD LETTERS: 3 offsets of t4 read from t4.dlq (3 records)")
	assert.NotContains(t, none, "0 accounted")
	assert.Contains(t, none, "none fills a hole between the lake's objects")
	assert.Contains(t, none, "all 3 lie before a partition's first or after its last object")
	assert.Contains(t, none, "1 record of other source topics ignored")
	assert.Contains(t, none, "1 malformed record ignored")

	some := line(1, 0)
	assert.Contains(t, some, "1 fills a hole between the lake's objects (the offset coverage's skipped column)")
	assert.Contains(t, some, "the other 2 lie before a partition's first or after its last object")

	all := line(2, 1)
	assert.Contains(t, all, "all 3 fill holes between the lake's objects")
	assert.NotContains(t, all, "lie before")
}
