package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tickflow/tickflow/harness/dashboard"
	"github.com/tickflow/tickflow/harness/demo"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/lake/query"
	"github.com/tickflow/tickflow/harness/tick"
)

func init() { register(newDemoCmd) }

// The sample Athena-style queries the demo runs over the finished lake. The
// second one is also a third, independent count (DuckDB) of the lake.
const (
	demoQuerySymbols = `SELECT symbol, count(*) AS rows, min(trade_date) AS first_day, max(trade_date) AS last_day, round(avg(close), 2) AS avg_close FROM stock_ticks GROUP BY symbol ORDER BY symbol`
	demoQueryCount   = `SELECT count(*) AS rows, count(DISTINCT (kafka_partition, kafka_offset)) AS distinct_records FROM stock_ticks`
)

type demoFlags struct {
	records      int
	csv          string
	seed         uint64
	rate         float64
	consumers    int
	format       string
	partitions   int
	json         bool
	keepServing  bool
	out          string
	drainTimeout time.Duration
	ui           uiFlag
}

func newDemoCmd() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline in one process: embedded Kafka + S3, producer, sink, lake check, sample SQL",
		Long: `demo starts an embedded world (3 Kafka brokers and S3 on loopback), produces stock ticks
(by default the embedded Hang Seng sample, whose last line is cut off on purpose), runs K
exactly-once sink consumers in one group, waits until every produced record is committed in
S3, reads the lake back (produced = landed, no duplicate (partition, offset), offsets tile
every partition, the lake contract), and runs a sample Athena-style query through DuckDB.
Exit 0 only when the lake is complete, duplicate-free and contract-clean; 1 when it is not;
2 for bad flags or when the demo could not run.`,
		Example: `  tickflow demo
  tickflow demo --records 1000000 --consumers 3 --format json
  tickflow demo --csv indexProcessed.csv --out ./lake && tickflow query --dir ./lake "SELECT count(*) FROM stock_ticks"
  tickflow demo --keep-serving     # then look with the aws CLI or kcat; Ctrl-C to stop
  tickflow demo --ui --records 200000 --rate 5000   # watch it live at http://127.0.0.1:8080/; Ctrl-C to stop`,
		Args: uiArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd)
			if err != nil {
				return err
			}
			f.ui.explicit = cmd.Flags().Changed("ui") && f.ui.addr != dashboard.DefaultAddr
			return runDemo(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f, cfg)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.records, "records", 0, "produce N deterministic synthetic ticks (seeded) instead of the embedded HSI sample")
	fl.StringVar(&f.csv, "csv", "", "produce the ticks of this CSV file (seed format: Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD)")
	fl.Uint64Var(&f.seed, "seed", demo.DefaultSeed, "seed of the synthetic generator (--records)")
	fl.Float64Var(&f.rate, "rate", 0, "pace the producer at R records/s (0: as fast as Kafka acknowledges)")
	fl.IntVar(&f.consumers, "consumers", demo.DefaultConsumers, "sink consumers in the group")
	fl.StringVar(&f.format, "format", demo.FormatParquet, "lake file format: parquet or json")
	fl.IntVar(&f.partitions, "partitions", demo.DefaultPartitions, "partitions of the topic")
	fl.BoolVar(&f.json, "json", false, "print only a machine-readable summary (JSON) on stdout")
	fl.BoolVar(&f.keepServing, "keep-serving", false, "keep Kafka and S3 up after the check, print how to connect, stop on Ctrl-C")
	fl.StringVar(&f.out, "out", "", "also write the lake to this local folder (DIR/stock_ticks/...)")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", 0, "give up waiting for the sink after this long (default 30s + 1s per 20,000 records)")
	addUIFlag(fl, &f.ui, uiOff, "serve the live dashboard and /metrics while the demo runs, and keep it up after the check until Ctrl-C; --ui alone is 127.0.0.1:8080, --ui=ADDR another address")
	return cmd
}

