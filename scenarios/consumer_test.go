package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/lake/rowid"
)

// testConsumer builds scenarios/testdata/consumer, a stand-in for a user's
// program (see its doc comment), once per test run.
func testConsumer(t *testing.T) string {
	t.Helper()
	return goBuild(t, "github.com/tickflow/tickflow/scenarios/testdata/consumer")
}

// The seed-style consumer (auto-commit, counter-named objects) is killed
// right after a commit and restarted: the verdict must say FAIL with the
// records it lost, and its counts must equal an independent recount of the
// kept evidence (--out).
func TestConsumerVerdictCatchesLoss(t *testing.T) {
	t.Parallel()
	bin := testConsumer(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res := Run(ctx, "kill-after-commit", Config{Seed: 5, Consumer: &Consumer{Command: bin + " -mode seed", Out: out}})
	t.Logf("%s\nnotes: %v\nfailures: %v", res.Line(), res.Notes, res.Failures)
	require.Empty(t, res.Error)
	require.NotNil(t, res.Verdict)
	v := res.Verdict
	assert.False(t, res.Pass)
	assert.Greater(t, v.Lost, int64(0), "a counter that restarts at 0 overwrites the objects of the killed process")
	assert.Greater(t, v.Overwritten, 0)
	assert.Equal(t, v.Lost, res.Lost)
	assert.Equal(t, v.Produced, v.Distinct+v.Lost)
	assert.NotEmpty(t, v.LostExamples)
	for _, ex := range v.OverwriteExamples {
		assert.GreaterOrEqual(t, len(ex.Instances), 2, "an overwrite names its writers")
	}
	assert.GreaterOrEqual(t, v.Instances, 2)

	// Recount from the kept lake and the produced records alone.
	dir := filepath.Join(out, "kill-after-commit", "0")
	produced := map[int64]bool{}
	f, err := os.ReadFile(filepath.Join(dir, "produced.jsonl"))
	require.NoError(t, err)
	for _, line := range splitLines(f) {
		var p struct{ Sequence int64 }
		require.NoError(t, json.Unmarshal(line, &p))
		produced[p.Sequence] = true
	}
	require.Len(t, produced, int(v.Produced))
	copies := map[int64]int{}
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, "lake"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var tk struct{ Volume int64 }
		require.NoError(t, json.Unmarshal(b, &tk), path)
		copies[tk.Volume]++
		return nil
	}))
	var lost, dup int64
	for seq := range produced {
		switch n := copies[seq]; {
		case n == 0:
			lost++
		case n > 1:
			dup += int64(n - 1)
		}
	}
	assert.Equal(t, v.Lost, lost, "lost, recounted from %s", dir)
	assert.Equal(t, v.Duplicated, dup, "duplicated, recounted from %s", dir)
	for _, name := range []string{"verdict.json", "writes.jsonl", "commits.jsonl", "instances/instance-0.log"} {
		assert.FileExists(t, filepath.Join(dir, name))
	}
}

// A consumer that commits only after its PUTs and names objects by offset
// passes the scenarios that attack exactly that: kills after PUT and after
// commit, and a frozen member whose PUTs land after its partitions moved.
func TestConsumerVerdictPassesAnExactConsumer(t *testing.T) {
	t.Parallel()
	bin := testConsumer(t)
	for _, name := range []string{"kill-after-put", "zombie-sink"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			res := Run(ctx, name, Config{Seed: 5, Consumer: &Consumer{Command: bin + " -mode exact"}})
			t.Logf("%s\nnotes: %v\nfailures: %v\noutput: %v", res.Line(), res.Notes, res.Failures, res.Output)
			require.Empty(t, res.Error)
			require.NotNil(t, res.Verdict)
			assert.True(t, res.Pass)
			assert.Zero(t, res.Verdict.Lost)
			assert.Zero(t, res.Verdict.Duplicated)
			assert.Equal(t, res.Verdict.Produced, res.Verdict.Distinct)
			assert.Greater(t, res.Restarts, 0, "the scenario applied its faults")
			// No table: the contract is said to be unchecked, and what a
			// crawler would make of <topic>/<partition>/ folders is said.
			assert.Contains(t, res.Verdict.ContractNote, "lake contract not checked: no table given")
			assert.Contains(t, res.Verdict.ContractNote, "would create 1 table")
		})
	}
}

