package lake

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// OffsetRange is an inclusive range of Kafka offsets.
type OffsetRange struct {
	First int64 `json:"first"`
	Last  int64 `json:"last"`
}

// skippedFlag is the --skipped-offsets value (P:O or P:O-O2) that declares
// range r of Kafka partition p as dead letters.
func skippedFlag(p int32, r OffsetRange) string {
	if r.First == r.Last {
		return fmt.Sprintf("%d:%d", p, r.First)
	}
	return fmt.Sprintf("%d:%d-%d", p, r.First, r.Last)
}

func (r OffsetRange) String() string {
	if r.First == r.Last {
		return strconv.FormatInt(r.First, 10)
	}
	return fmt.Sprintf("%d–%d", r.First, r.Last)
}

// PartitionCoverage is what the lake holds of one Kafka partition, from the
// object names and the kafka_partition/kafka_offset columns (no S3 metadata
// needed, so it works on a downloaded folder).
type PartitionCoverage struct {
	Partition   int32         `json:"partition"`
	Objects     int           `json:"objects"`
	Rows        int64         `json:"rows"`
	Distinct    int64         `json:"distinct"`   // distinct offsets
	Duplicates  int64         `json:"duplicates"` // rows beyond the first for an offset
	FirstOffset int64         `json:"first_offset"`
	LastOffset  int64         `json:"last_offset"`
	Gaps        []OffsetRange `json:"gaps,omitempty"`     // missing offsets not declared skipped
	Skipped     int64         `json:"skipped,omitempty"`  // missing offsets declared skipped (DLQ)
	Expired     int64         `json:"expired,omitempty"`  // offsets the sink never read: retention removed them first (K01)
	Overlaps    int           `json:"overlaps,omitempty"` // objects whose range overlaps an earlier one
}

// maxGapViolations bounds the L12 gap violations reported per partition.
const maxGapViolations = 10

type fileRange struct {
	f        *file
	min, max int64
}

// parseOffsetList reads "5,7,10-12" (the "skipped-offsets" metadata value).
func parseOffsetList(s string) []int64 {
	var out []int64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		a, b, isRange := strings.Cut(part, "-")
		lo, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			continue
		}
		hi := lo
		if isRange {
			if hi, err = strconv.ParseInt(b, 10, 64); err != nil || hi < lo || hi-lo > 1<<20 {
				continue
			}
		}
		for o := lo; o <= hi; o++ {
			out = append(out, o)
		}
	}
	return out
}

