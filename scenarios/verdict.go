package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/lake/rowid"
	"github.com/tickflow/tickflow/harness/objstore"
)

// Verdict is what a user's consumer did to the records a scenario
// produced, judged by record identity (every produced tick carries a unique
// sequence number), never by layout: it holds whatever objects the consumer
// wrote, in any of the formats lakerows.go reads.
type Verdict struct {
	Produced     int64 `json:"produced"`     // good records produced and acknowledged
	Objects      int   `json:"objects"`      // objects read under the prefix (hidden _ and . names skipped)
	Rows         int64 `json:"rows"`         // rows read from them
	Distinct     int64 `json:"distinct"`     // produced records found at least once
	Lost         int64 `json:"lost"`         // produced records in no object
	Duplicated   int64 `json:"duplicated"`   // rows beyond the first per record
	Unidentified int64 `json:"unidentified"` // rows with no sequence number, or one never produced
	Unreadable   int   `json:"unreadable"`   // objects that could not be parsed
	// Overwritten is how many keys were written again with other content;
	// the fake S3 (the recorder) kept every version.
	Overwritten int `json:"overwritten"`
	// Deleted is how many accepted DELETEs removed an object.
	Deleted int `json:"deleted"`
	// WritesAfterFencing counts S3 writes carrying records of a partition
	// their writer had owned and no longer owned (by the group's Stable
	// assignments, sampled every 100 ms): zombies and late flushes. Not a
	// failure by itself — an idempotent write is harmless — but where the
	// overwrites and duplicates come from.
	WritesAfterFencing int `json:"writes_after_fencing"`
	// CommitsAhead counts records a committed offset covered before they
	// were in S3: latent loss even when the final lake is complete (a crash
	// at that moment loses them).
	CommitsAhead int64 `json:"commits_ahead"`
	Writes       int   `json:"writes"`    // S3 writes accepted
	Commits      int   `json:"commits"`   // partition offsets committed by the group
	Instances    int   `json:"instances"` // consumer processes started

	LostExamples        []RecordRef        `json:"lost_examples,omitempty"`
	DuplicateExamples   []DuplicateExample `json:"duplicate_examples,omitempty"`
	OverwriteExamples   []OverwriteExample `json:"overwrite_examples,omitempty"`
	CommitAheadExamples []CommitAhead      `json:"commit_ahead_examples,omitempty"`
	UnreadableExamples  []string           `json:"unreadable_examples,omitempty"`
	FencedExamples      []FencedWrite      `json:"fenced_examples,omitempty"`
	// Drain says how the wait for the consumer to finish ended.
	Drain string `json:"drain"`
	// Contract is what the lake contract check (lake.Check against
	// Consumer.Table) found, errors first; an error fails the iteration.
	Contract []string `json:"contract,omitempty"`
	// ContractErrors counts the contract check's errors (all of them;
	// Contract lists the first few with the warnings).
	ContractErrors int `json:"contract_errors"`
	// ContractNote says what was checked against which table, or why
	// nothing could be, and without a table what a default Glue crawler
	// would make of the lake.
	ContractNote string `json:"contract_note"`
}

// RecordRef names one produced record.
type RecordRef struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Sequence  int64  `json:"sequence"`
}

func (r RecordRef) String() string {
	return fmt.Sprintf("partition %d offset %d key %s (sequence %d)", r.Partition, r.Offset, r.Key, r.Sequence)
}

// DuplicateExample is a record found more than once, with every object
// holding a copy and the instance that wrote that object (-1: unknown).
type DuplicateExample struct {
	Record RecordRef `json:"record"`
	Copies []Copy    `json:"copies"`
}

// Copy is one object holding a record.
type Copy struct {
	Object   string `json:"object"`
	Instance int    `json:"instance"`
}

// OverwriteExample is a key written with other content after it held
// records: Dropped of those records are in no object of the final lake.
type OverwriteExample struct {
	Object    string `json:"object"`
	Instances []int  `json:"instances"` // writers of each version, in order
	Versions  int    `json:"versions"`
	Dropped   int    `json:"dropped"`
}

// CommitAhead is a record committed before it was in S3.
type CommitAhead struct {
	Record      RecordRef `json:"record"`
	CommittedAt string    `json:"committed_at"` // since the drain's start… see Landed
	Landed      string    `json:"landed"`       // "never", or how long after the commit it landed
}

// maxExamples bounds each list of examples.
const maxExamples = 10

