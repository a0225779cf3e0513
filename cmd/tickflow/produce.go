package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tickflow/tickflow"
	"github.com/tickflow/tickflow/harness/produce"
)

func init() { register(newProduceCmd) }

// produceProgressEvery is how often a paced produce prints a progress line
// when stderr is not a terminal (tests shorten it).
var produceProgressEvery = 5 * time.Second

func newProduceCmd() *cobra.Command {
	var (
		brokers, csvPath, topic string
		compression, acks       string
		idempotent              bool
		synthetic               int
		seed                    uint64
		rate, speedup           float64
		strict, asJSON          bool
		kafka                   kafkaSecurity
	)
	cmd := &cobra.Command{
		Use:   "produce --brokers ADDRS [--csv FILE | --synthetic N --seed S] [--rate R | --speedup X] [--topic T] [--compression C] [--acks all|1|0] [--idempotent=false] [--strict] [--json]",
		Short: "Produce stock ticks (CSV, the embedded HSI sample, or synthetic) to any Kafka",
		Long: `produce sends ticks to Kafka: idempotent, acks=all, keyed by symbol, JSON values with the lake's
column names. The source is a CSV/TSV file (--csv), N deterministic synthetic ticks (--synthetic),
or by default the embedded Hang Seng sample. Batches are uncompressed by default, which every
client reads (Debian's kafka-python has no snappy/lz4/zstd; kafkajs reads only gzip without a
plugin); --compression gzip is readable by all too. Bad rows are reported on stderr with file and line
(the first 3 of each kind, then a count per kind), skipped and counted; --strict stops at the
first one (exit 2) and says how many good rows were already sent. A paced run (--rate, --speedup)
shows its progress on stderr. Ctrl-C stops it with the same summary line (exit 130).

--acks 1 or 0 and --idempotent=false are the unsafe settings, there to show what they do under
the fault scenarios (docs/your-producer.md): without idempotence a retried batch that the broker had
already appended is appended again. Idempotence needs --acks all, so --acks 1 or 0 turns it off
(as Kafka's Java client does when enable.idempotence is not set); --acks 1 --idempotent is an error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case brokers == "":
				return usageError("--brokers is required (e.g. --brokers 127.0.0.1:9092)")
			case synthetic < 0:
				return usageError("--synthetic %d: want a number of ticks ≥ 1", synthetic)
			case rate < 0:
				return usageError("--rate %g: want records per second > 0 (omit it for as fast as possible)", rate)
			case speedup < 0:
				return usageError("--speedup %g: want a factor > 0 (86400 = a trading day per second)", speedup)
			case csvPath != "" && synthetic > 0:
				return usageError("--csv and --synthetic are exclusive: pick one source")
			case rate > 0 && speedup > 0:
				return usageError("--rate and --speedup are exclusive: pick one pacing")
			case !slices.Contains(produce.Codecs, compression):
				return usageError("--compression %q: want one of %s (none and gzip are readable by every client)", compression, strings.Join(produce.Codecs, ", "))
			case !slices.Contains(produce.AcksValues, acks):
				return usageError("--acks %q: want all, 1 or 0 (all: every in-sync replica has the record before it is acknowledged)", acks)
			case acks != produce.AcksAll && idempotent && cmd.Flags().Changed("idempotent"):
				return usageError("--acks %s with --idempotent: Kafka's idempotent producer needs --acks all; use --acks all, or --idempotent=false", acks)
			}
			stderr := cmd.ErrOrStderr()
			if acks != produce.AcksAll && idempotent {
				idempotent = false
				fmt.Fprintf(stderr, "note: --acks %s turns idempotence off (it needs --acks all), as Kafka's Java client does\n", acks)
			}
			bad := &badRows{w: stderr}
			var csvOpts []produce.CSVOption
			if strict {
				csvOpts = append(csvOpts, produce.Strict())
			} else {
				csvOpts = append(csvOpts, produce.OnBadRow(bad.add))
			}
			var src produce.Source
			var total int64 // 0: unknown
			switch {
			case synthetic > 0:
				src, total = produce.Synthetic(synthetic, seed), int64(synthetic)
			default:
				var r io.Reader = bytes.NewReader(tickflow.SampleCSV)
				name := "embedded sample indexProcessed-HSI.csv"
				if csvPath != "" {
					f, err := openCSV(csvPath)
					if err != nil {
						return err
					}
					defer f.Close()
					r, name = f, filepath.Base(csvPath)
				}
				c, err := produce.NewCSV(r, name, csvOpts...)
				if err != nil {
					if csvPath != "" {
						return usageError("--csv %v", err)
					}
					return usageError("%v", err)
				}
				src = c
			}
			kopts, err := kafka.clientOptions(cmd.Context(), stderr, strings.Split(brokers, ","))
			if err != nil {
				return err
			}
			opts := []produce.Option{produce.Topic(topic), produce.Rate(rate), produce.Speedup(speedup), produce.Compression(compression),
				produce.Acks(acks), produce.Idempotent(idempotent), produce.KafkaOptions(kopts...)}
			p, err := produce.New(cmd.Context(), strings.Split(brokers, ","), opts...)
			if err != nil {
				return usageError("--brokers %s: %s", brokers, cliText(err))
			}
			defer p.Close()
			var prog *progress
			if rate > 0 || speedup > 0 {
				prog = startProduceProgress(stderr, p, total)
			}
			res, err := p.Produce(cmd.Context(), src)
			prog.stop()
			bad.summary()
			interrupted := err != nil && cmd.Context().Err() != nil && !errors.Is(err, produce.ErrBadInput)
			out := cmd.OutOrStdout()
			if asJSON {
				_ = json.NewEncoder(out).Encode(produceJSON{Topic: topic, Produced: res.Produced, Skipped: res.Skipped, Interrupted: interrupted,
					Acks: acks, Idempotent: idempotent})
			} else {
				line := fmt.Sprintf("produced %s to %s, skipped %s", plural(res.Produced, "record", ""), topic, plural(res.Skipped, "bad row", ""))
				switch {
				case acks == produce.Acks0:
					line += " (acks=0: sent, never acknowledged; idempotence off)"
				case acks == produce.Acks1:
					line += " (acks=1: acknowledged by the leader alone; idempotence off)"
				case !idempotent:
					line += " (idempotence off)"
				}
				if interrupted {
					line = "interrupted: " + line
				}
				fmt.Fprintln(out, line)
			}
			switch {
			case err == nil:
				return nil
			case interrupted:
				return &exitError{code: exitInterrupted, err: errSummaryPrinted}
			case errors.Is(err, produce.ErrBadInput):
				return usageError("%v; %s before it already sent to %s (--strict stops at the first bad row; without it bad rows are skipped)",
					strings.TrimPrefix(err.Error(), "produce: "), plural(res.Produced, "good row", ""), topic)
			}
			return usageError("%s", cliText(err))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&brokers, "brokers", "", "Kafka bootstrap servers, comma-separated")
	fl.StringVar(&csvPath, "csv", "", "CSV (or raw TSV) file of ticks; default: the embedded HSI sample")
	fl.IntVar(&synthetic, "synthetic", 0, "produce N deterministic synthetic ticks instead of a CSV")
	fl.Uint64Var(&seed, "seed", 1, "seed of the synthetic generator")
	fl.Float64Var(&rate, "rate", 0, "records per second (default: as fast as possible)")
	fl.Float64Var(&speedup, "speedup", 0, "replay the trading-day timeline X times faster (86400 = a day per second)")
	fl.StringVar(&topic, "topic", "stock-ticks", "topic to produce to")
	fl.StringVar(&compression, "compression", produce.DefaultCompression, "batch compression: "+strings.Join(produce.Codecs, ", ")+" (none and gzip are readable by every client)")
	fl.StringVar(&acks, "acks", produce.AcksAll, "replicas that must have a batch before it is acknowledged: all, 1 (the leader) or 0 (no answer)")
	fl.BoolVar(&idempotent, "idempotent", true, "idempotent produce (broker-side deduplication of retries); needs --acks all")
	fl.BoolVar(&strict, "strict", false, "stop at the first bad row (exit 2)")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON")
	kafka.flags(fl)
	return cmd
}

// produceJSON is `produce --json`'s document.
type produceJSON struct {
	Topic       string `json:"topic"`
	Produced    int64  `json:"produced"`
	Skipped     int    `json:"skipped"`
	Interrupted bool   `json:"interrupted"`
	Acks        string `json:"acks"`
	Idempotent  bool   `json:"idempotent"`
}

// openCSV opens --csv, naming the flag for what is not a readable file.
func openCSV(path string) (*os.File, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, usageError("--csv %s: no such file (give a CSV in the seed format, or omit --csv for the embedded HSI sample)", path)
	case err != nil:
		return nil, usageError("--csv %s: %v", path, unwrapPath(err))
	case st.IsDir():
		return nil, usageError("--csv %s: is a directory; give a CSV file inside it", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError("--csv %s: %v", path, unwrapPath(err))
	}
	return f, nil
}

// unwrapPath drops *PathError's "op path:" prefix, which would repeat the
// path the message already names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// badRows reports skipped CSV rows: the first few of each kind in full, then
// a count per kind, so a file with 88 identical problems prints 3 lines and
// a summary instead of 88 lines.
type badRows struct {
	w     io.Writer
	kinds map[string]*badKind
	order []string
}

type badKind struct {
	problem, fix, file string
	lines              []int // the first few line numbers
	count              int
}

// badRowsShown is how many rows of one kind are printed in full.
const badRowsShown = 3

func (b *badRows) add(e *produce.RowError) {
	if b.kinds == nil {
		b.kinds = map[string]*badKind{}
	}
	key := e.Problem + "\x00" + e.Fix
	k := b.kinds[key]
	if k == nil {
		k = &badKind{problem: e.Problem, fix: e.Fix, file: e.File}
		b.kinds[key] = k
		b.order = append(b.order, key)
	}
	k.count++
	if len(k.lines) < 10 {
		k.lines = append(k.lines, e.Line)
	}
	switch {
	case k.count <= badRowsShown:
		fmt.Fprintln(b.w, "skipped:", e)
	case k.count == badRowsShown+1:
		fmt.Fprintf(b.w, "skipped: more rows with the same problem (%s); counted in the summary at the end\n", e.Problem)
	}
}

// summary prints one line per kind of problem seen more than badRowsShown
// times, most frequent first.
func (b *badRows) summary() {
	var many []*badKind
	total := 0
	for _, key := range b.order {
		total += b.kinds[key].count
		if b.kinds[key].count > badRowsShown {
			many = append(many, b.kinds[key])
		}
	}
	if len(many) == 0 {
		return
	}
	sort.SliceStable(many, func(i, j int) bool { return many[i].count > many[j].count })
	fmt.Fprintf(b.w, "skipped %s in all:\n", plural(total, "bad row", ""))
	for _, k := range many {
		lines := make([]string, len(k.lines))
		for i, l := range k.lines {
			lines[i] = fmt.Sprint(l)
		}
		more := ""
		if k.count > len(k.lines) {
			more = ", …"
		}
		fmt.Fprintf(b.w, "  %s: %s (%s:%s%s); fix: %s\n", plural(k.count, "row", ""), k.problem, k.file, strings.Join(lines, ","), more, k.fix)
	}
}

// startProduceProgress shows a paced produce's progress on stderr: one line
// rewritten in place on a terminal, a plain line every produceProgressEvery
// otherwise.
func startProduceProgress(w io.Writer, p *produce.Producer, total int64) *progress {
	start := time.Now()
	return startProgress(w, produceProgressEvery, func() string {
		n := p.Produced()
		el := time.Since(start)
		of := ""
		if total > 0 {
			of = " of " + thousands(total)
		}
		return fmt.Sprintf("tickflow produce: %s%s records acknowledged, %.1f records/s, %s elapsed",
			thousands(n), of, float64(n)/max(el.Seconds(), 1e-9), el.Round(time.Second))
	})
}

// progress redraws a status line while a long command runs: every 250ms
// in place on a terminal, as a plain line every `plain` otherwise.
type progress struct {
	line *statusLine
	text func() string
	done chan struct{}
	wg   sync.WaitGroup
}

func startProgress(w io.Writer, plain time.Duration, text func() string) *progress {
	pp := &progress{line: newStatusLine(w), text: text, done: make(chan struct{})}
	every := plain
	if pp.line.tty {
		every = 250 * time.Millisecond
	}
	pp.wg.Add(1)
	go func() {
		defer pp.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-pp.done:
				return
			case <-t.C:
				pp.print()
			}
		}
	}()
	return pp
}

func (pp *progress) print() { pp.line.show(pp.text()) }

// stop ends the progress display; nil does nothing.
func (pp *progress) stop() {
	if pp == nil {
		return
	}
	close(pp.done)
	pp.wg.Wait()
	pp.line.clear()
}

// statusLine writes progress: rewritten in place on a terminal, one plain
// line per update otherwise.
type statusLine struct {
	w     io.Writer
	tty   bool
	drawn bool
}

func newStatusLine(w io.Writer) *statusLine {
	return &statusLine{w: w, tty: isTerminal(w)}
}

func (s *statusLine) show(line string) {
	if !s.tty {
		fmt.Fprintln(s.w, line)
		return
	}
	fmt.Fprintf(s.w, "\r\x1b[K%s", line)
	s.drawn = true
}

func (s *statusLine) clear() {
	if s.drawn {
		fmt.Fprint(s.w, "\r\x1b[K")
		s.drawn = false
	}
}

// errSummaryPrinted is the error of a command stopped by a signal whose
// summary line already said so: run prints nothing more.
var errSummaryPrinted = errors.New("stopped by a signal")
