package lake

import (
	"fmt"
	"strings"
)

// Unchecked is a rule Check could not apply to this lake, and why: a report
// never passes a rule over in silence. With Strict, any Unchecked rule fails
// the check.
type Unchecked struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// unchecked lists the rules about completeness that could not run: R01
// without an expected count, L12 without offsets, K01–K03 without Kafka.
func unchecked(rep *Report, parts map[int32]*lakePart, cfg *config) []Unchecked {
	var out []Unchecked
	add := func(reason string, rules ...string) {
		for _, r := range rules {
			out = append(out, Unchecked{Rule: r, Reason: reason})
		}
	}
	noOffsets := fmt.Sprintf("table %s has no integer kafka_partition/kafka_offset columns and its objects carry no tickflow sink metadata, so the lake's records cannot be told apart by offset", cfg.def.Name)
	if parts == nil {
		add(noOffsets, "L12")
	} else if cfg.allowGaps {
		add("--allow-gaps: offset gaps are not checked (overlaps and duplicates are)", "L12")
	}
	if cfg.expect < 0 {
		add("no --expect-records N: the number of records is not reconciled", "R01")
	}
	switch {
	case cfg.kafka == nil:
		add("no --brokers: the lake is not compared with Kafka's log start, end and committed offsets", "K01", "K02", "K03")
	case parts == nil:
		add(noOffsets+", so they cannot be compared with Kafka's offsets", "K01", "K02", "K03")
	default:
		if cfg.allowGaps {
			add("--allow-gaps: holes at the start and the end of each partition are not checked", "K02", "K03")
		}
		if cfg.expect < 0 {
			if r := belowEvidence(parts, cfg); r != "" {
				add(r, "K01")
			}
		}
		if !cfg.kafka.HasCommits() {
			add(fmt.Sprintf("group %s has no committed offsets for topic %s (is --group right? tickflow sink's default group is tickflow-sink)", cfg.kafka.Group, cfg.kafka.Topic), "K03")
		}
	}
	if out == nil {
		out = []Unchecked{}
	}
	return out
}

// UncheckedRules returns the IDs of the rules that were not checked.
func (r *Report) UncheckedRules() []string {
	var ids []string
	for _, u := range r.Unchecked {
		ids = append(ids, u.Rule)
	}
	return ids
}

// uncheckedText groups the unchecked rules by reason, in report order:
// "R01 not checked: no --expect-records N; K01, K02, K03 not checked: …".
func uncheckedText(us []Unchecked) []string {
	var lines []string
	for i := 0; i < len(us); {
		j := i
		var ids []string
		for ; j < len(us) && us[j].Reason == us[i].Reason; j++ {
			ids = append(ids, us[j].Rule)
		}
		lines = append(lines, fmt.Sprintf("%s not checked: %s", strings.Join(ids, ", "), us[i].Reason))
		i = j
	}
	return lines
}

// maxBelowEvidence bounds the partitions belowEvidence names.
const maxBelowEvidence = 5

// belowEvidence names the partitions whose lake begins above offset 0 where
// Kafka's log no longer reaches below the lake's start: the offsets below
// both are gone from Kafka, so whether the lake ever held them (a deleted
// first object) or they expired before the group first read them cannot be
// told from offsets. Only a record count (R01) can. "" when there is none.
func belowEvidence(parts map[int32]*lakePart, cfg *config) string {
	var names []string
	n := 0
	for _, kp := range cfg.kafka.Partitions {
		lp := parts[kp.Partition]
		if lp == nil || len(lp.offsets) == 0 {
			continue
		}
		top := min(lp.offsets[0], kp.LogStart) // below both: gone from Kafka, not in the lake
		if top <= 0 {
			continue
		}
		holes := uncovered(0, top-1, lp.accounted)
		if len(holes) == 0 {
			continue
		}
		n++
		if len(names) < maxBelowEvidence {
			names = append(names, fmt.Sprintf("partition %d (lake from %d, log from %d: %s)", kp.Partition, lp.offsets[0], kp.LogStart, holes[0]))
		}
	}
	if n == 0 {
		return ""
	}
	more := ""
	if n > len(names) {
		more = fmt.Sprintf(" and %d more", n-len(names))
	}
	return fmt.Sprintf("the lake begins above offset 0 where Kafka's log no longer reaches: %s%s; whether those offsets were ever in the lake (a deleted first object) or expired before the group first read them cannot be told from Kafka's offsets: give --expect-records N",
		strings.Join(names, ", "), more)
}