// Pass reports a verdict with nothing lost or duplicated, and no error
// against the consumer's table when one was given.
func (v *Verdict) Pass() bool {
	return v.Lost == 0 && v.Duplicated == 0 && v.Produced > 0 && v.ContractErrors == 0
}

// Summary is the verdict in one line.
func (v *Verdict) Summary() string {
	return fmt.Sprintf("produced %d, rows %d, distinct %d, lost %d, duplicated %d, overwritten objects %d, records committed before they were in S3 %d, writes after fencing %d",
		v.Produced, v.Rows, v.Distinct, v.Lost, v.Duplicated, v.Overwritten, v.CommitsAhead, v.WritesAfterFencing)
}

// drainConsumer waits until the group has committed every partition's end
// and the lake has stopped changing, or the lake has been idle for idleFor
// (a consumer that does not commit to Kafka), or the drain timeout passes.
// None of these is an error: the verdict judges what is there.
func (e *env) drainConsumer(ctx context.Context) error {
	timeout := e.cfg.Consumer.drainTimeout(e.cfg.Long)
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	last := "nothing checked yet"
	for {
		e.mu.Lock()
		fatal := e.fatal
		e.mu.Unlock()
		if fatal != nil {
			return fatal
		}
		behind, err := e.behind(dctx)
		switch {
		case err != nil && dctx.Err() == nil:
			last = err.Error()
		case err == nil && behind != "":
			last = behind
		}
		lw := e.rec.lastWrite()
		if lw.Before(start) {
			lw = start
		}
		quiet := time.Since(lw)
		switch {
		case err == nil && behind == "" && quiet >= quietFor:
			e.drainNote = fmt.Sprintf("drained in %s: every partition committed to its end, the lake unchanged for %s", time.Since(start).Round(100*time.Millisecond), quietFor)
			return nil
		case quiet >= idleFor && !e.rec.committed():
			// A consumer that never commits to Kafka (offsets kept
			// elsewhere, or none): judged once it has been idle. One that
			// commits is waited for until the timeout.
			e.drainNote = fmt.Sprintf("drain ended after %s: the lake unchanged for %s and the group never committed (%s)", time.Since(start).Round(100*time.Millisecond), idleFor, last)
			return nil
		}
		select {
		case <-dctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			e.drainNote = fmt.Sprintf("drain timed out after %s (%s); judged on what is in the lake", timeout, last)
			return nil
		case <-t.C:
		}
	}
}

// produced is one record read back from the topic.
type produced struct {
	RecordRef
	Value json.RawMessage `json:"value"`
}

// readProduced reads the topic from its start to its end and returns the
// records that are produced ticks (poison records are not), by sequence.
func (e *env) readProduced(ctx context.Context) (map[int64]produced, error) {
	out := map[int64]produced{}
	err := e.readTopic(ctx, e.topic, func(r *kgo.Record) {
		rows, err := rowid.JSON(r.Value)
		if err != nil || len(rows) != 1 || !rows[0].OK {
			return // a poison record
		}
		out[rows[0].Seq] = produced{RecordRef{r.Partition, r.Offset, string(r.Key), rows[0].Seq}, json.RawMessage(r.Value)}
	})
	if err != nil {
		return nil, fmt.Errorf("verdict: %w", err)
	}
	return out, nil
}

// lakeObject is one object of the final lake.
type lakeObject struct {
	key    string
	body   []byte
	rows   []rowid.Row
	hidden bool // a name Athena skips: read only to be kept (--out), never judged
}

// evidence is what a verdict was made from, kept by keepOut as it was read.
type evidence struct {
	prod    map[int64]produced
	lake    []lakeObject
	writes  []s3Write
	commits []commitSeen
}