// config checks the flags (exit 2 with the flag named) and builds the
// library's Config.
func (f demoFlags) config(cmd *cobra.Command) (demo.Config, error) {
	changed := cmd.Flags().Changed
	switch {
	case changed("records") && f.records <= 0:
		return demo.Config{}, usageError("--records %d: must be at least 1", f.records)
	case changed("records") && f.csv != "":
		return demo.Config{}, usageError("--records and --csv both given: pick one source")
	case changed("seed") && !changed("records"):
		return demo.Config{}, usageError("--seed seeds the synthetic generator: give it with --records N")
	case f.consumers < 1:
		return demo.Config{}, usageError("--consumers %d: must be at least 1", f.consumers)
	case f.partitions < 1:
		return demo.Config{}, usageError("--partitions %d: must be at least 1", f.partitions)
	case f.rate < 0:
		return demo.Config{}, usageError("--rate %g: must be positive (or 0 for as fast as possible)", f.rate)
	case f.format != demo.FormatParquet && f.format != demo.FormatJSON:
		return demo.Config{}, usageError("--format %q: want parquet or json", f.format)
	case changed("drain-timeout") && f.drainTimeout <= 0:
		return demo.Config{}, usageError("--drain-timeout %s: must be positive", f.drainTimeout)
	}
	if f.csv != "" {
		st, err := os.Stat(f.csv)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return demo.Config{}, usageError("--csv %s: no such file (give a CSV in the seed format, or omit --csv for the embedded HSI sample)", f.csv)
		case err != nil:
			return demo.Config{}, usageError("--csv %s: %v", f.csv, err)
		case st.IsDir():
			return demo.Config{}, usageError("--csv %s: is a directory, want a CSV file", f.csv)
		}
	}
	return demo.Config{
		Records: f.records, CSV: f.csv, Seed: f.seed, Rate: f.rate, Consumers: f.consumers,
		Format: f.format, Partitions: f.partitions, Out: f.out, DrainTimeout: f.drainTimeout,
	}, nil
}

// demoOutput is the --json document: the summary plus the sample query and,
// with --keep-serving, how to connect.
type demoOutput struct {
	*demo.Summary
	SampleQuery []map[string]any `json:"sample_query"`
	Connect     *demoConnect     `json:"connect,omitempty"`
	UIURL       string           `json:"ui_url,omitempty"` // the dashboard, with --ui
}

type demoConnect struct {
	KafkaBootstrap string `json:"kafka_bootstrap"`
	Topic          string `json:"topic"`
	S3Endpoint     string `json:"s3_endpoint"`
	Bucket         string `json:"bucket"`
	Region         string `json:"region"`
	AccessKey      string `json:"access_key"`
	SecretKey      string `json:"secret_key"`
}

func runDemo(ctx context.Context, stdout, stderr io.Writer, f demoFlags, cfg demo.Config) error {
	var prog *progressLine
	if !f.json {
		prog = newProgressLine(stderr)
	}
	ui, uiNote, err := startUI(ctx, f.ui, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	if ui != nil {
		defer ui.Close()
		note := ""
		if uiNote != "" {
			note = " (" + uiNote + ")"
		}
		fmt.Fprintf(stderr, "tickflow demo: dashboard at %s%s\n", ui.URL(), note)
		cfg.Started = func(ctx context.Context, live *demo.Live) {
			if err := ui.Watch(ctx, dashboard.Target{World: live.World, Store: live.Store, Prefix: live.Prefix}); err != nil {
				fmt.Fprintf(stderr, "tickflow demo: dashboard: %v\n", err)
			}
		}
	}
	var holdErr error
	cfg.Hold = func(ctx context.Context, live *demo.Live, sum *demo.Summary) error {
		prog.clear()
		if ui != nil {
			ui.SetRun(&dashboard.RunStatus{Kind: "demo", Name: "demo", Phase: "done", Detail: demoVerdict(sum)})
			_, _ = ui.Verify(ctx) // the page shows the result, also when it fails
		}
		holdErr = demoReport(ctx, stdout, stderr, f, live, sum, ui)
		return holdErr
	}
	var progress func(demo.Progress)
	if prog != nil {
		progress = prog.update
	}
	if ui != nil {
		show := progress
		progress = func(pr demo.Progress) {
			if show != nil {
				show(pr)
			}
			ui.SetRun(&dashboard.RunStatus{Kind: "demo", Name: "demo", Phase: string(pr.Phase),
				Detail: fmt.Sprintf("%s/%s produced · %s consumed · %s rows in S3", thousands(pr.Produced), thousands(pr.Target), thousands(pr.Consumed), thousands(pr.Rows))})
		}
	}
	_, err = demo.Run(ctx, cfg, progress)
	prog.clear()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, demo.ErrInvalid):
		return usageError("demo: %v", err)
	case errors.Is(err, demo.ErrFailed), holdErr != nil && errors.Is(err, holdErr):
		return failError("demo: %v", err)
	}
	return usageError("demo: %v", err)
}

