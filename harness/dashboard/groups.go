package dashboard

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Notes on a group's partitions, shown on the page and in /api/state.
const (
	noteNothingCommitted = "nothing committed: the lag counts every record from the log start"
	noteRemembered       = "no member: the topics it subscribed to when last seen with members"
	noteUnknown          = "no member and nothing committed: the brokers do not say which topics it reads, so its lag is unknown"
)

// sampleGroups reads every group the brokers know of (ListGroups) with its
// lag on every partition of the topics it is assigned, subscribes to or
// committed to. A partition without a commit lags by every record it holds
// (end − log start), never 0. The brokers forget a group's subscription
// when its last member leaves; the dashboard remembers the last one it saw,
// so an Empty group that committed nothing still shows what waits for it.
// starts and ends are the sample's log offsets, for remembered topics.
func (t *target) sampleGroups(ctx context.Context, starts, ends map[string]map[int32]int64) ([]GroupView, []string) {
	var errs []string
	listed, err := t.adm.ListGroups(ctx)
	complete := err == nil
	if err != nil {
		var se *kadm.ShardErrors
		if !errors.As(err, &se) || se.AllFailed {
			return []GroupView{}, []string{fmt.Sprintf("list groups: %v", err)}
		}
		errs = append(errs, fmt.Sprintf("list groups (some brokers): %v", err)) // the others' groups are still shown
	}
	names := listed.Groups()
	out := []GroupView{}
	if complete {
		defer t.forgetGroups(names)
	}
	if len(names) == 0 {
		return out, errs
	}
	lags, err := t.adm.Lag(ctx, names...)
	if err != nil {
		return out, append(errs, fmt.Sprintf("group lag: %v", err))
	}
	for _, name := range names {
		l, ok := lags[name]
		if !ok {
			continue
		}
		gv := GroupView{Group: name, State: l.State, Members: len(l.Members), Offsets: []GroupPartition{}}
		if err := l.Error(); err != nil {
			gv.Lag, gv.Error = -1, err.Error()
			out = append(out, gv)
			continue
		}
		seen := map[string]bool{}
		for _, ml := range l.Lag.Sorted() {
			seen[ml.Topic] = true
			gp := GroupPartition{Topic: ml.Topic, Partition: ml.Partition, Committed: ml.Commit.At,
				Start: ml.Start.Offset, End: ml.End.Offset, Lag: ml.Lag}
			if ml.Start.Err != nil {
				gp.Start = starts[ml.Topic][ml.Partition]
			}
			if ml.Err != nil {
				gp.Lag = -1
			}
			gv.Offsets = append(gv.Offsets, gp)
		}
		remembered := t.groupTopics(name, l)
		added := false
		for _, topic := range remembered {
			if seen[topic] || ends[topic] == nil {
				continue
			}
			added = true
			for p, end := range ends[topic] {
				start := starts[topic][p]
				gv.Offsets = append(gv.Offsets, GroupPartition{Topic: topic, Partition: p, Committed: -1,
					Start: start, End: end, Lag: max(end-start, 0)})
			}
		}
		sort.Slice(gv.Offsets, func(i, j int) bool {
			a, b := gv.Offsets[i], gv.Offsets[j]
			if a.Topic != b.Topic {
				return a.Topic < b.Topic
			}
			return a.Partition < b.Partition
		})
		known := 0
		for i := range gv.Offsets {
			o := &gv.Offsets[i]
			if o.Committed < 0 {
				o.Committed = -1
				o.NothingCommitted = true
				gv.Uncommitted++
			}
			if o.Lag >= 0 {
				gv.Lag += o.Lag
				known++
			}
		}
		switch {
		case len(gv.Offsets) == 0 && gv.Members == 0:
			gv.Lag, gv.Note = -1, noteUnknown
		case known == 0:
			gv.Lag = -1
		case added:
			gv.Note = noteRemembered
		case gv.Uncommitted == len(gv.Offsets):
			gv.Note = noteNothingCommitted
		}
		out = append(out, gv)
	}
	return out, errs
}

// groupTopics notes the topics a group's members subscribe to or are
// assigned, and returns the last ones noted while it had members when it
// has none now.
func (t *target) groupTopics(name string, l kadm.DescribedGroupLag) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.subscribed == nil {
		t.subscribed = map[string][]string{}
	}
	if len(l.Members) == 0 {
		return t.subscribed[name]
	}
	set := map[string]bool{}
	for _, m := range l.Members {
		if j, ok := m.Join.AsConsumer(); ok {
			for _, tp := range j.Topics {
				set[tp] = true
			}
		}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, tp := range a.Topics {
				set[tp.Topic] = true
			}
		}
	}
	topics := make([]string, 0, len(set))
	for tp := range set {
		topics = append(topics, tp)
	}
	sort.Strings(topics)
	if len(topics) > 0 {
		t.subscribed[name] = topics
	}
	return nil
}

// forgetGroups drops what is remembered of groups the brokers no longer
// list (deleted, expired).
func (t *target) forgetGroups(names []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	for n := range t.subscribed {
		if !keep[n] {
			delete(t.subscribed, n)
		}
	}
}