// verdict judges the user's consumer: it reads the topic, every object
// under the prefix, the recorded writes and commits, and matches rows to
// produced records. The counts fail the iteration on loss or duplicates.
func (e *env) verdict(ctx context.Context) (counts, *Verdict, *evidence, error) {
	var c counts
	ev := &evidence{}
	vctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	v := &Verdict{Drain: e.drainNote}
	e.mu.Lock()
	expected := make(map[int64]expectedTick, len(e.expected))
	for k, x := range e.expected {
		expected[k] = x
	}
	v.Instances = e.nextInstance
	e.mu.Unlock()
	v.Produced, c.records = int64(len(expected)), int64(len(expected))

	prod, err := e.readProduced(vctx)
	if err != nil {
		return c, v, nil, err
	}
	ev.prod = prod
	prefix := e.cfg.Consumer.Prefix
	text, err := e.cfg.Consumer.text()
	if err != nil {
		return c, v, nil, err
	}
	objs, err := e.check.List(vctx, prefix)
	if err != nil {
		return c, v, nil, fmt.Errorf("verdict: list s3://%s/%s: %w", e.w.Bucket(), prefix, err)
	}
	var lake []lakeObject
	for _, o := range objs {
		hidden := rowid.Hidden(prefix, o.Key)
		if hidden && e.cfg.Consumer.Out == "" {
			continue
		}
		body, _, err := e.check.Get(vctx, o.Key)
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return c, v, nil, fmt.Errorf("verdict: get %s: %w", o.Key, err)
		}
		if hidden {
			ev.lake = append(ev.lake, lakeObject{key: o.Key, body: body, hidden: true})
			continue
		}
		rows, rerr := rowid.ReadAs(body, text)
		if rerr != nil {
			v.Unreadable++
			if len(v.UnreadableExamples) < maxExamples {
				v.UnreadableExamples = append(v.UnreadableExamples, o.Key+": "+rerr.Error())
			}
		}
		lake = append(lake, lakeObject{key: o.Key, body: body, rows: rows})
	}
	v.Objects, c.objects = len(lake), len(lake)
	ev.lake = append(ev.lake, lake...)

	writes, commits := e.rec.snapshot()
	ev.writes, ev.commits = writes, commits
	v.Writes, v.Commits = len(writes), len(commits)
	writer := map[string]int{} // key → instance of its last version
	for _, w := range writes {
		if w.Op != "delete" {
			writer[w.Key] = w.Instance
		}
	}

	// Match rows to records.
	where := map[int64][]string{} // sequence → objects holding it (once per row)
	for _, o := range lake {
		for _, r := range o.rows {
			v.Rows++
			x, ok := expected[r.Seq]
			if !r.OK || !ok || (r.Symbol != "" && r.Symbol != x.symbol) {
				v.Unidentified++
				continue
			}
			where[r.Seq] = append(where[r.Seq], o.key)
		}
	}
	c.rows = v.Rows
	var lost, dups []int64
	for seq := range expected {
		switch n := len(where[seq]); {
		case n == 0:
			lost = append(lost, seq)
		case n > 1:
			dups = append(dups, seq)
			v.Duplicated += int64(n - 1)
		}
		if len(where[seq]) > 0 {
			v.Distinct++
		}
	}
	v.Lost = int64(len(lost))
	sortSeqs := func(s []int64) { sort.Slice(s, func(i, j int) bool { return s[i] < s[j] }) }
	sortSeqs(lost)
	sortSeqs(dups)
	ref := func(seq int64) RecordRef {
		if p, ok := prod[seq]; ok {
			return p.RecordRef
		}
		return RecordRef{Partition: -1, Offset: -1, Key: expected[seq].symbol, Sequence: seq}
	}
	for _, seq := range lost[:min(len(lost), maxExamples)] {
		v.LostExamples = append(v.LostExamples, ref(seq))
	}
	for _, seq := range dups[:min(len(dups), maxExamples)] {
		ex := DuplicateExample{Record: ref(seq)}
		for _, k := range where[seq] {
			inst, ok := writer[k]
			if !ok {
				inst = -1
			}
			ex.Copies = append(ex.Copies, Copy{k, inst})
		}
		v.DuplicateExamples = append(v.DuplicateExamples, ex)
	}

	e.judgeWrites(v, writes, commits, prod, expected, where)
	if e.own != nil {
		v.WritesAfterFencing, v.FencedExamples = e.own.fenced(writes, func(seq int64) (int32, bool) {
			p, ok := prod[seq]
			return p.Partition, ok
		}, text)
	}
	if err := e.judgeContract(vctx, v, &c); err != nil {
		return c, v, ev, err
	}

	c.lost, c.duplicated = v.Lost, v.Duplicated
	if v.Lost > 0 {
		ex := make([]string, 0, len(v.LostExamples))
		for _, r := range v.LostExamples[:min(3, len(v.LostExamples))] {
			ex = append(ex, r.String())
		}
		c.failf("%d of %d produced records are in no object, e.g. %s", v.Lost, v.Produced, strings.Join(ex, "; "))
	}
	if v.Duplicated > 0 {
		d := v.DuplicateExamples[0]
		var cp []string
		for _, x := range d.Copies {
			cp = append(cp, fmt.Sprintf("%s (instance %d)", x.Object, x.Instance))
		}
		c.failf("%d rows are extra copies of records already in the lake, e.g. %s in %s", v.Duplicated, d.Record, strings.Join(cp, " and "))
	}
	if v.Produced == 0 {
		c.failf("no record was produced: nothing to judge")
	}
	return c, v, ev, nil
}