// checkCoverage reports L12 (and sink-declared K01) and returns what the
// lake holds of each Kafka partition, for R01 and the Kafka check.
func checkCoverage(rep *Report, files []*file, cfg *config) map[int32]*lakePart {
	skipped := map[int32]map[int64]bool{}
	expiredBy := map[int32]int64{}
	for p, offs := range cfg.skipped {
		skipped[p] = map[int64]bool{}
		for o := range offs {
			skipped[p][o] = true
		}
	}
	ranges := map[int32][]fileRange{}
	offsets := map[int32][]int64{}
	held := map[int32]*lakePart{}
	for _, f := range files {
		if !f.readable() || (len(f.folders) == 0 && len(cfg.def.PartitionKeys) > 0) {
			continue // root objects are outside every partition: invisible to Athena
		}
		if !f.hasOffsets {
			if f.format == "parquet" && f.rows > 0 {
				rep.add(violation("L12", f.key, "", "the file has no plain kafka_partition/kafka_offset columns, so its offsets cannot be reconciled"))
			}
			continue
		}
		if len(f.recs) == 0 {
			if f.format == "parquet" {
				rep.add(violation("L12", f.key, "", "the file holds no rows; an empty object covers no offsets"))
			}
			continue
		}
		m := objectName.FindStringSubmatch(f.name)
		namePart, nameStart := int64(-1), int64(-1)
		if m != nil {
			namePart, _ = strconv.ParseInt(m[2], 10, 32)
			nameStart, _ = strconv.ParseInt(m[3], 10, 64)
		}
		byPart := map[int32][2]int64{}
		for _, r := range f.recs {
			mm, ok := byPart[r.partition]
			if !ok {
				mm = [2]int64{r.offset, r.offset}
			}
			mm[0], mm[1] = min(mm[0], r.offset), max(mm[1], r.offset)
			byPart[r.partition] = mm
			offsets[r.partition] = append(offsets[r.partition], r.offset)
		}
		for p, mm := range byPart {
			ranges[p] = append(ranges[p], fileRange{f, mm[0], mm[1]})
			if s := f.meta["skipped-offsets"]; s != "" {
				if skipped[p] == nil {
					skipped[p] = map[int64]bool{}
				}
				for _, o := range parseOffsetList(s) {
					skipped[p][o] = true
				}
			}
		}
		if m != nil {
			if len(byPart) > 1 {
				rep.add(violation("L12", f.key, "", "the object holds rows of %d Kafka partitions; one object must hold one partition's offsets", len(byPart)))
			} else if mm, ok := byPart[int32(namePart)]; !ok {
				for p := range byPart {
					rep.add(violation("L12", f.key, "", "the name says Kafka partition %d but its rows have kafka_partition %d", namePart, p))
				}
			} else if mm[0] < nameStart {
				// A name start below the first row is fine (the range may begin
				// with dead letters; the gap check accounts for them), rows
				// before the named start are not.
				rep.add(violation("L12", f.key, "", "the name says start offset %d but the file holds kafka_offset %d", nameStart, mm[0]))
			}
		}
		dead, exp := checkMetadata(rep, f, nameStart, byPart)
		for p := range byPart {
			expiredBy[p] += exp
		}
		if len(dead) > 0 {
			for p := range byPart {
				if skipped[p] == nil {
					skipped[p] = map[int64]bool{}
				}
				for _, o := range dead {
					skipped[p][o] = true
				}
			}
		}
	}

	parts := make([]int32, 0, len(offsets))
	for p := range offsets {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		offs := offsets[p]
		sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
		pc := PartitionCoverage{Partition: p, Objects: len(ranges[p]), Rows: int64(len(offs)), FirstOffset: offs[0], LastOffset: offs[len(offs)-1], Expired: expiredBy[p]}
		frs := ranges[p]
		sort.Slice(frs, func(i, j int) bool {
			if frs[i].min != frs[j].min {
				return frs[i].min < frs[j].min
			}
			return frs[i].f.key < frs[j].f.key
		})
		var reach int64 = -1
		var reachKey string
		for i, fr := range frs {
			if i > 0 && fr.min <= reach {
				pc.Overlaps++
				rep.add(violation("L12", fr.f.key, "", "offsets %s of Kafka partition %d overlap %s (up to offset %d): those records are in the lake twice",
					OffsetRange{fr.min, fr.max}, p, reachKey, reach))
			}
			if fr.max > reach {
				reach, reachKey = fr.max, fr.f.key
			}
		}
		var sortedSkipped []int64
		for o := range skipped[p] {
			sortedSkipped = append(sortedSkipped, o)
		}
		sort.Slice(sortedSkipped, func(i, j int) bool { return sortedSkipped[i] < sortedSkipped[j] })
		// Walk the sorted offsets: duplicates and gaps.
		pc.Distinct = 1
		distinct := []int64{offs[0]}
		for i := 1; i < len(offs); i++ {
			prev, cur := offs[i-1], offs[i]
			if cur == prev {
				pc.Duplicates++
				continue
			}
			pc.Distinct++
			distinct = append(distinct, cur)
			pc.Gaps, pc.Skipped = holeGaps(pc.Gaps, pc.Skipped, prev+1, cur-1, sortedSkipped)
		}
		if pc.Duplicates > 0 && pc.Overlaps == 0 {
			rep.add(violation("L12", rep.Location, "", "Kafka partition %d has %d duplicate (partition, offset) rows", p, pc.Duplicates))
		}
		if !cfg.allowGaps {
			for i, g := range pc.Gaps {
				if i == maxGapViolations {
					rep.add(violation("L12", rep.Location, "", "Kafka partition %d has %d more offset gaps", p, len(pc.Gaps)-maxGapViolations))
					break
				}
				rep.add(violation("L12", gapKey(frs, g), "",
					"Kafka partition %d: offsets %s are missing between objects; if they went to the dead-letter topic, run verify with --brokers ADDRS (reads the dead-letter topic) or --skipped-offsets %s", p, g, skippedFlag(p, g)))
			}
		}
		rep.Partitions = append(rep.Partitions, pc)
		rep.Distinct += pc.Distinct
		rep.Duplicates += pc.Duplicates
		held[p] = &lakePart{offsets: distinct, accounted: sortedSkipped}
	}
	// Partitions of which the lake holds no row but dead letters.
	for p, set := range skipped {
		if held[p] != nil || len(set) == 0 {
			continue
		}
		lp := &lakePart{}
		for o := range set {
			lp.accounted = append(lp.accounted, o)
		}
		sort.Slice(lp.accounted, func(i, j int) bool { return lp.accounted[i] < lp.accounted[j] })
		held[p] = lp
	}
	return held
}