// Bad consumers are refused up front or reported with their output.
func TestConsumerBadCommand(t *testing.T) {
	t.Parallel()
	res := Run(context.Background(), "happy-path", Config{Consumer: &Consumer{}})
	assert.Contains(t, res.Error, "empty command")
	res = Run(context.Background(), "sink-crash-mid-flush", Config{Consumer: &Consumer{Command: "true"}})
	assert.Contains(t, res.Error, "cannot run your consumer")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res = Run(ctx, "happy-path", Config{Seed: 1, Consumer: &Consumer{Command: "echo no such module >&2; exit 3"}})
	assert.Contains(t, res.Error, "the consumer exits at once")
	require.NotEmpty(t, res.Output)
	assert.Contains(t, res.Output[0], "no such module")
	assert.Contains(t, res.Output[0], "exit: 3")
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// A consumer that writes header-less delimited text is judged through the
// table it writes (--table): its rows are split as the table's SerDe splits
// them and named by its columns. Without the table the same lake holds no
// record the verdict can identify.
func TestConsumerVerdictReadsTheUsersTextTable(t *testing.T) {
	t.Parallel()
	bin := testConsumer(t)
	def, err := lake.ParseTable("ticks.sql", []byte(`CREATE EXTERNAL TABLE ticks (symbol string, close double, volume bigint)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '|' LOCATION 's3://tickflow-lake/stock-ticks/'`), lake.AcceptText())
	require.NoError(t, err)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res := Run(ctx, "happy-path", Config{Seed: 3, Consumer: &Consumer{Command: bin + " -mode exact -format psv", Table: def, Out: out}})
	t.Logf("%s\nnotes: %v\nfailures: %v\noutput: %v", res.Line(), res.Notes, res.Failures, res.Output)
	require.Empty(t, res.Error)
	require.NotNil(t, res.Verdict)
	v := res.Verdict
	assert.True(t, res.Pass)
	assert.Greater(t, v.Produced, int64(0))
	assert.Equal(t, v.Produced, v.Distinct)
	assert.Zero(t, v.Unidentified)
	assert.Zero(t, v.Unreadable)
	assert.Contains(t, v.ContractNote, "table ticks is delimited text")

	// The kept lake, read without the table: CSV without a header.
	var objects, identified int
	require.NoError(t, filepath.WalkDir(filepath.Join(out, "happy-path", "0", "lake"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		objects++
		rows, _ := rowid.Read(b)
		for _, r := range rows {
			if r.OK {
				identified++
			}
		}
		return nil
	}))
	assert.Equal(t, int(v.Objects), objects)
	assert.Zero(t, identified, "header-less text is only readable through its table")

	// A table the verdict cannot identify records in is refused up front.
	bad, err := lake.ParseTable("bad.sql", []byte(`CREATE EXTERNAL TABLE bad (symbol string, price double)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '|' LOCATION 's3://b/bad/'`), lake.AcceptText())
	require.NoError(t, err)
	res = Run(ctx, "happy-path", Config{Consumer: &Consumer{Command: bin, Table: bad}})
	assert.Contains(t, res.Error, "no volume column among symbol, price")
}

// A lake Athena cannot read through the user's table fails the verdict
// even with every record in it: here the table is partitioned by dt and the
// consumer writes <topic>/<partition>/ folders.
func TestConsumerVerdictChecksTheUsersTable(t *testing.T) {
	t.Parallel()
	bin := testConsumer(t)
	def, err := lake.ParseTable("ticks.sql", []byte(`CREATE EXTERNAL TABLE ticks (symbol string, close double, volume bigint)
PARTITIONED BY (dt string) ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://tickflow-lake/stock-ticks/'`))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res := Run(ctx, "happy-path", Config{Seed: 3, Consumer: &Consumer{Command: bin + " -mode exact", Table: def}})
	t.Logf("%s\nfailures: %v\nnote: %s", res.Line(), res.Failures, res.Verdict.ContractNote)
	require.Empty(t, res.Error)
	require.NotNil(t, res.Verdict)
	v := res.Verdict
	assert.False(t, res.Pass)
	assert.Zero(t, v.Lost)
	assert.Zero(t, v.Duplicated)
	assert.Contains(t, v.ContractNote, "lake contract checked against table ticks (ticks.sql) at stock-ticks/")
	require.NotEmpty(t, v.Contract)
	assert.Contains(t, v.Contract[0], "L01")
	assert.Contains(t, v.Contract[0], "fix: write objects under stock-ticks/dt=VALUE/")
	require.NotEmpty(t, res.Failures)
	assert.Contains(t, res.Failures[0], "breaks table ticks's contract")
}