// judgeWrites finds, from the recorded writes and commits, the overwritten
// objects, the deletes, and the records committed before they were in S3.
func (e *env) judgeWrites(v *Verdict, writes []s3Write, commits []commitSeen, prod map[int64]produced,
	expected map[int64]expectedTick, final map[int64][]string) {
	text, _ := e.cfg.Consumer.text() // validated before the run
	type po struct {
		p int32
		o int64
	}
	bySeq := map[po]int64{}
	for seq, p := range prod {
		if _, ok := expected[seq]; ok {
			bySeq[po{p.Partition, p.Offset}] = seq
		}
	}
	landed := map[int64]time.Time{} // sequence → first time S3 held it
	versions := map[string][]s3Write{}
	for _, w := range writes {
		if w.Op == "delete" {
			if len(versions[w.Key]) > 0 {
				v.Deleted++
			}
			continue
		}
		versions[w.Key] = append(versions[w.Key], w)
		rows, _ := rowid.ReadAs(w.body, text)
		for _, r := range rows {
			if !r.OK {
				continue
			}
			if t, ok := landed[r.Seq]; !ok || w.At.Before(t) {
				landed[r.Seq] = w.At
			}
		}
	}
	keys := make([]string, 0, len(versions))
	for k := range versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := versions[k]
		changed := false
		for i := 1; i < len(vs); i++ {
			if !bytes.Equal(vs[i].body, vs[i-1].body) {
				changed = true
			}
		}
		if !changed {
			continue
		}
		v.Overwritten++
		if len(v.OverwriteExamples) >= maxExamples {
			continue
		}
		ex := OverwriteExample{Object: k, Versions: len(vs)}
		dropped := map[int64]bool{}
		for _, w := range vs {
			ex.Instances = append(ex.Instances, w.Instance)
			rows, _ := rowid.ReadAs(w.body, text)
			for _, r := range rows {
				if r.OK && len(final[r.Seq]) == 0 {
					if _, ok := expected[r.Seq]; ok {
						dropped[r.Seq] = true
					}
				}
			}
		}
		ex.Dropped = len(dropped)
		v.OverwriteExamples = append(v.OverwriteExamples, ex)
	}

	// Commits in time order; per partition only the newly covered offsets
	// are checked at each commit (an offset in S3 before an earlier commit
	// was in S3 before a later one too).
	sort.SliceStable(commits, func(i, j int) bool { return commits[i].At.Before(commits[j].At) })
	covered := map[int32]int64{}
	counted := map[int64]bool{}
	start := time.Time{}
	if len(writes) > 0 {
		start = writes[0].At
	}
	if len(commits) > 0 && (start.IsZero() || commits[0].At.Before(start)) {
		start = commits[0].At
	}
	for _, cm := range commits {
		from := covered[cm.Partition]
		for o := from; o < cm.Offset; o++ {
			seq, ok := bySeq[po{cm.Partition, o}]
			if !ok || counted[seq] {
				continue
			}
			t, in := landed[seq]
			if in && !t.After(cm.At) {
				continue
			}
			counted[seq] = true
			v.CommitsAhead++
			if len(v.CommitAheadExamples) < maxExamples {
				ca := CommitAhead{Record: prod[seq].RecordRef, CommittedAt: fmt.Sprintf("%s into the run (offset %d)", cm.At.Sub(start).Round(time.Millisecond), cm.Offset), Landed: "never"}
				if in {
					ca.Landed = t.Sub(cm.At).Round(time.Millisecond).String() + " after the commit"
				}
				v.CommitAheadExamples = append(v.CommitAheadExamples, ca)
			}
		}
		if cm.Offset > from {
			covered[cm.Partition] = cm.Offset
		}
	}
}