// checkCount is R01: the lake's distinct records, plus the dead letters read
// from the dead-letter topic that are not in the lake, against the expected
// count. parts is nil when the table has no offsets to count records by.
func checkCount(rep *Report, parts map[int32]*lakePart, cfg *config) {
	if cfg.expect < 0 {
		return
	}
	if parts == nil {
		switch {
		case cfg.expect == 0:
		case rep.Rows < cfg.expect:
			fix := fmt.Sprintf("table %s has no kafka_partition/kafka_offset columns, so verify cannot name the missing records: compare with the source and deliver them again with the consumer that writes %s (or write those columns so verify can count and place them)", rep.Table, rep.Table)
			rep.add(violation("R01", rep.Location, fix, "expected %d records but the lake holds only %s (it has no kafka_partition/kafka_offset columns, so rows cannot be told apart as records): at least %d records are missing",
				cfg.expect, plural(rep.Rows, "row", ""), cfg.expect-rep.Rows))
		default:
			rep.add(violation("R01", rep.Location, "drop --expect-records, or write kafka_partition/kafka_offset columns (integers) so records can be counted",
				"expected %d records: the lake holds %s but has no kafka_partition/kafka_offset columns, so its distinct records cannot be counted and the count cannot be confirmed",
				cfg.expect, plural(rep.Rows, "row", "")))
		}
		return
	}
	for p, offs := range cfg.deadLetters {
		lp := parts[p]
		for _, o := range offs {
			if lp != nil {
				i := sort.Search(len(lp.offsets), func(i int) bool { return lp.offsets[i] >= o })
				if i < len(lp.offsets) && lp.offsets[i] == o {
					continue // in the lake too: counted once
				}
			}
			rep.DeadLetters++
		}
	}
	if got := rep.Distinct + rep.DeadLetters; got != cfg.expect {
		with := ""
		if cfg.deadLetters != nil {
			with = fmt.Sprintf(" and %s of the dead-letter topic not in the lake (%d in all)", plural(rep.DeadLetters, "dead letter", ""), got)
		}
		rep.add(violation("R01", rep.Location, "", "the lake holds %d distinct (kafka_partition, kafka_offset) records in %s%s, expected %d",
			rep.Distinct, plural(rep.Rows, "row", ""), with, cfg.expect))
	}
}

// gapKey names the first object after a gap (where the reader would look).
func gapKey(frs []fileRange, g OffsetRange) string {
	for _, fr := range frs {
		if fr.min > g.Last {
			return fr.f.key
		}
	}
	if len(frs) > 0 {
		return frs[len(frs)-1].f.key
	}
	return ""
}