// demoReport runs the sample queries over the lake (mirrored to a local
// folder: DuckDB here has no S3 access), prints the results and the summary,
// and with --keep-serving prints how to connect and waits for Ctrl-C. A query
// failure or a query count that disagrees with the summary is an error.
func demoReport(ctx context.Context, stdout, stderr io.Writer, f demoFlags, live *demo.Live, sum *demo.Summary, ui *dashboard.Server) error {
	var queries []*query.Result
	var qerr error
	if sum.LandedRows > 0 {
		queries, qerr = demoQueries(ctx, live, f.out, sum)
		if errors.Is(qerr, query.ErrNeedsCgo) {
			// The static binary: the lake was still checked without SQL.
			fmt.Fprintln(stderr, "tickflow demo: sample SQL query skipped: DuckDB is only in the cgo build (this binary was built with CGO_ENABLED=0)")
			queries, qerr = nil, nil
		}
	}
	var conn *demoConnect
	if f.keepServing {
		conn = &demoConnect{
			KafkaBootstrap: strings.Join(live.Bootstrap, ","), Topic: live.Topic, S3Endpoint: live.S3Endpoint,
			Bucket: live.Bucket, Region: live.Region, AccessKey: live.AccessKey, SecretKey: live.SecretKey,
		}
	}
	if f.json {
		out := demoOutput{Summary: sum, SampleQuery: []map[string]any{}, Connect: conn}
		if ui != nil {
			out.UIURL = ui.URL()
		}
		if len(queries) > 0 {
			out.SampleQuery = queryMaps(queries[0])
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
	} else {
		if err := writeDemoText(stdout, sum, queries, conn, f.out != ""); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
	}
	if qerr != nil {
		return qerr
	}
	if f.keepServing || ui != nil {
		if !f.json {
			if ui != nil {
				fmt.Fprintf(stderr, "tickflow demo: dashboard at %s until Ctrl-C\n", ui.URL())
			} else {
				fmt.Fprintln(stderr, "tickflow demo: serving until Ctrl-C")
			}
		}
		<-ctx.Done()
		if !f.json {
			fmt.Fprintln(stderr, "tickflow demo: stopped")
		}
	}
	return nil
}

func demoQueries(ctx context.Context, live *demo.Live, out string, sum *demo.Summary) ([]*query.Result, error) {
	dir := out
	if dir == "" {
		tmp, err := os.MkdirTemp("", "tickflow-demo-")
		if err != nil {
			return nil, fmt.Errorf("sample query: %w", err)
		}
		defer os.RemoveAll(tmp)
		if _, err := lake.Mirror(ctx, live.Store, live.Prefix, tmp); err != nil {
			return nil, fmt.Errorf("sample query: %w", err)
		}
		dir = tmp
	}
	var res []*query.Result
	for _, q := range []string{demoQuerySymbols, demoQueryCount} {
		r, err := query.Run(ctx, dir, q)
		if err != nil {
			return res, fmt.Errorf("sample query: %w", err)
		}
		res = append(res, r)
	}
	// DuckDB's count is a third, independent read of the lake. A failed run
	// already says what is missing.
	c := res[1]
	if sum.OK && len(c.Rows) == 1 && len(c.Rows[0]) == 2 {
		rows, _ := c.Rows[0][0].(int64)
		distinct, _ := c.Rows[0][1].(int64)
		if rows != sum.Produced || distinct != sum.Produced {
			return res, fmt.Errorf("sample query: DuckDB counts %d rows (%d distinct records) in %s, %d were produced",
				rows, distinct, tick.Table, sum.Produced)
		}
	}
	return res, nil
}

func queryMaps(r *query.Result) []map[string]any {
	var buf bytes.Buffer
	if err := r.Write(&buf, query.JSON); err != nil {
		return nil
	}
	var out []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		return nil
	}
	return out
}