// keepOut writes the evidence a verdict was made from under dir: the final
// lake as read (lake/<key>, hidden names too), the produced records
// (produced.jsonl), every accepted write and commit (writes.jsonl,
// commits.jsonl), the instances' output and the verdict (verdict.json). An
// independent reader can recount the verdict from lake/ and produced.jsonl
// alone.
func (e *env) keepOut(dir string, v *Verdict, ev *evidence) error {
	root := filepath.Join(dir, "lake")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	for _, o := range ev.lake {
		p := filepath.Join(root, filepath.FromSlash(o.key))
		if !strings.HasPrefix(p, root+string(filepath.Separator)) {
			continue // a key like ../x must not escape the folder
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, o.body, 0o644); err != nil {
			return err
		}
	}
	seqs := slices.Sorted(maps.Keys(ev.prod))
	var pb, wb, cb bytes.Buffer
	for _, s := range seqs {
		if err := json.NewEncoder(&pb).Encode(ev.prod[s]); err != nil {
			return err
		}
	}
	for _, w := range ev.writes {
		if err := json.NewEncoder(&wb).Encode(w); err != nil {
			return err
		}
	}
	for _, c := range ev.commits {
		if err := json.NewEncoder(&cb).Encode(c); err != nil {
			return err
		}
	}
	vb, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"produced.jsonl": pb.Bytes(), "writes.jsonl": wb.Bytes(), "commits.jsonl": cb.Bytes(), "verdict.json": append(vb, '\n')} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return e.writeInstanceLogs(filepath.Join(dir, "instances"))
}

// maxContract bounds the contract findings a verdict lists.
const maxContract = 20

// judgeContract checks the lake against the consumer's table (lake.Check:
// its errors fail the iteration), or says why it cannot: a delimited text
// table (Check reads Parquet and JSON), or no table at all, when it
// predicts what a default Glue crawler would make of the prefix instead.
func (e *env) judgeContract(ctx context.Context, v *Verdict, c *counts) error {
	def := e.cfg.Consumer.Table
	prefix := e.cfg.Consumer.Prefix
	switch {
	case def == nil:
		inf, err := lake.InferLake(ctx, e.check, prefix)
		if err != nil {
			return fmt.Errorf("verdict: crawler prediction: %w", err)
		}
		v.ContractNote = "lake contract not checked: no table given (--table FILE: a CREATE EXTERNAL TABLE or `aws glue get-table` JSON); " +
			crawlerSummary(inf)
		return nil
	case def.Format == lake.FormatCSV:
		v.ContractNote = fmt.Sprintf("lake contract not checked: table %s is delimited text (%s), and the checker reads Parquet and JSON tables; its rows were read as its SerDe splits them", def.Name, def.SerDe)
		return nil
	}
	rep, err := lake.Check(ctx, e.check, "", lake.WithTable(def))
	if err != nil {
		return fmt.Errorf("verdict: lake check against table %s: %w", def.Name, err)
	}
	errs, warns := rep.Errors(), rep.Warnings()
	v.ContractErrors = len(errs)
	for _, x := range append(errs, warns...) {
		if len(v.Contract) == maxContract {
			break
		}
		v.Contract = append(v.Contract, fmt.Sprintf("%s — fix: %s", x, x.Fix))
	}
	v.ContractNote = fmt.Sprintf("lake contract checked against table %s (%s) at %s: %d errors, %d warnings",
		def.Name, def.Source, rep.Location, len(errs), len(warns))
	if un := rep.UncheckedRules(); len(un) > 0 {
		// Completeness: the verdict's own record count covers it.
		v.ContractNote += fmt.Sprintf("; rules %s left to the verdict's record count above", strings.Join(un, ", "))
	}
	if len(errs) > 0 {
		c.failf("the lake breaks table %s's contract: %d errors, e.g. %s", def.Name, len(errs), errs[0])
	}
	return nil
}

// crawlerSummary is InferLake's prediction in one sentence.
func crawlerSummary(inf *lake.Inference) string {
	n := len(inf.Tables)
	s := fmt.Sprintf("a default Glue crawler on s3://…/%s would create %d tables", inf.Prefix, n)
	if n == 1 {
		s = fmt.Sprintf("a default Glue crawler on s3://…/%s would create 1 table (%s)", inf.Prefix, inf.Tables[0].Name)
	}
	for _, f := range inf.Folders {
		if f.Why != "" {
			name := f.Folder
			if name == "" {
				name = "the objects at the prefix"
			}
			return s + fmt.Sprintf(": %s → %d tables: %s", name, f.Tables, f.Why)
		}
	}
	return s
}