// The sink's S3 user metadata keys (harness/sink Meta*), absent in a
// downloaded folder. The range is [start, end): end is exclusive; dlq counts
// the range's records sent to the dead-letter topic instead of the file.
const (
	metaStart   = "tickflow-start-offset"
	metaEnd     = "tickflow-end-offset"
	metaRecords = "tickflow-records"
	metaDLQ     = "tickflow-dlq"
	metaExpired = "tickflow-expired" // offsets of the range retention removed before the sink read them
)

// checkMetadata cross-checks the sink's metadata against the rows and returns
// the offsets of the object's range that are legitimately absent (dead
// letters), when the metadata accounts for exactly those.
func checkMetadata(rep *Report, f *file, nameStart int64, byPart map[int32][2]int64) (dead []int64, expired int64) {
	if len(byPart) != 1 {
		return nil, 0
	}
	var mm [2]int64
	for _, v := range byPart {
		mm = v
	}
	num := func(key string) (int64, bool) {
		s, ok := f.meta[key]
		if !ok {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			rep.add(violation("L12", f.key, "", "S3 metadata %s=%q is not a number", key, s))
			return 0, false
		}
		return v, true
	}
	start, okS := num(metaStart)
	end, okE := num(metaEnd)
	records, okR := num(metaRecords)
	dlq, okD := num(metaDLQ)
	expired, _ = num(metaExpired)
	if okS && nameStart >= 0 && start != nameStart {
		rep.add(violation("L12", f.key, "", "S3 metadata %s=%d but the name says %d", metaStart, start, nameStart))
	}
	if okE && end <= mm[1] {
		rep.add(violation("L12", f.key, "", "S3 metadata %s=%d (exclusive) but the rows reach offset %d", metaEnd, end, mm[1]))
	}
	if okR && records != int64(len(f.recs)) {
		rep.add(violation("L12", f.key, "", "S3 metadata %s=%d but the file holds %d rows", metaRecords, records, len(f.recs)))
	}
	if !okS || !okE || !okD || end <= start || end-start > 1<<22 {
		return nil, 0
	}
	present := make(map[int64]bool, len(f.recs))
	for _, r := range f.recs {
		present[r.offset] = true
	}
	var missing []int64
	for o := start; o < end; o++ {
		if !present[o] {
			missing = append(missing, o)
		}
	}
	if int64(len(missing)) != dlq+expired {
		also := ""
		if expired > 0 {
			also = fmt.Sprintf(" (and %d expired)", expired)
		}
		rep.add(violation("L12", f.key, "", "S3 metadata says %d dead-lettered records%s in offsets %s but %d offsets of that range are missing",
			dlq, also, OffsetRange{start, end - 1}, len(missing)))
		return nil, 0
	}
	if expired > 0 {
		rep.add(violation("K01", f.key, "", "%d offset(s) of %s were removed by Kafka retention before the sink read them: they are in neither the lake nor the dead-letter topic",
			expired, OffsetRange{start, end - 1}))
	}
	return missing, expired
}

// holeGaps splits the missing offsets a..b (inclusive) into gaps around the
// declared skipped offsets (sorted), without walking the hole offset by offset.
func holeGaps(gaps []OffsetRange, nSkipped int64, a, b int64, skipped []int64) ([]OffsetRange, int64) {
	if a > b {
		return gaps, nSkipped
	}
	i := sort.Search(len(skipped), func(i int) bool { return skipped[i] >= a })
	next := a
	for ; i < len(skipped) && skipped[i] <= b; i++ {
		if skipped[i] > next {
			gaps = append(gaps, OffsetRange{next, skipped[i] - 1})
		}
		nSkipped++
		next = skipped[i] + 1
	}
	if next <= b {
		gaps = append(gaps, OffsetRange{next, b})
	}
	return gaps, nSkipped
}