func writeDemoText(w io.Writer, sum *demo.Summary, queries []*query.Result, conn *demoConnect, copied bool) error {
	ew := &indentWriter{w: w}
	if len(queries) > 0 {
		fmt.Fprintf(w, "Sample Athena query (DuckDB over the lake; table %s with Athena's schema)\n\n", tick.Table)
		for i, q := range queries {
			sql := []string{demoQuerySymbols, demoQueryCount}[i]
			fmt.Fprintf(w, "  %s\n\n", sql)
			ew.prefix = "    "
			if err := q.Write(ew, query.Table); err != nil {
				return err
			}
			fmt.Fprintln(w)
		}
	}
	if err := sum.WriteText(w); err != nil {
		return err
	}
	// The connection block comes last, under the verdict, where the eye
	// is when the demo starts to wait.
	if conn != nil {
		fmt.Fprintf(w, `
Serving (Ctrl-C to stop)
  Kafka bootstrap  %s   (topic %s)
  S3 endpoint      %s   bucket %s, region %s
  credentials      AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s
  aws CLI          AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s \
                     aws --endpoint-url %s s3 ls --recursive %s
  kcat             kcat -b %s -C -t %s -c 5 -e
`, conn.KafkaBootstrap, conn.Topic, conn.S3Endpoint, conn.Bucket, conn.Region, conn.AccessKey, conn.SecretKey,
			conn.AccessKey, conn.SecretKey, conn.Region, conn.S3Endpoint, sum.Lake.URL,
			conn.KafkaBootstrap, conn.Topic)
	}
	var err error
	switch {
	case conn != nil:
	case copied:
		_, err = fmt.Fprintf(w, "\nThe embedded Kafka and S3 stop with the demo; --keep-serving keeps them up for the aws CLI or kcat.\n")
	default:
		_, err = fmt.Fprintf(w, "\nThe embedded Kafka and S3 stop with the demo; --keep-serving keeps them up for the aws CLI or kcat,\n--out DIR keeps a local copy of the lake for tickflow verify/query --dir.\n")
	}
	return err
}

// indentWriter prefixes every line written through it.
type indentWriter struct {
	w      io.Writer
	prefix string
	mid    bool // inside a line
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	var out []byte
	for _, b := range p {
		if !iw.mid {
			out = append(out, iw.prefix...)
		}
		out = append(out, b)
		iw.mid = b != '\n'
	}
	if _, err := iw.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// progressLine shows the demo's progress on stderr: one line rewritten in
// place on a terminal, a plain line per phase (and every 2s) otherwise, so
// logs stay readable.
type progressLine struct {
	w      io.Writer
	tty    bool
	width  int // terminal columns; 0 if unknown
	mu     sync.Mutex
	phase  demo.Phase
	last   time.Time
	drawn  bool
	closed bool
}

func newProgressLine(w io.Writer) *progressLine {
	p := &progressLine{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if width, _, err := term.GetSize(int(f.Fd())); err == nil {
			p.width = width
		}
	}
	return p
}

func (p *progressLine) update(pr demo.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	objects := "objects"
	if pr.Objects == 1 {
		objects = "object"
	}
	counts := fmt.Sprintf("%s/%s produced · %s consumed · %s rows in S3 (%s %s)",
		thousands(pr.Produced), thousands(pr.Target), thousands(pr.Consumed), thousands(pr.Rows), thousands(pr.Objects), objects)
	if p.tty {
		if pr.Phase == demo.PhaseDone {
			return
		}
		line := fmt.Sprintf("%-9s %s %s  %.1fs", pr.Phase, bar(pr.Produced, pr.Target, 16), counts, pr.Elapsed.Seconds())
		if r := []rune(line); p.width > 0 && len(r) >= p.width {
			line = string(r[:p.width-1]) // a wrapped line cannot be rewritten in place
		}
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
		p.drawn = true
		return
	}
	if pr.Phase != p.phase || time.Since(p.last) >= 2*time.Second {
		p.phase, p.last = pr.Phase, time.Now()
		if pr.Phase == demo.PhaseDone {
			return
		}
		fmt.Fprintf(p.w, "tickflow demo: %-9s %s (%.1fs)\n", pr.Phase, counts, pr.Elapsed.Seconds())
	}
}

// clear erases the in-place line before other output and stops updates; a
// nil progressLine (--json) does nothing.
func (p *progressLine) clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
	p.closed = true
}

func bar(n, total int64, width int) string {
	if total <= 0 {
		return ""
	}
	filled := int(min(n, total) * int64(width) / total)
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}

// thousands formats n with thousands separators.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// demoVerdict is the run panel's last line.
func demoVerdict(sum *demo.Summary) string {
	if sum.OK {
		return fmt.Sprintf("OK: %s produced = %s landed, no duplicates", thousands(sum.Produced), thousands(sum.LandedRows))
	}
	return "FAILED: " + strings.Join(sum.Problems, "; ")
}
